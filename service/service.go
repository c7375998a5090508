// Package service is the one door for every change Upstate keeps: the admin API, the CLI, config
// sync and the engine's automation all call it, and nothing else writes through the store.
//
// One type per aggregate (Components, Keys, Incidents, Maintenance), one method per change. Each
// method reads the injected clock once, applies the domain's rule (the domain packages hold the
// rules; this package only sequences them), writes the change with its audit entry in the same
// transaction, and publishes exactly one event on the bus once the change is stored.
package service

import (
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
	if o.Measurements == nil {
		o.Measurements, _ = o.Store.(MeasurementStore)
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
	return svc
}

type deps struct {
	store Store
	clock clockwork.Clock
	bus   *events.Bus
	log   *slog.Logger
}

// now is the one read of the clock a change makes.
func (d *deps) now() time.Time { return d.clock.Now().UTC() }

func (d *deps) publish(e events.Event) { d.bus.Publish(e) }

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
// no one changed it meanwhile, else read again.
const maxAttempts = 5
