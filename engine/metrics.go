package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
)

// metrics are the engine's own series. The per-monitor probe series are not metric children
// updated on every run: monitorCollector builds them at scrape time from each runner's
// probeStats. Ten thousand monitors would otherwise hold ninety thousand children (about 40 MB
// of labels and histograms) and pay a label hash per update on the hot path.
type metrics struct {
	lag prometheus.Histogram
}

// componentStatuses are the values of upstate_component_status's status label.
var componentStatuses = [...]component.Status{component.Operational, component.DegradedPerformance, component.PartialOutage,
	component.MajorOutage, component.UnderMaintenance, component.Unknown}

var allStates = [...]probe.State{probe.StateUp, probe.StateDegraded, probe.StateDown, probe.StateUnknown}

// durationBuckets bound upstate_probe_duration_seconds, in seconds.
var durationBuckets = [...]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer, e *Engine) *metrics {
	m := &metrics{
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "upstate_scheduler_lag_seconds", Help: "How late probe runs start against their schedule.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	reg.MustRegister(m.lag, newMonitorCollector(e))
	return m
}

// probeStats are one monitor's probe counters, guarded by the engine's mutex. A monitor changed
// by a reload keeps them, so its counters do not restart.
type probeStats struct {
	successes, failures uint64
	lastOK              bool
	buckets             [len(durationBuckets)]uint64 // per bucket, not cumulative; slower runs count in the sum only
	durationSum         float64                      // seconds
	certNotAfter        time.Time                    // of the last result that had a certificate
}

func (s *probeStats) observe(r probe.Result) {
	if r.OK {
		s.successes++
	} else {
		s.failures++
	}
	s.lastOK = r.OK
	d := r.Duration.Seconds()
	s.durationSum += d
	for i, le := range durationBuckets {
		if d <= le {
			s.buckets[i]++
			break
		}
	}
	if !r.CertNotAfter.IsZero() {
		s.certNotAfter = r.CertNotAfter
	}
}

// monitorCollector exports every monitor's probe series from the runners, at scrape time.
type monitorCollector struct {
	e                                       *Engine
	success, duration, runs, state, certExp *prometheus.Desc
	certExpAt                               *prometheus.Desc
	componentStatus, maintenanceActive      *prometheus.Desc
}

func newMonitorCollector(e *Engine) *monitorCollector {
	return &monitorCollector{
		e: e,
		success: prometheus.NewDesc("upstate_probe_success",
			"Whether the monitor's last probe succeeded (1) or failed (0).", []string{"monitor"}, nil),
		duration: prometheus.NewDesc("upstate_probe_duration_seconds",
			"How long probes took.", []string{"monitor"}, nil),
		runs: prometheus.NewDesc("upstate_probe_runs_total",
			"Probe runs by result.", []string{"monitor", "result"}, nil),
		state: prometheus.NewDesc("upstate_monitor_state",
			"1 for the monitor's current state, 0 for the others.", []string{"monitor", "state"}, nil),
		certExp: prometheus.NewDesc("upstate_certificate_expiry_seconds",
			"Seconds until the earliest certificate of the monitor's chain (as last seen) expires.", []string{"monitor"}, nil),
		// The same instant as a timestamp, as blackbox_exporter's probe_ssl_earliest_cert_expiry,
		// so its alerting rules carry over.
		certExpAt: prometheus.NewDesc("upstate_certificate_expiry_timestamp_seconds",
			"When the earliest certificate of the monitor's chain (as last seen) expires, in Unix seconds.", []string{"monitor"}, nil),
		componentStatus: prometheus.NewDesc("upstate_component_status",
			"1 for the status each component or group shows (component.Shown: the page's), 0 for the others.", []string{"component", "status"}, nil),
		maintenanceActive: prometheus.NewDesc("upstate_maintenance_active",
			"1 while an occurrence of the maintenance window is in progress, else 0.", []string{"window"}, nil),
	}
}

func (c *monitorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.success
	ch <- c.duration
	ch <- c.runs
	ch <- c.state
	ch <- c.certExp
	ch <- c.certExpAt
	ch <- c.componentStatus
	ch <- c.maintenanceActive
}

func (c *monitorCollector) Collect(ch chan<- prometheus.Metric) {
	type row struct {
		labels *seriesLabels
		state  probe.State
		stats  probeStats
	}
	c.e.mu.Lock()
	rows := make([]row, 0, len(c.e.monitors))
	for _, r := range c.e.monitors {
		rows = append(rows, row{r.labels, r.recorded(), r.stats})
	}
	components := make([]component.Component, 0, len(c.e.listed))
	for _, comp := range c.e.listed {
		components = append(components, comp)
	}
	windows := c.e.windows
	c.e.mu.Unlock()
	now := c.e.opts.Clock.Now()
	// What each component and group shows, by the one rule every surface uses, from what the
	// page computes it from: the components as stored (their recorded status; unknown, the
	// page's "No data", until one is recorded) and the windows in progress now. A component
	// has its series from its creation to its deletion.
	shown := component.Shown(components, maintenance.InProgress(windows, now))
	for id, st := range shown {
		for _, s := range componentStatuses {
			ch <- prometheus.MustNewConstMetric(c.componentStatus, prometheus.GaugeValue, boolValue(s == st), id, string(s))
		}
	}
	for i := range windows {
		active := false
		for _, o := range windows[i].Occurrences(now, now.Add(time.Nanosecond)) {
			active = active || o.State(now) == maintenance.StateInProgress
		}
		ch <- prometheus.MustNewConstMetric(c.maintenanceActive, prometheus.GaugeValue, boolValue(active), windows[i].ID)
	}
	for _, r := range rows {
		l := r.labels
		for i, st := range allStates {
			ch <- &scalarSeries{desc: c.state, labels: l.state[i], value: boolValue(st == r.state)}
		}
		s := r.stats
		count := s.successes + s.failures
		if count == 0 {
			continue // not run yet: no result to report
		}
		ch <- &scalarSeries{desc: c.success, labels: l.monitor, value: boolValue(s.lastOK)}
		ch <- &scalarSeries{desc: c.runs, labels: l.success, value: float64(s.successes), counter: true}
		ch <- &scalarSeries{desc: c.runs, labels: l.failure, value: float64(s.failures), counter: true}
		h := &durationSeries{desc: c.duration, labels: l.monitor, count: count, sum: s.durationSum}
		var below uint64
		for i := range durationBuckets {
			below += s.buckets[i]
			h.cumulative[i] = below
		}
		ch <- h
		if !s.certNotAfter.IsZero() {
			ch <- &scalarSeries{desc: c.certExp, labels: l.monitor, value: s.certNotAfter.Sub(now).Seconds()}
			ch <- &scalarSeries{desc: c.certExpAt, labels: l.monitor, value: float64(s.certNotAfter.UnixMilli()) / 1000}
		}
	}
}

// seriesLabels are a monitor's label pairs, built once with its runner and shared by every
// scrape: building them per scrape (as prometheus.MustNewConstMetric does) made a scrape of
// ten thousand monitors allocate 70 MB. Nothing writes to them after they are built.
type seriesLabels struct {
	monitor          []*dto.LabelPair
	state            [len(allStates)][]*dto.LabelPair
	success, failure []*dto.LabelPair
}

var (
	stateLabels   [len(allStates)]*dto.LabelPair
	successLabel  = &dto.LabelPair{Name: proto.String("result"), Value: proto.String("success")}
	failureLabel  = &dto.LabelPair{Name: proto.String("result"), Value: proto.String("failure")}
	bucketBounds  = durationBuckets // addressable copies for the buckets' UpperBound pointers
	monitorLabel  = "monitor"
	stateLabelKey = "state"
)

func init() {
	for i, st := range allStates {
		stateLabels[i] = &dto.LabelPair{Name: &stateLabelKey, Value: proto.String(string(st))}
	}
}

// newSeriesLabels builds a monitor's label pairs, each list sorted by label name.
func newSeriesLabels(monitorID string) *seriesLabels {
	m := &dto.LabelPair{Name: &monitorLabel, Value: proto.String(monitorID)}
	l := &seriesLabels{monitor: []*dto.LabelPair{m},
		success: []*dto.LabelPair{m, successLabel}, failure: []*dto.LabelPair{m, failureLabel}}
	for i := range allStates {
		l.state[i] = []*dto.LabelPair{m, stateLabels[i]}
	}
	return l
}

// scalarSeries is one gauge or counter sample of a monitor.
type scalarSeries struct {
	desc    *prometheus.Desc
	labels  []*dto.LabelPair
	value   float64
	counter bool
}

func (s *scalarSeries) Desc() *prometheus.Desc { return s.desc }

func (s *scalarSeries) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.counter {
		m.Counter = &dto.Counter{Value: &s.value}
	} else {
		m.Gauge = &dto.Gauge{Value: &s.value}
	}
	return nil
}

// durationSeries is a monitor's probe duration histogram.
type durationSeries struct {
	desc       *prometheus.Desc
	labels     []*dto.LabelPair
	count      uint64
	sum        float64
	cumulative [len(durationBuckets)]uint64
	buckets    [len(durationBuckets)]dto.Bucket
	pointers   [len(durationBuckets)]*dto.Bucket
}

func (h *durationSeries) Desc() *prometheus.Desc { return h.desc }

func (h *durationSeries) Write(m *dto.Metric) error {
	m.Label = h.labels
	for i := range h.buckets {
		b := &h.buckets[i]
		b.CumulativeCount, b.UpperBound = &h.cumulative[i], &bucketBounds[i]
		h.pointers[i] = b
	}
	m.Histogram = &dto.Histogram{SampleCount: &h.count, SampleSum: &h.sum, Bucket: h.pointers[:]}
	return nil
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
