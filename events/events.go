// Package events is Upstate's one stream of what happened: every change, by a person through
// the admin API or the CLI, by the config file, or by a monitor, is published here once, after it
// is stored. The engine, the page cache and notifications listen.
//
// An event carries enough to render a message without another read: ids, the state before and
// after, the times, who did it, and (for incidents, windows and components) the whole value after
// the change.
package events

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
)

// Kind names what happened.
type Kind string

// The kinds of event. Each change publishes exactly one.
const (
	MonitorState     Kind = "monitor.state"     // a monitor's state changed (From, To, Reason)
	ComponentStatus  Kind = "component.status"  // a component's measured status changed (From, To)
	ComponentChanged Kind = "component.changed" // created, updated or deleted (From/To: "" when absent)

	IncidentDeclared     Kind = "incident.declared" // by a person, a backfill, or a monitor (Incident.Automatic)
	IncidentUpdated      Kind = "incident.updated"
	IncidentAcknowledged Kind = "incident.acknowledged"
	IncidentResolved     Kind = "incident.resolved"
	IncidentReopened     Kind = "incident.reopened"

	MaintenanceScheduled   Kind = "maintenance.scheduled"   // a window was created (announced)
	MaintenanceRescheduled Kind = "maintenance.rescheduled" // its schedule, text or one occurrence's end changed
	MaintenanceCancelled   Kind = "maintenance.cancelled"   // the series, or one occurrence (Scheduled set)
	MaintenanceDeleted     Kind = "maintenance.deleted"     // a window that never started was deleted (Window: as it was)
	MaintenanceReminder    Kind = "maintenance.reminder"    // an occurrence starts in Before
	MaintenanceStarted     Kind = "maintenance.started"
	MaintenanceEnded       Kind = "maintenance.ended" // at its end, or ended early by a person

	SLAWarning  Kind = "sla.warning"  // a clock passed its warning point
	SLABreached Kind = "sla.breached" // a clock passed its deadline unmet
	BudgetBurn  Kind = "budget.burn"  // a component burns its error budget fast (Severity page or ticket)

	KeyCreated Kind = "key.created" // Reason: the key's id
	KeyRevoked Kind = "key.revoked" // Reason: the key's id; key caches forget it at once

	// TargetChanged: a notification target made through the admin API was created, changed or
	// deleted (Reason: its id; To: created, updated or deleted; From: the instance it was made
	// on, when another instance's engine relayed it here). Every instance's channels load the
	// targets again; nothing is routed for it.
	TargetChanged Kind = "target.changed"

	// NotificationChanged: an operator retried or cancelled a notification (Reason: its id;
	// To: its new state). Notifications are never about notifications.
	NotificationChanged Kind = "notification.changed"

	// Subscribers (SubscriberID; never the address): what their own mails are about. None
	// changes the page, and none is routed to the SREs' targets.
	SubscriberRequested Kind = "subscriber.requested" // asked, or asked again while pending: a confirmation mail is owed
	SubscriberReminded  Kind = "subscriber.reminded"  // asked again while subscribed: their manage link is mailed
	SubscriberConfirmed Kind = "subscriber.confirmed" // by their link, or added confirmed by an operator
	SubscriberUpdated   Kind = "subscriber.updated"   // chose other components or language, or resumed
	SubscriberSuspended Kind = "subscriber.suspended" // a webhook that kept failing: its contact is mailed
	SubscriberRemoved   Kind = "subscriber.removed"   // left, was removed, or never confirmed: deleted
)

// AboutSubscriber reports whether k is one of the subscriber kinds.
func (k Kind) AboutSubscriber() bool { return strings.HasPrefix(string(k), "subscriber.") }

// Event is one thing that happened.
type Event struct {
	ID    string    `json:"id"` // unique, for idempotent consumers (the notification outbox)
	Kind  Kind      `json:"kind"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor,omitempty"` // who: an API key's name, "config", "cli", "monitor:<id>", "system"

	ComponentID string `json:"component_id,omitempty"`
	MonitorID   string `json:"monitor_id,omitempty"`
	From        string `json:"from,omitempty"` // the status or state before
	To          string `json:"to,omitempty"`   // and after
	Reason      string `json:"reason,omitempty"`
	// Maintenance events: the window, the occurrence (by its scheduled start), its components,
	// and for reminders how long before the start they are sent.
	WindowID   string        `json:"window_id,omitempty"`
	Scheduled  time.Time     `json:"scheduled,omitzero"`
	Components []string      `json:"components,omitempty"`
	Before     time.Duration `json:"before,omitempty"`
	// Resumed: a monitor's first change after Upstate started again, the state it had when
	// Upstate stopped. Notifications carry on from it: down at the stop and down again is no
	// new monitor.down; down at the stop and up now is a monitor.up.
	Resumed string `json:"resumed,omitempty"`
	// UnderMaintenance marks a monitor or component change inside a maintenance occurrence of
	// that component: it opens no incident and sends no alert.
	UnderMaintenance bool `json:"under_maintenance,omitempty"`
	// Incident, SLA and burn-rate events.
	IncidentID string `json:"incident_id,omitempty"`
	Severity   string `json:"severity,omitempty"`
	Clock      string `json:"clock,omitempty"`
	// Alert names a burn-rate alert: its objective, long and short windows ("availability/1h/5m").
	// With ComponentID and Severity it tells one alert of the table from another.
	Alert string `json:"alert,omitempty"`
	// Subscriber events: which subscriber (docs/subscribers.md).
	SubscriberID string `json:"subscriber_id,omitempty"`

	// The value after the change, where there is one.
	Incident  *incidents.Incident  `json:"incident,omitempty"`
	Window    *maintenance.Window  `json:"window,omitempty"`
	Component *component.Component `json:"component,omitempty"`
}

// NewID makes an event id: time-ordered, unique across instances.
func NewID(at time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ev-" + strconv.FormatInt(at.UnixMilli(), 36) + "-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// DerivedID makes an event id from what the event says: its kind, time and what it is about.
// Events a job derives from stored state (a transition, a maintenance occurrence starting, a
// burn-rate alert) get it, so deriving one again after a restart names the same event and the
// journal keeps it once. A burn-rate alert's time is when its episode began, and its Alert
// names the windows, so two alerts of one component and severity at one tick (1h/5m and
// 6h/30m) are two events.
func DerivedID(e Event) string {
	h := sha256.New()
	fields := []string{string(e.Kind), strconv.FormatInt(e.At.UnixMilli(), 10), e.MonitorID, e.ComponentID, e.From, e.To,
		e.WindowID, strconv.FormatInt(e.Scheduled.UnixMilli(), 10), e.Before.String(), e.IncidentID, e.Clock, e.Severity}
	if e.Alert != "" { // only then, so the ids of every other event stay what they were
		fields = append(fields, e.Alert)
	}
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return "ev-" + strconv.FormatInt(e.At.UnixMilli(), 36) + "-d" + hex.EncodeToString(h.Sum(nil)[:10])
}

// Bus is the in-process event stream. Publishing never blocks: a subscriber that falls behind
// loses events (counted in upstate_events_dropped_total) rather than stalling the probes. Events
// that must not be lost (notifications) are kept in the store's outbox, not only on the bus.
type Bus struct {
	mu      sync.Mutex
	subs    map[int]*subscriber
	next    int
	dropped prometheus.Counter
}

type subscriber struct {
	ch      chan Event
	pending *atomic.Int64 // nil unless tracked
}

// NewBus returns a bus whose drop counter is registered on reg (nil: not registered).
func NewBus(reg prometheus.Registerer) *Bus {
	b := &Bus{subs: map[int]*subscriber{}, dropped: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "upstate_events_dropped_total", Help: "Events a slow subscriber did not receive.",
	})}
	if reg != nil {
		reg.MustRegister(b.dropped)
	}
	return b
}

// Subscribe returns a channel of events with room for buffer of them, and a function that ends
// the subscription and closes the channel.
func (b *Bus) Subscribe(buffer int) (<-chan Event, func()) {
	sub := b.subscribe(buffer, nil)
	return sub.C, sub.Close
}

// Subscription is a subscriber that says when it has finished with each event, so others can
// tell whether it is idle: Pending counts events published to it and not yet Done.
type Subscription struct {
	C       <-chan Event
	pending *atomic.Int64
	Close   func() // ends the subscription and closes C; safe to call more than once
}

// Done marks one received event handled.
func (s *Subscription) Done() { s.pending.Add(-1) }

// Pending is how many events were published to this subscriber and are not Done yet, queued
// ones included.
func (s *Subscription) Pending() int64 { return s.pending.Load() }

// SubscribeTracked is Subscribe for a consumer that calls Done after handling each event.
func (b *Bus) SubscribeTracked(buffer int) *Subscription {
	return b.subscribe(buffer, new(atomic.Int64))
}

func (b *Bus) subscribe(buffer int, pending *atomic.Int64) *Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	ch := make(chan Event, buffer)
	b.subs[id] = &subscriber{ch: ch, pending: pending}
	var once sync.Once
	return &Subscription{C: ch, pending: pending, Close: func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			close(ch)
		})
	}}
}

// Publish sends e to every subscriber that has room, giving it an id if it has none. A nil bus
// publishes nothing.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	if e.ID == "" {
		e.ID = NewID(e.At)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sub := range b.subs {
		if sub.pending != nil {
			sub.pending.Add(1) // before the send, so no one sees it neither queued nor pending
		}
		select {
		case sub.ch <- e:
		default:
			b.dropped.Inc()
			if sub.pending != nil {
				sub.pending.Add(-1)
			}
		}
	}
}
