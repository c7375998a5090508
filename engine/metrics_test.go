package engine_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
)

// series flattens what reg gathers into "name{label=value,...}" → value; a histogram gives its
// _count and _sum.
func series(t *testing.T, reg *prometheus.Registry, prefix string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), prefix) || strings.HasPrefix(mf.GetName(), "upstate_incidents") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetHistogram() != nil:
				out[strings.Replace(key, "{", "_count{", 1)] = float64(m.GetHistogram().GetSampleCount())
				out[strings.Replace(key, "{", "_sum{", 1)] = m.GetHistogram().GetSampleSum()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			default:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// The per-monitor series follow the runs, report the certificate's expiry against the clock,
// and disappear with a monitor removed by a reload.
func TestProbeMetrics(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0, component.Component{ID: "web", Name: "Web", Source: component.SourceConfig})
	good := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer good.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer bad.Close()
	notAfter := good.Certificate().NotAfter

	clock := clockwork.NewFakeClockAt(t0)
	th := probe.Thresholds{Failures: 1, Successes: 1}
	monitors := []probe.Monitor{
		{ID: "tls", ComponentID: "web", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second, Thresholds: th,
			HTTP: &probe.HTTPSpec{URL: good.URL, InsecureSkipVerify: true}},
		{ID: "broken", ComponentID: "web", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second, Thresholds: th,
			HTTP: &probe.HTTPSpec{URL: bad.URL}},
	}
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Registerer: reg, Monitors: monitors,
		SLAEvery: time.Hour, MaintenanceEvery: time.Hour, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Before any run every monitor is unknown, and there is no result to report.
	got := series(t, reg, "upstate_")
	for _, id := range []string{"tls", "broken"} {
		if got[fmt.Sprintf("upstate_monitor_state{monitor=%s,state=unknown}", id)] != 1 {
			t.Errorf("%s: state before the first run is not unknown: %v", id, got)
		}
		if _, ok := got[fmt.Sprintf("upstate_probe_success{monitor=%s}", id)]; ok {
			t.Errorf("%s: a success value before any run", id)
		}
	}

	engine.StartForTest(t, e)
	runs := func(id string) int { return len(snapshot(e, id).Recent) }
	step(t, e, 40, func() bool {
		return runs("tls") >= 2 && runs("broken") >= 2 && snapshot(e, "broken").State == probe.StateDown
	})
	got = series(t, reg, "upstate_monitor_state")
	if got["upstate_monitor_state{monitor=tls,state=up}"] != 1 || got["upstate_monitor_state{monitor=broken,state=down}"] != 1 {
		t.Errorf("states: %v, want tls up and broken down", got)
	}
	// Stop the runs from moving while the series are compared with the snapshot. Paused time
	// is unknown time.
	for _, id := range []string{"tls", "broken"} {
		if err := e.Pause(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	engine.SettleForTest(t, e) // the component's status change reaches the series by its event
	tlsRuns, brokenRuns := float64(runs("tls")), float64(runs("broken"))
	var tlsSum float64
	for _, r := range snapshot(e, "tls").Recent {
		tlsSum += r.Duration.Seconds()
	}

	got = series(t, reg, "upstate_")
	want := map[string]float64{
		"upstate_probe_success{monitor=tls}":                      1,
		"upstate_probe_success{monitor=broken}":                   0,
		"upstate_probe_runs_total{monitor=tls,result=success}":    tlsRuns,
		"upstate_probe_runs_total{monitor=tls,result=failure}":    0,
		"upstate_probe_runs_total{monitor=broken,result=success}": 0,
		"upstate_probe_runs_total{monitor=broken,result=failure}": brokenRuns,
		"upstate_probe_duration_seconds_count{monitor=tls}":       tlsRuns,
		"upstate_probe_duration_seconds_count{monitor=broken}":    brokenRuns,
		"upstate_monitor_state{monitor=broken,state=down}":        0,
		"upstate_monitor_state{monitor=broken,state=up}":          0,
		"upstate_certificate_expiry_seconds{monitor=tls}":         notAfter.Sub(clock.Now()).Seconds(),
		"upstate_monitor_state{monitor=tls,state=degraded}":       0,
		"upstate_monitor_state{monitor=tls,state=unknown}":        1,
		"upstate_scheduler_lag_seconds_count{}":                   got["upstate_scheduler_lag_seconds_count{}"],
		"upstate_probe_duration_seconds_sum{monitor=tls}":         tlsSum,
		"upstate_monitor_state{monitor=tls,state=up}":             0,
		"upstate_monitor_state{monitor=broken,state=unknown}":     1,
		"upstate_monitor_state{monitor=broken,state=degraded}":    0,
		"upstate_monitor_state{monitor=tls,state=down}":           0,
		"upstate_probe_duration_seconds_sum{monitor=broken}":      got["upstate_probe_duration_seconds_sum{monitor=broken}"],
		"upstate_scheduler_lag_seconds_sum{}":                     got["upstate_scheduler_lag_seconds_sum{}"],
		// No state change waits for the store.
		"upstate_pending_writes{}": 0,
		// The same expiry as a timestamp, as blackbox_exporter has it.
		"upstate_certificate_expiry_timestamp_seconds{monitor=tls}": float64(notAfter.UnixMilli()) / 1000,
	}
	// What the component shows (both its monitors paused: unknown), by the one rule.
	for _, st := range []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance", "unknown"} {
		want["upstate_component_status{component=web,status="+st+"}"] = boolFloat(st == "unknown")
	}
	// The SLA breach counters exist at zero before any incident (series skips upstate_incidents_*).
	for _, sev := range []string{"P0", "P1", "P2", "P3"} {
		for _, clock := range []string{"first_response", "resolution"} {
			want["upstate_sla_breaches_total{clock="+clock+",severity="+sev+"}"] = 0
		}
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !close(g, v) {
			t.Errorf("%s = %v (present %t), want %v", k, g, ok, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s = %v", k, got[k])
		}
	}
	if _, ok := got["upstate_certificate_expiry_seconds{monitor=broken}"]; ok {
		t.Error("a certificate expiry for a plain-HTTP monitor")
	}

	// A monitor removed by a reload takes its series with it; the one kept keeps its counts.
	if _, err := e.Reload(ctx, monitors[:1], nil); err != nil {
		t.Fatal(err)
	}
	got = series(t, reg, "upstate_probe_runs_total")
	if _, ok := got["upstate_probe_runs_total{monitor=broken,result=failure}"]; ok {
		t.Error("a removed monitor's series are still exported")
	}
	if got["upstate_probe_runs_total{monitor=tls,result=success}"] != tlsRuns {
		t.Errorf("runs of the kept monitor = %v after a reload, want %v", got["upstate_probe_runs_total{monitor=tls,result=success}"], tlsRuns)
	}
}

// close compares float sums that were added up in different orders.
func close(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestComponentStatusIsWhatThePageShows: upstate_component_status has a series for every
// component and group, from its creation to its deletion, and each says what component.Shown
// computes from the store (what the page, /api/v1 and the CLI show): a group the worst of its
// components, maintenance overlaid, a new component without monitors unknown ("No data"). Each
// follows its event at once: the ticks that would also catch it are a day away.
func TestComponentStatusIsWhatThePageShows(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0,
		component.Component{ID: "core", Name: "Core", IsGroup: true, Source: component.SourceConfig},
		component.Component{ID: "billing", Name: "Billing", GroupID: "core", Source: component.SourceConfig},
		component.Component{ID: "search", Name: "Search", GroupID: "core", Source: component.SourceConfig})
	clock := clockwork.NewFakeClockAt(t0)
	bus := engine.NewBus(nil)
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Registerer: reg,
		SLAEvery: 24 * time.Hour, MaintenanceEvery: 24 * time.Hour, AvailabilityEvery: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	svc := service.New(service.Options{Store: s, Clock: clock, Bus: bus}) // the admin API's door
	ops := service.Actor{Name: "ops"}
	statuses := []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance", "unknown"}
	// check compares every series with what the page computes now, and returns what each
	// component shows by the metric.
	check := func(when string) map[string]string {
		t.Helper()
		engine.SettleForTest(t, e) // no clock moves: only the events can have done it
		cs, err := s.ListComponents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := s.ListWindows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		page := component.Shown(cs, maintenance.InProgress(ws, clock.Now()))
		got := series(t, reg, "upstate_component_status")
		want := map[string]float64{}
		for id, st := range page {
			for _, s := range statuses {
				want["upstate_component_status{component="+id+",status="+s+"}"] = boolFloat(s == string(st))
			}
		}
		shown := map[string]string{}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s: %s = %v (present %t), want %v (the page's)", when, k, g, ok, v)
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: series %s = %v for no component the page shows", when, k, v)
			}
			if v == 1 {
				id, st, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(k, "upstate_component_status{component="), "}"), ",status=")
				shown[id] = st
			}
		}
		return shown
	}
	if got := check("at start"); got["core"] != "operational" {
		t.Errorf("at start the group shows %q, want operational (its components')", got["core"])
	}
	engine.AdvanceForTest(t, e, time.Second) // the store keeps one change per component and instant
	if _, err := svc.Incidents.Declare(ctx, ops, incidents.Declaration{Title: "Payments fail", Severity: incidents.P1,
		Components: []incidents.Affected{{ComponentID: "billing", Impact: component.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	if got := check("after the incident"); got["core"] != "major_outage" || got["billing"] != "major_outage" {
		t.Errorf("after the incident: %v, want billing and its group core major_outage", got)
	}
	if _, err := svc.Maintenance.Create(ctx, ops, maintenance.Spec{ID: "reindex", Title: "Reindex", Components: []string{"search"},
		TimeZone: "UTC", Start: clock.Now(), End: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got := check("during maintenance"); got["search"] != "under_maintenance" {
		t.Errorf("during maintenance: %v, want search under_maintenance", got)
	}
	if _, err := svc.Components.Create(ctx, ops, component.Component{ID: "docs-site", Name: "Docs"}); err != nil {
		t.Fatal(err)
	}
	if got := check("after the creation"); got["docs-site"] != "operational" {
		t.Errorf("a new component without monitors: %v, want docs-site operational (its status follows declared incidents, as at a start)", got)
	}
	if err := svc.Components.Delete(ctx, ops, "docs-site"); err != nil {
		t.Fatal(err)
	}
	if got := check("after the deletion"); got["docs-site"] != "" {
		t.Errorf("a deleted component still has series: %v", got)
	}
}
