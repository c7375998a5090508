package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // a Monday

type fixture struct {
	svc    *service.Service
	store  *sqlite.Store
	clock  *clockwork.FakeClock
	events <-chan events.Event
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(nil)
	ch, stop := bus.Subscribe(100)
	t.Cleanup(stop)
	clock := clockwork.NewFakeClockAt(t0)
	return &fixture{svc: service.New(service.Options{Store: st, Clock: clock, Bus: bus, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy}),
		store: st, clock: clock, events: ch}
}

func (f *fixture) audit(t *testing.T) []store.AuditEntry {
	t.Helper()
	entries, err := f.store.ListAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// drain returns the events published so far.
func (f *fixture) drain() []events.Event {
	var out []events.Event
	for {
		select {
		case e := <-f.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

var ops = service.Actor{Name: "ops-key", RemoteAddr: "192.0.2.1", RequestID: "req-1"}

// TestEveryChangeAuditsAndPublishesOnce walks every change of every aggregate in order: each
// writes exactly one audit entry (with who, what and after) and publishes exactly one event of
// its kind, after it is stored.
func TestEveryChangeAuditsAndPublishesOnce(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var incidentID, keyID string
	scheduled := time.Date(2026, 11, 11, 5, 0, 0, 0, time.UTC) // Tuesday 21:00 in Los Angeles
	steps := []struct {
		action string
		kind   events.Kind
		target string
		do     func() error
	}{
		{"component.create", events.ComponentChanged, "component/core", func() error {
			_, err := f.svc.Components.Create(ctx, ops, component.Component{ID: "core", Name: "Core", IsGroup: true})
			return err
		}},
		{"component.create", events.ComponentChanged, "component/api", func() error {
			_, err := f.svc.Components.Create(ctx, ops, component.Component{ID: "api", Name: "API", GroupID: "core"})
			return err
		}},
		{"component.update", events.ComponentChanged, "component/api", func() error {
			name := "Public API"
			_, err := f.svc.Components.Update(ctx, ops, "api", service.ComponentPatch{Name: &name})
			return err
		}},
		{"incident.declare", events.IncidentDeclared, "incident/", func() error {
			inc, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "Errors", Body: "Investigating.", Severity: incidents.P1,
				Components: []incidents.Affected{{ComponentID: "api", Impact: component.PartialOutage}}})
			incidentID = inc.ID
			return err
		}},
		{"incident.update", events.IncidentUpdated, "incident/", func() error {
			_, err := f.svc.Incidents.Update(ctx, ops, incidentID, incidents.Change{Body: "Found it.", Status: incidents.Identified})
			return err
		}},
		{"incident.acknowledge", events.IncidentAcknowledged, "incident/", func() error {
			_, err := f.svc.Incidents.Acknowledge(ctx, ops, incidentID, "")
			return err
		}},
		{"incident.resolve", events.IncidentResolved, "incident/", func() error {
			_, err := f.svc.Incidents.Resolve(ctx, ops, incidentID, "Fixed.")
			return err
		}},
		{"incident.reopen", events.IncidentReopened, "incident/", func() error {
			_, err := f.svc.Incidents.Reopen(ctx, ops, incidentID, "Back.")
			return err
		}},
		{"maintenance.create", events.MaintenanceScheduled, "maintenance/tuesday", func() error {
			_, err := f.svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: "tuesday", Title: "DB", Components: []string{"api"},
				TimeZone: "America/Los_Angeles", Days: []string{"tue"}, StartTime: "21:00", Duration: 2 * time.Hour, FirstDate: "2026-11-03"})
			return err
		}},
		{"maintenance.update", events.MaintenanceRescheduled, "maintenance/tuesday", func() error {
			title := "Database upgrade"
			_, err := f.svc.Maintenance.Update(ctx, ops, "tuesday", service.WindowPatch{Title: &title})
			return err
		}},
		{"maintenance.occurrence.extend", events.MaintenanceRescheduled, "maintenance/tuesday/2026-11-11T05:00:00Z", func() error {
			_, _, err := f.svc.Maintenance.ExtendOccurrence(ctx, ops, "tuesday", scheduled, scheduled.Add(3*time.Hour))
			return err
		}},
		{"maintenance.occurrence.cancel", events.MaintenanceCancelled, "maintenance/tuesday/2026-11-11T05:00:00Z", func() error {
			_, _, err := f.svc.Maintenance.CancelOccurrence(ctx, ops, "tuesday", scheduled)
			return err
		}},
		{"maintenance.cancel", events.MaintenanceCancelled, "maintenance/tuesday", func() error {
			_, err := f.svc.Maintenance.CancelSeries(ctx, ops, "tuesday")
			return err
		}},
		{"maintenance.create", events.MaintenanceScheduled, "maintenance/mistake", func() error {
			_, err := f.svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: "mistake", Title: "Wrong day", Components: []string{"api"},
				TimeZone: "UTC", Start: t0.Add(48 * time.Hour), End: t0.Add(49 * time.Hour)})
			return err
		}},
		{"maintenance.delete", events.MaintenanceDeleted, "maintenance/mistake", func() error { return f.svc.Maintenance.Delete(ctx, ops, "mistake") }},
		{"key.create", events.KeyCreated, "key/", func() error {
			k, _, err := f.svc.Keys.Create(ctx, ops, "deploy-bot", []apikey.Scope{apikey.ScopeIncidents})
			keyID = k.ID
			return err
		}},
		{"key.revoke", events.KeyRevoked, "key/", func() error { return f.svc.Keys.Revoke(ctx, ops, keyID) }},
		{"notification.cancel", events.NotificationChanged, "notification/n-1", func() error {
			_, err := f.svc.Notifications.Cancel(ctx, ops, "n-1")
			return err
		}},
		{"notification.retry", events.NotificationChanged, "notification/n-1", func() error {
			_, err := f.svc.Notifications.Retry(ctx, ops, "n-1")
			return err
		}},
		{"target.create", events.TargetChanged, "target/team-hook", func() error {
			_, err := f.svc.NotifyTargets.Create(ctx, ops, service.TargetSpec{ID: "team-hook", Kind: "webhook", URL: "https://hooks.example.com/x"})
			return err
		}},
		{"target.update", events.TargetChanged, "target/team-hook", func() error {
			n := 2
			_, err := f.svc.NotifyTargets.Update(ctx, ops, "team-hook", service.TargetPatch{MaxInFlight: &n})
			return err
		}},
		{"target.delete", events.TargetChanged, "target/team-hook", func() error { return f.svc.NotifyTargets.Delete(ctx, ops, "team-hook") }},
		{"component.delete", events.ComponentChanged, "component/api", func() error { return f.svc.Components.Delete(ctx, ops, "api") }},
	}
	// A notification for the operator's changes (enqueuing one is a record, not an edit).
	if _, err := f.svc.Notifications.Enqueue(ctx, []store.Notification{{ID: "n-1", Target: "ops", Channel: "webhook", Kind: "test",
		State: store.NotificationPending, CreatedAt: t0, NextAt: t0, UpdatedAt: t0, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		before := len(f.audit(t))
		f.clock.Advance(time.Minute)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.action, err)
		}
		entries := f.audit(t)
		if len(entries) != before+1 {
			t.Fatalf("%s wrote %d audit entries, want 1", st.action, len(entries)-before)
		}
		e := entries[0]
		if e.Action != st.action || e.Actor != ops.Name || e.RemoteAddr != ops.RemoteAddr || e.RequestID != ops.RequestID ||
			!e.At.Equal(f.clock.Now()) || len(e.After) == 0 || len(st.target) > 0 && e.Target[:min(len(e.Target), len(st.target))] != st.target {
			t.Errorf("%s: audit entry %+v", st.action, e)
		}
		evs := f.drain()
		if len(evs) != 1 || evs[0].Kind != st.kind || evs[0].Actor != ops.Name || !evs[0].At.Equal(f.clock.Now()) || evs[0].ID == "" {
			t.Errorf("%s published %+v, want one %s by %s", st.action, evs, st.kind, ops.Name)
		}
	}
}

// TestRefusedChangesStoreAndPublishNothing: a change the rules refuse leaves no audit entry and
// no event, and says why with an error callers can branch on.
func TestRefusedChangesStoreAndPublishNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.Components.Sync(ctx, []component.Component{{ID: "db", Name: "Database"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Components.Create(ctx, ops, component.Component{ID: "api", Name: "API"}); err != nil {
		t.Fatal(err)
	}
	inc, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "Down", Severity: incidents.P0, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Incidents.Resolve(ctx, ops, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	// A window the config declares, and one made through the API that has started.
	if err := f.svc.Maintenance.Sync(ctx, []maintenance.Spec{{ID: "declared", Title: "Declared", Components: []string{"db"}, TimeZone: "UTC",
		Start: t0.Add(24 * time.Hour), End: t0.Add(25 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: "running", Title: "Running", Components: []string{"api"}, TimeZone: "UTC",
		Start: t0.Add(time.Minute), End: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	f.drain()
	before := len(f.audit(t))
	name := "X"
	var invalid *service.ValidationError
	tests := []struct {
		name  string
		do    func() error
		check func(error) bool
	}{
		{"config component", func() error {
			_, err := f.svc.Components.Update(ctx, ops, "db", service.ComponentPatch{Name: &name})
			return err
		}, func(err error) bool { return errors.Is(err, service.ErrManagedByConfig) }},
		{"unknown group", func() error {
			g := "nowhere"
			_, err := f.svc.Components.Update(ctx, ops, "api", service.ComponentPatch{GroupID: &g})
			return err
		}, func(err error) bool { return errors.As(err, &invalid) && invalid.Fields[0].Field == "group_id" }},
		{"missing component", func() error { return f.svc.Components.Delete(ctx, ops, "nope") },
			func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"update a resolved incident", func() error {
			_, err := f.svc.Incidents.Update(ctx, ops, inc.ID, incidents.Change{Body: "more"})
			return err
		}, func(err error) bool { return errors.Is(err, incidents.ErrInvalidState) }},
		{"resolve twice", func() error {
			_, err := f.svc.Incidents.Resolve(ctx, ops, inc.ID, "")
			return err
		}, func(err error) bool { return errors.Is(err, incidents.ErrConflict) }},
		{"unknown policy", func() error {
			_, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "T", Severity: incidents.P1, Policy: "nope"})
			return err
		}, func(err error) bool { return errors.As(err, &invalid) && invalid.Fields[0].Field == "policy" }},
		{"unknown affected component", func() error {
			_, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "T", Severity: incidents.P1,
				Components: []incidents.Affected{{ComponentID: "ghost", Impact: component.MajorOutage}}})
			return err
		}, func(err error) bool { return errors.As(err, &invalid) && invalid.Fields[0].Field == "components[0]" }},
		{"a window already over", func() error {
			_, err := f.svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: "past", Title: "Past", TimeZone: "UTC", Components: []string{"api"},
				Start: t0.Add(-2 * time.Hour), End: t0.Add(-time.Hour)})
			return err
		}, func(err error) bool { return errors.As(err, &invalid) && invalid.Fields[0].Field == "end" }},
		{"delete a config window", func() error { return f.svc.Maintenance.Delete(ctx, ops, "declared") },
			func(err error) bool { return errors.Is(err, service.ErrManagedByConfig) }},
		{"delete a window that started", func() error { return f.svc.Maintenance.Delete(ctx, ops, "running") },
			func(err error) bool { return errors.Is(err, maintenance.ErrInvalidState) }},
		{"delete an unknown window", func() error { return f.svc.Maintenance.Delete(ctx, ops, "ghost") },
			func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"revoke an unknown key", func() error { return f.svc.Keys.Revoke(ctx, ops, "aaaaaaaaaaaaaaaa") },
			func(err error) bool { return errors.Is(err, store.ErrNotFound) }},
		{"a key without scopes", func() error {
			_, _, err := f.svc.Keys.Create(ctx, ops, "k", nil)
			return err
		}, func(err error) bool { return errors.As(err, &invalid) && invalid.Fields[0].Field == "scopes" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !tt.check(err) {
				t.Fatalf("error %v", err)
			}
			if n := len(f.audit(t)); n != before {
				t.Errorf("%d audit entries written", n-before)
			}
			if evs := f.drain(); len(evs) != 0 {
				t.Errorf("published %+v", evs)
			}
		})
	}
}

// TestConcurrentUpdatesRetryOnAFreshCopy: two people updating one incident at once both land;
// the optimistic-concurrency retry lives in the service, once.
func TestConcurrentUpdatesRetryOnAFreshCopy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "Slow", Severity: incidents.P2, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := f.svc.Incidents.Update(ctx, service.Actor{Name: "sre-" + string(rune('a'+i))}, inc.ID, incidents.Change{Body: "note"})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := f.store.GetIncident(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Updates) != n+1 || got.Version != n+1 {
		t.Errorf("%d updates at version %d, want %d at %d", len(got.Updates), got.Version, n+1, n+1)
	}
}

// TestAutomaticIncidentLifecycle: a monitor's outage opens one incident (a second report of it
// opens none), and its recovery resolves it; each publishes once.
func TestAutomaticIncidentLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
		t.Fatal(err)
	}
	f.drain()
	since := t0.Add(-30 * time.Second)
	out := service.Outage{ComponentID: "api", Name: "API", MonitorID: "api-health", Since: since, Reason: "connect: refused"}
	inc, opened, err := f.svc.Incidents.OpenAutomatic(ctx, out)
	if err != nil || !opened || inc.ID != service.AutomaticID("api", since) || !inc.StartedAt.Equal(since) || inc.Severity != incidents.P1 {
		t.Fatalf("OpenAutomatic = %+v, %v, %v", inc, opened, err)
	}
	if _, again, err := f.svc.Incidents.OpenAutomatic(ctx, out); again || err != nil {
		t.Errorf("a second report opened another incident (%v, %v)", again, err)
	}
	// The monitor and the reason are the team's: an internal update, then the public text that
	// names the component only.
	if n := len(inc.Updates); n != 2 || !inc.Updates[0].Internal || inc.Updates[0].Body != "Automatic: monitor api-health failed (connect: refused)." ||
		!inc.Updates[1].Public() || inc.Updates[1].Body != "API is not responding as expected. We are investigating." {
		t.Errorf("updates %+v", inc.Updates)
	}
	if evs := f.drain(); len(evs) != 1 || evs[0].Kind != events.IncidentDeclared || evs[0].Actor != "monitor:api-health" || !evs[0].Incident.Automatic {
		t.Errorf("events %+v", evs)
	}
	f.clock.Advance(5 * time.Minute)
	changed, err := f.svc.Incidents.RecoverAutomatic(ctx, "api", "api-health", t0.Add(4*time.Minute), service.RecoveryResolve)
	if err != nil || len(changed) != 1 || changed[0].Status != incidents.Resolved {
		t.Fatalf("RecoverAutomatic = %+v, %v", changed, err)
	}
	if evs := f.drain(); len(evs) != 1 || evs[0].Kind != events.IncidentResolved {
		t.Errorf("events %+v", evs)
	}
}

// TestAutomaticRecoveryIsNoFirstResponse: a monitor's recovery is not a person acting (DESIGN
// section 6): resolving the incident stops its first-response clock unmet, moving it to
// monitoring leaves the clock running; either way nothing is met and no one acknowledged.
func TestAutomaticRecoveryIsNoFirstResponse(t *testing.T) {
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mode   service.Recovery
		status incidents.Status
		state  incidents.ClockState
	}{
		{service.RecoveryResolve, incidents.Resolved, incidents.Stopped},
		{service.RecoveryMonitoring, incidents.Monitoring, incidents.Running},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			if err := f.svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
				t.Fatal(err)
			}
			out := service.Outage{ComponentID: "api", Name: "API", MonitorID: "api-health", Since: t0.Add(-30 * time.Second), Reason: "connect: refused"}
			if _, _, err := f.svc.Incidents.OpenAutomatic(ctx, out); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Minute)
			changed, err := f.svc.Incidents.RecoverAutomatic(ctx, "api", "api-health", t0.Add(30*time.Second), tt.mode)
			if err != nil || len(changed) != 1 || changed[0].Status != tt.status {
				t.Fatalf("RecoverAutomatic = %+v, %v", changed, err)
			}
			inc := changed[0]
			p := cfg.SLAPolicies()[inc.Policy]
			target := p.Target(inc.Severity, incidents.FirstResponse)
			if target == nil {
				t.Fatalf("policy %s sets no first response for %s", inc.Policy, inc.Severity)
			}
			for _, c := range inc.Clocks {
				if c.Kind != incidents.FirstResponse {
					continue
				}
				st, err := c.At(target.Calendar, f.clock.Now().Add(time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				if st.State != tt.state || !st.MetAt.IsZero() || !inc.AcknowledgedAt.IsZero() {
					t.Errorf("first response after the monitor's recovery: %s, met at %s (acknowledged %s); want %s, never met",
						st.State, st.MetAt, inc.AcknowledgedAt, tt.state)
				}
			}
		})
	}
}
