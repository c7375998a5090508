package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// TestAutomaticIncidentClocksBreachOnTime: a monitor going down opens one incident; its first
// response clock runs, warns and breaches at their exact times (each published once), and the
// recovery resolves it.
func TestAutomaticIncidentClocksBreachOnTime(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	healthy.Store(false)
	ctx := t.Context()
	syncAPI(t, s)
	always := calendar.AroundTheClock()
	policy := &incidents.Policy{Name: "p", Severities: map[incidents.Severity]incidents.Targets{
		incidents.P0: {FirstResponse: &incidents.Target{Goal: 30 * time.Minute, Warn: 20 * time.Minute, Calendar: always},
			Resolution: &incidents.Target{Goal: 4 * time.Hour, Warn: 3 * time.Hour, Calendar: always}},
	}}
	mon := probe.Monitor{ID: "api-health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	events, unsubscribe := bus.Subscribe(1000)
	defer unsubscribe()
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Registerer: reg, Monitors: []probe.Monitor{mon},
		Policies: map[string]*incidents.Policy{"p": policy}, DefaultPolicy: "p", MonitorSeverity: map[string]incidents.Severity{"api-health": incidents.P0},
		SLAEvery: time.Second, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)

	var inc incidents.Incident
	step(t, e, 20, func() bool {
		list, _ := s.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
		if len(list) == 1 {
			inc = list[0]
		}
		return len(list) == 1
	})
	firstFail := snapshot(e, "api-health").Recent[0].At
	if !inc.Automatic || inc.Severity != incidents.P0 || inc.MonitorID != "api-health" || !inc.StartedAt.Equal(firstFail) || inc.Policy != "p" {
		t.Fatalf("automatic incident = %+v", inc)
	}
	opened := inc.OpenedAt

	// Let 31 minutes pass, in small steps so the monitor and the SLA job run along; every run
	// due has finished when AdvanceForTest returns, so its events are out.
	for clock.Now().Before(opened.Add(31 * time.Minute)) {
		engine.AdvanceForTest(t, e, 5*time.Second)
	}
	var alerts []engine.Event
	for len(events) > 0 {
		if ev := <-events; ev.Kind == engine.EventSLAWarning || ev.Kind == engine.EventSLABreach {
			alerts = append(alerts, ev)
		}
	}
	if len(alerts) != 2 || alerts[0].Kind != engine.EventSLAWarning || !alerts[0].At.Equal(opened.Add(20*time.Minute)) ||
		alerts[1].Kind != engine.EventSLABreach || !alerts[1].At.Equal(opened.Add(30*time.Minute)) || alerts[1].Clock != "first_response" {
		t.Fatalf("alerts = %+v; want the warning at +20m and the breach at +30m", alerts)
	}
	// One breach counted; every other series exists at zero from the start (alert rules can
	// name them before anything happened).
	want := `# HELP upstate_sla_breaches_total Service-level clocks that passed their deadline unmet.
# TYPE upstate_sla_breaches_total counter
upstate_sla_breaches_total{clock="first_response",severity="P0"} 1
upstate_sla_breaches_total{clock="first_response",severity="P1"} 0
upstate_sla_breaches_total{clock="first_response",severity="P2"} 0
upstate_sla_breaches_total{clock="first_response",severity="P3"} 0
upstate_sla_breaches_total{clock="resolution",severity="P0"} 0
upstate_sla_breaches_total{clock="resolution",severity="P1"} 0
upstate_sla_breaches_total{clock="resolution",severity="P2"} 0
upstate_sla_breaches_total{clock="resolution",severity="P3"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "upstate_sla_breaches_total"); err != nil {
		t.Error(err)
	}
	// More ticks publish nothing again.
	for range 20 {
		engine.AdvanceForTest(t, e, time.Second)
	}
	for len(events) > 0 {
		if ev := <-events; ev.Kind == engine.EventSLABreach || ev.Kind == engine.EventSLAWarning {
			t.Fatalf("published again: %+v", ev)
		}
	}
	stored, _ := s.GetIncident(ctx, inc.ID)
	if len(stored.Alerts) != 2 {
		t.Errorf("alerts recorded = %v", stored.Alerts)
	}

	// Recovery resolves it.
	healthy.Store(true)
	step(t, e, 30, func() bool {
		got, _ := s.GetIncident(ctx, inc.ID)
		return got.Status == incidents.Resolved
	})
	if open, _ := s.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true}); len(open) != 0 {
		t.Errorf("%d incidents still open", len(open))
	}
}

func TestDeclaredImpactSetsComponentStatus(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0, component.Component{ID: "billing", Name: "Billing", Source: component.SourceConfig})
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	// The SLA tick (the safety net) would take a day: the status must follow the event alone.
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, SLAEvery: 24 * time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	svc := service.New(service.Options{Store: s, Clock: clock, Bus: bus}) // the admin API's door
	status := func() component.Status { c, _ := s.GetComponent(ctx, "billing"); return c.Status }
	engine.SettleForTest(t, e)
	if got := status(); got != component.Operational {
		t.Fatalf("a people-managed component starts %s, want operational", got)
	}
	engine.AdvanceForTest(t, e, time.Second) // the declaration comes a second after the start
	declared := clock.Now()
	inc, err := svc.Incidents.Declare(ctx, service.Actor{Name: "ops"}, incidents.Declaration{Title: "Invoices are late", Severity: incidents.P2,
		Components: []incidents.Affected{{ComponentID: "billing", Impact: component.PartialOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e) // no clock moves: only the event can have done it
	if got := status(); got != component.PartialOutage {
		t.Fatalf("after the declaration: %s, want partial_outage at once", got)
	}
	if tl, _ := s.StatusTimeline(ctx, "billing", t0, declared.Add(time.Second)); len(tl) == 0 || !tl[len(tl)-1].At.Equal(declared) {
		t.Errorf("timeline %+v: the change must be recorded at the declaration's instant", tl)
	}
	engine.AdvanceForTest(t, e, time.Second)
	if _, err := svc.Incidents.Resolve(ctx, service.Actor{Name: "ops"}, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e)
	if got := status(); got != component.Operational {
		t.Fatalf("after the resolution: %s, want operational at once", got)
	}
}

// TestNoIncidentDuringMaintenance: a monitor failing inside a maintenance occurrence of its
// component opens no incident, and its events say it was under maintenance.
func TestNoIncidentDuringMaintenance(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	healthy.Store(false)
	ctx := t.Context()
	syncAPI(t, s)
	w := oneOff(t, "deploy", t0.Add(-time.Minute), t0.Add(time.Hour), t0.Add(-48*time.Hour))
	if err := s.CreateWindow(ctx, w, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	mon := probe.Monitor{ID: "api-health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	events, unsubscribe := bus.Subscribe(100)
	defer unsubscribe()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Monitors: []probe.Monitor{mon}, SLAEvery: time.Second, MaintenanceEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)
	step(t, e, 20, func() bool { return snapshot(e, "api-health").State == probe.StateDown })
	for range 5 {
		engine.AdvanceForTest(t, e, time.Second)
	}
	stop()
	if list, _ := s.ListIncidents(ctx, store.IncidentQuery{}); len(list) != 0 {
		t.Errorf("%d incidents opened during maintenance, want none", len(list))
	}
	var flagged bool
	for len(events) > 0 {
		if ev := <-events; ev.Kind == engine.EventMonitorState && ev.To == string(probe.StateDown) {
			flagged = ev.UnderMaintenance
		}
	}
	if !flagged {
		t.Error("the down event does not say it happened under maintenance")
	}
}

// TestIncidentsOpenFollowsEvents: upstate_incidents_open changes when an incident is declared
// or resolved, not at the next SLA tick (here a day away): no clock moves between the change
// and the reading.
func TestIncidentsOpenFollowsEvents(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0, component.Component{ID: "docs", Name: "Docs", Source: component.SourceConfig})
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Registerer: reg, SLAEvery: 24 * time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	svc := service.New(service.Options{Store: s, Clock: clock, Bus: bus})
	open := func(sev string) float64 {
		t.Helper()
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() != "upstate_incidents_open" {
				continue
			}
			for _, m := range f.Metric {
				if m.GetLabel()[0].GetValue() == sev {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no upstate_incidents_open{severity=%q}", sev)
		return 0
	}
	engine.SettleForTest(t, e)
	if got := open("P3"); got != 0 {
		t.Fatalf("before: %v open P3 incidents, want 0", got)
	}
	inc, err := svc.Incidents.Declare(ctx, service.Actor{Name: "ops"}, incidents.Declaration{Title: "Docs search is slow", Severity: incidents.P3,
		Components: []incidents.Affected{{ComponentID: "docs", Impact: component.DegradedPerformance}}})
	if err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e) // no clock moves: only the event can have done it
	if got := open("P3"); got != 1 {
		t.Fatalf("after the declaration: %v open P3 incidents, want 1 at once", got)
	}
	if _, err := svc.Incidents.Resolve(ctx, service.Actor{Name: "ops"}, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e)
	if got := open("P3"); got != 0 {
		t.Fatalf("after the resolution: %v open P3 incidents, want 0 at once", got)
	}
}
