package engine

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// EventKind names what happened.
type EventKind string

// The event kinds published so far. Later parts (incidents, maintenance, SLA clocks) add theirs.
const (
	EventMonitorState    EventKind = "monitor.state_changed"
	EventComponentStatus EventKind = "component.status_changed"
	EventComponentChange EventKind = "component.changed" // created, updated or deleted

	EventMaintenanceAnnounced EventKind = "maintenance.announced" // a window was created
	EventMaintenanceUpdated   EventKind = "maintenance.updated"   // a window or one occurrence changed
	EventMaintenanceReminder  EventKind = "maintenance.reminder"  // an occurrence starts in Before
	EventMaintenanceStarted   EventKind = "maintenance.started"
	EventMaintenanceCompleted EventKind = "maintenance.completed"

	EventIncidentOpened   EventKind = "incident.opened"   // by a monitor
	EventIncidentResolved EventKind = "incident.resolved" // by a monitor's recovery
	EventSLAWarning       EventKind = "sla.warning"       // a clock passed its warning point
	EventSLABreach        EventKind = "sla.breach"        // a clock passed its deadline unmet
)

// Event is one thing that happened, for feeds, notifications and the page cache.
type Event struct {
	Kind        EventKind `json:"kind"`
	At          time.Time `json:"at"`
	ComponentID string    `json:"component_id,omitempty"`
	MonitorID   string    `json:"monitor_id,omitempty"`
	From        string    `json:"from,omitempty"`
	To          string    `json:"to,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	// Maintenance events: the window, the occurrence (by its scheduled start), its components,
	// and for reminders how long before the start they are sent.
	WindowID   string        `json:"window_id,omitempty"`
	Scheduled  time.Time     `json:"scheduled,omitzero"`
	Components []string      `json:"components,omitempty"`
	Before     time.Duration `json:"before,omitempty"`
	// UnderMaintenance marks a monitor or component change inside a maintenance occurrence of
	// that component: it opens no incident and sends no alert.
	UnderMaintenance bool `json:"under_maintenance,omitempty"`
	// Incident and SLA events.
	IncidentID string `json:"incident_id,omitempty"`
	Severity   string `json:"severity,omitempty"`
	Clock      string `json:"clock,omitempty"`
}

// Bus is the in-process event stream. Publishing never blocks: a subscriber that falls behind
// loses events (counted in upstate_events_dropped_total) rather than stalling the probes. Events
// that must not be lost (notifications) are kept in the store's outbox, not only on the bus.
type Bus struct {
	mu      sync.Mutex
	subs    map[int]chan Event
	next    int
	dropped prometheus.Counter
}

// NewBus returns a bus whose drop counter is registered on reg (nil: not registered).
func NewBus(reg prometheus.Registerer) *Bus {
	b := &Bus{subs: map[int]chan Event{}, dropped: prometheus.NewCounter(prometheus.CounterOpts{
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
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	ch := make(chan Event, buffer)
	b.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// Publish sends e to every subscriber that has room.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- e:
		default:
			b.dropped.Inc()
		}
	}
}
