package engine

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// When the store does not answer (Redis restarts, or is away for a minute), probes go on from
// memory and the state changes they cause wait here, in order, to be written when it is back:
// monitor transitions, component status changes, and the automatic incidents they open or
// resolve. The queue is bounded (Options.MaxPendingWrites); what does not fit is dropped and
// counted. It lives in memory: a process that ends while the store is away loses it (and logs
// how much). Rollups are kept apart, merged per bucket, until a flush succeeds.

// DefaultMaxPendingWrites bounds the state changes kept while the store is away.
const DefaultMaxPendingWrites = 10000

type pendingKind uint8

const (
	pendingTransition pendingKind = iota // a monitor transition
	pendingStatus                        // a component status change
	pendingOutage                        // an automatic incident to open or resolve
)

// pendingWrite is one state change to make durable.
type pendingWrite struct {
	kind        pendingKind
	componentID string
	tr          probe.Transition // transition, outage
	maint       bool             // the component was under maintenance at the change
	change      component.Change // status
	from        component.Status // status
	next        component.Status // outage: the component's status from its monitors
}

type pendingWrites struct {
	mu      sync.Mutex
	q       []pendingWrite
	max     int
	depth   prometheus.Gauge
	dropped *prometheus.CounterVec
}

func newPendingWrites(max int, reg prometheus.Registerer) *pendingWrites {
	p := &pendingWrites{max: max,
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_pending_writes",
			Help: "State changes waiting for the store to answer (written in order when it does)."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "upstate_pending_writes_dropped_total",
			Help: "State changes given up: the queue was full, or the store refused one for good."}, []string{"reason"}),
	}
	reg.MustRegister(p.depth, p.dropped)
	return p
}

func (p *pendingWrites) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.q)
}

// push queues w; false if the queue is full (w is dropped and counted).
func (p *pendingWrites) push(w pendingWrite) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) >= p.max {
		p.dropped.WithLabelValues("full").Inc()
		return false
	}
	p.q = append(p.q, w)
	p.depth.Set(float64(len(p.q)))
	return true
}

func (p *pendingWrites) peek() (pendingWrite, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return pendingWrite{}, false
	}
	return p.q[0], true
}

func (p *pendingWrites) pop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.q[0] = pendingWrite{}
	p.q = p.q[1:]
	if len(p.q) == 0 {
		p.q = nil // let the backing array go
	}
	p.depth.Set(float64(len(p.q)))
}

// permanent reports whether the store refused a write for good: retrying would not help.
func permanent(err error) bool {
	var invalid *service.ValidationError
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrFenced) ||
		errors.Is(err, incidents.ErrInvalidState) || errors.Is(err, maintenance.ErrInvalidState) || errors.As(err, &invalid)
}

// write makes a state change durable, or keeps it for later when the store does not take it,
// or when earlier changes still wait (their order matters: an incident is opened before it is
// resolved).
func (e *Engine) write(ctx context.Context, w pendingWrite) {
	if e.pending.len() == 0 {
		err := e.apply(ctx, w)
		if err == nil {
			return
		}
		if permanent(err) {
			e.pending.dropped.WithLabelValues("refused").Inc()
			e.log.Error("state change refused by the store", "component_id", w.componentID, "monitor", w.tr.MonitorID, "err", err)
			return
		}
		e.log.Warn("store unavailable: state change kept until it answers", "component_id", w.componentID, "monitor", w.tr.MonitorID, "err", err)
	}
	if !e.pending.push(w) {
		e.log.Error("pending state changes full: one dropped", "component_id", w.componentID, "monitor", w.tr.MonitorID, "max", e.pending.max)
	}
}

func (e *Engine) apply(ctx context.Context, w pendingWrite) error {
	switch w.kind {
	case pendingTransition:
		return e.svc.Monitors.RecordTransition(ctx, w.tr, w.componentID, w.maint)
	case pendingStatus:
		return e.svc.Monitors.RecordStatus(ctx, w.change, w.from, w.maint)
	default:
		return e.onComponentChange(ctx, w.componentID, w.next, w.tr, w.maint)
	}
}

// replayPending writes the waiting state changes in order, until the store fails one.
func (e *Engine) replayPending(ctx context.Context) {
	n := 0
	for {
		w, ok := e.pending.peek()
		if !ok {
			break
		}
		if err := e.apply(ctx, w); err != nil {
			if !permanent(err) {
				if n > 0 {
					e.log.Info("pending state changes written", "written", n, "left", e.pending.len())
				}
				return
			}
			e.pending.dropped.WithLabelValues("refused").Inc()
			e.log.Error("pending state change refused by the store", "component_id", w.componentID, "monitor", w.tr.MonitorID, "err", err)
		}
		e.pending.pop()
		n++
	}
	if n > 0 {
		e.log.Info("pending state changes written", "written", n)
	}
}
