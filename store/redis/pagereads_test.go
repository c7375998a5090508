package redis_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

// TestIndexesExistingIncidents opens a store whose incidents were written before their indexes
// existed (the document and the by-opened index only): opening indexes them once, so the
// indexed reads find them and their heads are made.
func TestIndexesExistingIncidents(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rdb.Close()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	old := []incidents.Incident{
		{ID: "old-open", Title: "Open", Severity: incidents.P1, Status: incidents.Investigating, StartedAt: at.Add(-time.Hour), OpenedAt: at,
			Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}, Version: 1},
		{ID: "old-resolved", Title: "Resolved", Severity: incidents.P2, Status: incidents.Resolved, StartedAt: at.Add(-48 * time.Hour), OpenedAt: at.Add(-47 * time.Hour),
			ResolvedAt: at.Add(-40 * time.Hour), Components: []incidents.Affected{{ComponentID: "db", Impact: component.PartialOutage}}, Version: 3},
	}
	for i := range 12 {
		old[0].Updates = append(old[0].Updates, incidents.Update{ID: "u", At: at.Add(time.Duration(i) * time.Minute), Status: incidents.Identified, Body: "more"})
	}
	ctx := t.Context()
	rdb.Set(ctx, "old:{meta}:schema", redis.SchemaVersion, 0)
	for _, inc := range old {
		rdb.HSet(ctx, "old:{meta}:incidents", inc.ID, string(store.MustJSON(inc)))
		rdb.ZAdd(ctx, "old:{meta}:incidents:by-opened", goredis.Z{Score: float64(store.Millis(inc.OpenedAt)), Member: inc.ID})
	}
	s, err := redis.Open(ctx, redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "old"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		q    store.IncidentQuery
		want []string
	}{
		{store.IncidentQuery{ComponentID: "api"}, []string{"old-open"}},
		{store.IncidentQuery{OpenOnly: true}, []string{"old-open"}},
		{store.IncidentQuery{ActiveFrom: at.Add(-41 * time.Hour), ActiveBefore: at}, []string{"old-open", "old-resolved"}},
		{store.IncidentQuery{StartedFrom: at.Add(-48 * time.Hour), StartedBefore: at.Add(-time.Hour)}, []string{"old-resolved"}},
	} {
		heads, err := s.ListIncidentHeads(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range heads {
			got = append(got, h.ID)
			if h.ID == "old-open" && (h.UpdateCount != 12 || len(h.Updates) != store.HeadUpdates) {
				t.Errorf("head of old-open: %d of %d updates", len(h.Updates), h.UpdateCount)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListIncidentHeads(%+v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// BenchmarkAppendStatusDays is one status change, and a burst of 1,000 concurrent ones on 1,000
// components, with and without the daily aggregates kept, on a real redis-server.
func BenchmarkAppendStatusDays(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		s, err := redis.Open(b.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: fmt.Sprintf("bench-%v", keep)})
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
			i := 0
			for b.Loop() {
				i++
				if err := s.AppendStatus(b.Context(), component.Change{ComponentID: "c0", At: at.Add(time.Duration(i) * time.Minute), Status: component.Operational}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("burst1000/days=%v", keep), func(b *testing.B) {
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
