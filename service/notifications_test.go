package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

func (f *fixture) journal(t *testing.T) []events.Event {
	t.Helper()
	es, err := f.store.ReadJournal(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]events.Event, len(es))
	for i, e := range es {
		if err := json.Unmarshal(e.Body, &out[i]); err != nil {
			t.Fatal(err)
		}
		if out[i].ID != e.ID || string(out[i].Kind) != e.Kind {
			t.Errorf("journal entry %s/%s holds event %s/%s", e.ID, e.Kind, out[i].ID, out[i].Kind)
		}
	}
	return out
}

// TestChangesJournalTheirEvents: every change a notification can be about keeps its event in the
// journal (the one it publishes, same id); a refused change keeps none; events derived again
// (a transition retried, a maintenance job resuming behind its cursor) are kept once.
func TestChangesJournalTheirEvents(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if err := f.svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
		t.Fatal(err)
	}
	f.drain()
	inc, err := f.svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "Errors", Body: "x", Severity: incidents.P0,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Incidents.Acknowledge(ctx, ops, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Incidents.Acknowledge(ctx, ops, inc.ID, ""); err == nil {
		t.Fatal("a second acknowledgement was accepted")
	}
	if _, err := f.svc.Incidents.RecordSLAAlert(ctx, inc.ID, "resolution.warning", events.Event{Kind: events.SLAWarning, At: t0.Add(time.Hour), Clock: "resolution"}); err != nil {
		t.Fatal(err)
	}
	tr := probe.Transition{MonitorID: "api-health", At: t0, From: probe.StateUp, To: probe.StateDown, Reason: "refused"}
	for range 2 { // a retry of the same transition
		if err := f.svc.Monitors.RecordTransition(ctx, tr, "api", false); err != nil {
			t.Fatal(err)
		}
	}
	// A monitor's first result after a start, and a clean stop, page no one: not journaled.
	for _, quiet := range []probe.Transition{{MonitorID: "web", At: t0, From: probe.StateUnknown, To: probe.StateUp},
		{MonitorID: "web", At: t0.Add(time.Minute), From: probe.StateUp, To: probe.StateUnknown}} {
		if err := f.svc.Monitors.RecordTransition(ctx, quiet, "web", false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.svc.Monitors.RecordStatus(ctx, component.Change{ComponentID: "api", At: t0, Status: component.Operational}, component.Unknown, false); err != nil {
		t.Fatal(err)
	}
	start := events.Event{Kind: events.MaintenanceStarted, At: t0.Add(2 * time.Hour), WindowID: "nightly", Scheduled: t0.Add(2 * time.Hour), Components: []string{"api"}}
	for range 2 { // the job resuming behind its cursor derives it again
		if err := f.svc.Monitors.Record(ctx, start); err != nil {
			t.Fatal(err)
		}
	}
	published := slices.DeleteFunc(f.drain(), func(e events.Event) bool { return e.MonitorID == "web" || e.Kind == events.ComponentStatus })
	journal := f.journal(t)
	var kinds []events.Kind
	for _, e := range journal {
		kinds = append(kinds, e.Kind)
	}
	want := []events.Kind{events.IncidentDeclared, events.IncidentAcknowledged, events.SLAWarning, events.MonitorState, events.MaintenanceStarted}
	if !slices.Equal(kinds, want) {
		t.Fatalf("journal kinds = %v, want %v", kinds, want)
	}
	for i, e := range journal[:3] {
		if e.ID != published[i].ID || e.Incident == nil || e.Incident.ID != inc.ID {
			t.Errorf("journal[%d] = %s %s, published %s: the same event, with the incident", i, e.ID, e.Kind, published[i].ID)
		}
	}
	if sla := journal[2]; !sla.At.Equal(t0.Add(time.Hour)) || sla.Clock != "resolution" || sla.Actor != "system" || sla.Incident.Alerts[0] != "resolution.warning" {
		t.Errorf("SLA event journaled as %+v", sla)
	}
	if tre := journal[3]; tre.MonitorID != "api-health" || tre.To != "down" || tre.ID != events.DerivedID(tre) {
		t.Errorf("transition journaled as %+v, want its derived id", tre)
	}
}

// fakeTargets is a target set whose one target fails when asked to.
type fakeTargets struct {
	fail error
	sent []string
}

func (f *fakeTargets) TargetIDs() []string { return []string{"ops"} }
func (f *fakeTargets) Describe(id string) service.TargetInfo {
	return service.TargetInfo{ID: id, Kind: "webhook", Destination: "https://hooks.example.com/..."}
}
func (f *fakeTargets) SendTest(_ context.Context, id, by string) error {
	f.sent = append(f.sent, id+" by "+by)
	return f.fail
}

// TestOperatorsNotificationChanges: retry and cancel follow the state rules; a test message is
// audited with its outcome.
func TestOperatorsNotificationChanges(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	targets := &fakeTargets{}
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Targets: targets})
	n := store.Notification{ID: "n-1", Target: "ops", Channel: "webhook", Kind: "test", State: store.NotificationPending, CreatedAt: t0, NextAt: t0, UpdatedAt: t0, Version: 1}
	if _, err := svc.Notifications.Enqueue(ctx, []store.Notification{n}); err != nil {
		t.Fatal(err)
	}
	claimed, err := svc.Notifications.Claim(ctx, t0, t0.Add(time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	if _, err := svc.Notifications.Retry(ctx, ops, "n-1"); !errors.Is(err, service.ErrNotificationState) {
		t.Errorf("retry while sending: %v, want ErrNotificationState", err)
	}
	done := claimed[0]
	done.State, done.DeliveredAt, done.Version = store.NotificationDelivered, t0, done.Version+1
	if err := svc.Notifications.Finish(ctx, done); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Notifications.Retry(ctx, ops, "n-1"); !errors.Is(err, service.ErrNotificationState) {
		t.Errorf("retry of a delivered one: %v, want ErrNotificationState", err)
	}
	if _, err := svc.Notifications.Cancel(ctx, ops, "n-1"); !errors.Is(err, service.ErrNotificationState) {
		t.Errorf("cancel of a delivered one: %v, want ErrNotificationState", err)
	}
	if _, err := svc.Notifications.Cancel(ctx, ops, "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel of a missing one: %v, want ErrNotFound", err)
	}
	if err := svc.Notifications.TestTarget(ctx, ops, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("test of an unknown target: %v, want ErrNotFound", err)
	}
	if err := svc.Notifications.TestTarget(ctx, ops, "ops"); err != nil {
		t.Errorf("test: %v", err)
	}
	targets.fail = errors.New("503 Service Unavailable")
	if err := svc.Notifications.TestTarget(ctx, ops, "ops"); err == nil || err.Error() != "503 Service Unavailable" {
		t.Errorf("failed test: %v, want the delivery error", err)
	}
	entries, _ := f.store.ListAudit(ctx, store.AuditQuery{Action: "notification.test"})
	if len(entries) != 2 || !slices.Equal(targets.sent, []string{"ops by ops-key", "ops by ops-key"}) {
		t.Fatalf("audit entries %d, sent %v", len(entries), targets.sent)
	}
	var result map[string]any
	_ = json.Unmarshal(entries[0].After, &result)
	if result["delivered"] != false || result["error"] != "503 Service Unavailable" {
		t.Errorf("audited result %v", result)
	}
}
