package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
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

// BenchmarkAppendStatusDays is one durable status change, as BenchmarkAppendStatus, and a burst
// of 1,000 concurrent ones on 1,000 components (a start of the engine: one group commit),
// with and without the daily aggregates kept (the change's day and the next one rewritten).
func BenchmarkAppendStatusDays(b *testing.B) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "upstate.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var records []store.Record
		for i := range 1000 {
			c := component.Component{ID: fmt.Sprintf("c%d", i), Name: "C", Source: component.SourceAPI, CreatedAt: at, UpdatedAt: at}
			records = append(records, store.Record{Type: store.RecordComponent, Component: &c})
		}
		if err := s.Import(b.Context(), records); err != nil {
			b.Fatal(err)
		}
		if keep {
			if err := s.KeepStatusDays(b.Context(), sh); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("one/days=%v", keep), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := s.AppendStatus(b.Context(), component.Change{ComponentID: "c0", At: at.Add(time.Duration(i) * time.Minute), Status: component.Operational}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("burst1000/days=%v", keep), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n++
				var wg sync.WaitGroup
				for i := range 1000 {
					wg.Go(func() {
						if err := s.AppendStatus(b.Context(), component.Change{ComponentID: fmt.Sprintf("c%d", i), At: at.Add(time.Duration(n) * time.Hour), Status: component.MajorOutage}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}
