// Package service is the one door for every change Upstate keeps: the admin API, the CLI, config
// sync and the engine's automation all call it, and nothing else writes through the store.
//
// One type per aggregate (Components, Keys, Incidents, Maintenance, Subscribers), one method per change. Each
// method reads the injected clock once, applies the domain's rule (the domain packages hold the
// rules; this package only sequences them), writes the change with its audit entry in the same
// transaction, and publishes exactly one event on the bus once the change is stored.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// Store is what the doors write through (and read to check a change).
type Store interface {
	store.Components
	store.Keys
	store.Audit
	store.Maintenance
	store.Incidents
}

// Options configures a Service.
type Options struct {
	Store Store
	// Measurements keeps what monitors measure (default: Store, when it keeps them too).
	Measurements MeasurementStore
	Clock        clockwork.Clock // default: the real clock
	Bus          *events.Bus     // nil: changes are stored but not published
	// Policies are the service-level policies incidents follow; DefaultPolicy names the one an
	// incident gets when it names none ("" and no policies: incidents without clocks).
	Policies      map[string]*incidents.Policy
	DefaultPolicy string
	Logger        *slog.Logger
	// Outbox keeps the notifications owed (default: Store, when it keeps them too); nil leaves
	// Service.Notifications nil.
	Outbox OutboxStore
	// Targets are the notification channels, for tests of a target (nil: none configured).
	Targets Targets
	// TargetsUsedBy names, per target id, the config's routes and escalations that send to it
	// (shown by the targets API).
	TargetsUsedBy map[string][]string
	// LookupEnv reads the ${NAME} references of targets made through the API (default
	// os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Subscribers configures the subscribers' door (used when Store keeps subscribers).
	Subscribers SubscriberOptions
}

// Service holds one door per aggregate.
type Service struct {
	Components  *Components
	Keys        *Keys
	Incidents   *Incidents
	Maintenance *Maintenance
	Audit       *Audit
	// Monitors is nil when there is no MeasurementStore.
	Monitors *Monitors
	// Notifications is nil when there is no OutboxStore.
	Notifications *Notifications
	// Subscribers is nil when the store keeps no subscribers.
	Subscribers *Subscribers
	// NotifyTargets is nil when the store keeps no notification targets.
	NotifyTargets *NotifyTargets
}

// New returns the doors, sharing one store, clock and bus.
func New(o Options) *Service {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &deps{store: o.Store, clock: o.Clock, bus: o.Bus, log: o.Logger.With("component", "service")}
	d.journal, _ = o.Store.(store.Journal)
	if o.Measurements == nil {
		o.Measurements, _ = o.Store.(MeasurementStore)
	}
	if o.Outbox == nil {
		o.Outbox, _ = o.Store.(OutboxStore)
	}
	svc := &Service{
		Components:  &Components{d},
		Keys:        &Keys{d},
		Incidents:   &Incidents{deps: d, policies: o.Policies, defaultPolicy: o.DefaultPolicy},
		Maintenance: &Maintenance{d},
		Audit:       &Audit{d},
	}
	if o.Measurements != nil {
		svc.Monitors = &Monitors{deps: d, store: o.Measurements}
	}
	apiTargets, _ := o.Store.(store.NotifyTargets)
	if o.Outbox != nil {
		svc.Notifications = &Notifications{deps: d, store: o.Outbox, targets: o.Targets, apiTargets: apiTargets}
	}
	if apiTargets != nil {
		svc.NotifyTargets = &NotifyTargets{deps: d, store: apiTargets, declared: o.Targets, lookupEnv: lookupEnvOr(o.LookupEnv), usedBy: o.TargetsUsedBy}
	}
	if st, ok := o.Store.(store.Subscribers); ok {
		svc.Subscribers = newSubscribers(d, st, o.Subscribers)
	}
	return svc
}

type deps struct {
	store   Store
	journal store.Journal // nil: the store keeps no journal (events are only published)
	clock   clockwork.Clock
	bus     *events.Bus
	log     *slog.Logger
}

// now is the one read of the clock a change makes.
func (d *deps) now() time.Time { return d.clock.Now().UTC() }

func (d *deps) publish(e events.Event) { d.bus.Publish(e) }

// journaled gives e its id and attaches it to the change's audit entry: the store appends it to
// the journal in the change's transaction, so a notification owed for the change survives any
// crash once the change is stored (docs/notifications.md).
func (d *deps) journaled(a store.AuditEntry, e events.Event) (store.AuditEntry, events.Event) {
	if e.ID == "" {
		e.ID = events.NewID(e.At)
	}
	if d.journal != nil {
		a.Event = journalEntry(e)
	}
	return a, e
}

// record appends the event of a change that has no audit entry (a transition, a status, an
// event the engine derives) to the journal, before the change itself is stored: if the process
// dies in between, the notification is owed for something that was observed, never lost.
// Such events have ids derived from what they say (events.DerivedID), so recording one again
// (a retry, a job that resumes behind its cursor) appends nothing.
func (d *deps) record(ctx context.Context, e events.Event) (events.Event, error) {
	if e.ID == "" {
		e.ID = events.DerivedID(e)
	}
	if d.journal == nil {
		return e, nil
	}
	if err := d.journal.AppendEvents(ctx, []store.JournalEntry{*journalEntry(e)}); err != nil {
		return e, fmt.Errorf("journal %s: %w", e.Kind, err)
	}
	return e, nil
}

func journalEntry(e events.Event) *store.JournalEntry {
	return &store.JournalEntry{ID: e.ID, Kind: string(e.Kind), At: e.At, Body: store.MustJSON(e)}
}

// Actor is who makes a change and from where, for the audit log and the event.
type Actor struct {
	Name       string // an API key's name, or "config", "cli", "signal", "system", "monitor:<id>"
	RemoteAddr string
	RequestID  string
}

// The actors that are not people.
var (
	Config = Actor{Name: "config"}
	System = Actor{Name: "system"}
)

// Monitor is the actor for what a monitor's results do.
func Monitor(id string) Actor { return Actor{Name: "monitor:" + id} }

// audit starts the audit entry of a change; after nil records "nothing exists after".
func (a Actor) audit(now time.Time, action, target string, after any) store.AuditEntry {
	e := store.AuditEntry{At: now, Actor: a.Name, Action: action, Target: target, After: store.Null,
		RemoteAddr: a.RemoteAddr, RequestID: a.RequestID}
	if after != nil {
		e.After = store.MustJSON(after)
	}
	return e
}

// Errors callers branch on, besides store.ErrNotFound and the domain's own sentinels
// (incidents.ErrInvalidState, incidents.ErrConflict, maintenance.ErrInvalidState,
// maintenance.ErrNotFound), which pass through wrapped.
var (
	// ErrManagedByConfig: the value is declared in the config file and changes only there.
	ErrManagedByConfig = errors.New("managed by the config file")
	// ErrGroupNotEmpty: a group still holds components.
	ErrGroupNotEmpty = errors.New("group not empty")
)

// ValidationError lists every invalid field of a change; nothing was stored.
type ValidationError struct {
	Fields []*component.FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "invalid: " + strings.Join(msgs, "; ")
}

// invalid wraps field errors, or returns nil when there are none.
func invalid(errs []*component.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: errs}
}

// invalidField is a ValidationError of one field.
func invalidField(field, format string, args ...any) error {
	return &ValidationError{Fields: []*component.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// maxAttempts bounds the optimistic-concurrency retries of one change: read, apply, store if
// no one changed it meanwhile, else read again. Each round of racing writers lets one through,
// so n people changing one thing at once need up to n attempts; the store queues this
// process's writes one at a time, which makes that worst case the usual one.
const maxAttempts = 16
