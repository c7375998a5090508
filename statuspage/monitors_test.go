package statuspage

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
)

type fixedMonitors []engine.MonitorSnapshot

// Monitors answers as the engine does: the last result only.
func (f fixedMonitors) Monitors() []engine.MonitorSnapshot {
	out := make([]engine.MonitorSnapshot, 0, len(f))
	for _, m := range f {
		if n := len(m.Recent); n > 0 {
			m.Last = m.Recent[n-1]
		}
		m.Recent = nil
		out = append(out, m)
	}
	return out
}

func (f fixedMonitors) Monitor(id string) (engine.MonitorSnapshot, bool) {
	for _, m := range f {
		if m.Monitor.ID == id {
			if n := len(m.Recent); n > 0 {
				m.Last = m.Recent[n-1]
			}
			m.Recent = slices.Clone(m.Recent)
			return m, true
		}
	}
	return engine.MonitorSnapshot{}, false
}

func TestMonitorsAPI(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mon := probe.Monitor{ID: "api-health", Name: "API health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second,
		HTTP: &probe.HTTPSpec{URL: "http://10.0.0.5/healthz"}}
	last := probe.Result{MonitorID: "api-health", At: t0.Add(-5 * time.Second), OK: true, Duration: 12 * time.Millisecond, StatusCode: 200}
	next := t0.Add(5 * time.Second).In(time.FixedZone("UTC+8", 8*3600)) // shown in UTC
	f.srv.monitors = fixedMonitors{{Monitor: mon, State: probe.StateUp, Recent: []probe.Result{last}, NextRun: next}}
	if err := f.store.AppendTransition(ctx, probe.Transition{MonitorID: "api-health", At: t0.Add(-time.Hour), From: probe.StateDown, To: probe.StateUp}); err != nil {
		t.Fatal(err)
	}
	// 100 runs in the last hour: 98 fast, 1 at 80 ms, 1 failure.
	ru := probe.Rollup{MonitorID: "api-health", Resolution: probe.Minute, Start: probe.Minute.Truncate(t0.Add(-30 * time.Minute))}
	for range 98 {
		ru.Add(probe.Result{OK: true, Duration: 4 * time.Millisecond})
	}
	ru.Add(probe.Result{OK: true, Duration: 80 * time.Millisecond})
	ru.Add(probe.Result{OK: false, Duration: 3 * time.Second})
	if err := f.store.AddRollups(ctx, []probe.Rollup{ru}); err != nil {
		t.Fatal(err)
	}
	if r := f.do("GET", "/api/v1/monitors", "", ""); r.code != 401 {
		t.Errorf("without a key: %d, want 401 (targets can be internal)", r.code)
	}
	read := f.tokens[apikey.ScopeRead]
	var list struct {
		Monitors []monitorView `json:"monitors"`
	}
	if err := json.Unmarshal(f.do("GET", "/api/v1/monitors", read, "").body, &list); err != nil || len(list.Monitors) != 1 {
		t.Fatalf("list: %v %+v", err, list)
	}
	m := list.Monitors[0]
	if m.NextRun == nil || !m.NextRun.Equal(next) || m.NextRun.Location() != time.UTC {
		t.Errorf("next_run = %v, want %v in UTC", m.NextRun, next)
	}
	if m.State != probe.StateUp || m.Target != "http://10.0.0.5/healthz" || m.Since == nil || !m.Since.Equal(t0.Add(-time.Hour)) || m.Last == nil || m.Last.StatusCode != 200 {
		t.Errorf("monitor = %+v", m)
	}
	var d monitorView
	if err := json.Unmarshal(f.do("GET", "/api/v1/monitors/api-health", read, "").body, &d); err != nil {
		t.Fatal(err)
	}
	st := d.Stats["24h"]
	if st.Runs != 100 || st.Failures != 1 || st.SuccessRate == nil || *st.SuccessRate != 0.99 ||
		st.P50Seconds == nil || *st.P50Seconds != 0.005 || st.P99Seconds == nil || *st.P99Seconds != 0.1 {
		t.Errorf("24h stats = %+v", st)
	}
	if len(d.Recent) != 1 {
		t.Errorf("recent results = %d", len(d.Recent))
	}
	if r := f.do("GET", "/api/v1/monitors/ghost", read, ""); r.code != 404 {
		t.Errorf("unknown monitor: %d", r.code)
	}
}
