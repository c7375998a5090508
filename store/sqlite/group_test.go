package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// Appends from many goroutines at once are committed together, each is stored once, and the one
// that fails (a status for a component that does not exist) fails alone.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "upstate.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)
	if err := s.CreateComponent(ctx, component.Component{ID: "api", Name: "API", Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0},
		store.AuditEntry{At: t0, Actor: "test", Action: "component.create", Target: "component/api"}); err != nil {
		t.Fatal(err)
	}
	const writers = 2000
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			switch {
			case i == writers/2:
				errs[i] = s.AppendStatus(ctx, component.Change{ComponentID: "nope", At: t0, Status: component.MajorOutage})
			case i%10 == 0:
				errs[i] = s.AppendStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(time.Duration(i) * time.Millisecond), Status: component.Operational})
			default:
				errs[i] = s.AppendTransition(ctx, probe.Transition{MonitorID: fmt.Sprintf("m%04d", i), At: t0.Add(time.Duration(i) * time.Millisecond),
					From: probe.StateUnknown, To: probe.StateUp, Reason: "first result"})
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == writers/2 {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("status of a missing component: %v, want not found", err)
			}
		} else if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	// Everything acknowledged is in the file, as a fresh process reads it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTransition(ctx, probe.Transition{MonitorID: "late", At: t0, From: probe.StateUnknown, To: probe.StateUp}); err == nil {
		t.Error("a write after Close succeeded")
	}
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range writers {
		if i == writers/2 || i%10 == 0 {
			continue
		}
		tr, err := s.LastTransition(ctx, fmt.Sprintf("m%04d", i))
		if err != nil || !tr.At.Equal(t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("transition %d: %+v, %v", i, tr, err)
		}
	}
	timeline, err := s.StatusTimeline(ctx, "api", t0, t0.Add(time.Hour))
	if err != nil || len(timeline) != writers/10-1 { // the tenths, less the one that went to "nope"
		t.Errorf("%d status changes stored (err %v), want %d", len(timeline), err, writers/10-1)
	}
}
