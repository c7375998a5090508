package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// Incidents is the door for incidents: declared, updated, acknowledged, resolved and reopened by
// people, opened and recovered by monitors, and their service-level alerts recorded.
type Incidents struct {
	*deps
	policies      map[string]*incidents.Policy
	defaultPolicy string
}

// NewIncidentID makes a time-ordered, unguessable incident id.
func NewIncidentID(now time.Time) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "inc-" + strconv.FormatInt(now.UnixMilli(), 36) + "-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// AutomaticID names the incident a component's outage opens, the same on every instance, so
// two instances seeing the same failure open one incident.
func AutomaticID(componentID string, at time.Time) string {
	h := fnv.New32a()
	h.Write([]byte(componentID))
	return "auto-" + strconv.FormatInt(at.UnixMilli(), 36) + "-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// Policy returns the policy an incident naming name follows, and its name ("" for the default).
func (s *Incidents) Policy(name string) (*incidents.Policy, string, error) {
	if name == "" {
		name = s.defaultPolicy
	}
	if name == "" {
		return nil, "", nil // no policies configured: incidents without clocks
	}
	p, ok := s.policies[name]
	if !ok {
		return nil, "", invalidField("policy", "unknown policy %q", clip(name, 60))
	}
	return p, name, nil
}

// checkAffected verifies that every affected component exists.
func (s *Incidents) checkAffected(ctx context.Context, as []incidents.Affected) error {
	for i, a := range as {
		if _, err := s.store.GetComponent(ctx, a.ComponentID); errors.Is(err, store.ErrNotFound) {
			return invalidField(fmt.Sprintf("components[%d]", i), "unknown component %q", a.ComponentID)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// event completes ev, the event of a change to inc made by by at now: the incident after the
// change, who and what. An event with no time of its own (every change but an SLA alert, which
// happened when its clock passed the point) is the change itself: from and to its status.
func (s *Incidents) event(ev events.Event, by Actor, now time.Time, from incidents.Status, inc incidents.Incident) events.Event {
	cp := inc
	ev.Actor, ev.IncidentID, ev.Severity, ev.Incident = by.Name, inc.ID, string(inc.Severity), &cp
	if ev.At.IsZero() {
		ids := make([]string, len(inc.Components))
		for i, a := range inc.Components {
			ids[i] = a.ComponentID
		}
		ev.At, ev.MonitorID, ev.From, ev.To, ev.Components = now, inc.MonitorID, string(from), string(inc.Status), ids
	}
	return ev
}

// Declare opens an incident a person declares (or backfills, when d.ResolvedAt is set). The id
// and the author come from here; the policy defaults to the configured one.
func (s *Incidents) Declare(ctx context.Context, by Actor, d incidents.Declaration) (incidents.Incident, error) {
	now := s.now()
	p, name, err := s.Policy(d.Policy)
	if err != nil {
		return incidents.Incident{}, err
	}
	d.ID, d.Author, d.Policy, d.Automatic, d.MonitorID = NewIncidentID(now), by.Name, name, false, ""
	inc, errs := incidents.Declare(d, p, now)
	if err := invalid(errs); err != nil {
		return inc, err
	}
	if err := s.checkAffected(ctx, d.Components); err != nil {
		return inc, err
	}
	action := "incident.declare"
	if inc.Backfilled {
		action = "incident.backfill"
	}
	a := by.audit(now, action, "incident/"+inc.ID, inc)
	inc.Version = 1
	a, ev := s.journaled(a, s.event(events.Event{Kind: events.IncidentDeclared}, by, now, "", inc))
	if err := s.store.CreateIncident(ctx, inc, a); err != nil {
		return inc, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	s.publish(ev)
	return inc, nil
}

// change applies one change to a stored incident with the optimistic-concurrency protocol: read,
// apply, store only if no one changed it meanwhile, else read again and re-apply (the change is
// a person's intent, so it applies to the fresh copy). It audits action, and journals and
// publishes ev completed with the incident after the change.
func (s *Incidents) change(ctx context.Context, by Actor, id, action string, ev events.Event,
	apply func(inc *incidents.Incident, p *incidents.Policy, now time.Time) error) (incidents.Incident, error) {
	now := s.now()
	for attempt := 1; ; attempt++ {
		inc, err := s.store.GetIncident(ctx, id)
		if err != nil {
			return inc, fmt.Errorf("incident %s: %w", id, err)
		}
		from := inc.Status
		if err := apply(&inc, s.policies[inc.Policy], now); err != nil {
			return inc, err
		}
		inc.Version++
		a, done := s.journaled(by.audit(now, action, "incident/"+id, inc), s.event(ev, by, now, from, inc))
		err = s.store.UpdateIncident(ctx, inc, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return inc, fmt.Errorf("incident %s: %w", id, err)
		}
		s.publish(done)
		return inc, nil
	}
}

// Update posts an update: text, and optionally a new status, severity, components or a
// workaround. A resolved incident must be reopened first.
func (s *Incidents) Update(ctx context.Context, by Actor, id string, ch incidents.Change) (incidents.Incident, error) {
	if err := s.checkAffected(ctx, ch.Components); err != nil {
		return incidents.Incident{}, err
	}
	ch.Author = by.Name
	kind := events.IncidentUpdated
	if ch.Status == incidents.Resolved {
		kind = events.IncidentResolved
	}
	return s.change(ctx, by, id, "incident.update", events.Event{Kind: kind}, func(inc *incidents.Incident, p *incidents.Policy, now time.Time) error {
		if err := incidents.CanMove(inc.Status, ch.Status); errors.Is(err, incidents.ErrInvalidState) && inc.Status == incidents.Resolved {
			return fmt.Errorf("incident %s: %w", id, err)
		}
		return invalid(inc.Apply(ch, p, now)) // an unknown status is a field error there
	})
}

// Acknowledge records that a person has seen the incident (its first response); a body is
// also a public update, none keeps the acknowledgement internal.
func (s *Incidents) Acknowledge(ctx context.Context, by Actor, id, body string) (incidents.Incident, error) {
	return s.change(ctx, by, id, "incident.acknowledge", events.Event{Kind: events.IncidentAcknowledged}, func(inc *incidents.Incident, _ *incidents.Policy, now time.Time) error {
		return inc.Acknowledge(by.Name, body, now)
	})
}

// Resolve resolves an open incident, with body as the last public update ("" for the default).
func (s *Incidents) Resolve(ctx context.Context, by Actor, id, body string) (incidents.Incident, error) {
	return s.change(ctx, by, id, "incident.resolve", events.Event{Kind: events.IncidentResolved}, func(inc *incidents.Incident, _ *incidents.Policy, now time.Time) error {
		return inc.Resolve(by.Name, body, now)
	})
}

// Reopen reopens a resolved incident.
func (s *Incidents) Reopen(ctx context.Context, by Actor, id, body string) (incidents.Incident, error) {
	return s.change(ctx, by, id, "incident.reopen", events.Event{Kind: events.IncidentReopened}, func(inc *incidents.Incident, _ *incidents.Policy, now time.Time) error {
		return inc.Reopen(by.Name, body, now)
	})
}

// Outage is what a monitor saw when its component went down.
type Outage struct {
	ComponentID string
	Name        string // the component's name, for the title
	MonitorID   string
	Severity    incidents.Severity // invalid or empty: P1
	Since       time.Time          // the first failing result (the back-dated start)
	Reason      string
}

// AutomaticText is the public first update of an automatic incident of the component called
// name. It says nothing of the monitor: its id, its target and the probe's reason (which names
// addresses, resolvers, expected text) are for the team, in AutomaticDetail.
func AutomaticText(name string) string {
	return name + " is not responding as expected. We are investigating."
}

// AutomaticDetail is an automatic incident's internal update: which monitor failed and why.
func AutomaticDetail(monitorID, reason string) string {
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Sprintf("Automatic: monitor %s failed (%s).", monitorID, reason)
}

// OpenAutomatic opens the incident for a component's outage, unless one of the monitors'
// incidents is already open for it. opened is false when nothing was opened (already open, or
// another instance opened the same one first).
func (s *Incidents) OpenAutomatic(ctx context.Context, o Outage) (inc incidents.Incident, opened bool, err error) {
	now := s.now()
	open, err := s.store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true, ComponentID: o.ComponentID})
	if err != nil {
		return inc, false, err
	}
	for _, inc := range open {
		if inc.Automatic {
			return inc, false, nil // one incident per outage
		}
	}
	if !o.Severity.Valid() {
		o.Severity = incidents.P1
	}
	if o.Name == "" {
		o.Name = o.ComponentID
	}
	by := Monitor(o.MonitorID)
	inc, errs := incidents.Declare(incidents.Declaration{
		ID: AutomaticID(o.ComponentID, o.Since), Title: o.Name + " is down", Severity: o.Severity, Automatic: true, MonitorID: o.MonitorID,
		Body: AutomaticText(o.Name), Detail: AutomaticDetail(o.MonitorID, o.Reason),
		Components: []incidents.Affected{{ComponentID: o.ComponentID, Impact: component.MajorOutage}},
		Policy:     s.defaultPolicy, Author: by.Name, StartedAt: o.Since,
	}, s.policies[s.defaultPolicy], now)
	if err := invalid(errs); err != nil {
		return inc, false, err
	}
	a := by.audit(now, "incident.open_automatic", "incident/"+inc.ID, inc)
	inc.Version = 1
	a, ev := s.journaled(a, s.event(events.Event{Kind: events.IncidentDeclared}, by, now, "", inc))
	err = s.store.CreateIncident(ctx, inc, a)
	if errors.Is(err, store.ErrConflict) {
		return inc, false, nil // another instance opened it
	} else if err != nil {
		return inc, false, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	s.publish(ev)
	return inc, true, nil
}

// Recovery is what a monitor's recovery does to the incident it opened.
type Recovery string

// The recovery modes.
const (
	RecoveryResolve    Recovery = "resolve"    // resolve it (the default)
	RecoveryMonitoring Recovery = "monitoring" // move it to monitoring; a person resolves it
)

// RecoverAutomatic resolves (or moves to monitoring) the open automatic incidents of a component
// whose monitor passes again since since. It returns the incidents it changed.
func (s *Incidents) RecoverAutomatic(ctx context.Context, componentID, monitorID string, since time.Time, mode Recovery) ([]incidents.Incident, error) {
	open, err := s.store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true, ComponentID: componentID})
	if err != nil {
		return nil, err
	}
	by := Monitor(monitorID)
	body := fmt.Sprintf("Automatic: checks have passed again since %s.", since.UTC().Format(time.RFC3339))
	var changed []incidents.Incident
	var errs []error
	for _, inc := range open {
		if !inc.Automatic || inc.Status == incidents.Monitoring && mode == RecoveryMonitoring {
			continue
		}
		var got incidents.Incident
		var err error
		if mode == RecoveryMonitoring {
			got, err = s.change(ctx, by, inc.ID, "incident.monitoring_automatic", events.Event{Kind: events.IncidentUpdated}, func(inc *incidents.Incident, p *incidents.Policy, now time.Time) error {
				if inc.Status == incidents.Monitoring || !inc.Open() {
					return errNothingToDo
				}
				return invalid(inc.Apply(incidents.Change{Author: by.Name, Body: body + " Monitoring.", Status: incidents.Monitoring, Automatic: true}, p, now))
			})
		} else {
			got, err = s.change(ctx, by, inc.ID, "incident.resolve_automatic", events.Event{Kind: events.IncidentResolved}, func(inc *incidents.Incident, _ *incidents.Policy, now time.Time) error {
				if !inc.Open() {
					return errNothingToDo // a person resolved it meanwhile
				}
				return inc.ResolveAutomatic(by.Name, body+" Resolved automatically.", now)
			})
		}
		switch {
		case err == nil:
			changed = append(changed, got)
		case !errors.Is(err, errNothingToDo):
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

// errNothingToDo ends a change that found, on a fresh read, that it is no longer needed.
var errNothingToDo = errors.New("nothing to do")

// RecordSLAAlert records that an incident's clock passed its warning point or deadline (alert
// is "<clock>.warning" or "<clock>.breach") and publishes ev, once: recording it in the incident
// is what keeps a restart or a new leader from publishing it again. recorded is false if it was
// already recorded.
func (s *Incidents) RecordSLAAlert(ctx context.Context, id, alert string, ev events.Event) (recorded bool, err error) {
	_, err = s.change(ctx, System, id, "incident.sla_alert", ev, func(inc *incidents.Incident, _ *incidents.Policy, _ time.Time) error {
		for _, a := range inc.Alerts {
			if a == alert {
				return errNothingToDo
			}
		}
		inc.Alerts = append(inc.Alerts, alert)
		return nil
	})
	if errors.Is(err, errNothingToDo) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
