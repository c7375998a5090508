package engine_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
)

const hbToken = "nightly-backup-token-0123456789"

func snapshot(e *engine.Engine, id string) engine.MonitorSnapshot {
	m, _ := e.Monitor(id)
	return m
}

// A heartbeat monitor goes down when its check-in is overdue past grace, comes back up the
// moment a check-in arrives, and goes down at once when the job reports failure.
func TestHeartbeatMonitor(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0, component.Component{ID: "jobs", Name: "Jobs", Source: component.SourceConfig})
	clock := clockwork.NewFakeClockAt(t0)
	mon := probe.Monitor{ID: "backup", ComponentID: "jobs", Kind: probe.KindHeartbeat, Interval: 10 * time.Second, Timeout: time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1},
		Heartbeat:  &probe.HeartbeatSpec{Token: hbToken, Period: 20 * time.Second, Grace: 10 * time.Second}}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	state := func() probe.State { return snapshot(e, "backup").State }
	step(t, e, 15, func() bool { return state() == probe.StateUp })
	if next := snapshot(e, "backup").NextRun; !next.IsZero() {
		t.Errorf("a heartbeat shows a next run (%s): what it waits for is the job's check-in", next)
	}
	// No check-in: due at t0+20s, down after t0+30s.
	step(t, e, 60, func() bool { return state() == probe.StateDown })
	if now := clock.Now(); now.Before(t0.Add(30 * time.Second)) {
		t.Errorf("down at %s, before the check-in was due plus grace", now)
	}
	// The run that saw the monitor down has finished: its transition is committed.
	trs, err := s.MonitorTransitions(ctx, "backup", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(trs) == 0 {
		t.Fatalf("transitions %+v, %v; want the down one", trs, err)
	}
	if last := trs[len(trs)-1]; last.To != probe.StateDown || last.At.Before(t0.Add(30*time.Second)) || last.At.After(t0.Add(41*time.Second)) {
		t.Errorf("down transition %+v; want the first evaluation after t0+30s", last)
	}
	// A check-in is judged at once: up without the clock moving.
	if id, err := e.Ping(hbToken, probe.PingSuccess, 0); err != nil || id != "backup" {
		t.Fatalf("Ping = %q, %v", id, err)
	}
	engine.SettleForTest(t, e)
	if got := state(); got != probe.StateUp {
		t.Errorf("after a check-in: %s, want up", got)
	}
	if _, err := e.Ping(hbToken, probe.PingFail, 2); err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e)
	if got := state(); got != probe.StateDown {
		t.Errorf("after a failure report: %s, want down", got)
	}
	if r := snapshot(e, "backup").Recent; !slices.ContainsFunc(r, func(r probe.Result) bool { return r.Phase == probe.PhaseHeartbeat && r.Reason != "" }) {
		t.Errorf("results %+v; want a heartbeat failure with its reason", r)
	}
	if _, err := e.Ping("not-a-token-at-all-xxxxxxxx", probe.PingSuccess, 0); !errors.Is(err, probe.ErrUnknownToken) {
		t.Errorf("unknown token: %v", err)
	}
}

func TestPauseResumeRunNow(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, _ := target(t)
	ctx := t.Context()
	syncAPI(t, s)
	clock := clockwork.NewFakeClockAt(t0)
	mon := probe.Monitor{ID: "m", ComponentID: "api", Kind: probe.KindHTTP, Interval: time.Hour, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RunNow("m"); !errors.Is(err, engine.ErrNotRunning) {
		t.Errorf("RunNow before Run: %v, want ErrNotRunning", err)
	}
	engine.StartForTest(t, e)
	runs := func() int { return len(snapshot(e, "m").Recent) }
	step(t, e, 15, func() bool { return runs() == 1 })

	// Run now: a second run without waiting the hour, and only that one.
	if err := e.RunNow("m"); err != nil {
		t.Fatal(err)
	}
	engine.SettleForTest(t, e)
	if got := runs(); got != 2 {
		t.Fatalf("%d runs after a run-now, want 2", got)
	}
	if err := e.RunNow("nope"); !errors.Is(err, engine.ErrUnknownMonitor) {
		t.Errorf("RunNow(unknown): %v", err)
	}

	// Pause: unknown from now, no runs, run-now refused, a second pause refused.
	if err := e.Pause(ctx, "m", "key ops"); err != nil {
		t.Fatal(err)
	}
	if snap := snapshot(e, "m"); !snap.Paused || snap.State != probe.StateUnknown || !snap.NextRun.IsZero() {
		t.Errorf("after pause: paused %v state %s next run %s", snap.Paused, snap.State, snap.NextRun)
	}
	if err := e.Pause(ctx, "m", "key ops"); !errors.Is(err, engine.ErrPaused) {
		t.Errorf("second pause: %v", err)
	}
	if err := e.RunNow("m"); !errors.Is(err, engine.ErrPaused) {
		t.Errorf("RunNow while paused: %v", err)
	}
	// Two hours pass, past the hourly run that was due: every job due meanwhile has run.
	engine.AdvanceForTest(t, e, 2*time.Hour)
	if runs() != 2 {
		t.Errorf("%d runs while paused; want none", runs()-2)
	}
	trs, _ := s.MonitorTransitions(ctx, "m", t0.Add(-time.Hour), t0.Add(3*time.Hour))
	if last := trs[len(trs)-1]; last.To != probe.StateUnknown || last.Reason != "paused by key ops" {
		t.Errorf("last transition %+v; want unknown, paused by key ops", last)
	}

	// Resume: scheduled again, up again.
	if err := e.Resume("nope"); !errors.Is(err, engine.ErrUnknownMonitor) {
		t.Errorf("Resume(unknown): %v", err)
	}
	if err := e.Resume("m"); err != nil {
		t.Fatal(err)
	}
	if err := e.Resume("m"); !errors.Is(err, engine.ErrNotPaused) {
		t.Errorf("second resume: %v", err)
	}
	if next := snapshot(e, "m").NextRun; !next.After(clock.Now()) {
		t.Errorf("after resume: next run %s, want one after %s", next, clock.Now())
	}
	step(t, e, 15, func() bool { return snapshot(e, "m").State == probe.StateUp })
}

func TestReloadAddsChangesRemoves(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	srv, _ := target(t)
	ctx := t.Context()
	syncAPI(t, s)
	clock := clockwork.NewFakeClockAt(t0)
	mk := func(id string, interval time.Duration) probe.Monitor {
		return probe.Monitor{ID: id, ComponentID: "api", Kind: probe.KindHTTP, Interval: interval, Timeout: 2 * time.Second,
			Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mk("keep", time.Minute), mk("change", time.Minute), mk("drop", time.Minute)},
		SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	allUp := func() bool {
		for _, m := range e.Monitors() {
			if m.State != probe.StateUp {
				return false
			}
		}
		return true
	}
	step(t, e, 15, allUp)

	// A bad monitor in the new set changes nothing.
	bad := mk("new", time.Minute)
	bad.Kind, bad.HTTP = probe.KindTCP, nil
	if _, err := e.Reload(ctx, []probe.Monitor{mk("keep", time.Minute), bad}, nil); err == nil {
		t.Fatal("Reload accepted a tcp monitor without its spec")
	}
	if n := len(e.Monitors()); n != 3 {
		t.Fatalf("%d monitors after a failed reload; want the 3 running", n)
	}

	sum, err := e.Reload(ctx, []probe.Monitor{mk("keep", time.Minute), mk("change", 10*time.Second), mk("new", 10*time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.ReloadSummary{Added: []string{"new"}, Changed: []string{"change"}, Removed: []string{"drop"}, Unchanged: 1}
	if !slices.Equal(sum.Added, want.Added) || !slices.Equal(sum.Changed, want.Changed) || !slices.Equal(sum.Removed, want.Removed) || sum.Unchanged != 1 {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if snap := snapshot(e, "change"); snap.State != probe.StateUp || snap.Monitor.Interval != 10*time.Second {
		t.Errorf("changed monitor: state %s interval %s; want its state kept and the new interval", snap.State, snap.Monitor.Interval)
	}
	step(t, e, 15, func() bool { return snapshot(e, "new").State == probe.StateUp })
	if n := len(e.Monitors()); n != 3 {
		t.Errorf("%d monitors, want 3", n)
	}
	trs, _ := s.MonitorTransitions(ctx, "drop", t0.Add(-time.Hour), t0.Add(time.Hour))
	if last := trs[len(trs)-1]; last.To != probe.StateUnknown || last.Reason != "removed from the configuration" {
		t.Errorf("removed monitor's last transition %+v", last)
	}
	// The changed monitor runs on its new interval: two runs 10 s apart.
	n := len(snapshot(e, "change").Recent)
	step(t, e, 25, func() bool { return len(snapshot(e, "change").Recent) >= n+2 })
}

// A reload that fails leaves the heartbeat tokens as they were, even when the failing monitor
// comes after a heartbeat monitor whose token changed.
func TestFailedReloadKeepsHeartbeatTokens(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	engine.SyncForTest(t, s, t0, component.Component{ID: "jobs", Name: "Jobs", Source: component.SourceConfig})
	beat := func(token string) probe.Monitor {
		return probe.Monitor{ID: "backup", ComponentID: "jobs", Kind: probe.KindHeartbeat, Interval: 10 * time.Second, Timeout: time.Second,
			Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, Heartbeat: &probe.HeartbeatSpec{Token: token, Period: time.Hour, Grace: time.Minute}}
	}
	clock := clockwork.NewFakeClockAt(t0)
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{beat(hbToken)}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	const newToken = "a-new-token-for-the-backup-job"
	bad := probe.Monitor{ID: "zz-bad", ComponentID: "jobs", Kind: probe.KindTCP, Interval: 10 * time.Second, Timeout: time.Second}
	if _, err := e.Reload(ctx, []probe.Monitor{beat(newToken), bad}, nil); err == nil {
		t.Fatal("Reload accepted a tcp monitor without its spec")
	}
	if _, err := e.Ping(hbToken, probe.PingSuccess, 0); err != nil {
		t.Errorf("the running token stopped working after a failed reload: %v", err)
	}
	if _, err := e.Ping(newToken, probe.PingSuccess, 0); !errors.Is(err, probe.ErrUnknownToken) {
		t.Errorf("the token of a failed reload is accepted: %v", err)
	}
	// A heartbeat spec that cannot be watched fails the reload the same way.
	if _, err := e.Reload(ctx, []probe.Monitor{beat("short")}, nil); err == nil {
		t.Fatal("Reload accepted a token that is too short")
	}
	if _, err := e.Ping(hbToken, probe.PingSuccess, 0); err != nil {
		t.Errorf("the running token stopped working after a failed reload: %v", err)
	}
	// And a good reload switches tokens.
	if _, err := e.Reload(ctx, []probe.Monitor{beat(newToken)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Ping(newToken, probe.PingSuccess, 0); err != nil {
		t.Errorf("new token after a reload: %v", err)
	}
	if _, err := e.Ping(hbToken, probe.PingSuccess, 0); !errors.Is(err, probe.ErrUnknownToken) {
		t.Errorf("old token still accepted after a reload: %v", err)
	}
}
