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
	"github.com/upstate-dev/upstate/probe"
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
