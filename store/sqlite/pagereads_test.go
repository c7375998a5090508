package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// TestMigrationIndexesIncidents opens a database of schema version 3, with incidents stored as
// documents only: migration 0004 indexes them, so the indexed reads find them (by component,
// by time active, by start, open), and their heads are made from the documents.
func TestMigrationIndexesIncidents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstate.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"0001_init.sql", "0002_maintenance.sql", "0003_incidents.sql"} {
		body, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(t.Context(), string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	old := []incidents.Incident{
		{ID: "old-open", Title: "Open", Severity: incidents.P1, Status: incidents.Investigating, StartedAt: at.Add(-time.Hour), OpenedAt: at,
			Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}, Version: 1},
		{ID: "old-resolved", Title: "Resolved", Severity: incidents.P2, Status: incidents.Resolved, StartedAt: at.Add(-48 * time.Hour), OpenedAt: at.Add(-47 * time.Hour),
			ResolvedAt: at.Add(-40*time.Hour + 7*time.Millisecond), Components: []incidents.Affected{{ComponentID: "db", Impact: component.PartialOutage}, {ComponentID: "api", Impact: component.PartialOutage}}, Version: 3},
	}
	for i := range 14 {
		old[0].Updates = append(old[0].Updates, incidents.Update{ID: "u", At: at.Add(time.Duration(i) * time.Minute), Status: incidents.Identified, Body: "more"})
	}
	for _, inc := range old {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO incidents (id, opened_at, open, version, doc) VALUES (?, ?, ?, ?, ?)`,
			inc.ID, store.Millis(inc.OpenedAt), inc.Open(), inc.Version, string(store.MustJSON(inc))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(t.Context(), `PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, tt := range []struct {
		q    store.IncidentQuery
		want []string
	}{
		{store.IncidentQuery{ComponentID: "api"}, []string{"old-open", "old-resolved"}},
		{store.IncidentQuery{ComponentID: "db"}, []string{"old-resolved"}},
		{store.IncidentQuery{OpenOnly: true}, []string{"old-open"}},
		{store.IncidentQuery{ActiveFrom: at.Add(-40*time.Hour + 6*time.Millisecond), ActiveBefore: at}, []string{"old-open", "old-resolved"}},
		{store.IncidentQuery{ActiveFrom: at.Add(-40*time.Hour + 7*time.Millisecond), ActiveBefore: at}, []string{"old-open"}},
		{store.IncidentQuery{StartedFrom: at.Add(-48 * time.Hour), StartedBefore: at.Add(-time.Hour)}, []string{"old-resolved"}},
	} {
		heads, err := s.ListIncidentHeads(t.Context(), tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range heads {
			got = append(got, h.ID)
			if h.ID == "old-open" && (h.UpdateCount != 14 || len(h.Updates) != store.HeadUpdates || !h.Updates[len(h.Updates)-1].At.Equal(old[0].Updates[13].At)) {
				t.Errorf("head of old-open: %d of %d updates", len(h.Updates), h.UpdateCount)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListIncidentHeads(%+v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	spans, err := s.IncidentSpans(t.Context(), at.Add(-41*time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(spans, func(sp store.IncidentSpan) bool { return sp.ID == "old-resolved" })
	if len(spans) != 2 || i < 0 || !slices.Equal(spans[i].ComponentIDs, []string{"db", "api"}) || !spans[i].ResolvedAt.Equal(old[1].ResolvedAt) {
		t.Errorf("IncidentSpans = %+v", spans)
	}
}
