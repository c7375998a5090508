package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
	"github.com/upstate-dev/upstate/store/storetest"
)

func open(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// TestReopenKeepsSchema writes, closes and opens the file again: the second Open must find the
// schema current (no migration re-run over the data) and read back what the first one wrote.
func TestReopenKeepsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstate.db")
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	want := component.Component{ID: "api", Name: "API", Description: "kept", CreatedAt: at, UpdatedAt: at}
	for i := range 3 {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		if i == 0 {
			if err := s.CreateComponent(t.Context(), want, store.AuditEntry{At: at, Action: "component.create"}); err != nil {
				t.Fatal(err)
			}
		} else {
			got, err := s.GetComponent(t.Context(), "api")
			if err != nil || got.Name != want.Name || got.Description != want.Description || !got.CreatedAt.Equal(at) {
				t.Errorf("open %d: got %+v (%v), want %+v", i, got, err, want)
			}
			if n, err := s.ListAudit(t.Context(), store.AuditQuery{}); err != nil || len(n) != 1 {
				t.Errorf("open %d: %d audit entries (%v), want 1", i, len(n), err)
			}
		}
		s.Close()
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		var version int
		if err := db.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version); err != nil || version != sqlite.SchemaVersion {
			t.Errorf("open %d: user_version %d (%v), want %d", i, version, err, sqlite.SchemaVersion)
		}
		db.Close()
	}
}
