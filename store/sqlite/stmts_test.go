package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// The cache holds one statement per text the code writes, not one per value: reads with other
// ids, times and filters add nothing once each shape has been seen.
func TestReadStatementsAreCachedByShape(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	reads := func(i int) {
		id := fmt.Sprintf("x%d", i)
		for _, q := range []store.IncidentQuery{{}, {OpenOnly: true, ComponentID: id}, {ResolvedOnly: true, Since: at.Add(time.Duration(i) * time.Hour)},
			{Since: at, Until: at.Add(time.Duration(i+1) * time.Hour)}} {
			if _, err := s.ListIncidents(t.Context(), q); err != nil {
				t.Fatal(err)
			}
		}
		_, _ = s.GetComponent(t.Context(), id)
		_, _ = s.LastTransition(t.Context(), id)
		_, _ = s.MonitorTransitions(t.Context(), id, at, at.Add(time.Duration(i+1)*time.Minute))
		_, _ = s.GetIncident(t.Context(), id)
		_, _ = s.GetWindow(t.Context(), id)
	}
	reads(0)
	s.reads.mu.Lock()
	shapes := len(s.reads.m)
	s.reads.mu.Unlock()
	for i := 1; i < 50; i++ {
		reads(i)
	}
	s.reads.mu.Lock()
	defer s.reads.mu.Unlock()
	if len(s.reads.m) != shapes || shapes == 0 {
		t.Errorf("%d statements after 50 rounds of reads with other values, %d after the first", len(s.reads.m), shapes)
	}
}
