package engine

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

// TestRedisOutageKeepsStateChanges stops Redis under a running instance (SIGKILL, with the
// append-only file fsynced always), then its target fails: the probes go on from memory, the
// monitor goes down, and the transition, the component's status and the automatic incident
// wait in order until Redis is back, when they are written with their own times. What was
// written before the outage is still there.
func TestRedisOutageKeepsStateChanges(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	var healthy atomic.Bool
	var runs atomic.Int64
	healthy.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(target.Close)
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	SyncForTest(t, st, time.Now(), component.Component{ID: "api", Name: "API", Source: component.SourceConfig})
	mon := probe.Monitor{ID: "api", ComponentID: "api", Kind: probe.KindHTTP, Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond,
		Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: target.URL}}
	reg := prometheus.NewRegistry()
	e, err := New(Options{Store: st, Clock: clockwork.NewRealClock(), Registerer: reg, Monitors: []probe.Monitor{mon},
		Cluster: &Cluster{Coordinator: st, Instance: "a", Lease: 2 * time.Second, Heartbeat: 200 * time.Millisecond, MemberTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	StartForTest(t, e)
	last := func() probe.State {
		tr, err := st.LastTransition(t.Context(), "api")
		if err != nil {
			return probe.StateUnknown
		}
		return tr.To
	}
	WaitFor(t, func() bool { return last() == probe.StateUp && e.leads() })

	srv.Kill9()
	healthy.Store(false)
	failedAt := time.Now()
	before := runs.Load()
	WaitFor(t, func() bool { s, _ := e.Monitor("api"); return s.State == probe.StateDown })
	WaitFor(t, func() bool { return e.pending.len() >= 3 }) // transition, status, incident
	if runs.Load() <= before {
		t.Error("no probe ran while Redis was away")
	}
	WaitFor(t, func() bool { return !e.leads() }) // a leader without its store stops leading
	if got := testGauge(t, reg, "upstate_pending_writes"); got < 3 {
		t.Errorf("upstate_pending_writes = %v during the outage, want at least 3", got)
	}

	srv.Restart()
	WaitFor(t, func() bool { return e.pending.len() == 0 && last() == probe.StateDown })
	tr, err := st.LastTransition(t.Context(), "api")
	if err != nil {
		t.Fatal(err)
	}
	if tr.At.Before(failedAt.Add(-time.Second)) || tr.At.After(failedAt.Add(5*time.Second)) {
		t.Errorf("down since %s, the target failed at %s: the transition keeps its own time", tr.At, failedAt)
	}
	c, err := st.GetComponent(t.Context(), "api")
	if err != nil || c.Status != component.MajorOutage {
		t.Errorf("component after the outage: %v %v, want major_outage", c.Status, err)
	}
	open, err := st.ListIncidents(t.Context(), store.IncidentQuery{OpenOnly: true})
	if err != nil || len(open) != 1 || !open[0].Automatic || !open[0].StartedAt.Truncate(time.Millisecond).Equal(tr.At) {
		t.Errorf("open incidents after the outage: %+v %v, want one automatic, started at %s", open, err, tr.At)
	}
	WaitFor(t, e.leads) // and leads again
}

// TestSentinelFailoverUnderTheEngine runs an instance on a real Sentinel set and kills the
// master with SIGKILL: the sentinels promote the replica, the client follows them, and the
// instance leads again and records the outage its target has meanwhile, through the new master.
func TestSentinelFailoverUnderTheEngine(t *testing.T) {
	set := redistest.StartSentinel(t)
	var healthy atomic.Bool
	healthy.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(target.Close)
	st, err := redis.Open(t.Context(), redis.Options{Addrs: set.Sentinels, MasterName: redistest.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	SyncForTest(t, st, time.Now(), component.Component{ID: "api", Name: "API", Source: component.SourceConfig})
	mon := probe.Monitor{ID: "api", ComponentID: "api", Kind: probe.KindHTTP, Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond,
		Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: target.URL}}
	e, err := New(Options{Store: st, Clock: clockwork.NewRealClock(), Registerer: prometheus.NewRegistry(), Monitors: []probe.Monitor{mon},
		Cluster: &Cluster{Coordinator: st, Instance: "a", Lease: 2 * time.Second, Heartbeat: 200 * time.Millisecond, MemberTimeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	StartForTest(t, e)
	last := func() probe.State {
		tr, err := st.LastTransition(t.Context(), "api")
		if err != nil {
			return probe.StateUnknown
		}
		return tr.To
	}
	WaitFor(t, func() bool { return last() == probe.StateUp && e.leads() })
	set.WaitReplicated()
	set.Master.Kill9()
	healthy.Store(false)
	set.WaitFailover()
	WaitFor(t, func() bool { return last() == probe.StateDown && e.pending.len() == 0 })
	WaitFor(t, e.leads)
}

func testGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}
