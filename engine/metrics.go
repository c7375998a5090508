package engine

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/probe"
)

type metrics struct {
	success  *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	runs     *prometheus.CounterVec
	state    *prometheus.GaugeVec
	lag      prometheus.Histogram
	certExp  *prometheus.GaugeVec
}

var allStates = []probe.State{probe.StateUp, probe.StateDegraded, probe.StateDown, probe.StateUnknown}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_probe_success", Help: "Whether the monitor's last probe succeeded (1) or failed (0).",
		}, []string{"monitor"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "upstate_probe_duration_seconds", Help: "How long probes took.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"monitor"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstate_probe_runs_total", Help: "Probe runs by result.",
		}, []string{"monitor", "result"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_monitor_state", Help: "1 for the monitor's current state, 0 for the others.",
		}, []string{"monitor", "state"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "upstate_scheduler_lag_seconds", Help: "How late probe runs start against their schedule.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		certExp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_certificate_expiry_seconds", Help: "Seconds until the earliest certificate of the monitor's chain expires.",
		}, []string{"monitor"}),
	}
	reg.MustRegister(m.success, m.duration, m.runs, m.state, m.lag, m.certExp)
	return m
}

func (m *metrics) observe(r probe.Result) {
	result, ok := "failure", 0.0
	if r.OK {
		result, ok = "success", 1
	}
	m.success.WithLabelValues(r.MonitorID).Set(ok)
	if !r.CertNotAfter.IsZero() {
		m.certExp.WithLabelValues(r.MonitorID).Set(r.CertNotAfter.Sub(r.At).Seconds())
	}
	m.duration.WithLabelValues(r.MonitorID).Observe(r.Duration.Seconds())
	m.runs.WithLabelValues(r.MonitorID, result).Inc()
}

func (m *metrics) setState(monitorID string, s probe.State) {
	for _, st := range allStates {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(monitorID, string(st)).Set(v)
	}
}

// forget drops a removed monitor's series, so dashboards do not show it frozen at its last value.
func (m *metrics) forget(monitorID string) {
	l := prometheus.Labels{"monitor": monitorID}
	m.success.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.runs.DeletePartialMatch(l)
	m.state.DeletePartialMatch(l)
	m.certExp.DeletePartialMatch(l)
}
