package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Errors of the monitor controls, for the API to map to statuses.
var (
	ErrUnknownMonitor = errors.New("unknown monitor")
	ErrPaused         = errors.New("monitor is paused")
	ErrNotPaused      = errors.New("monitor is not paused")
	ErrNotRunning     = errors.New("engine is not running")
)

// Ping records a heartbeat check-in and judges its monitor at once, so a reported failure or a
// recovery shows within a second rather than at the next evaluation. It returns the monitor id,
// or probe.ErrUnknownToken.
func (e *Engine) Ping(token string, kind probe.PingKind, exitCode int) (string, error) {
	at := e.opts.Clock.Now()
	id, err := e.heartbeats.Ping(token, kind, exitCode, at)
	if err != nil {
		return "", err
	}
	// Every instance keeps every check-in; the monitor's owner judges it (announce.go).
	e.announce(announcement{Op: "ping", Monitor: id, At: at, Kind: kind, Code: exitCode})
	if kind != probe.PingStart && e.owns(e.componentOf(id)) {
		if err := e.RunNow(id); err != nil && !errors.Is(err, ErrPaused) && !errors.Is(err, ErrNotRunning) {
			e.log.Warn("judge heartbeat", "monitor", id, "err", err)
		}
	}
	return id, nil
}

// RunNow starts a run of the monitor at once, outside its schedule, or right after the run in
// progress. Requests that arrive while one waits are merged into it.
//
// A monitor another instance runs is run there: the request is announced to it.
func (e *Engine) RunNow(id string) error {
	e.mu.Lock()
	r, ok := e.monitors[id]
	var paused, running, owned, located bool
	if ok {
		paused, running, owned, located = r.paused, e.running, r.probes, r.located()
	}
	ctx := e.runCtx
	e.mu.Unlock()
	switch {
	case !ok:
		return ErrUnknownMonitor
	case paused:
		return ErrPaused
	case !running:
		return ErrNotRunning
	case !owned:
		e.announce(announcement{Op: "run", Monitor: id, At: e.opts.Clock.Now()})
		return nil
	case located:
		// Checked from several locations: run it in each.
		e.announce(announcement{Op: "run", Monitor: id, At: e.opts.Clock.Now()})
	}
	return e.runHere(ctx, r)
}

// runHere starts a run of r at once, or right after the run in progress.
func (e *Engine) runHere(ctx context.Context, r *runner) error {
	if !r.pending.CompareAndSwap(false, true) {
		return nil // a run-now is already waiting: it will see whatever this one would
	}
	e.wg.Add(1)
	e.runsActive.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.runsActive.Add(-1)
		r.busy.Lock() // after a run in progress, so a check-in that arrived during it is judged
		r.pending.Store(false)
		defer r.busy.Unlock()
		e.probeOnce(ctx, r)
	}()
	return nil
}

// Pause stops a monitor's runs and records it unknown from now: time it is not watched is
// counted neither up nor down. A pause lasts until Resume or a restart; a reload keeps it unless
// the monitor's configured Paused changes (set paused: true in the config to keep one paused).
// Every instance sharing the store is told, and its owner records it.
func (e *Engine) Pause(ctx context.Context, id, by string) error {
	if err := e.pause(ctx, id, by); err != nil {
		return err
	}
	e.announce(announcement{Op: "pause", Monitor: id, At: e.opts.Clock.Now(), By: by})
	return nil
}

func (e *Engine) pause(ctx context.Context, id, by string) error {
	now := e.opts.Clock.Now().UTC()
	e.mu.Lock()
	r, ok := e.monitors[id]
	switch {
	case !ok:
		e.mu.Unlock()
		return ErrUnknownMonitor
	case r.paused:
		e.mu.Unlock()
		return ErrPaused
	}
	r.paused = true
	job := r.job
	r.job = nil
	from := r.recorded()
	if !r.owned {
		from = probe.StateUnknown // its owner records its state, not this instance
	}
	r.detector = probe.NewDetector(r.m, probe.StateUnknown)
	r.combined, r.locs = probe.StateUnknown, nil // the locations start again when resumed
	e.mu.Unlock()
	if job != nil {
		if err := e.sched.RemoveJob(job.ID()); err != nil {
			e.log.Warn("remove paused job", "monitor", id, "err", err)
		}
	}
	if from != probe.StateUnknown {
		wctx, cancel := persistContext(ctx)
		defer cancel()
		e.transition(wctx, r.m.ComponentID, probe.Transition{MonitorID: id, At: now, From: from, To: probe.StateUnknown, Reason: pausedReason + by})
	}
	return nil
}

// Resume schedules a paused monitor again; its first run starts within the spread of its
// interval, as at start-up. Every instance sharing the store is told.
func (e *Engine) Resume(id string) error {
	if err := e.resume(id); err != nil {
		return err
	}
	e.announce(announcement{Op: "resume", Monitor: id, At: e.opts.Clock.Now()})
	return nil
}

func (e *Engine) resume(id string) error {
	e.mu.Lock()
	r, ok := e.monitors[id]
	var running bool
	switch {
	case !ok:
		e.mu.Unlock()
		return ErrUnknownMonitor
	case !r.paused:
		e.mu.Unlock()
		return ErrNotPaused
	}
	r.paused = false
	running = e.running && r.probes // another instance runs the monitors it owns
	e.mu.Unlock()
	if !running {
		return nil // Run schedules it
	}
	return e.schedule(r, e.opts.Clock.Now())
}

// ReloadSummary says what a reload changed, by monitor id.
type ReloadSummary struct {
	Added     []string `json:"added"`
	Changed   []string `json:"changed"`
	Removed   []string `json:"removed"`
	Unchanged int      `json:"unchanged"`
}

// Reload replaces the monitors with the given ones without a restart: new monitors are
// scheduled, removed ones stopped and recorded unknown, changed ones rescheduled with their
// state kept (a changed target is not a recovery). Every new prober is built before anything
// changes, so an error leaves the running monitors as they were.
func (e *Engine) Reload(ctx context.Context, monitors []probe.Monitor, severity map[string]incidents.Severity) (ReloadSummary, error) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	var sum ReloadSummary
	e.mu.Lock()
	old := make(map[string]*runner, len(e.monitors))
	for id, r := range e.monitors {
		old[id] = r
	}
	e.mu.Unlock()

	// Build every new prober first. Heartbeat monitors are only validated here: watching one
	// changes which tokens are accepted, so that waits until every monitor has been built.
	fresh := map[string]*runner{}
	keep := map[string]bool{}
	var heartbeats []probe.Monitor
	for _, m := range monitors {
		keep[m.ID] = true
		prev, ok := old[m.ID]
		if ok && reflect.DeepEqual(prev.m, m) {
			sum.Unchanged++
			continue
		}
		if m.Kind == probe.KindHeartbeat && m.Heartbeat != nil {
			if err := m.Heartbeat.Validate(m.ID); err != nil {
				return ReloadSummary{}, fmt.Errorf("engine: %w", err)
			}
			heartbeats = append(heartbeats, m)
		} else {
			r, err := e.newRunner(m)
			if err != nil {
				return ReloadSummary{}, err
			}
			fresh[m.ID] = r
		}
		if ok {
			sum.Changed = append(sum.Changed, m.ID)
		} else {
			sum.Added = append(sum.Added, m.ID)
		}
	}
	for _, id := range sum.Changed {
		if prev := old[id]; prev.m.Kind == probe.KindHeartbeat && fresh[id] != nil {
			e.heartbeats.Forget(id) // no longer a heartbeat monitor
		}
	}
	for _, m := range heartbeats {
		r, err := e.newRunner(m) // validated above: this cannot fail
		if err != nil {
			return ReloadSummary{}, err
		}
		fresh[m.ID] = r
	}
	for id := range old {
		if !keep[id] {
			sum.Removed = append(sum.Removed, id)
		}
	}
	slices.Sort(sum.Added)
	slices.Sort(sum.Changed)
	slices.Sort(sum.Removed)

	now := e.opts.Clock.Now().UTC()
	wctx, cancel := persistContext(ctx)
	defer cancel()
	e.mu.Lock()
	e.severity = severity
	running := e.running
	e.mu.Unlock()

	touched := map[string]bool{} // components whose status must be recomputed
	for _, id := range sum.Removed {
		r := old[id]
		e.stopJob(r)
		e.mu.Lock()
		from := r.recorded()
		if !r.owned {
			from = probe.StateUnknown // its owner records it
		}
		e.mu.Unlock()
		if from != probe.StateUnknown {
			e.transition(wctx, r.m.ComponentID, probe.Transition{MonitorID: id, At: now, From: from, To: probe.StateUnknown, Reason: "removed from the configuration"})
		}
		if r.m.Kind == probe.KindHeartbeat {
			e.heartbeats.Forget(id)
		}
		e.mu.Lock()
		e.deleteRunnerLocked(id)
		e.mu.Unlock()
		touched[r.m.ComponentID] = true
	}
	for _, id := range sum.Changed {
		prev, r := old[id], fresh[id]
		e.stopJob(prev)
		e.mu.Lock()
		r.detector = probe.NewDetector(r.m, prev.detector.State())
		r.setRecorded(prev.recorded())
		r.combinedAt, r.locs = prev.combinedAt, prev.locs
		r.recent, r.stats = prev.recent, prev.stats
		r.paused = r.m.Paused || prev.paused && prev.m.Paused == r.m.Paused
		e.putRunnerLocked(r)
		e.mu.Unlock()
		touched[prev.m.ComponentID], touched[r.m.ComponentID] = true, true
	}
	for _, id := range sum.Added {
		r := fresh[id]
		st := probe.StateUnknown
		if last, err := e.opts.Store.LastTransition(wctx, id); err == nil {
			st = last.To // a monitor removed and added back resumes where it was
		} else if !errors.Is(err, store.ErrNotFound) {
			e.log.Error("reload: last transition", "monitor", id, "err", err)
		}
		e.mu.Lock()
		r.setRecorded(st)
		e.putRunnerLocked(r)
		e.mu.Unlock()
		touched[r.m.ComponentID] = true
	}
	if running {
		for _, id := range append(slices.Clone(sum.Changed), sum.Added...) {
			if r := fresh[id]; !r.paused && r.probes {
				if err := e.schedule(r, now); err != nil {
					return sum, err
				}
			}
		}
	}
	for id := range touched {
		e.updateComponent(wctx, id, now, "configuration reloaded")
	}
	e.startPeopleManaged(wctx, now) // components the reload added without monitors
	e.log.Info("monitors reloaded", "added", len(sum.Added), "changed", len(sum.Changed), "removed", len(sum.Removed), "unchanged", sum.Unchanged)
	return sum, nil
}

// pausedReason begins the reason of the transition a pause records.
const pausedReason = "paused by "

// componentOf is the component of a monitor ("" if unknown).
func (e *Engine) componentOf(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.monitors[id]; ok {
		return r.m.ComponentID
	}
	return ""
}

// stopJob removes a runner's job from the scheduler; a run in progress finishes, and its result
// is then dropped as stale.
func (e *Engine) stopJob(r *runner) {
	e.mu.Lock()
	job := r.job
	r.job = nil
	e.mu.Unlock()
	if job != nil {
		if err := e.sched.RemoveJob(job.ID()); err != nil {
			e.log.Warn("remove job", "monitor", r.m.ID, "err", err)
		}
	}
}
