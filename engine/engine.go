// Package engine is Upstate's running core. It owns the gocron scheduler, runs each monitor's
// probes, turns results into monitor transitions and component status, keeps result rollups and
// publishes events on the in-process bus.
//
// One way through: probes never touch HTTP handlers, handlers never run probes. The engine reads
// the injected clock once per operation and hands the time to the pure domain code.
package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Store is what the engine reads. It writes only through the service (Options.Service).
type Store interface {
	service.Store
	service.MeasurementStore
}

// Options configure an Engine.
type Options struct {
	Store      Store
	Clock      clockwork.Clock // the real clock in production, a fake one in tests
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Bus        *Bus
	// Service is the door the engine's automation changes things through (default: one on
	// Store, Clock, Bus and Policies).
	Service  *service.Service
	Monitors []probe.Monitor
	// MaxConcurrentProbes bounds probes running at once (default 512).
	MaxConcurrentProbes int
	// FlushInterval is how often rollups are written to the store (default 30s).
	FlushInterval time.Duration
	// Transport is shared by HTTP monitors (default: one built by probe.NewTransport).
	Transport http.RoundTripper
	// Reminders: maintenance reminder events are published this long before each start.
	Reminders []time.Duration
	// MaintenanceEvery is how often maintenance events are checked (default 5s). Events carry
	// their exact time whatever the tick.
	MaintenanceEvery time.Duration
	// Policies and DefaultPolicy give automatic incidents their SLA clocks; MonitorSeverity
	// the severity a monitor's outage opens (default P1).
	Policies        map[string]*incidents.Policy
	DefaultPolicy   string
	MonitorSeverity map[string]incidents.Severity
	Recovery        Recovery
	// SLAEvery is how often clocks are checked for warnings and breaches (default 10s).
	SLAEvery time.Duration
	// Reports, when set, drives the availability gauges and burn-rate alerts, every
	// AvailabilityEvery (default 1m).
	Reports           *Reports
	AvailabilityEvery time.Duration
	// Cluster, when set, shares the work with the other instances on the store: one leader runs
	// the singleton jobs, and each instance runs the monitors of its share of the components
	// (leader.go, ownership.go). Nil: this engine is alone and does everything.
	Cluster *Cluster
	// Singletons are more periodic jobs for the leader alone (the notification dispatcher's
	// place); when alone, they simply run.
	Singletons []Singleton
	// MaxPendingWrites bounds the state changes kept while the store does not answer (default
	// DefaultMaxPendingWrites; pending.go).
	MaxPendingWrites int
	// Location is this instance's location label when it is alone (Cluster.Location when it
	// shares the store): HTTP checks name it, and monitors asking for several locations are
	// checked from it alone (locations.go).
	Location string
}

func (o *Options) validate() error {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("engine: Store is required"))
	}
	if o.Clock == nil {
		errs = append(errs, errors.New("engine: Clock is required"))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Bus == nil {
		o.Bus = NewBus(nil)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.MaxConcurrentProbes <= 0 {
		o.MaxConcurrentProbes = 512
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 30 * time.Second
	}
	if o.MaintenanceEvery <= 0 {
		o.MaintenanceEvery = 5 * time.Second
	}
	if o.Service == nil && o.Store != nil {
		o.Service = service.New(service.Options{Store: o.Store, Clock: o.Clock, Bus: o.Bus, Logger: o.Logger,
			Policies: o.Policies, DefaultPolicy: o.DefaultPolicy})
	}
	if o.Service != nil && o.Service.Monitors == nil {
		errs = append(errs, errors.New("engine: the Service needs a store that keeps measurements"))
	}
	if o.Recovery == "" {
		o.Recovery = RecoveryResolve
	}
	if o.SLAEvery <= 0 {
		o.SLAEvery = 10 * time.Second
	}
	if o.AvailabilityEvery <= 0 {
		o.AvailabilityEvery = time.Minute
	}
	if o.MaxPendingWrites <= 0 {
		o.MaxPendingWrites = DefaultMaxPendingWrites
	}
	if o.Cluster != nil {
		errs = append(errs, o.Cluster.validate())
	}
	for _, j := range o.Singletons {
		if j.Name == "" || j.Every <= 0 || j.Run == nil {
			errs = append(errs, fmt.Errorf("engine: singleton job %q needs a name, a period and a function", j.Name))
		}
	}
	return errors.Join(errs...)
}

// Engine runs monitors. Create it with New and run it with Run.
type Engine struct {
	opts  Options
	svc   *service.Service
	log   *slog.Logger
	sched gocron.Scheduler
	// single runs the singleton jobs when the engine shares its store: gocron asks leader, its
	// Elector, before each run. Nil when alone: they run on sched.
	single        gocron.Scheduler
	singletonJobs []gocron.Job
	leader        *leader
	cluster       *Cluster
	pending       *pendingWrites
	cmetrics      *clusterMetrics
	metrics       *metrics
	sla           *slaMetrics
	avail         *availabilityMetrics
	firing        map[string]time.Time // when each firing burn-rate alert began, by component/severity/objective/long/short
	burnLoaded    map[string]bool      // alerts whose stored state firing holds (availabilityTick only)
	burnTerm      store.Fence          // the leadership firing was loaded in

	// slots bound the probes running at once. It is not gocron's concurrency limit: that keeps
	// one goroutine per slot alive, and each grows the stack of a probe (8 MB at 512 slots).
	slots      chan struct{}
	transports map[transportKey]http.RoundTripper
	heartbeats *probe.Heartbeats

	mu       sync.Mutex
	monitors map[string]*runner // by monitor id
	// restoredSince is when each monitor's restored state began, from start until
	// unknownWhileDown has used it.
	restoredSince map[string]time.Time
	// byComponent indexes monitors by component: a state change looks at its component's
	// monitors only (at start ten thousand of them each scanned all ten thousand). Changed only
	// with monitors, through putRunnerLocked and deleteRunnerLocked.
	byComponent map[string][]*runner
	status      map[string]component.Status // derived status per component with monitors
	// listed are the components and groups as stored (status as recorded, group, kind), which
	// upstate_component_status shows through component.Shown as the page does (metrics.go).
	// Kept by followIncidents from the component events, and read again from the store by the
	// components job, the safety net.
	listed  map[string]component.Component
	rollups map[rollupKey]*probe.Rollup // not yet flushed
	// announcements wait here to be sent to the other instances (announce.go).
	announcements chan announcement
	// rollupGen counts flushes: a runner's cached rollups are valid only in its generation.
	rollupGen uint64
	windows   []maintenance.Window          // as of the last maintenance tick
	impacts   map[string]component.Status   // worst impact of open incidents per component
	running   bool                          // the scheduler has started: jobs may be added and run
	runCtx    context.Context               // Run's context, for on-demand runs
	wg        sync.WaitGroup                // on-demand runs, awaited at shutdown
	severity  map[string]incidents.Severity // by monitor id; replaced on reload
	reloadMu  sync.Mutex                    // one reload (or rebalance) at a time
	members   []string                      // live instances sharing the store, by id; nil when alone
	memberSet []store.Member                // the same, with their locations

	// Counted for the tests, which wait for the engine to be idle (helpers_test.go): runs in
	// progress, scheduled or on demand; those of them waiting on the clock to re-probe; and
	// those waiting for a probe slot.
	runsActive, runsRetrying, runsQueued atomic.Int64
	// incidentEvents feed followIncidents (its Pending count is for the tests' barrier).
	incidentEvents *events.Subscription
}

// transportKey picks the shared HTTP transport a monitor uses: connections are pooled per
// transport, and TLS verification and IP family are properties of the transport.
type transportKey struct {
	insecure bool
	family   string
}

type rollupKey struct {
	monitor string
	res     probe.Resolution
	start   int64
}

// runner is one monitor's prober and detector. A monitor's runs never overlap (gocron
// singleton mode), so only the engine's mutex guards the shared state they touch.
type runner struct {
	m        probe.Monitor
	prober   probe.Prober
	detector *probe.Detector
	recent   *recentRing // allocated with the runner
	nextRun  time.Time   // when the scheduler should start the next run, for the lag metric
	job      gocron.Job  // nil until scheduled, and while paused
	paused   bool
	stats    probeStats    // for the metrics
	labels   *seriesLabels // for the metrics
	// rollups are the pending rollups this monitor last added to, per resolution, valid in
	// generation rollupGen (see addRollup).
	rollups   [3]*probe.Rollup
	rollupGen uint64
	busy      sync.Mutex  // held for a run: scheduled and on-demand runs never overlap
	pending   atomic.Bool // an on-demand run is waiting for busy
	retrying  atomic.Bool // a run waits on the clock to re-probe (for the tests)
	owned     bool        // this instance owns the monitor's component: it records the monitor's state
	// probes: this instance runs the monitor's probes. The same as owned, but for a monitor
	// checked from several locations, which instances of other locations probe too.
	probes bool
	// A monitor checked from several locations (locations.go): its state as recorded (the
	// quorum's, by its owner), since when, and each location's state as last heard.
	combined   probe.State
	combinedAt time.Time
	locs       map[string]probe.LocationResult
	// resumed: the state the monitor had when Upstate (or its last owner) stopped cleanly, until
	// its first transition since, which carries it (probe.Transition.Resumed).
	resumed probe.State
}

// resumedFrom is the state a monitor had before a clean stop, when last (its last stored
// transition) is that stop; "" otherwise.
func resumedFrom(last probe.Transition) probe.State {
	if last.To == probe.StateUnknown && last.Reason == stopReason {
		return last.From
	}
	return ""
}

// New builds an engine. It starts nothing: Run does.
func New(o Options) (*Engine, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	sched, err := gocron.NewScheduler(
		gocron.WithClock(o.Clock),
		gocron.WithLocation(time.UTC),
		gocron.WithStopTimeout(10*time.Second),
		gocron.WithLogger(gocronLogger{o.Logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: scheduler: %w", err)
	}
	e := &Engine{
		opts: o, svc: o.Service, log: o.Logger.With("component", "engine"), sched: sched,
		sla: newSLAMetrics(o.Registerer), avail: newAvailabilityMetrics(o.Registerer),
		monitors: map[string]*runner{}, byComponent: map[string][]*runner{}, status: map[string]component.Status{}, listed: map[string]component.Component{}, rollups: map[rollupKey]*probe.Rollup{},
		impacts: map[string]component.Status{}, severity: o.MonitorSeverity,
	}
	e.metrics = newMetrics(o.Registerer, e)
	e.pending = newPendingWrites(o.MaxPendingWrites, o.Registerer)
	if c := o.Cluster; c != nil {
		e.cluster = c
		e.cmetrics = newClusterMetrics(o.Registerer)
		e.announcements = make(chan announcement, 4096)
		e.leader = &leader{coord: c.Coordinator, holder: c.Instance, ttl: c.Lease, clock: o.Clock, log: e.log, m: e.cmetrics,
			gained: e.runSingletonsNow}
		single, err := gocron.NewScheduler(
			gocron.WithClock(o.Clock),
			gocron.WithLocation(time.UTC),
			gocron.WithStopTimeout(10*time.Second),
			gocron.WithLogger(gocronLogger{o.Logger}),
			gocron.WithDistributedElector(e.leader),
		)
		if err != nil {
			return nil, fmt.Errorf("engine: singleton scheduler: %w", err)
		}
		e.single = single
	}
	e.slots = make(chan struct{}, o.MaxConcurrentProbes)
	e.transports = map[transportKey]http.RoundTripper{}
	for _, insecure := range []bool{false, true} {
		for _, family := range []string{"", "4", "6"} {
			e.transports[transportKey{insecure, family}] = probe.NewTransport(insecure, family)
		}
	}
	if o.Transport != nil {
		e.transports[transportKey{}] = o.Transport
	}
	e.heartbeats = probe.NewHeartbeats()
	for _, m := range o.Monitors {
		r, err := e.newRunner(m)
		if err != nil {
			return nil, err
		}
		e.putRunnerLocked(r)
	}
	return e, nil
}

func (e *Engine) newRunner(m probe.Monitor) (*runner, error) {
	var location string
	if e.cluster != nil && e.cluster.Location != "" || e.opts.Location != "" {
		location = e.location()
	}
	p, err := probe.NewProber(m, probe.Env{Heartbeats: e.heartbeats, Now: e.opts.Clock.Now(), Location: location,
		Transport: func(insecure bool, family string) http.RoundTripper {
			return e.transports[transportKey{insecure, family}]
		}})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return &runner{m: m, prober: p, detector: probe.NewDetector(m, probe.StateUnknown), recent: &recentRing{},
		labels: newSeriesLabels(m.ID), paused: m.Paused, combined: probe.StateUnknown}, nil
}

// Bus returns the engine's event bus.
func (e *Engine) Bus() *Bus { return e.opts.Bus }

// Run restores each monitor's state, schedules its probes and the engine's housekeeping, and
// blocks until ctx ends; then it stops the scheduler (waiting for running probes), writes the
// remaining rollups and records every monitor as unknown from that moment.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.restore(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing ran, nothing to record
		}
		return err
	}
	if e.cluster != nil {
		// Listen to the other instances before joining them, so none announces to this one
		// unheard (a bound, not a condition: without Redis, start anyway and listen later).
		listening := make(chan struct{})
		e.wg.Add(1)
		go e.listen(ctx, sync.OnceFunc(func() { close(listening) }))
		select {
		case <-listening:
		case <-ctx.Done():
		case <-e.opts.Clock.After(e.cluster.MemberTimeout):
		}
		// Know this instance's share before anything runs.
		if err := e.join(ctx); err != nil {
			e.wg.Wait()
			return nil // stopped while starting
		}
	}
	if e.cluster == nil {
		e.unknownWhileDown(ctx)
	}
	// Incidents' impacts follow their events at once; the SLA tick stays as the safety net.
	sub := e.opts.Bus.SubscribeTracked(256)
	defer sub.Close()
	e.mu.Lock()
	e.incidentEvents = sub
	e.mu.Unlock()
	e.wg.Add(1)
	go e.followIncidents(ctx, sub)
	now := e.opts.Clock.Now()
	e.startPeopleManaged(ctx, now)
	e.mu.Lock()
	runners := make([]*runner, 0, len(e.monitors))
	for _, r := range e.monitors {
		if !r.paused && r.probes {
			runners = append(runners, r)
		}
	}
	e.mu.Unlock()
	type job struct {
		name  string
		every time.Duration
		fn    func(context.Context)
	}
	// Every instance: its own monitors' expiry and rollups, its pending state changes, and (when
	// it shares the store) incidents' impacts on the components it owns.
	local := []job{
		{"expire", 5 * time.Second, e.expire},
		{"flush-rollups", e.opts.FlushInterval, func(ctx context.Context) { _ = e.FlushRollups(ctx) }},
		{"pending-writes", time.Second, e.replayPending},
		{"components", e.opts.SLAEvery, e.listComponents},
	}
	if e.cluster == nil {
		local = append(local, job{"alive", aliveEvery, e.markAlive})
	}
	if e.cluster != nil {
		local = append(local, job{"impacts", e.opts.SLAEvery, e.impactsTick},
			job{"announce-locations", e.opts.FlushInterval, e.announceLocations})
	}
	// The leader only: what must happen once however many instances run.
	singletons := []job{
		{"prune-rollups", time.Hour, e.prune},
		{"maintenance", e.opts.MaintenanceEvery, e.maintenanceTick},
		{"sla", e.opts.SLAEvery, e.slaTick},
		{"availability", e.opts.AvailabilityEvery, e.availabilityTick},
	}
	for _, j := range e.opts.Singletons {
		singletons = append(singletons, job{j.Name, j.Every, j.Run})
	}
	add := func(sched gocron.Scheduler, j job, fn func(context.Context)) (gocron.Job, error) {
		gj, err := sched.NewJob(gocron.DurationJob(j.every), gocron.NewTask(oneAtATime(fn)),
			gocron.WithName("engine:"+j.name), gocron.WithStartAt(gocron.WithStartImmediately()))
		if err != nil {
			return nil, fmt.Errorf("engine: schedule %s: %w", j.name, err)
		}
		return gj, nil
	}
	for _, j := range local {
		if _, err := add(e.sched, j, j.fn); err != nil {
			return err
		}
	}
	for _, j := range singletons {
		if e.single == nil {
			if _, err := add(e.sched, j, j.fn); err != nil {
				return err
			}
			continue
		}
		gj, err := add(e.single, j, e.leader.singleton(j.fn))
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.singletonJobs = append(e.singletonJobs, gj)
		e.mu.Unlock()
	}
	if e.single != nil {
		e.single.Start()
		e.wg.Add(3)
		go func() { defer e.wg.Done(); e.leader.run(ctx) }()
		go e.beatLoop(ctx)
		go e.sendAnnouncements(ctx)
	}
	// Start before adding the monitors: gocron moves a start time that passed before Start to
	// the next interval, and adding ten thousand jobs takes longer than the smallest offsets.
	e.sched.Start()
	for _, r := range runners {
		if err := e.schedule(r, now); err != nil {
			return errors.Join(err, e.sched.Shutdown())
		}
	}
	e.mu.Lock()
	e.running, e.runCtx = true, ctx
	count := len(e.monitors)
	e.mu.Unlock()
	e.log.Info("engine started", "monitors", count, "instance", e.instance(), "location", e.location(), "members", e.memberList())
	e.warnFewerLocations()
	<-ctx.Done()

	e.mu.Lock()
	e.running = false
	e.mu.Unlock()
	// Shut down with a fresh context: the run's context is already cancelled.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	err := e.sched.Shutdown()
	if e.single != nil {
		err = errors.Join(err, e.single.Shutdown())
	}
	e.wg.Wait()
	if ferr := e.FlushRollups(stopCtx); ferr != nil {
		err = errors.Join(err, ferr)
	}
	e.markAllUnknown(stopCtx, e.opts.Clock.Now(), stopReason)
	e.replayPending(stopCtx)
	if n := e.pending.len(); n > 0 {
		e.log.Error("stopped with state changes the store never took: they are lost", "pending", n)
	}
	if e.cluster != nil {
		// The others take this instance's share at their next beat, not after its timeout.
		if lerr := e.cluster.Coordinator.Leave(stopCtx, e.cluster.Instance); lerr != nil {
			e.log.Warn("leave the instances sharing the store", "err", lerr)
		}
	}
	e.log.Info("engine stopped")
	return err
}

// oneAtATime runs fn unless its last run is still in progress: a run due meanwhile is skipped,
// as with gocron's singleton mode and LimitModeReschedule. Not that mode itself: it frees the
// job only after gocron has recorded the run complete, so the tests, which wait until every
// job's last run is complete before they move the clock (helpers_test.go), would see the next
// run skipped now and then.
func oneAtATime(fn func(context.Context)) func(context.Context) {
	var running sync.Mutex
	return func(ctx context.Context) {
		if !running.TryLock() {
			return
		}
		defer running.Unlock()
		fn(ctx)
	}
}

// startPeopleManaged records components without monitors as operational if they have no
// status yet: their status is what people declare through incidents (DESIGN section 3).
func (e *Engine) startPeopleManaged(ctx context.Context, now time.Time) {
	components, err := e.opts.Store.ListComponents(ctx)
	if err != nil {
		e.log.Error("list components", "err", err)
		return
	}
	watched := map[string]bool{}
	e.mu.Lock()
	for _, r := range e.monitors {
		watched[r.m.ComponentID] = true
	}
	e.mu.Unlock()
	for _, c := range components {
		if !c.IsGroup && !watched[c.ID] && c.Status == component.Unknown {
			e.updateComponent(ctx, c.ID, now, "no monitors: status follows declared incidents")
		}
	}
}

// restore seeds each detector with its monitor's last stored state, so a restart does not
// record a spurious transition, and computes the components' derived status.
func (e *Engine) restore(ctx context.Context) error {
	states := map[string]probe.Transition{}
	e.mu.Lock()
	ids := make([]string, 0, len(e.monitors))
	for id := range e.monitors {
		ids = append(ids, id)
	}
	e.mu.Unlock()
	for _, id := range ids {
		last, err := e.opts.Store.LastTransition(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			states[id] = probe.Transition{To: probe.StateUnknown}
		case err != nil:
			return fmt.Errorf("engine: restore %s: %w", id, err)
		default:
			states[id] = last
		}
	}
	components, err := e.opts.Store.ListComponents(ctx)
	if err != nil {
		return fmt.Errorf("engine: restore components: %w", err)
	}
	// Windows are known before the first probe runs, so a failure during maintenance never
	// opens an incident for lack of them.
	windows, err := e.opts.Store.ListWindows(ctx)
	if err != nil {
		return fmt.Errorf("engine: restore maintenance windows: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.windows = windows
	e.restoredSince = make(map[string]time.Time, len(states))
	for id, last := range states {
		e.restoredSince[id] = last.At
		r, ok := e.monitors[id]
		if !ok {
			continue // removed by a reload meanwhile
		}
		r.setRecorded(last.To)
		r.resumed = resumedFrom(last)
		if r.m.Kind == probe.KindHeartbeat && last.To == probe.StateDown {
			e.heartbeats.MarkMissing(id)
		}
	}
	for _, c := range components {
		e.status[c.ID] = c.Status
	}
	e.setListedLocked(components)
	return nil
}

// maxRunGrid is the coarsest grid monitors' runs start on (runGrid).
const maxRunGrid = 250 * time.Millisecond

// runGrid is the grid a monitor's runs start on: a quarter second, or a tenth of a shorter
// interval. Monitors whose offsets fall in the same cell start together, so the process wakes
// four times a second however many monitors it has, rather than once per run: between two
// checks spread evenly at 1,000 monitors every 10 s the runtime goes idle, and waking it cost
// more CPU than the check itself (BENCHMARKS.md, "Probes at scale").
func runGrid(interval time.Duration) time.Duration {
	return min(maxRunGrid, interval/10)
}

// firstRun is a monitor's first run after now: an offset by a hash of its id, spread over 90 %
// of the first interval (at most 10 s), so ten thousand monitors never fire together and a
// restart keeps each monitor's phase; then rounded to the run grid, which is aligned to the
// clock, so monitors added by a reload share the cells of those already running. With the
// grid at most a tenth of the interval, every first run falls within one interval, even
// counting the time it takes to schedule ten thousand jobs.
func firstRun(id string, interval time.Duration, now time.Time) time.Time {
	return spreadRun(id, min(interval, 10*time.Second)*9/10, runGrid(interval), now)
}

// spreadRun is a first run at an offset by a hash of id within spread after now, rounded up to
// the grid.
func spreadRun(id string, spread, grid time.Duration, now time.Time) time.Time {
	h := fnv.New64a()
	h.Write([]byte(id))
	return gridCeil(now.Add(time.Duration(h.Sum64()%uint64(max(spread, 1)))), grid)
}

// gridCeil is the first point of the grid at or after t.
func gridCeil(t time.Time, grid time.Duration) time.Time {
	c := t.Truncate(grid)
	if c.Before(t) {
		c = c.Add(grid)
	}
	return c
}

func (e *Engine) schedule(r *runner, now time.Time) error {
	return e.scheduleAt(r, firstRun(r.m.ID, r.m.Interval, now))
}

// scheduleAt schedules r's runs from at (or the next point of its grid, if at has passed).
func (e *Engine) scheduleAt(r *runner, at time.Time) error {
	// Scheduling ten thousand monitors takes a while: a start already due moves to the next
	// point of the grid (gocron wants a start in the future), not off it.
	if current := e.opts.Clock.Now(); !at.After(current.Add(time.Millisecond)) {
		at = gridCeil(current.Add(2*time.Millisecond), runGrid(r.m.Interval))
	}
	job, err := e.sched.NewJob(
		gocron.DurationJob(r.m.Interval),
		gocron.NewTask(e.runProbe, r),
		gocron.WithName("monitor:"+r.m.ID),
		gocron.WithStartAt(gocron.WithStartDateTime(at)),
		// Not gocron's singleton mode, which keeps a goroutine and a 1,000-run queue per job:
		// runProbe's busy lock already keeps a monitor's runs from overlapping.
	)
	if err != nil {
		return fmt.Errorf("engine: schedule monitor %s: %w", r.m.ID, err)
	}
	e.mu.Lock()
	r.nextRun, r.job = at, job
	e.mu.Unlock()
	// gocron moves a start that passed while the job was being added (its scheduler is busy
	// when ten thousand monitors start) to the next interval. Run such a monitor at once
	// instead, keeping its schedule: its first run must fall in the first interval.
	if !e.opts.Clock.Now().Before(at) {
		if next, err := job.NextRun(); err == nil && next.After(at.Add(r.m.Interval/2)) {
			if err := job.RunNow(); err != nil {
				e.log.Warn("run a missed first start", "monitor", r.m.ID, "err", err)
			}
		}
	}
	return nil
}

// runProbe is one scheduled run of one monitor. A failure that does not yet make the monitor
// down is re-probed at once, up to Retries times, so an outage is confirmed in seconds.
func (e *Engine) runProbe(ctx context.Context, r *runner) {
	e.runsActive.Add(1)
	defer e.runsActive.Add(-1)
	expected := e.advanceSchedule(r)
	if !r.busy.TryLock() {
		return // an on-demand run is in progress; this one would only repeat it
	}
	defer r.busy.Unlock()
	if !e.takeSlot(ctx) {
		return
	}
	defer func() { <-e.slots }()
	// Lag includes the wait for a slot: a run that waits is late.
	if !expected.IsZero() {
		e.metrics.lag.Observe(max(0, e.opts.Clock.Since(expected)).Seconds())
	}
	for attempt := 0; ; attempt++ {
		res := e.probeOnce(ctx, r)
		e.mu.Lock()
		down := r.detector.State() == probe.StateDown
		e.mu.Unlock()
		if res.OK || down || attempt >= r.m.Thresholds.Retries {
			return
		}
		if !e.waitRetry(ctx, r) {
			return
		}
	}
}

// takeSlot takes one of the probe slots, waiting for one if all are taken; false if ctx ended
// first.
func (e *Engine) takeSlot(ctx context.Context) bool {
	select {
	case e.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	default:
	}
	e.runsQueued.Add(1)
	defer e.runsQueued.Add(-1)
	select {
	case e.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitRetry waits the retry spacing before a re-probe; false if ctx ended first.
func (e *Engine) waitRetry(ctx context.Context, r *runner) bool {
	wake := e.opts.Clock.After(r.m.Thresholds.RetrySpacing)
	// Marked once the timer is set, so a test that sees the mark may move the clock past it.
	r.retrying.Store(true)
	e.runsRetrying.Add(1)
	defer func() {
		r.retrying.Store(false)
		e.runsRetrying.Add(-1)
	}()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
		return true
	}
}

// advanceSchedule returns when this run was due and records when the next one is.
func (e *Engine) advanceSchedule(r *runner) (expected time.Time) {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	expected = r.nextRun
	r.nextRun = nextScheduled(expected, r.m.Interval, now)
	return expected
}

// nextScheduled is when gocron starts the run after one due at expected that started at now:
// an interval later, or, for a run late by more than an interval, the first point of that
// schedule after now (gocron skips the runs it missed). Counting from the schedule rather than
// from now keeps the lag of one run out of the next one's.
func nextScheduled(expected time.Time, interval time.Duration, now time.Time) time.Time {
	if expected.IsZero() { // the first run started before schedule recorded when it was due
		return now.Add(interval)
	}
	next := expected.Add(interval)
	if next.Before(now) {
		next = next.Add((now.Sub(next) + interval - 1) / interval * interval) // gocron: for next.Before(now)
	}
	return next
}

// probeOnce runs the prober once and feeds the result on.
func (e *Engine) probeOnce(ctx context.Context, r *runner) probe.Result {
	at := e.opts.Clock.Now()
	pctx, cancel := context.WithTimeout(ctx, r.m.Timeout)
	res := r.prober.Probe(pctx, at)
	cancel()
	res.MonitorID = r.m.ID
	if e.log.Enabled(ctx, slog.LevelDebug) { // the arguments alone would cost an allocation per run
		e.log.Debug("probe", "monitor", r.m.ID, "ok", res.OK, "duration", res.Duration, "phase", res.Phase, "reason", res.Reason)
	}

	e.mu.Lock()
	r.stats.observe(res)
	e.addRollup(r, res)
	r.recent.add(res)
	// A run that outlived its monitor's pause, reload or hand-over judges nothing.
	var tr probe.Transition
	changed := false
	if e.monitors[r.m.ID] == r && !r.paused && r.probes {
		tr, changed = r.detector.Observe(res)
	}
	e.mu.Unlock()

	if changed {
		// Once observed, a transition must be stored even if shutdown cancels the job now.
		wctx, cancel := persistContext(ctx)
		defer cancel()
		if r.located() {
			e.locationChanged(wctx, r, tr) // the quorum of the locations decides (locations.go)
		} else {
			e.transition(wctx, r.m.ComponentID, tr)
		}
	}
	return res
}

// persistContext detaches store writes from the cancellation of the job that caused them, and
// bounds them instead.
func persistContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// addRollup counts a result in the monitor's pending rollups. The runner caches the rollups it
// last added to, so most runs skip the three map lookups (a minute's rollup takes six runs at a
// 10 s interval); a flush starts a new generation and empties the cache.
func (e *Engine) addRollup(r *runner, res probe.Result) {
	for i, rs := range probe.Resolutions {
		start := rs.Truncate(res.At)
		ru := r.rollups[i]
		if ru == nil || r.rollupGen != e.rollupGen || !ru.Start.Equal(start) {
			k := rollupKey{res.MonitorID, rs, start.UnixMilli()}
			var ok bool
			if ru, ok = e.rollups[k]; !ok {
				ru = &probe.Rollup{MonitorID: res.MonitorID, Resolution: rs, Start: start}
				e.rollups[k] = ru
			}
			r.rollups[i] = ru
		}
		ru.Add(res)
	}
	r.rollupGen = e.rollupGen
}

// transition stores a monitor transition, publishes it, and updates the component's status.
func (e *Engine) transition(ctx context.Context, componentID string, tr probe.Transition) {
	logFn := e.log.Info
	if tr.To == probe.StateDown {
		logFn = e.log.Warn
	}
	e.mu.Lock()
	if r := e.monitors[tr.MonitorID]; r != nil {
		if tr.From == probe.StateUnknown && tr.Resumed == "" {
			tr.Resumed = r.resumed
		}
		r.resumed = ""
	}
	e.mu.Unlock()
	logFn("monitor state changed", "monitor", tr.MonitorID, "from", tr.From, "to", tr.To, "at", tr.At, "reason", tr.Reason)
	maint := e.underMaintenance(componentID, tr.At)
	e.write(ctx, pendingWrite{kind: pendingTransition, componentID: componentID, tr: tr, maint: maint})
	e.announce(announcement{Op: "state", Monitor: tr.MonitorID, At: tr.At, State: tr.To})
	e.updateComponent(ctx, componentID, tr.At, tr.Reason)
	if tr.Reason != stopReason {
		// Automatic incidents follow the monitors alone: an incident's own impact must not keep
		// its component from recovering.
		e.write(ctx, pendingWrite{kind: pendingOutage, componentID: componentID, next: e.monitorStatus(componentID), tr: tr, maint: maint})
	}
}

// monitorStatus is the worst state of a component's monitors, as a component status.
func (e *Engine) monitorStatus(componentID string) component.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	var states []component.Status
	for _, r := range e.byComponent[componentID] {
		states = append(states, ComponentStatusOf(r.recorded()))
	}
	return component.Worst(states...)
}

// putRunnerLocked adds r, or replaces the runner of the same monitor.
func (e *Engine) putRunnerLocked(r *runner) {
	e.deleteRunnerLocked(r.m.ID)
	r.owned, r.probes = e.rolesLocked(r)
	e.monitors[r.m.ID] = r
	e.byComponent[r.m.ComponentID] = append(e.byComponent[r.m.ComponentID], r)
}

func (e *Engine) deleteRunnerLocked(id string) {
	old, ok := e.monitors[id]
	if !ok {
		return
	}
	delete(e.monitors, id)
	list := slices.DeleteFunc(e.byComponent[old.m.ComponentID], func(r *runner) bool { return r == old })
	if len(list) == 0 {
		delete(e.byComponent, old.m.ComponentID)
	} else {
		e.byComponent[old.m.ComponentID] = list
	}
}

// ComponentStatusOf maps a monitor state to the component status it implies.
func ComponentStatusOf(s probe.State) component.Status {
	switch s {
	case probe.StateUp:
		return component.Operational
	case probe.StateDegraded:
		return component.DegradedPerformance
	case probe.StateDown:
		return component.MajorOutage
	}
	return component.Unknown
}

// updateComponent recomputes a component's status as the worst of its monitors' states,
// records a change if it differs from the last one, and returns the status.
// Only the component's owner records it (ownership.go); elsewhere this returns the status last
// known here and records nothing.
func (e *Engine) updateComponent(ctx context.Context, componentID string, at time.Time, reason string) component.Status {
	e.mu.Lock()
	if !e.ownsLocked(componentID) {
		defer e.mu.Unlock()
		return e.status[componentID]
	}
	var states []component.Status
	for _, r := range e.byComponent[componentID] {
		states = append(states, ComponentStatusOf(r.recorded()))
	}
	if len(states) == 0 {
		// Without monitors a component is managed by people: operational unless an open
		// incident says otherwise.
		states = append(states, component.Operational)
	}
	if impact, ok := e.impacts[componentID]; ok {
		states = append(states, impact)
	}
	next := component.Worst(states...)
	prev, known := e.status[componentID]
	if known && prev == next {
		e.mu.Unlock()
		return next
	}
	e.status[componentID] = next
	e.mu.Unlock()

	ch := component.Change{ComponentID: componentID, At: at, Status: next, Reason: reason}
	e.log.Info("component status changed", "component_id", componentID, "from", prev, "to", next)
	e.write(ctx, pendingWrite{kind: pendingStatus, componentID: componentID, change: ch, from: prev, maint: e.underMaintenance(componentID, at)})
	return next
}

// expire marks monitors with no fresh result unknown.
func (e *Engine) expire(ctx context.Context) {
	now := e.opts.Clock.Now()
	var trs []probe.Transition
	var runners []*runner
	e.mu.Lock()
	for _, r := range e.monitors {
		if !r.probes {
			continue // another instance probes it and judges it
		}
		if tr, ok := r.detector.Expire(now); ok {
			trs = append(trs, tr)
			runners = append(runners, r)
		}
	}
	e.mu.Unlock()
	wctx, cancel := persistContext(ctx)
	defer cancel()
	for i, tr := range trs {
		if runners[i].located() {
			e.locationChanged(wctx, runners[i], tr)
		} else {
			e.transition(wctx, runners[i].m.ComponentID, tr)
		}
	}
}

// stopReason marks the transitions a clean stop records; they open or resolve no incident.
const stopReason = "upstate stopped"

// A process that is killed (kill -9, a crash, the machine lost) records no stop: its monitors'
// last states would run on across the time it was down, and that time would count as up. So a
// single instance marks every aliveEvery that it is running (a cursor in the store), and at
// start each monitor whose last evidence (its last transition, or the last mark) is more than
// two intervals old becomes unknown from two intervals after that evidence: what Expire would
// have recorded had the process lived. Several instances cover for each other instead
// (docs/deploy.md).
const (
	aliveCursor = "engine.alive"
	aliveEvery  = 5 * time.Second
	downReason  = "no result for two intervals (Upstate was not running)"
)

func (e *Engine) markAlive(ctx context.Context) {
	if err := e.svc.Monitors.AdvanceCursor(ctx, aliveCursor, e.opts.Clock.Now()); err != nil {
		e.log.Warn("mark the engine alive", "err", err)
	}
}

// unknownWhileDown records, at start, the time the process was not running as unknown for each
// monitor it left in a known state (a clean stop already recorded unknown). Without a mark (the
// first start, or a store written by a build before the marks) it records nothing.
func (e *Engine) unknownWhileDown(ctx context.Context) {
	alive, err := e.opts.Store.Cursor(ctx, aliveCursor)
	if err != nil || alive.IsZero() {
		return
	}
	now := e.opts.Clock.Now()
	var trs []probe.Transition
	var components []string
	e.mu.Lock()
	for id, r := range e.monitors {
		st := r.recorded()
		if r.paused || st == probe.StateUnknown {
			continue
		}
		evidence := alive
		if t := e.restoredSince[id]; t.After(evidence) {
			evidence = t
		}
		staleAt := evidence.Add(2 * r.m.Interval)
		if now.Before(staleAt) {
			continue // back within two intervals: nothing was missed
		}
		trs = append(trs, probe.Transition{MonitorID: id, At: staleAt.UTC(), From: st, To: probe.StateUnknown, Reason: downReason})
		components = append(components, r.m.ComponentID)
		r.setRecorded(probe.StateUnknown)
		r.resumed = st // as after a clean stop: still down after the gap is no second down
	}
	e.restoredSince = nil
	e.mu.Unlock()
	if len(trs) > 0 {
		e.log.Warn("the last run ended without a stop: its monitors are unknown from two intervals after it last wrote", "last_alive", alive, "monitors", len(trs))
	}
	e.recordAll(ctx, components, trs)
}

// markAllUnknown records that nothing is known about any monitor this instance runs from at on
// (a clean stop), so the time it was not running is never counted as up or down. When other
// instances share the store, the owner of each of these monitors from now on records their
// state again at its first run (within an interval of the hand-over).
func (e *Engine) markAllUnknown(ctx context.Context, at time.Time, reason string) {
	var trs []probe.Transition
	var components []string
	e.mu.Lock()
	for id, r := range e.monitors {
		if !r.owned {
			continue // another instance runs it and records it
		}
		if st := r.recorded(); st != probe.StateUnknown {
			trs = append(trs, probe.Transition{MonitorID: id, At: at.UTC(), From: st, To: probe.StateUnknown, Reason: reason})
			components = append(components, r.m.ComponentID)
			r.detector = probe.NewDetector(r.m, probe.StateUnknown)
			r.combined = probe.StateUnknown
		}
	}
	e.mu.Unlock()
	e.recordAll(ctx, components, trs) // many at once: stopping ten thousand monitors is one group commit

}

// recordAll records many transitions at once (trs[i] of components[i]), so the store's group
// commit writes them together: one at a time, ten thousand monitors took a disk sync each.
func (e *Engine) recordAll(ctx context.Context, components []string, trs []probe.Transition) {
	var g errgroup.Group
	g.SetLimit(64)
	for i, tr := range trs {
		g.Go(func() error {
			e.transition(ctx, components[i], tr)
			return nil
		})
	}
	_ = g.Wait()
}

// FlushRollups writes the rollups gathered since the last flush in one batch. On failure they
// are kept and retried at the next flush, merged into the deltas gathered meanwhile: a store
// must count a delta once even when the failed write was applied and only its reply lost (the
// Redis store writes absolute totals per writer and bucket, store/redis AddRollups; SQLite
// commits or not).
func (e *Engine) FlushRollups(ctx context.Context) error {
	e.mu.Lock()
	pending := e.rollups
	e.rollups = map[rollupKey]*probe.Rollup{}
	e.rollupGen++
	e.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]probe.Rollup, 0, len(pending))
	for _, r := range pending {
		batch = append(batch, *r)
	}
	if err := e.svc.Monitors.MergeRollups(ctx, batch); err != nil {
		e.mu.Lock()
		for k, r := range pending {
			if cur, ok := e.rollups[k]; ok {
				cur.Merge(*r)
			} else {
				e.rollups[k] = r
			}
		}
		e.mu.Unlock()
		e.log.Error("flush rollups", "buckets", len(batch), "err", err)
		return fmt.Errorf("engine: flush rollups: %w", err)
	}
	return nil
}

func (e *Engine) prune(ctx context.Context) {
	now := e.opts.Clock.Now()
	for _, rs := range probe.Resolutions {
		if err := e.svc.Monitors.ExpireRollups(ctx, rs, now.Add(-rs.Retention())); err != nil {
			e.log.Error("prune rollups", "resolution", rs, "err", err)
		}
	}
}

// MonitorSnapshot is a monitor's current state and results, for the page and the API.
type MonitorSnapshot struct {
	Monitor probe.Monitor
	State   probe.State
	Paused  bool
	Last    probe.Result   // the newest result; At is zero before the first run
	NextRun time.Time      // when the scheduler starts the next run; zero if paused, stopped or a heartbeat
	Recent  []probe.Result // oldest first, up to 60; filled by Monitor only
	// Locations are a monitor's locations' states, by location, when it is checked from
	// several (Monitor.Locations > 1): what this instance last heard, each marked fresh or not.
	Locations []probe.LocationResult
}

// Monitors returns every monitor with its last result (not the others: ten thousand monitors'
// recent results would be 72 MB to copy).
func (e *Engine) Monitors() []MonitorSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]MonitorSnapshot, 0, len(e.monitors))
	for _, r := range e.monitors {
		out = append(out, e.snapshotLocked(r))
	}
	return out
}

// Monitor returns one monitor with its recent results, which are the caller's own.
func (e *Engine) Monitor(id string) (MonitorSnapshot, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.monitors[id]
	if !ok {
		return MonitorSnapshot{}, false
	}
	s := e.snapshotLocked(r)
	s.Recent = r.recent.all(id)
	return s, true
}

func (e *Engine) snapshotLocked(r *runner) MonitorSnapshot {
	last, _ := r.recent.last(r.m.ID)
	s := MonitorSnapshot{Monitor: r.m, State: r.recorded(), Paused: r.paused, Last: last}
	if r.located() {
		s.Locations = e.locationResultsLocked(r)
	}
	// A heartbeat's runs only look for missed check-ins: what its owner waits for is the job.
	if e.running && !r.paused && r.job != nil && r.m.Kind != probe.KindHeartbeat && r.probes {
		s.NextRun = r.nextRun
	}
	return s
}

// runSingletonsNow starts a run of every singleton job at once: a new leader does not wait a
// period to take up the work.
func (e *Engine) runSingletonsNow() {
	e.mu.Lock()
	jobs := slices.Clone(e.singletonJobs)
	e.mu.Unlock()
	for _, j := range jobs {
		if err := j.RunNow(); err != nil {
			e.log.Warn("run singleton job", "job", j.Name(), "err", err)
		}
	}
}

// leads reports whether this instance runs the singleton jobs now (always, when alone).
func (e *Engine) leads() bool { return e.leader == nil || e.leader.leading() }

// impactsTick applies open incidents' impacts to the components this instance owns: an
// incident declared through another instance reaches this one here, within SLAEvery.
func (e *Engine) impactsTick(ctx context.Context) {
	now := e.opts.Clock.Now().UTC()
	open, err := e.opts.Store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
	if err != nil {
		e.log.Error("list open incidents", "err", err)
		return
	}
	e.applyImpacts(ctx, open, now)
}

func (e *Engine) instance() string {
	if e.cluster == nil {
		return ""
	}
	return e.cluster.Instance
}

func (e *Engine) memberList() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.members)
}

// gocronLogger adapts slog to gocron's logger.
type gocronLogger struct{ l *slog.Logger }

func (g gocronLogger) Debug(msg string, args ...any) { g.l.Debug(msg, args...) }
func (g gocronLogger) Info(msg string, args ...any)  { g.l.Debug(msg, args...) }
func (g gocronLogger) Warn(msg string, args ...any)  { g.l.Warn(msg, args...) }
func (g gocronLogger) Error(msg string, args ...any) { g.l.Error(msg, args...) }

// followIncidents applies what open incidents do to their components as soon as an incident is
// declared, updated, acknowledged, resolved or reopened, by anyone: a declared outage shows on
// the page at once, not at the next SLA tick. Events queued meanwhile are applied in one pass.
func (e *Engine) followIncidents(ctx context.Context, sub *events.Subscription) {
	defer e.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			handled := 1
			changed := strings.HasPrefix(string(ev.Kind), "incident.")
			windows := strings.HasPrefix(string(ev.Kind), "maintenance.")
			touched := map[string]bool{}
			e.relayTarget(ev) // announce.go
			componentsTouched(ev, touched)
			created := componentCreated(ev)
			for len(sub.C) > 0 { // coalesce what queued meanwhile
				next := <-sub.C
				handled++
				changed = changed || strings.HasPrefix(string(next.Kind), "incident.")
				windows = windows || strings.HasPrefix(string(next.Kind), "maintenance.")
				created = created || componentCreated(next)
				e.relayTarget(next)
				componentsTouched(next, touched)
			}
			if len(touched) > 0 {
				e.followComponents(ctx, touched)
			}
			if created {
				// A component made through the API without monitors is operational from its
				// creation, as one the config declares is from the start (not "no data" until
				// the next restart).
				e.startPeopleManaged(ctx, e.opts.Clock.Now())
			}
			if windows {
				// A window made, changed, cancelled or ended early shows at once, as on the page.
				if ws, err := e.opts.Store.ListWindows(ctx); err != nil {
					e.log.Error("list maintenance windows", "err", err)
				} else {
					e.mu.Lock()
					e.windows = ws
					e.mu.Unlock()
				}
			}
			if changed {
				if open, err := e.opts.Store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true}); err != nil {
					e.log.Error("list open incidents", "err", err)
				} else {
					e.applyImpacts(ctx, open, e.opts.Clock.Now().UTC())
					if e.leads() {
						e.setOpen(open)
					}
				}
			}
			for range handled {
				sub.Done()
			}
		}
	}
}

// componentCreated reports whether ev made a component.
func componentCreated(ev Event) bool {
	return ev.Kind == EventComponentChange && ev.Reason == "created"
}

// componentsTouched are the components whose stored value an event may have changed: its
// recorded status, or the component itself (created, changed or deleted, by the API or the
// config).
func componentsTouched(ev Event, touched map[string]bool) {
	if ev.Kind == EventComponentStatus || ev.Kind == EventComponentChange {
		touched[ev.ComponentID] = true
	}
}

// maxComponentReads is how many components followComponents reads one by one; more are read
// in one list.
const maxComponentReads = 32

// followComponents reads the touched components again, so listed is what the store (and so
// the page) has: the store decides which of two changes at one instant is current, and a
// deleted component is gone.
func (e *Engine) followComponents(ctx context.Context, touched map[string]bool) {
	if len(touched) > maxComponentReads {
		e.listComponents(ctx)
		return
	}
	for id := range touched {
		c, err := e.opts.Store.GetComponent(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.mu.Lock()
			delete(e.listed, id)
			e.mu.Unlock()
		case err != nil:
			e.log.Error("read component", "component_id", id, "err", err) // the components job reads it again
		default:
			e.mu.Lock()
			e.listed[id] = c
			e.mu.Unlock()
		}
	}
}

// listComponents reads the components again from the store: the safety net under
// followComponent (an event missed, a change made through another instance sharing the store).
func (e *Engine) listComponents(ctx context.Context) {
	cs, err := e.opts.Store.ListComponents(ctx)
	if err != nil {
		e.log.Error("list components", "err", err)
		return
	}
	e.mu.Lock()
	e.setListedLocked(cs)
	e.mu.Unlock()
}

func (e *Engine) setListedLocked(cs []component.Component) {
	listed := make(map[string]component.Component, len(cs))
	for _, c := range cs {
		if old, ok := e.listed[c.ID]; ok && old.StatusSince.After(c.StatusSince) {
			// A status recorded (and followed) while the store was being read.
			c.Status, c.StatusSince = old.Status, old.StatusSince
		}
		listed[c.ID] = c
	}
	e.listed = listed
}
