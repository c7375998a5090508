package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Retry is how failed deliveries are tried again: exponential backoff from Min to Max, with
// equal jitter (half the backoff fixed, half random, so receivers that failed together are not
// all retried together), until DeadAfter from the notification's creation, when it is dead.
type Retry struct {
	Min, Max  time.Duration
	DeadAfter time.Duration
	// Jitter returns a number in [0, 1) (default math/rand; tests fix it).
	Jitter func() float64
}

// Retry defaults.
const (
	DefaultRetryMin  = 10 * time.Second
	DefaultRetryMax  = time.Hour
	DefaultDeadAfter = 24 * time.Hour
)

// Backoff is the wait before the attempt after attempt number n (1 for the first) failed.
func (r Retry) Backoff(n int) time.Duration {
	d := r.Min
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	return d/2 + time.Duration(r.Jitter()*float64(d/2))
}

// Dispatcher delivers what is due in the outbox: it claims rows, sends each through its
// target's channel (at most the target's max_in_flight at once, at most Workers in all), and
// records the outcome: delivered, retried later, or dead.
type Dispatcher struct {
	store    Store
	door     *service.Notifications
	channels *Channels
	retry    Retry
	clock    clockwork.Clock
	log      *slog.Logger
	metrics  *metrics
	workers  int
	hold     time.Duration // how long a claim lasts: a delivery that outlives it may be repeated
	autoHold bool          // hold is the default: it follows the targets' timeouts

	mu      sync.Mutex
	queued  map[string][]store.Notification // claimed, waiting for a slot of their target
	busy    map[string]int                  // in flight per target
	held    map[string]bool                 // ids claimed and not finished
	running int
	wg      sync.WaitGroup
	wake    chan struct{} // a delivery finished: there is room to claim more
}

// DefaultWorkers bounds the deliveries in flight across targets.
const DefaultWorkers = 64

// perTargetQueue bounds the claimed rows one target may hold waiting for a slot; more are given
// back to the store at once (a slow target does not hold everyone else's rows in memory).
const perTargetQueue = 256

// ClaimHold is how long a claim lasts by default: five of the longest target timeouts and half
// a minute, so a delivery in flight is never handed out again while it may still succeed.
func ClaimHold(channels *Channels) time.Duration {
	longest := time.Duration(0)
	for _, t := range channels.AllTargets() {
		longest = max(longest, t.Timeout)
	}
	if longest == 0 {
		longest = DefaultTimeout
	}
	return 5*longest + 30*time.Second
}

func newDispatcher(st Store, door *service.Notifications, channels *Channels, retry Retry, workers int, hold time.Duration, m *metrics, clock clockwork.Clock, log *slog.Logger) *Dispatcher {
	return &Dispatcher{store: st, door: door, channels: channels, retry: retry, clock: clock, log: log, metrics: m, workers: workers,
		hold: hold, queued: map[string][]store.Notification{}, busy: map[string]int{}, held: map[string]bool{},
		wake: make(chan struct{}, 1)}
}

// capacity is how many claimed rows the dispatcher holds at most.
func (d *Dispatcher) capacity() int { return 16 * d.workers }

// Pump claims what is due (as much as there is room for) and starts what can start. It returns
// how many rows it claimed; deliveries go on in the background (Wait waits for them).
func (d *Dispatcher) Pump(ctx context.Context) (int, error) {
	d.mu.Lock()
	room := d.capacity() - len(d.held)
	d.mu.Unlock()
	if room <= 0 {
		return 0, nil
	}
	now := d.clock.Now().UTC()
	hold := d.hold
	if d.autoHold { // a target made through the API since may have a longer timeout
		hold = max(hold, ClaimHold(d.channels))
	}
	claimed, err := d.door.Claim(ctx, now, now.Add(hold), min(room, 256))
	if err != nil {
		return 0, err
	}
	var back []store.Notification
	d.mu.Lock()
	for _, n := range claimed {
		if d.held[n.ID] {
			continue // still queued here from an earlier claim that ran out; that copy is dropped when reached
		}
		if len(d.queued[n.Target]) >= perTargetQueue {
			back = append(back, n)
			continue
		}
		d.held[n.ID] = true
		d.queued[n.Target] = append(d.queued[n.Target], n)
	}
	d.startReady(ctx)
	d.mu.Unlock()
	for _, n := range back {
		d.postpone(ctx, n, now.Add(time.Second), "")
	}
	return len(claimed), nil
}

// Wait waits until every delivery started has finished.
func (d *Dispatcher) Wait() { d.wg.Wait() }

// Idle reports whether nothing is claimed or in flight.
func (d *Dispatcher) Idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.held) == 0
}

// startReady starts the queued rows whose targets have a free slot, while workers are free.
// d.mu is held.
func (d *Dispatcher) startReady(ctx context.Context) {
	for target, q := range d.queued {
		t, ok := d.channels.Target(target)
		limit := t.MaxInFlight
		if !ok || limit <= 0 {
			limit = 1
		}
		for len(q) > 0 && d.busy[target] < limit && d.running < d.workers {
			n := q[0]
			q = q[1:]
			d.busy[target]++
			d.running++
			d.wg.Add(1)
			go d.deliver(ctx, n)
		}
		if len(q) == 0 {
			delete(d.queued, target)
		} else {
			d.queued[target] = q
		}
	}
}

func (d *Dispatcher) deliver(ctx context.Context, n store.Notification) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		d.busy[n.Target]--
		d.running--
		delete(d.held, n.ID)
		if ctx.Err() == nil {
			d.startReady(ctx)
		}
		d.mu.Unlock()
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}()
	now := d.clock.Now().UTC()
	if !now.Before(n.NextAt) {
		return // its claim ran out while it waited for a slot: the store hands it out again
	}
	if skip := d.precheck(ctx, n, now); skip {
		return
	}
	var msg Message
	if err := json.Unmarshal(n.Payload, &msg); err != nil {
		d.finish(ctx, n, &Permanent{Err: err}, 0)
		return
	}
	start := d.clock.Now()
	err := d.channels.Send(ctx, Delivery{Notification: n, Message: msg})
	d.finish(ctx, n, err, d.clock.Since(start))
}

// precheck handles what must not be sent now: an escalation or reminder for an incident since
// acknowledged or resolved is cancelled; an acknowledgement or resolution whose page has not
// been delivered yet to the same target waits for it (a resolve must never overtake its
// trigger). It reports whether the row was dealt with.
func (d *Dispatcher) precheck(ctx context.Context, n store.Notification, now time.Time) bool {
	if (n.Kind == "escalation" || n.Kind == "repeat") && n.IncidentID != "" {
		inc, err := d.store.GetIncident(ctx, n.IncidentID)
		if err == nil && (!inc.Open() || !inc.AcknowledgedAt.IsZero()) {
			n.State, n.LastError = store.NotificationCancelled, "not sent: the incident was acknowledged or resolved first"
			d.record(ctx, n, now, "cancelled")
			return true
		}
	}
	if (n.Action == "acknowledge" || n.Action == "resolve") && n.DedupKey != "" {
		earlier, err := d.store.ListNotifications(ctx, store.NotificationQuery{DedupKey: n.DedupKey, Target: n.Target,
			States: []store.NotificationState{store.NotificationPending, store.NotificationSending}})
		if err != nil {
			d.postpone(ctx, n, now.Add(time.Second), "")
			return true
		}
		for _, e := range earlier {
			if e.ID != n.ID && e.Recipient == n.Recipient && !e.CreatedAt.After(n.CreatedAt) && e.Action == "trigger" {
				at := now // being sent now: look again in a second
				if e.State == store.NotificationPending && e.NextAt.After(now) {
					at = e.NextAt // its next try
				}
				d.postpone(ctx, n, at.Add(time.Second), "waiting for "+e.ID+" to be delivered first")
				return true
			}
		}
	}
	return false
}

// postpone gives a claimed row back without counting the attempt.
func (d *Dispatcher) postpone(ctx context.Context, n store.Notification, at time.Time, why string) {
	n.State, n.NextAt, n.Attempts = store.NotificationPending, at, n.Attempts-1
	if why != "" {
		n.LastError = why
	}
	d.record(ctx, n, d.clock.Now().UTC(), "postponed")
}

// finish records the outcome of an attempt.
func (d *Dispatcher) finish(ctx context.Context, n store.Notification, err error, took time.Duration) {
	now := d.clock.Now().UTC()
	d.metrics.duration.WithLabelValues(n.Channel).Observe(took.Seconds())
	var perm *Permanent
	var ra *RetryAfter
	var cancel *Cancel
	switch {
	case err == nil:
		n.State, n.DeliveredAt, n.LastError = store.NotificationDelivered, now, ""
		d.record(ctx, n, now, "delivered")
		return
	case errors.As(err, &cancel): // no longer owed (a subscriber who left): not a failure
		n.State, n.LastError = store.NotificationCancelled, clip(err.Error(), 500)
		d.record(ctx, n, now, "cancelled")
		return
	case errors.As(err, &perm):
		n.State, n.LastError = store.NotificationDead, clip(err.Error(), 500)
		d.log.Warn("notification dead", "notification_id", n.ID, "target", n.Target, "attempts", n.Attempts, "err", err)
		d.record(ctx, n, now, "dead")
		return
	}
	n.LastError = clip(err.Error(), 500)
	wait := d.retry.Backoff(n.Attempts)
	if errors.As(err, &ra) {
		wait = max(wait, ra.After)
	}
	if next := now.Add(wait); d.retry.DeadAfter > 0 && !next.Before(n.CreatedAt.Add(d.retry.DeadAfter)) {
		n.State = store.NotificationDead
		d.log.Warn("notification dead: retried for too long", "notification_id", n.ID, "target", n.Target, "attempts", n.Attempts, "err", err)
		d.record(ctx, n, now, "dead")
		return
	}
	n.State, n.NextAt = store.NotificationPending, now.Add(wait)
	d.log.Info("notification not delivered; will retry", "notification_id", n.ID, "target", n.Target, "attempt", n.Attempts, "next_at", n.NextAt, "err", err)
	d.record(ctx, n, now, "failed")
}

// record stores n's new state (its version one more than claimed) and counts the result.
func (d *Dispatcher) record(ctx context.Context, n store.Notification, now time.Time, result string) {
	n.UpdatedAt, n.Version = now, n.Version+1
	err := d.door.Finish(context.WithoutCancel(ctx), n)
	switch {
	case errors.Is(err, store.ErrConflict):
		d.log.Info("notification changed by an operator during its attempt; their change stands", "notification_id", n.ID, "result", result)
	case err != nil:
		// The claim runs out and the row is attempted again: at least once, never lost.
		d.log.Error("record notification outcome", "notification_id", n.ID, "result", result, "err", err)
	}
	if result != "postponed" {
		d.metrics.total.WithLabelValues(n.Channel, result).Inc()
	}
}
