package engine_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store/sqlite"
)

func TestBurnRateAlertsAndGauges(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	syncAPI(t, s)
	// Up for forty days, then a full outage for the last three hours: it burns at 200 over the
	// last hour, 100 over 6 h and 8.3 over 3 days, so every window of the table fires.
	for _, ch := range []component.Change{
		{ComponentID: "api", At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational}, // before the month: no unknown time
		{ComponentID: "api", At: t0.Add(-3 * time.Hour), Status: component.MajorOutage},
	} {
		if err := s.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	reports := &engine.Reports{Store: s, Objective: func(string) engine.Objective {
		return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
			Location: time.UTC, Notice: 24 * time.Hour}
	}}
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	events, unsubscribe := bus.Subscribe(100)
	defer unsubscribe()
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Registerer: reg, Reports: reports,
		AvailabilityEvery: time.Second, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)
	var burns []engine.Event
	step(t, e, 10, func() bool {
		for len(events) > 0 {
			if ev := <-events; ev.Kind == engine.EventBurnRate {
				burns = append(burns, ev)
			}
		}
		return len(burns) >= 3
	})
	for range 3 { // more ticks publish nothing new
		engine.AdvanceForTest(t, e, time.Second)
	}
	stop()
	for len(events) > 0 {
		if ev := <-events; ev.Kind == engine.EventBurnRate {
			burns = append(burns, ev)
		}
	}
	var sev, reasons []string
	for _, b := range burns {
		sev = append(sev, b.Severity)
		reasons = append(reasons, b.Reason)
	}
	if got := strings.Join(sev, ","); got != "page,page,ticket" {
		t.Errorf("burn-rate events = %s, want each firing window once: page,page,ticket", got)
	}
	if got, want := strings.Join(reasons, "; "), "burn rate above 14.4 over 1h and 5m; burn rate above 6 over 6h and 30m; burn rate above 1 over 3d and 6h"; got != want {
		t.Errorf("reasons = %q, want %q", got, want)
	}
	// Three alerts at one tick are three events: the two page alerts differ only in their
	// windows, and the journal (which keeps an id once) and the notification hold all three.
	ids := map[string]bool{}
	for _, b := range burns {
		ids[b.ID] = true
	}
	if len(ids) != 3 {
		t.Errorf("burn-rate events have %d distinct ids, want 3: %v", len(ids), ids)
	}
	if got := notifiedBurns(t, s, clock.Now()); len(got) != 3 {
		t.Errorf("the notification holds %d burn-rate events, want 3: %v", len(got), got)
	}
	// The gauges are the month so far at the last tick's now: March 2026 in UTC is 31 days, its
	// budget 0.5 % of it, 13,392 s (the whole month's, not the elapsed part's), less the outage
	// so far; the burn rates are 200 (all down) except over 3 days.
	now := clock.Now()
	elapsed := now.Sub(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)).Seconds()
	down := (3*time.Hour + now.Sub(t0)).Seconds()
	want := map[string]float64{
		`upstate_availability_ratio{component="api",period="month"}`:             1 - down/elapsed,
		`upstate_availability_eligible_seconds{component="api",period="month"}`:  elapsed,
		`upstate_error_budget_seconds{component="api",period="month"}`:           13392,
		`upstate_error_budget_remaining_seconds{component="api",period="month"}`: 13392 - down,
		`upstate_error_budget_burn_rate{component="api",window="5m"}`:            200,
		`upstate_error_budget_burn_rate{component="api",window="30m"}`:           200,
		`upstate_error_budget_burn_rate{component="api",window="1h"}`:            200,
		`upstate_error_budget_burn_rate{component="api",window="6h"}`:            (down / (6 * 3600)) / 0.005,
		`upstate_error_budget_burn_rate{component="api",window="3d"}`:            (down / (72 * 3600)) / 0.005,
	}
	got := gauges(t, reg, "upstate_availability_", "upstate_error_budget_")
	if len(got) != len(want) {
		t.Errorf("%d series, want %d:\n%v", len(got), len(want), got)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
}

// Every availability, budget and burn-rate series is there from the engine's first tick, for
// every component, with windows labelled as operators write them; burn rates over windows with
// nothing eligible are 0, never NaN. The ratio alone waits for eligible time: a component whose
// data begins at this very instant has none yet, and no figure is better than a made-up one.
func TestAvailabilityGaugesFromTheFirstTick(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	engine.SyncForTest(t, s, t0, component.Component{ID: "api", Name: "API", Source: component.SourceConfig},
		component.Component{ID: "db", Name: "DB", Source: component.SourceConfig})
	if err := s.AppendStatus(t.Context(), component.Change{ComponentID: "api", At: t0.Add(-time.Hour), Status: component.Operational}); err != nil {
		t.Fatal(err)
	}
	reports := &engine.Reports{Store: s, Objective: func(string) engine.Objective {
		return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
			Location: time.UTC, Notice: 24 * time.Hour}
	}}
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clockwork.NewFakeClockAt(t0), Registerer: reg, Reports: reports,
		SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	engine.SettleForTest(t, e) // the first tick ran, at t0
	got := gauges(t, reg, "upstate_availability_", "upstate_error_budget_")
	// March so far in UTC: 28 days 30 min; db's data begins now (it has no monitor, so the
	// engine records it operational), before that it is unknown.
	month := 31 * 24 * 3600.0
	soFar := t0.Sub(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)).Seconds()
	want := map[string]float64{
		`upstate_availability_ratio{component="api",period="month"}`:             1,
		`upstate_availability_eligible_seconds{component="api",period="month"}`:  3600,
		`upstate_error_budget_seconds{component="api",period="month"}`:           0.005 * (month - soFar + 3600),
		`upstate_error_budget_remaining_seconds{component="api",period="month"}`: 0.005 * (month - soFar + 3600),
		`upstate_availability_eligible_seconds{component="db",period="month"}`:   0,
		`upstate_error_budget_seconds{component="db",period="month"}`:            0.005 * (month - soFar),
		`upstate_error_budget_remaining_seconds{component="db",period="month"}`:  0.005 * (month - soFar),
	}
	for _, c := range []string{"api", "db"} {
		for _, w := range []string{"5m", "30m", "1h", "6h", "3d"} {
			want[`upstate_error_budget_burn_rate{component="`+c+`",window="`+w+`"}`] = 0
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d:\n%v", len(got), len(want), got)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-6 {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	// db leaves the config: its series go at the next tick, api's stay.
	engine.SyncForTest(t, s, t0, component.Component{ID: "api", Name: "API", Source: component.SourceConfig})
	engine.AdvanceForTest(t, e, time.Minute)
	got = gauges(t, reg, "upstate_availability_", "upstate_error_budget_")
	for k := range got {
		if strings.Contains(k, `component="db"`) {
			t.Errorf("a deleted component's series stays: %s", k)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d series for api, want 9: %v", len(got), got)
	}
}

// notifiedBurns routes the journal as the example config's team route does (budget.burn
// grouped by component) to a webhook, and returns the ids of the budget.burn events the
// messages it received hold.
func notifiedBurns(t *testing.T, s *sqlite.Store, now time.Time) []string {
	t.Helper()
	var out []string
	for _, p := range delivered(t, s, now, "budget.burn") {
		for _, ev := range p.Upstate.Events {
			if ev.Kind == string(engine.EventBurnRate) {
				out = append(out, ev.ID)
			}
		}
	}
	return out
}

// delivered routes the journal from the router's stored cursor on, by a route of kinds grouped
// by component, to a webhook, and returns the messages it received.
func delivered(t *testing.T, s *sqlite.Store, now time.Time, kinds ...string) []notifytest.Payload {
	t.Helper()
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	clock := clockwork.NewFakeClockAt(now)
	chans, err := notify.NewChannels(notify.ChannelOptions{Targets: []notify.Target{{ID: "team", Kind: notify.KindWebhook, URL: recv.URL}},
		Page: notify.Page{Title: "Shop", PublicURL: "https://status.example.com", Location: time.UTC}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: s, Clock: clock, Targets: chans})
	n, err := notify.New(notify.Options{Store: s, Door: svc.Notifications, Channels: chans, Clock: clock, Instance: "a",
		Page:  notify.Page{Title: "Shop", PublicURL: "https://status.example.com", Location: time.UTC},
		Rules: notify.Rules{Routes: []notify.Route{{Name: "team", Kinds: kinds, Targets: []string{"team"}, GroupBy: []string{"component"}, GroupWait: 10 * time.Second}}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // gather, then past the group's wait
		if _, err := n.Router.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	for range 100 {
		sent, err := n.Dispatcher.Pump(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		n.Dispatcher.Wait()
		if sent == 0 {
			break
		}
	}
	var out []notifytest.Payload
	for _, d := range recv.Accepted() {
		out = append(out, d.Decode(t))
	}
	return out
}

// gauges reads every series of the gauges whose names start with one of prefixes, keyed as
// name{label="value",...} with labels in name order.
func gauges(t *testing.T, reg *prometheus.Registry, prefixes ...string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(mf.GetName(), p) }) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestBurnAlertsAcrossARestart: an engine started again on the same store while the alerts it
// published still fire carries their episodes on: it publishes nothing, and the journal (so
// the notification) holds each alert once.
func TestBurnAlertsAcrossARestart(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	syncAPI(t, s)
	for _, ch := range []component.Change{
		{ComponentID: "api", At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational},
		{ComponentID: "api", At: t0.Add(-3 * time.Hour), Status: component.MajorOutage},
	} {
		if err := s.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	reports := &engine.Reports{Store: s, Objective: func(string) engine.Objective {
		return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
			Location: time.UTC, Notice: 24 * time.Hour}
	}}
	run := func(at time.Time) []engine.Event { // one engine's life: its first ticks, then a clean stop
		bus := engine.NewBus(nil)
		evs, unsubscribe := bus.Subscribe(100)
		defer unsubscribe()
		e, err := engine.New(engine.Options{Store: s, Clock: clockwork.NewFakeClockAt(at), Bus: bus, Registerer: prometheus.NewRegistry(), Reports: reports,
			AvailabilityEvery: time.Second, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		stop := engine.StartForTest(t, e)
		engine.SettleForTest(t, e)
		for range 3 {
			engine.AdvanceForTest(t, e, time.Second)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		var burns []engine.Event
		for len(evs) > 0 {
			if ev := <-evs; ev.Kind == engine.EventBurnRate {
				burns = append(burns, ev)
			}
		}
		return burns
	}
	if first := run(t0); len(first) != 3 {
		t.Fatalf("the first engine published %d burn-rate alerts, want 3", len(first))
	}
	if again := run(t0.Add(time.Minute)); len(again) != 0 {
		t.Errorf("the engine started again published %d burn-rate alerts still firing: %+v", len(again), again)
	}
	entries, err := s.ReadJournal(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if en.Kind == string(engine.EventBurnRate) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("the journal holds %d burn-rate alerts, want 3 (each once)", n)
	}
	if got := notifiedBurns(t, s, t0.Add(2*time.Minute)); len(got) != 3 {
		t.Errorf("notified %d burn-rate alerts, want 3", len(got))
	}
	// Fixed at t0+2m: an hour later the page alerts have ended (their short windows are clean),
	// the ticket alert still fires. A new outage begins new page episodes: two new alerts.
	for _, ch := range []component.Change{
		{ComponentID: "api", At: t0.Add(2 * time.Minute), Status: component.Operational},
		{ComponentID: "api", At: t0.Add(2 * time.Hour), Status: component.MajorOutage},
	} {
		if err := s.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	if quiet := run(t0.Add(time.Hour)); len(quiet) != 0 {
		t.Errorf("an hour after the fix: %d alerts, want none", len(quiet))
	}
	var sev []string
	for _, b := range run(t0.Add(3 * time.Hour)) {
		sev = append(sev, b.Severity+" "+b.Alert)
	}
	if got := strings.Join(sev, ", "); got != "page o/1h/5m, page o/6h/30m" {
		t.Errorf("the second outage published %q, want its two page alerts", got)
	}
}
