package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/store"
)

// Cluster configures an engine that shares its store with other instances (Redis). Without
// it the engine is alone (SQLite, held by its lock): it owns every monitor and leads always.
type Cluster struct {
	Coordinator store.Coordinator
	// Instance names this instance; unique among the live ones.
	Instance string
	// Location is this instance's location label (docs/deploy.md).
	Location string
	// Lease is the leader lease (default 15s). The leader renews it every Lease/3 and stops its
	// singleton work when a renewal fails, and in any case before Lease has passed since the
	// last renewal it sent, so before another instance can obtain it.
	Lease time.Duration
	// Heartbeat is how often this instance records itself live and reads the live set
	// (default 2s); MemberTimeout how long a silent instance still counts as live (default 10s).
	Heartbeat, MemberTimeout time.Duration
}

func (c *Cluster) validate() error {
	var errs []error
	if c.Coordinator == nil {
		errs = append(errs, errors.New("engine: Cluster.Coordinator is required"))
	}
	if c.Instance == "" {
		errs = append(errs, errors.New("engine: Cluster.Instance is required"))
	}
	if c.Lease <= 0 {
		c.Lease = 15 * time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.MemberTimeout <= 0 {
		c.MemberTimeout = 5 * c.Heartbeat
	}
	if c.MemberTimeout <= c.Heartbeat {
		errs = append(errs, fmt.Errorf("engine: Cluster.MemberTimeout (%s) must be longer than Heartbeat (%s)", c.MemberTimeout, c.Heartbeat))
	}
	return errors.Join(errs...)
}

// leaderLease is the name of the lease the engines elect their leader with.
const leaderLease = "leader"

// errNotLeader is what the elector answers gocron on an instance that does not lead.
var errNotLeader = errors.New("not the leader")

// Singleton is a periodic job that runs on the leader only (on every run, gocron asks the
// elector first; a run in progress is cancelled when the leadership ends). Its context carries
// the term's fencing token (store.FenceFrom) for writes that are not idempotent.
type Singleton struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context)
}

// leader holds the leader lease for the engine and is gocron's Elector for the singleton
// scheduler. One goroutine (run) obtains and renews the lease; IsLeader reads local state only,
// so asking costs no round trip.
type leader struct {
	coord  store.Coordinator
	holder string
	ttl    time.Duration
	clock  clockwork.Clock
	log    *slog.Logger
	gained func() // called when a term begins (runs the singleton jobs at once)
	m      *clusterMetrics

	mu     sync.Mutex
	term   store.Leadership
	until  time.Time          // the term counts until then, by the local clock
	ctx    context.Context    // the term's: cancelled when it ends
	cancel context.CancelFunc // ends ctx
	stopAt clockwork.Timer    // ends the term at until if no renewal moved it
}

var _ gocron.Elector = (*leader)(nil)

// renewEvery is how often the leader renews, and a candidate tries, the lease.
func renewEvery(ttl time.Duration) time.Duration { return ttl / 3 }

// leadUntil is how long a term counts after a renewal sent at sent: the lease runs out in the
// store at the earliest ttl after sent (the store set it after receiving it), so stopping a
// tenth earlier leaves room for clocks that run at slightly different rates.
func leadUntil(sent time.Time, ttl time.Duration) time.Time { return sent.Add(ttl - ttl/10) }

// IsLeader is gocron's question before each run of a singleton job: nil if this instance
// leads now.
func (l *leader) IsLeader(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == nil || !l.clock.Now().Before(l.until) {
		return errNotLeader
	}
	return nil
}

// leading reports whether this instance leads now.
func (l *leader) leading() bool { return l.IsLeader(context.Background()) == nil }

// termContext returns a context for one run of a singleton job: ended with ctx or with the
// term, carrying the term's fencing token; false if there is no term.
func (l *leader) termContext(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	l.mu.Lock()
	term, tctx := l.term, l.ctx
	l.mu.Unlock()
	if term == nil {
		return nil, nil, false
	}
	rctx, cancel := context.WithCancel(store.WithFence(ctx, store.Fence{Lease: leaderLease, Token: term.Token()}))
	stop := context.AfterFunc(tctx, cancel)
	return rctx, func() { stop(); cancel() }, true
}

// run obtains and renews the lease until ctx ends, then gives it up.
func (l *leader) run(ctx context.Context) {
	for {
		wait := l.step(ctx)
		select {
		case <-ctx.Done():
			l.mu.Lock()
			term := l.term
			l.mu.Unlock()
			l.end("stopping")
			if term != nil { // let another take over at once rather than after the lease
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				_ = term.Release(rctx)
				cancel()
			}
			return
		case <-l.clock.After(wait):
		}
	}
}

// step renews the lease if this instance holds it, or tries to obtain it, and returns how long
// to wait before the next step.
func (l *leader) step(ctx context.Context) time.Duration {
	every := renewEvery(l.ttl)
	l.mu.Lock()
	term := l.term
	l.mu.Unlock()
	sent := l.clock.Now()
	// A round trip that takes longer than a renewal period has failed: the next one would
	// come too late.
	rctx, cancel := context.WithTimeout(ctx, every)
	defer cancel()
	if term != nil {
		if err := term.Refresh(rctx, l.ttl); err != nil {
			if ctx.Err() == nil {
				l.end(fmt.Sprintf("renewal failed: %v", err))
			}
			return every / 4 // try to lead again soon: the lease may still be free
		}
		l.renewed(term, sent)
		return every
	}
	term, err := l.coord.ObtainLeadership(rctx, leaderLease, l.holder, l.ttl)
	var held *store.LeadershipHeldError
	switch {
	case err == nil:
		l.begin(ctx, term, sent)
		return every
	case errors.As(err, &held) && held.Remaining > 0:
		// Try again just after it runs out, rather than up to a whole period later.
		return min(every, held.Remaining+5*time.Millisecond)
	case errors.Is(err, store.ErrLeadershipHeld):
		return every
	default:
		if ctx.Err() == nil {
			l.m.leaseFailures.Inc()
			l.log.Debug("obtain the leader lease", "err", err)
		}
		return every
	}
}

func (l *leader) begin(ctx context.Context, term store.Leadership, sent time.Time) {
	l.mu.Lock()
	l.term = term
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.until = leadUntil(sent, l.ttl)
	l.stopAt = l.clock.AfterFunc(l.until.Sub(l.clock.Now()), func() { l.expire(term) })
	l.mu.Unlock()
	l.log.Info("leading: singleton jobs run here", "instance", l.holder, "fencing_token", term.Token())
	l.m.leader.Set(1)
	l.m.terms.Inc()
	l.gained()
}

func (l *leader) renewed(term store.Leadership, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term != term {
		return
	}
	l.until = leadUntil(sent, l.ttl)
	l.stopAt.Reset(l.until.Sub(l.clock.Now()))
}

// expire ends the term when no renewal moved its end in time (the store does not answer).
func (l *leader) expire(term store.Leadership) {
	l.mu.Lock()
	current := l.term == term && !l.clock.Now().Before(l.until)
	l.mu.Unlock()
	if current {
		l.end("no renewal before the lease could run out")
	}
}

// end ends the term, if any: IsLeader answers no from now on and running singleton jobs are
// cancelled.
func (l *leader) end(why string) {
	l.mu.Lock()
	term, cancel := l.term, l.cancel
	if term == nil {
		l.mu.Unlock()
		return
	}
	l.term, l.cancel, l.ctx = nil, nil, nil
	l.until = time.Time{}
	l.stopAt.Stop()
	l.mu.Unlock()
	cancel()
	l.m.leader.Set(0)
	l.log.Warn("no longer leading: singleton jobs stopped here", "instance", l.holder, "fencing_token", term.Token(), "why", why)
}

// singleton wraps a singleton job's function: it runs only within a term, with the term's
// context.
func (l *leader) singleton(fn func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		tctx, cancel, ok := l.termContext(ctx)
		if !ok {
			return
		}
		defer cancel()
		fn(tctx)
	}
}

// alwaysLeads is the elector of an engine that is alone.
type alwaysLeads struct{}

func (alwaysLeads) IsLeader(context.Context) error { return nil }

// Elector is the engine's leader election in the shape of gocron's Elector (and of
// notify.Leader): nil while this instance leads, so other singleton work can follow the same
// leader. An engine that is alone always leads.
func (e *Engine) Elector() gocron.Elector {
	if e.leader == nil {
		return alwaysLeads{}
	}
	return e.leader
}
