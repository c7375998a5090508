package store_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
	"github.com/upstate-dev/upstate/store/storetest"
)

// TestExportBetweenBackends moves everything from SQLite to Redis and back: every export along
// the way is the same.
func TestExportBetweenBackends(t *testing.T) {
	open := func(name string) *sqlite.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	srv := redistest.Start(t, redistest.Options{})
	rs, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "cross"})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	first := open("first.db")
	storetest.Seed(t, first)
	storetest.SeedNotifications(t, first) // the targets, journal and outbox move too
	move := func(from, to store.Store) {
		var records []store.Record
		if err := from.Export(t.Context(), func(r store.Record) error { records = append(records, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := to.Import(t.Context(), records); err != nil {
			t.Fatal(err)
		}
	}
	move(first, rs)
	back := open("back.db")
	move(rs, back)
	a, b, c := storetest.Lines(t, first), storetest.Lines(t, rs), storetest.Lines(t, back)
	if !slices.Equal(a, b) || !slices.Equal(b, c) {
		t.Errorf("exports differ between backends:\nsqlite:\n%s\nredis:\n%s\nsqlite again:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"), strings.Join(c, "\n"))
	}
}
