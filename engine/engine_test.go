package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

var t0 = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // a DST night in Europe; the engine works in UTC

// syncAPI declares the one component most tests watch, "api", as the config file would at t0.
func syncAPI(t *testing.T, s store.Store) {
	t.Helper()
	engine.SyncForTest(t, s, t0, component.Component{ID: "api", Name: "API", Source: component.SourceConfig})
}

// target is an HTTP server that can be switched off and on.
func target(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &healthy
}

// step advances e's fake clock a second at a time until cond holds. After each second it waits
// until what became due has run and the engine is idle again (engine.AdvanceForTest), so cond
// sees the work of that second done, and holds or not for good until the clock moves again. It
// fails the test after limit steps.
func step(t *testing.T, e *engine.Engine, limit int, cond func() bool) {
	t.Helper()
	engine.SettleForTest(t, e)
	for range limit {
		if cond() {
			return
		}
		engine.AdvanceForTest(t, e, time.Second)
	}
	if !cond() {
		t.Fatalf("condition not met after %d simulated seconds", limit)
	}
}

func TestEngineDetectsOutageAndRecovery(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	clock := clockwork.NewFakeClockAt(t0)
	ctx := t.Context()
	syncAPI(t, s)
	mon := probe.Monitor{ID: "api-health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	bus := engine.NewBus(nil)
	events, unsubscribe := bus.Subscribe(100)
	defer unsubscribe()
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Bus: bus, Monitors: []probe.Monitor{mon}, FlushInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)

	results := func() []probe.Result { return snapshot(e, "api-health").Recent }
	state := func() probe.State { return snapshot(e, "api-health").State }

	step(t, e, 15, func() bool { return state() == probe.StateUp })
	firstUp := results()[0].At

	healthy.Store(false)
	n := len(results())
	step(t, e, 30, func() bool { return state() == probe.StateDown })
	firstFail := results()[n].At

	healthy.Store(true)
	n = len(results())
	step(t, e, 15, func() bool { return state() == probe.StateUp })
	recovered := results()[n].At

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	stoppedBy := clock.Now()

	trs, err := s.MonitorTransitions(ctx, "api-health", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	type tr struct {
		at       time.Time
		from, to probe.State
	}
	var got []tr
	for _, x := range trs {
		got = append(got, tr{x.At, x.From, x.To})
	}
	want := []tr{
		{firstUp, probe.StateUnknown, probe.StateUp},
		{firstFail, probe.StateUp, probe.StateDown}, // back-dated to the first failing result
		{recovered, probe.StateDown, probe.StateUp},
		{stoppedBy, probe.StateUp, probe.StateUnknown}, // a clean stop: nothing known from then on
	}
	if !slices.Equal(got, want) {
		t.Errorf("transitions:\n got  %+v\n want %+v", got, want)
	}

	timeline, _ := s.StatusTimeline(ctx, "api", t0.Add(-time.Hour), t0.Add(time.Hour))
	var statuses []component.Status
	for _, ch := range timeline {
		statuses = append(statuses, ch.Status)
	}
	if want := []component.Status{component.Operational, component.MajorOutage, component.Operational, component.Unknown}; !slices.Equal(statuses, want) {
		t.Errorf("component timeline = %v, want %v", statuses, want)
	}
	if len(timeline) == 4 && !timeline[1].At.Equal(firstFail) {
		t.Errorf("outage starts at %v, want the first failure %v", timeline[1].At, firstFail)
	}

	// Rollups were flushed at shutdown: every run is counted once.
	rs, _ := s.MonitorRollups(ctx, "api-health", probe.Hour, t0.Add(-time.Hour), t0.Add(time.Hour))
	var runs, failures int64
	for _, r := range rs {
		runs, failures = runs+r.Runs, failures+r.Failures
	}
	if runs < 4 || failures < 2 {
		t.Errorf("hour rollups count %d runs and %d failures; want every run (at least 4) and failure (at least 2)", runs, failures)
	}

	var kinds []engine.EventKind
	for len(events) > 0 {
		kinds = append(kinds, (<-events).Kind)
	}
	if !slices.Contains(kinds, engine.EventComponentStatus) || !slices.Contains(kinds, engine.EventMonitorState) {
		t.Errorf("events published: %v; want monitor and component changes", kinds)
	}
}

func TestEngineRestoresStateAfterRestart(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	healthy.Store(false)
	ctx := t.Context()
	syncAPI(t, s)
	// The store remembers the monitor was down when a previous process crashed.
	if err := s.AppendTransition(ctx, probe.Transition{MonitorID: "m", At: t0.Add(-time.Hour), From: probe.StateUp, To: probe.StateDown}); err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(t0)
	mon := probe.Monitor{ID: "m", ComponentID: "api", Kind: probe.KindHTTP, Interval: 5 * time.Second, Timeout: time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)
	step(t, e, 20, func() bool { return len(snapshot(e, "m").Recent) >= 2 })
	stop()
	trs, _ := s.MonitorTransitions(ctx, "m", t0.Add(-2*time.Hour), t0.Add(time.Hour))
	// Only the stored one and the clean stop: a still-failing monitor records no new down.
	if len(trs) != 2 || trs[1].To != probe.StateUnknown {
		t.Errorf("transitions after restart = %+v, want the old down and the stop's unknown only", trs)
	}
}

// TestQuickRetriesConfirmAnOutageInSeconds: with a 60 s interval, a failure is re-probed a
// second later and the outage confirmed then, back-dated to the first failure, without waiting
// for the next interval.
func TestQuickRetriesConfirmAnOutageInSeconds(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	healthy.Store(false)
	ctx := t.Context()
	syncAPI(t, s)
	clock := clockwork.NewFakeClockAt(t0)
	mon := probe.Monitor{ID: "m", ComponentID: "api", Kind: probe.KindHTTP, Interval: time.Minute, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 2, Successes: 1, Retries: 1, RetrySpacing: time.Second}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	step(t, e, 20, func() bool { return snapshot(e, "m").State == probe.StateDown })
	rs := snapshot(e, "m").Recent
	if len(rs) != 2 || rs[1].At.Sub(rs[0].At) != time.Second {
		t.Fatalf("results = %+v; want the first failure and one re-probe a second later", rs)
	}
	// The run that saw the monitor down has finished: its transition is committed.
	trs, err := s.MonitorTransitions(ctx, "m", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 1 || trs[0].To != probe.StateDown || !trs[0].At.Equal(rs[0].At) {
		t.Errorf("transitions = %+v; want down, back-dated to the first failure", trs)
	}
	if clock.Now().Sub(rs[0].At) > 5*time.Second {
		t.Errorf("confirmed %s after the first failure; want about a second", clock.Now().Sub(rs[0].At))
	}
}

// At most MaxConcurrentProbes probes run at once; the others wait their turn and still run.
func TestConcurrencyLimit(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	syncAPI(t, s)
	var inflight, most, served atomic.Int64
	held, release := context.WithCancel(t.Context())
	defer release()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// Hold every request until the test has seen the runs at their limit.
		select {
		case <-held.Done():
		case <-r.Context().Done():
		}
		inflight.Add(-1)
		served.Add(1)
	}))
	defer srv.Close()
	var monitors []probe.Monitor
	for i := range 6 {
		monitors = append(monitors, probe.Monitor{ID: fmt.Sprintf("m%d", i), ComponentID: "api", Kind: probe.KindHTTP,
			Interval: 10 * time.Second, Timeout: 5 * time.Second, Thresholds: probe.Thresholds{Failures: 1, Successes: 1},
			HTTP: &probe.HTTPSpec{URL: srv.URL}})
	}
	clock := clockwork.NewFakeClockAt(t0)
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: monitors, MaxConcurrentProbes: 2,
		SLAEvery: time.Hour, MaintenanceEvery: time.Hour, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	// Once every job waits on the clock, make every first run due at once: they are spread over
	// the first 9 s. Not AdvanceForTest: the runs are held until the test has looked.
	engine.SettleForTest(t, e)
	clock.Advance(9 * time.Second)
	// Wait until each of the six runs has a request at the target or waits for a slot: then
	// no more requests come until some are answered.
	engine.WaitFor(t, func() bool {
		active, queued := engine.RunsForTest(e)
		return active == 6 && inflight.Load()+queued == 6
	})
	if got := most.Load(); got != 2 {
		t.Errorf("%d probes ran at once, want exactly the limit, 2", got)
	}
	release()
	engine.WaitFor(t, func() bool { return served.Load() >= 6 })
	engine.SettleForTest(t, e)
	if got := served.Load(); got != 6 {
		t.Errorf("%d requests served, want one per monitor, 6", got)
	}
	if got := most.Load(); got != 2 {
		t.Errorf("at most %d probes ran at once, want exactly the limit, 2", got)
	}
}

// TestRestartNotifiesNoOngoingDown: a monitor down when Upstate stops cleanly and still down
// when a second engine starts on the same store sends no second monitor.down; its recovery,
// seen first after another restart, sends the monitor.up.
func TestRestartNotifiesNoOngoingDown(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, healthy := target(t)
	healthy.Store(false)
	syncAPI(t, s)
	mon := probe.Monitor{ID: "legacy", ComponentID: "api", Kind: probe.KindHTTP, Interval: 5 * time.Second, Timeout: time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	run := func(at time.Time, want probe.State) { // one engine's life: until the monitor is in want, then a clean stop
		e, err := engine.New(engine.Options{Store: s, Clock: clockwork.NewFakeClockAt(at), Monitors: []probe.Monitor{mon}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		stop := engine.StartForTest(t, e)
		step(t, e, 20, func() bool { return snapshot(e, "legacy").State == want })
		for range 3 { // stopped a little after, in steps the monitor keeps up with
			engine.AdvanceForTest(t, e, time.Second)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	subjects := func(at time.Time) []string {
		var out []string
		for _, p := range delivered(t, s, at, "monitor.down", "monitor.up") {
			out = append(out, p.Upstate.Subject)
		}
		return out
	}
	run(t0, probe.StateDown)
	if got := subjects(t0.Add(time.Minute)); len(got) != 1 || !strings.HasPrefix(got[0], "[DOWN]") {
		t.Fatalf("the first outage sent %q, want one [DOWN]", got)
	}
	run(t0.Add(time.Hour), probe.StateDown)
	if got := subjects(t0.Add(time.Hour + time.Minute)); len(got) != 0 {
		t.Errorf("a restart while still down sent %q, want nothing", got)
	}
	healthy.Store(true)
	run(t0.Add(2*time.Hour), probe.StateUp)
	if got := subjects(t0.Add(2*time.Hour + time.Minute)); len(got) != 1 || !strings.HasPrefix(got[0], "[UP]") {
		t.Errorf("up again after a restart sent %q, want one [UP]", got)
	}
}

// TestKilledProcessLeavesUnknownTime: a process killed while a monitor was up records no stop.
// The next start finds the last alive mark and records the monitor unknown from two intervals
// after it (what expiry would have recorded had the process lived), then up again at its first
// result: the time it was down is never counted as up. A restart within two intervals of the
// mark records nothing.
func TestKilledProcessLeavesUnknownTime(t *testing.T) {
	for _, tt := range []struct {
		name    string
		down    time.Duration // from the last mark to the new start
		unknown bool
	}{{"down 10 minutes", 10 * time.Minute, true}, {"back within two intervals", 8 * time.Second, false}} {
		t.Run(tt.name, func(t *testing.T) {
			s := engine.OpenStoreForTest(t)
			srv, _ := target(t)
			ctx := t.Context()
			syncAPI(t, s)
			// The killed process: the monitor went up at t0-1h and the last mark was at t0-down.
			if err := s.AppendTransition(ctx, probe.Transition{MonitorID: "m", At: t0.Add(-time.Hour), From: probe.StateUnknown, To: probe.StateUp}); err != nil {
				t.Fatal(err)
			}
			if err := s.AppendStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(-time.Hour), Status: component.Operational}); err != nil {
				t.Fatal(err)
			}
			lastAlive := t0.Add(-tt.down)
			if err := s.SetCursor(ctx, "engine.alive", lastAlive); err != nil {
				t.Fatal(err)
			}
			clock := clockwork.NewFakeClockAt(t0)
			mon := probe.Monitor{ID: "m", ComponentID: "api", Kind: probe.KindHTTP, Interval: 5 * time.Second, Timeout: time.Second,
				Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
			e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}})
			if err != nil {
				t.Fatal(err)
			}
			engine.StartForTest(t, e)
			step(t, e, 20, func() bool { return len(snapshot(e, "m").Recent) >= 1 && snapshot(e, "m").State == probe.StateUp })
			trs, _ := s.MonitorTransitions(ctx, "m", t0.Add(-2*time.Hour), t0.Add(time.Hour))
			if !tt.unknown {
				if len(trs) != 1 {
					t.Errorf("transitions = %+v, want the stored up only", trs)
				}
				return
			}
			staleAt := lastAlive.Add(10 * time.Second)
			if len(trs) != 3 || trs[1].To != probe.StateUnknown || !trs[1].At.Equal(staleAt) || trs[2].To != probe.StateUp || trs[2].At.Before(t0) {
				t.Fatalf("transitions = %+v, want up, unknown at %s (two intervals after the mark), up again from %s", trs, staleAt, t0)
			}
			changes, _ := s.StatusTimeline(ctx, "api", t0.Add(-2*time.Hour), t0.Add(time.Hour))
			var unknownAt time.Time
			for _, ch := range changes {
				if ch.Status == component.Unknown {
					unknownAt = ch.At
				}
			}
			if !unknownAt.Equal(staleAt) {
				t.Errorf("component timeline %+v: want unknown from %s", changes, staleAt)
			}
		})
	}
}
