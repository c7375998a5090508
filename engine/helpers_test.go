package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// The helpers here serve the tests of both packages, engine and engine_test: the exported
// names exist only in test builds.

// StartForTest runs e until stop is called or the test ends. stop cancels the run, waits for Run
// to return and returns its error; it may be called more than once. An error is also reported
// when the test ends.
func StartForTest(t testing.TB, e *Engine) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// WaitFor polls cond in real time, without moving any fake clock, for up to 10 s.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// OpenStoreForTest opens a SQLite store in the test's temporary directory. It is closed when the
// test ends, after an engine started later by StartForTest has stopped.
func OpenStoreForTest(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// settleLimit bounds, in real time, the wait for an engine to be idle: a failure bound only. An
// idle engine is seen at once, a busy one as soon as its work is done.
const settleLimit = 10 * time.Second

// SettleForTest waits until e, which runs on a fake clock, is idle at the clock's current time:
// the scheduler has set every job's timer for a later run, no job is running, and no run is in
// progress (scheduled or on demand) except one waiting on the clock to re-probe, whose timer
// has not fired. Nothing more happens then until the clock moves or the test acts. (It cannot
// see a run that came due when the clock last moved and has not started yet, unless the clock
// moved through AdvanceForTest, which knows what was due.)
func SettleForTest(t testing.TB, e *Engine) {
	t.Helper()
	e.settle(t, fakeClock(t, e), nil, time.Now().Add(settleLimit))
}

// AdvanceForTest waits until e is idle (SettleForTest), moves its fake clock by d, and returns
// once e is idle again: every job that was due by the new time has started a run since, and
// the run has finished or waits on the clock to re-probe. An assertion that nothing happened
// can rely on it. (A monitor's run still waiting to re-probe when its next run comes due would
// hide that run: in the tests, retries end well within an interval.)
//
// A job due before the clock's new time runs once, at that time. gocron then sets its next run
// an interval after the one due, or the first point of its schedule at or after the clock's
// time: when that falls exactly on the clock's time (the clock moved past the due run by a
// multiple of the interval), gocron sets a zero timer and runs the job again at once, possibly
// several times over, which a real clock, never landing exactly on a run, does not do. Then the
// clock first moves to the last whole millisecond before its new time at which no job lands so.
func AdvanceForTest(t testing.TB, e *Engine, d time.Duration) {
	t.Helper()
	clock := fakeClock(t, e)
	deadline := time.Now().Add(settleLimit)
	marks := e.settle(t, clock, nil, deadline)
	from := clock.Now()
	to := from.Add(d)
	if landsOn(marks, to) {
		via, ok := time.Time{}, false
		for k := time.Millisecond; k < d && k <= time.Second && !ok; k += time.Millisecond {
			via = to.Add(-k)
			ok = !landsOn(marks, via) && !landsOn(movedTo(marks, via), to)
		}
		if !ok {
			t.Fatalf("no way to move the clock from %s to %s without a job's next run landing on it", from, to)
		}
		clock.Advance(via.Sub(from))
		marks = e.settle(t, clock, marks, deadline)
	}
	clock.Advance(to.Sub(clock.Now()))
	e.settle(t, clock, marks, deadline)
}

// RunsForTest is the number of runs in progress (scheduled or on demand), and of those the
// ones waiting for a probe slot.
func RunsForTest(e *Engine) (active, queued int64) {
	return e.runsActive.Load(), e.runsQueued.Load()
}

func fakeClock(t testing.TB, e *Engine) *clockwork.FakeClock {
	t.Helper()
	c, ok := e.opts.Clock.(*clockwork.FakeClock)
	if !ok {
		t.Fatalf("the engine runs on a %T, not a fake clock", e.opts.Clock)
	}
	return c
}

// jobMark is what settle remembers of a job when the engine is idle.
type jobMark struct {
	next      time.Time     // the job's next run
	every     time.Duration // its interval
	lastRun   time.Time     // the clock's time when gocron handed out its last run
	completed time.Time     // when its last run returned, in real time
}

// landsOn reports whether moving the clock to at makes gocron set a job's next run exactly at
// at, after a run that was due before it.
func landsOn(marks map[string]jobMark, at time.Time) bool {
	for _, m := range marks {
		if m.every > 0 && m.next.Before(at) && at.Sub(m.next)%m.every == 0 {
			return true
		}
	}
	return false
}

// movedTo is the jobs' next runs once the clock has moved to at (and none landed on it).
func movedTo(marks map[string]jobMark, at time.Time) map[string]jobMark {
	out := make(map[string]jobMark, len(marks))
	for id, m := range marks {
		if m.every > 0 && !m.next.After(at) {
			m.next = m.next.Add((at.Sub(m.next)/m.every + 1) * m.every)
		}
		out[id] = m
	}
	return out
}

// settle polls until e is idle (see idle) or the deadline passes, and returns the marks of its
// jobs at that moment.
func (e *Engine) settle(t testing.TB, clock *clockwork.FakeClock, before map[string]jobMark, deadline time.Time) map[string]jobMark {
	t.Helper()
	for {
		marks, busy := e.idle(clock, before)
		if busy == "" {
			return marks
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine is not idle at %s after %s: %s", clock.Now().UTC().Format(time.RFC3339Nano), settleLimit, busy)
		}
		time.Sleep(250 * time.Microsecond) // polling: gocron has no notice of a finished run
	}
}

// idle returns the jobs' marks if e is idle at the clock's time, or else what it is busy with.
// before holds the marks from the last time it was idle, if the clock has moved since: a job
// whose next run was due by now must have run since.
//
// A run of a job goes: its timer fires; gocron sets the job's next timer, records the run as
// handed out at the clock's time (LastRunStartedAt, despite its name), records its real start
// time and calls the task (runProbe counts itself active from its first line), which returns;
// gocron records the real completion time (LastRunCompletedAt; IsRunning compares the two real
// times). At every step one of the checks below fails, whatever the order in which they read
// the state. A run waiting to re-probe is idle while its timer, one of the clock's waiters, has
// not fired.
func (e *Engine) idle(clock *clockwork.FakeClock, before map[string]jobMark) (map[string]jobMark, string) {
	now := clock.Now()
	e.mu.Lock()
	running := e.running
	retrying := map[string]bool{} // by job id
	for _, r := range e.monitors {
		if r.job != nil && r.retrying.Load() {
			retrying[r.job.ID().String()] = true
		}
	}
	e.mu.Unlock()
	if !running {
		return nil, "not running"
	}
	e.mu.Lock()
	sub := e.incidentEvents
	e.mu.Unlock()
	if n := sub.Pending(); n > 0 {
		return nil, fmt.Sprintf("%d events queued or being applied", n)
	}
	active, waiting := e.runsActive.Load(), e.runsRetrying.Load()
	if active != waiting {
		return nil, fmt.Sprintf("%d runs in progress, %d of them waiting to re-probe", active, waiting)
	}
	jobs := e.sched.Jobs()
	marks := make(map[string]jobMark, len(jobs))
	for _, j := range jobs {
		mark, busy := jobIdle(j, now, before, retrying)
		if busy != "" {
			return nil, busy
		}
		marks[j.ID().String()] = mark
	}
	// One timer per job, and one per run waiting to re-probe until it fires.
	if n := len(jobs) + int(waiting); !hasWaiters(clock, n) {
		return nil, fmt.Sprintf("the clock has fewer than %d timers: a run waiting to re-probe was woken", n)
	}
	return marks, ""
}

// jobIdle returns a job's mark if it is idle, or else what it is busy with (see idle). It asks
// gocron one thing at a time, each a round trip through its scheduler, and stops at the first
// that says busy.
func jobIdle(j gocron.Job, now time.Time, before map[string]jobMark, retrying map[string]bool) (jobMark, string) {
	id, name := j.ID().String(), j.Name()
	busy := func(format string, args ...any) (jobMark, string) {
		return jobMark{}, "job " + name + " " + fmt.Sprintf(format, args...)
	}
	next, err := j.NextRuns(2)
	if err != nil {
		return busy("%v", err)
	}
	if len(next) != 2 || !next[0].After(now) {
		return busy("has no timer for a later run yet (next runs %v)", next)
	}
	lastRun, err := j.LastRunStartedAt()
	if err != nil {
		return busy("%v", err)
	}
	completed, err := j.LastRunCompletedAt()
	if err != nil {
		return busy("%v", err)
	}
	m, seen := before[id]
	due := seen && !m.next.After(now)
	switch {
	case due && !lastRun.After(m.lastRun):
		return busy("due at %s has not started", m.next.UTC().Format(time.RFC3339Nano))
	case due && !completed.After(m.completed) && !retrying[id]:
		return busy("due at %s has not finished", m.next.UTC().Format(time.RFC3339Nano))
	case !seen && strings.HasPrefix(name, "engine:") && completed.IsZero():
		return busy("has not finished its first run, due when the engine starts")
	}
	if !retrying[id] {
		if running, err := j.IsRunning(); err != nil || running {
			return busy("is running (%v)", err)
		}
	}
	return jobMark{next: next[0], every: next[1].Sub(next[0]), lastRun: lastRun, completed: completed}, ""
}

// hasWaiters reports whether the clock has at least n timers set, without waiting.
func hasWaiters(clock *clockwork.FakeClock, n int) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return clock.BlockUntilContext(ctx, n) == nil
}

// SyncForTest declares components as the config file would at the instant at, through the
// service (the one door), as cmd does at start-up.
func SyncForTest(t testing.TB, s service.Store, at time.Time, declared ...component.Component) {
	t.Helper()
	svc := service.New(service.Options{Store: s, Clock: clockwork.NewFakeClockAt(at)})
	if err := svc.Components.Sync(context.Background(), declared); err != nil {
		t.Fatal(err)
	}
}
