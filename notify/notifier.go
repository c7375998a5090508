package notify

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

type metrics struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	waiting  prometheus.Gauge
	oldest   prometheus.Gauge
	dead     prometheus.Gauge
	leader   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "upstate_notifications_total",
			Help: "Delivery attempts by channel and result: delivered, failed (to be retried), dead, cancelled."}, []string{"channel", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "upstate_notification_delivery_seconds",
			Help: "How long one delivery attempt took.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}, []string{"channel"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_notifications_waiting",
			Help: "Notifications in the outbox not yet delivered, dead or cancelled (the queue's depth)."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_notifications_oldest_waiting_seconds",
			Help: "Age of the oldest notification still waiting (0 when none is)."}),
		dead: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_notifications_dead",
			Help: "Notifications given up (the dead letters), until retried or pruned."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_notifications_dispatching",
			Help: "1 while this instance holds the dispatcher's lease."}),
	}
	for _, r := range []string{"delivered", "failed", "dead", "cancelled"} {
		for _, ch := range []Kind{KindEmail, KindWebhook, KindChat, KindPagerDuty} {
			m.total.WithLabelValues(string(ch), r)
		}
	}
	if reg != nil {
		reg.MustRegister(m.total, m.duration, m.waiting, m.oldest, m.dead, m.leader)
	}
	return m
}

// Leader says whether this instance may do the singleton work now: nil when it may. It has the
// shape of gocron's Elector, so the several-instances work can hand the dispatcher its elector.
type Leader interface {
	IsLeader(ctx context.Context) error
}

// ErrNotLeader: another instance holds the lease.
var ErrNotLeader = errors.New("another instance dispatches notifications")

// LeaseName is the dispatcher's lease in the store.
const LeaseName = "notify"

// storeLease is a Leader on the store's lease, renewed when a third of its time has passed.
type storeLease struct {
	door    *service.Notifications
	holder  string
	ttl     time.Duration
	clock   clockwork.Clock
	mu      sync.Mutex
	renewAt time.Time // while before it, the lease is known held
}

func (l *storeLease) IsLeader(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if now.Before(l.renewAt) {
		return nil
	}
	lease, held, err := l.door.TakeLease(ctx, LeaseName, l.holder, now, l.ttl)
	if err != nil {
		l.renewAt = time.Time{}
		return err
	}
	if !held {
		l.renewAt = time.Time{}
		return fmt.Errorf("%w (%s, until %s)", ErrNotLeader, lease.Holder, lease.Expires.Format(time.RFC3339))
	}
	l.renewAt = now.Add(l.ttl / 3)
	return nil
}

func (l *storeLease) release(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.renewAt.IsZero() {
		_ = l.door.GiveUpLease(ctx, LeaseName, l.holder)
		l.renewAt = time.Time{}
	}
}

// Options configure a Notifier.
type Options struct {
	Store    Store
	Door     *service.Notifications
	Channels *Channels
	Rules    Rules
	Page     Page
	Retry    Retry
	Workers  int // deliveries in flight across targets (default 64)
	// ClaimHold is how long a claimed notification stays with this dispatcher before another
	// (or this one after a restart) may take it again (default ClaimHold(Channels)). A
	// dispatcher that dies mid-delivery leaves its claims to run out.
	ClaimHold time.Duration
	// Poll is how often the journal and the outbox are read when nothing wakes the notifier
	// (another instance's changes, retries coming due; default 1 s). TickEvery is how often
	// open incidents are looked at for escalations and repeats (default 5 s).
	Poll, TickEvery time.Duration
	// Retention is how long delivered, dead and cancelled notifications and read journal
	// entries are kept (default 30 days).
	Retention time.Duration
	// Leader decides who dispatches (default: the store's lease, LeaseTTL long, as Instance).
	Leader   Leader
	Instance string
	LeaseTTL time.Duration
	Bus      *events.Bus // wakes the router at once on a local change (nil: polling only)
	Clock    clockwork.Clock
	Logger   *slog.Logger
	Registry prometheus.Registerer
}

// Notifier runs the router and the dispatcher while this instance holds the lease.
type Notifier struct {
	o          Options
	Router     *Router
	Dispatcher *Dispatcher
	lease      *storeLease
	metrics    *metrics
	log        *slog.Logger
}

// Defaults.
const (
	DefaultPoll      = time.Second
	DefaultTickEvery = 5 * time.Second
	DefaultRetention = 30 * 24 * time.Hour
	DefaultLeaseTTL  = 15 * time.Second
)

// New builds a notifier; nothing runs until Run.
func New(o Options) (*Notifier, error) {
	if o.Store == nil || o.Door == nil || o.Channels == nil {
		return nil, errors.New("notify: Store, Door and Channels are required")
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "notify")
	if o.Retry.Min <= 0 {
		o.Retry.Min = DefaultRetryMin
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = DefaultRetryMax
	}
	if o.Retry.DeadAfter <= 0 {
		o.Retry.DeadAfter = DefaultDeadAfter
	}
	if o.Retry.Jitter == nil {
		o.Retry.Jitter = rand.Float64
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	autoHold := o.ClaimHold <= 0
	if autoHold {
		o.ClaimHold = ClaimHold(o.Channels)
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.TickEvery <= 0 {
		o.TickEvery = DefaultTickEvery
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Instance == "" {
		o.Instance = InstanceName()
	}
	m := newMetrics(o.Registry)
	n := &Notifier{o: o, metrics: m, log: log,
		Router:     NewRouter(o.Store, o.Door, o.Channels, o.Rules, o.Page, o.Clock, log),
		Dispatcher: newDispatcher(o.Store, o.Door, o.Channels, o.Retry, o.Workers, o.ClaimHold, m, o.Clock, log)}
	n.Dispatcher.autoHold = autoHold
	if o.Leader == nil {
		n.lease = &storeLease{door: o.Door, holder: o.Instance, ttl: o.LeaseTTL, clock: o.Clock}
		n.o.Leader = n.lease
	}
	return n, nil
}

// IsLeader asks the notifier's Leader whether this instance dispatches now.
func (n *Notifier) IsLeader(ctx context.Context) error { return n.o.Leader.IsLeader(ctx) }

// InstanceName names this process for the lease: host, pid and a random suffix.
func InstanceName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = crand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Run routes and dispatches until ctx ends, while this instance is the leader; then it waits
// for the deliveries in flight (each bounded by its target's timeout) and gives the lease up.
// On every instance, leader or not, it keeps the targets made through the admin API current.
func (n *Notifier) Run(ctx context.Context) error {
	var wake <-chan events.Event // a local change: route it now rather than at the next poll
	done := func() {}
	if n.o.Bus != nil {
		sub := n.o.Bus.SubscribeTracked(64)
		defer sub.Close()
		wake, done = sub.C, sub.Done
	}
	var lastSync time.Time
	syncTargets := func(why string) {
		if err := n.o.Channels.Sync(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("load the targets made through the admin API", "why", why, "err", err)
			return
		}
		lastSync = n.o.Clock.Now()
	}
	syncTargets("start")
	n.log.Info("notifications started", "targets", len(n.o.Channels.TargetIDs()), "routes", len(n.o.Rules.Routes), "instance", n.o.Instance)
	var lastTick, lastStats, lastPrune time.Time
	leading := false
	for {
		now := n.o.Clock.Now()
		err := n.o.Leader.IsLeader(ctx)
		switch {
		case err == nil && !leading:
			n.log.Info("dispatching notifications: this instance holds the lease")
			leading = true
			syncTargets("leading") // whatever was announced while another led
		case err != nil && leading:
			n.log.Warn("stopped dispatching notifications: the lease is lost", "err", err)
			leading = false
			n.Router.reset()
		}
		n.metrics.leader.Set(b2f(leading))
		if leading {
			if _, err := n.Router.Step(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("route notifications", "err", err)
			}
			if now.Sub(lastTick) >= n.o.TickEvery {
				if _, err := n.Router.Tick(ctx); err != nil && ctx.Err() == nil {
					n.log.Error("escalate incidents", "err", err)
				}
				lastTick = now
			}
			if _, err := n.Dispatcher.Pump(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("claim notifications", "err", err)
			}
			if now.Sub(lastPrune) >= time.Hour {
				n.prune(ctx, now)
				lastPrune = now
			}
		}
		if now.Sub(lastSync) >= TargetSyncEvery {
			syncTargets("every " + TargetSyncEvery.String()) // announcements are at most once
		}
		if now.Sub(lastStats) >= 5*time.Second {
			n.stats(ctx, now)
			lastStats = now
		}
		wait := n.o.Poll
		if next := n.Router.NextGroup(); !next.IsZero() {
			wait = max(min(wait, next.Sub(now)), time.Millisecond)
		}
		select {
		case <-ctx.Done():
			n.Dispatcher.Wait()
			if n.lease != nil {
				stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				n.lease.release(stop)
				cancel()
			}
			n.log.Info("notifications stopped")
			return nil
		case ev, ok := <-wake:
			if !ok {
				wake = nil
				continue
			}
			if ev.Kind == events.TargetChanged { // here, or on another instance (the engine relays those)
				syncTargets("changed")
			}
			done()
		case <-n.Dispatcher.wake:
		case <-n.o.Clock.After(wait):
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Stats refreshes the queue gauges now (Run does every few seconds).
func (n *Notifier) Stats(ctx context.Context) { n.stats(ctx, n.o.Clock.Now()) }

// stats refreshes the queue gauges.
func (n *Notifier) stats(ctx context.Context, now time.Time) {
	st, err := n.o.Store.OutboxStats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("outbox stats", "err", err)
		}
		return
	}
	n.metrics.waiting.Set(float64(st.ByState[store.NotificationPending] + st.ByState[store.NotificationSending]))
	n.metrics.dead.Set(float64(st.ByState[store.NotificationDead]))
	age := 0.0
	if !st.OldestWaiting.IsZero() {
		age = max(now.Sub(st.OldestWaiting).Seconds(), 0)
	}
	n.metrics.oldest.Set(age)
}

// prune deletes what the retention no longer keeps.
func (n *Notifier) prune(ctx context.Context, now time.Time) {
	upTo, err := n.o.Store.JournalCursor(ctx, JournalReader)
	if err != nil {
		return
	}
	j, o, err := n.o.Door.Prune(ctx, upTo, now.Add(-n.o.Retention))
	if err != nil {
		n.log.Error("prune notifications", "err", err)
		return
	}
	if j+o > 0 {
		n.log.Info("pruned notifications", "journal_entries", j, "notifications", o)
	}
}

// TargetSyncEvery is how often the targets made through the admin API are loaded again even
// when no change was heard (an announcement missed while cut from the store).
const TargetSyncEvery = 30 * time.Second
