package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
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
	var sev []string
	for _, b := range burns {
		sev = append(sev, b.Severity)
	}
	if got := strings.Join(sev, ","); got != "page,page,ticket" {
		t.Errorf("burn-rate events = %s, want each firing window once: page,page,ticket", got)
	}
	// The month so far (from March 1 UTC): three hours down out of the elapsed time.
	got := testutil.ToFloat64(e2gauge(t, reg, "upstate_error_budget_remaining_seconds"))
	elapsed := t0.Sub(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	// Measured at t0; each second of the ongoing outage then costs about a second of budget,
	// and the fake clock ran a few seconds while the test waited for the events.
	if want := 0.005*elapsed.Seconds() - 3*3600; got < want-10 || got > want {
		t.Errorf("budget remaining = %v, want %v less the few seconds the clock ran", got, want)
	}
}

// e2gauge finds a single-series gauge in a registry.
func e2gauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no single series %s", name)
	return nil
}
