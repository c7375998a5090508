package service_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// TestDeleteWindow: a window made through the API is deleted up to the instant its first
// occurrence starts; its audit entry keeps what it was, and its one event carries it (the
// page cache, other instances and the engine need nothing else). From its start on it is
// history and only cancelling stops it.
func TestDeleteWindow(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.svc.Components.Create(ctx, ops, component.Component{ID: "api", Name: "API"}); err != nil {
		t.Fatal(err)
	}
	start := t0.Add(time.Hour)
	for _, id := range []string{"mistake", "tonight"} {
		if _, err := f.svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: id, Title: "Wrong day", Components: []string{"api"},
			TimeZone: "UTC", Start: start, End: start.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	f.drain()
	f.clock.Advance(time.Hour - time.Millisecond) // a millisecond before the start
	if err := f.svc.Maintenance.Delete(ctx, ops, "mistake"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetWindow(ctx, "mistake"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWindow after the delete: %v, want ErrNotFound", err)
	}
	evs := f.drain()
	if len(evs) != 1 || evs[0].Kind != events.MaintenanceDeleted || evs[0].WindowID != "mistake" || evs[0].Window == nil ||
		evs[0].Window.Title != "Wrong day" || len(evs[0].Components) != 1 || evs[0].Components[0] != "api" {
		t.Fatalf("published %+v, want one maintenance.deleted carrying the window", evs)
	}
	if a := f.audit(t)[0]; a.Action != "maintenance.delete" || a.Target != "maintenance/mistake" ||
		!strings.Contains(string(a.Before), `"title":"Wrong day"`) || string(a.After) != "null" {
		t.Errorf("audit entry %+v", a)
	}

	f.clock.Advance(time.Millisecond) // the other window starts now
	err := f.svc.Maintenance.Delete(ctx, ops, "tonight")
	if !errors.Is(err, maintenance.ErrInvalidState) || !strings.Contains(err.Error(), "cancel it instead") {
		t.Fatalf("Delete of a window that has started: %v, want ErrInvalidState saying to cancel it", err)
	}
	if _, err := f.store.GetWindow(ctx, "tonight"); err != nil {
		t.Errorf("the started window is gone: %v", err)
	}
	if evs := f.drain(); len(evs) != 0 {
		t.Errorf("a refused delete published %+v", evs)
	}
}
