// Package incidents holds incidents, their updates and lifecycle, and the service-level clocks
// (first response and resolution) measured on business calendars. Everything here is a pure
// function of its inputs and the time passed in: no storage, no HTTP, no clock.
package incidents

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// Sentinel errors.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalidState = errors.New("invalid state")
)

// Severity is an incident's severity, P0 (worst) to P3.
type Severity string

// The severities.
const (
	P0 Severity = "P0"
	P1 Severity = "P1"
	P2 Severity = "P2"
	P3 Severity = "P3"
)

// Severities lists every severity, worst first.
var Severities = []Severity{P0, P1, P2, P3}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return slices.Contains(Severities, s) }

// Impact is the severity in Statuspage's words: P0 critical, P1 major, P2 minor, P3 none.
func (s Severity) Impact() string {
	switch s {
	case P0:
		return "critical"
	case P1:
		return "major"
	case P2:
		return "minor"
	}
	return "none"
}

// Status is where an incident is in its lifecycle.
type Status string

// The statuses, in their usual order.
const (
	Investigating Status = "investigating"
	Identified    Status = "identified"
	Monitoring    Status = "monitoring"
	Resolved      Status = "resolved"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == Investigating || s == Identified || s == Monitoring || s == Resolved
}

// Affected is a component an incident affects, with its impact.
type Affected struct {
	ComponentID string           `json:"component_id"`
	Impact      component.Status `json:"impact"` // degraded_performance, partial_outage or major_outage
}

// ValidImpact reports whether st may be an incident's impact on a component.
func ValidImpact(st component.Status) bool {
	return st == component.DegradedPerformance || st == component.PartialOutage || st == component.MajorOutage
}

// Update is one entry of an incident's timeline. Every update is kept.
type Update struct {
	ID         string     `json:"id"`
	At         time.Time  `json:"at"`
	Author     string     `json:"author"`
	Status     Status     `json:"status"`
	Body       string     `json:"body"` // Markdown, rendered sanitized at the edge
	Severity   Severity   `json:"severity,omitempty"`
	Components []Affected `json:"components,omitempty"`
	Workaround bool       `json:"workaround,omitempty"` // this update gives a workaround
	Kind       string     `json:"kind"`                 // declare, update, acknowledge, resolve, reopen, automatic
	// Internal marks an entry for the team only: an acknowledgement without words, or what a
	// monitor saw when it opened an automatic incident (its id and the probe's reason, which
	// name its target). The public page, feeds, JSON and subscribers never show it; the admin
	// API, the SRE's notifications and the audit log do.
	Internal bool `json:"internal,omitempty"`
}

// Public reports whether customers see this update. An acknowledgement is a public update
// only when the SRE wrote something with it (older acknowledgements, stored before Internal,
// carry the fixed "Acknowledged." text and are internal too). The first update of an automatic
// incident stored before its monitor's words became internal named the monitor and the probe's
// reason (legacyAutomaticText): it is internal too.
func (u Update) Public() bool {
	return !u.Internal && !(u.Kind == "acknowledge" && u.Body == acknowledgedText) &&
		!(u.Kind == "automatic" && strings.HasPrefix(u.Body, legacyAutomaticText))
}

const (
	acknowledgedText = "Acknowledged."
	// legacyAutomaticText began an automatic incident's only first update until its monitor's
	// id and the probe's reason (which names the target) moved to an internal update.
	legacyAutomaticText = "Automatic: monitor "
)

// Incident is something customers should know about.
type Incident struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Status     Status     `json:"status"`
	Components []Affected `json:"components"`
	Policy     string     `json:"policy"` // the service-level policy its clocks follow

	StartedAt      time.Time `json:"started_at"` // when the problem began (back-dated for automatic incidents)
	OpenedAt       time.Time `json:"opened_at"`  // when Upstate opened it: the SLA clocks start here
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	WorkaroundAt   time.Time `json:"workaround_at,omitzero"`
	Automatic      bool      `json:"automatic"`            // opened by a monitor
	MonitorID      string    `json:"monitor_id,omitempty"` // the monitor that opened it
	Backfilled     bool      `json:"backfilled"`           // declared after the fact; no SLA clocks
	Updates        []Update  `json:"updates"`              // oldest first
	Clocks         []Clock   `json:"clocks"`
	UpdatedAt      time.Time `json:"updated_at"`
	// Version counts stored changes; the store refuses an update made from a stale copy.
	Version int `json:"version"`
	// Alerts records the warning and breach events already published, so a restart or a new
	// leader does not publish them again: "first_response.warning", "resolution.breach", ...
	Alerts []string `json:"alerts,omitempty"`
}

// Open reports whether the incident is not resolved.
func (inc *Incident) Open() bool { return inc.Status != Resolved }

// Limits.
const (
	MaxTitleLength = 200
	MaxBodyLength  = 20_000
	MaxComponents  = 100
)

// FieldError is a problem with one field of a request.
type FieldError = component.FieldError

func checkText(title, body string) []*FieldError {
	var errs []*FieldError
	if title == "" {
		errs = append(errs, &FieldError{Field: "title", Message: "is required"})
	} else if len(title) > MaxTitleLength {
		errs = append(errs, &FieldError{Field: "title", Message: fmt.Sprintf("must be at most %d bytes", MaxTitleLength)})
	} else if fe := component.CheckText("title", title, component.SingleLine); fe != nil {
		errs = append(errs, fe)
	}
	return append(errs, checkBody(body)...)
}

// checkBody checks an update's text (Markdown): at most MaxBodyLength bytes, multi-line text.
func checkBody(body string) []*FieldError {
	if len(body) > MaxBodyLength {
		return []*FieldError{{Field: "message", Message: fmt.Sprintf("must be at most %d bytes", MaxBodyLength)}}
	}
	if fe := component.CheckText("message", body, component.MultiLine); fe != nil {
		return []*FieldError{fe}
	}
	return nil
}

func checkAffected(as []Affected) []*FieldError {
	var errs []*FieldError
	if len(as) > MaxComponents {
		errs = append(errs, &FieldError{Field: "components", Message: fmt.Sprintf("at most %d components", MaxComponents)})
	}
	seen := map[string]bool{}
	for i, a := range as {
		f := fmt.Sprintf("components[%d]", i)
		switch {
		case !component.ValidID(a.ComponentID):
			errs = append(errs, &FieldError{Field: f + ".id", Message: "is not a component id"})
		case seen[a.ComponentID]:
			errs = append(errs, &FieldError{Field: f + ".id", Message: fmt.Sprintf("component %s is listed twice", a.ComponentID)})
		}
		seen[a.ComponentID] = true
		if !ValidImpact(a.Impact) {
			errs = append(errs, &FieldError{Field: f + ".impact", Message: "must be degraded_performance, partial_outage or major_outage"})
		}
	}
	return errs
}

// Declaration is what opens an incident.
type Declaration struct {
	ID         string // chosen by the caller (unique)
	Title      string
	Body       string // the first public update
	Severity   Severity
	Status     Status // default investigating
	Components []Affected
	Policy     string
	Author     string
	Automatic  bool
	MonitorID  string
	StartedAt  time.Time // default: now
	// ResolvedAt set: a backfill, an incident recorded after the fact.
	ResolvedAt time.Time
	// Detail is for the team only: recorded as an internal update (Update.Internal) just before
	// Body's. An automatic incident keeps its monitor and the probe's reason there: neither
	// may reach the public, as a monitor's target is not public.
	Detail string
}

// Declare opens an incident at now. Declaring is a human action, so a declared incident's first
// response is met at once; an automatic one waits for an acknowledgement or a public update.
// A person's title and text with control characters are refused (component.CheckText); a
// monitor's are cleaned instead, so a probe's reason or a component name stored before the
// rule can never keep an outage from being declared.
func Declare(d Declaration, p *Policy, now time.Time) (Incident, []*FieldError) {
	if d.Automatic {
		d.Title, d.Body = component.CleanText(d.Title, component.SingleLine), component.CleanText(d.Body, component.MultiLine)
		d.Detail = component.CleanText(d.Detail, component.MultiLine)
		if len(d.Detail) > MaxBodyLength {
			d.Detail = strings.ToValidUTF8(d.Detail[:MaxBodyLength], "")
		}
	}
	errs := checkText(d.Title, d.Body)
	if d.Detail != "" {
		for _, fe := range checkBody(d.Detail) {
			fe.Field = "detail"
			errs = append(errs, fe)
		}
	}
	if !d.Severity.Valid() {
		errs = append(errs, &FieldError{Field: "severity", Message: "must be P0, P1, P2 or P3"})
	}
	if d.Status == "" {
		d.Status = Investigating
	}
	if !d.Status.Valid() {
		errs = append(errs, &FieldError{Field: "status", Message: "must be investigating, identified, monitoring or resolved"})
	}
	errs = append(errs, checkAffected(d.Components)...)
	if d.StartedAt.IsZero() {
		d.StartedAt = now
	}
	if d.StartedAt.After(now) {
		errs = append(errs, &FieldError{Field: "started_at", Message: "is in the future"})
	} else if err := calendar.CheckTime(d.StartedAt); err != nil {
		errs = append(errs, &FieldError{Field: "started_at", Message: err.Error()})
	}
	backfill := !d.ResolvedAt.IsZero()
	if backfill {
		switch {
		case !d.ResolvedAt.After(d.StartedAt):
			errs = append(errs, &FieldError{Field: "resolved_at", Message: "must be after started_at"})
		case d.ResolvedAt.After(now):
			errs = append(errs, &FieldError{Field: "resolved_at", Message: "is in the future"})
		}
		d.Status = Resolved
	} else if d.Status == Resolved {
		errs = append(errs, &FieldError{Field: "status", Message: "a new incident cannot start resolved; give resolved_at to backfill a past one"})
	}
	if len(errs) > 0 {
		return Incident{}, errs
	}
	now = now.UTC()
	inc := Incident{ID: d.ID, Title: d.Title, Severity: d.Severity, Status: d.Status, Components: d.Components, Policy: d.Policy,
		StartedAt: d.StartedAt.UTC(), OpenedAt: now, Automatic: d.Automatic, MonitorID: d.MonitorID, Backfilled: backfill, UpdatedAt: now}
	if inc.Components == nil {
		inc.Components = []Affected{}
	}
	kind := "declare"
	if d.Automatic {
		kind = "automatic"
	}
	inc.Updates = []Update{}
	if d.Detail != "" {
		inc.addUpdate(Update{At: now, Author: d.Author, Status: d.Status, Body: d.Detail, Kind: kind, Internal: true})
	}
	inc.addUpdate(Update{At: now, Author: d.Author, Status: d.Status, Body: d.Body, Severity: d.Severity, Components: d.Components, Kind: kind})
	if backfill {
		inc.ResolvedAt = d.ResolvedAt.UTC()
		inc.addUpdate(Update{At: now, Author: d.Author, Status: Resolved, Body: "Resolved (recorded after the fact).", Kind: "resolve"})
		inc.Clocks = []Clock{}
		return inc, nil
	}
	inc.Clocks = p.StartClocks(inc.Severity, now)
	if !d.Automatic {
		inc.meet(FirstResponse, now)
	}
	return inc, nil
}

// Change is an update to an open incident.
type Change struct {
	Author     string
	Body       string
	Status     Status     // empty: unchanged
	Severity   Severity   // empty: unchanged
	Components []Affected // nil: unchanged
	Workaround bool
	// Automatic marks a change Upstate makes itself (a monitor's recovery moving its incident
	// to monitoring): no person acted, so it is no first response.
	Automatic bool
}

func (inc *Incident) addUpdate(u Update) {
	u.ID = fmt.Sprintf("%s-%d", inc.ID, len(inc.Updates)+1)
	inc.Updates = append(inc.Updates, u)
	inc.UpdatedAt = u.At
}

// Apply records an update at now. Any update may change status, severity and components; a
// resolved incident takes no updates until it is reopened. A public update is a human action and
// meets the first-response clock; a workaround meets the resolution clock where the policy says so.
func (inc *Incident) Apply(ch Change, p *Policy, now time.Time) []*FieldError {
	errs := checkBody(ch.Body)
	if ch.Body == "" {
		errs = append(errs, &FieldError{Field: "message", Message: "is required"})
	}
	if ch.Status != "" && !ch.Status.Valid() {
		errs = append(errs, &FieldError{Field: "status", Message: "must be investigating, identified, monitoring or resolved"})
	}
	if ch.Severity != "" && !ch.Severity.Valid() {
		errs = append(errs, &FieldError{Field: "severity", Message: "must be P0, P1, P2 or P3"})
	}
	if ch.Components != nil {
		errs = append(errs, checkAffected(ch.Components)...)
	}
	if inc.Status == Resolved {
		errs = append(errs, &FieldError{Field: "status", Message: "the incident is resolved; reopen it first"})
	}
	if len(errs) > 0 {
		return errs
	}
	now = now.UTC()
	u := Update{At: now, Author: ch.Author, Body: ch.Body, Status: inc.Status, Workaround: ch.Workaround, Kind: "update"}
	if ch.Status != "" {
		u.Status = ch.Status
	}
	if ch.Severity != "" && ch.Severity != inc.Severity {
		u.Severity = ch.Severity
		inc.Severity = ch.Severity
		inc.retarget(p) // targets follow the new severity; the time already used counts
	}
	if ch.Components != nil {
		u.Components = ch.Components
		inc.Components = ch.Components
	}
	inc.addUpdate(u)
	if !ch.Automatic {
		inc.meet(FirstResponse, now)
	}
	if ch.Workaround {
		if inc.WorkaroundAt.IsZero() {
			inc.WorkaroundAt = now
		}
		if p.workaroundResolves(inc.Severity) {
			inc.meet(Resolution, now)
		}
	}
	if u.Status == Resolved {
		inc.resolve(now)
	} else {
		inc.Status = u.Status
	}
	return nil
}

// Acknowledge records that a person has seen the incident: the first response. With a body it
// is also a public update (what the SRE tells customers); without one it is internal.
func (inc *Incident) Acknowledge(author, body string, now time.Time) error {
	if !inc.AcknowledgedAt.IsZero() {
		return fmt.Errorf("incident %s was already acknowledged at %s: %w", inc.ID, inc.AcknowledgedAt.Format(time.RFC3339), ErrConflict)
	}
	if inc.Status == Resolved {
		return fmt.Errorf("incident %s is resolved: %w", inc.ID, ErrInvalidState)
	}
	if errs := checkBody(body); len(errs) > 0 {
		return errs[0]
	}
	now = now.UTC()
	inc.AcknowledgedAt = now
	u := Update{At: now, Author: author, Status: inc.Status, Kind: "acknowledge", Body: body}
	if body == "" {
		u.Body, u.Internal = acknowledgedText, true
	}
	inc.addUpdate(u)
	inc.meet(FirstResponse, now)
	return nil
}

// Resolve resolves an open incident: a person's action, so it meets the first response too.
// Resolving a resolved incident is a conflict; a message that is too long or holds control
// characters is a *FieldError naming "message".
func (inc *Incident) Resolve(author, body string, now time.Time) error {
	return inc.resolveBy(author, body, true, now)
}

// ResolveAutomatic resolves an automatic incident whose monitor passes again. No person acted:
// a first-response clock still running stops without being met (Stopped, or Breached if its
// deadline had passed), and the resolution clock is met.
func (inc *Incident) ResolveAutomatic(author, body string, now time.Time) error {
	return inc.resolveBy(author, body, false, now)
}

func (inc *Incident) resolveBy(author, body string, person bool, now time.Time) error {
	if inc.Status == Resolved {
		return fmt.Errorf("incident %s is already resolved: %w", inc.ID, ErrConflict)
	}
	if errs := checkBody(body); len(errs) > 0 {
		return errs[0]
	}
	if body == "" {
		body = "This incident has been resolved."
	}
	now = now.UTC()
	inc.addUpdate(Update{At: now, Author: author, Status: Resolved, Body: body, Kind: "resolve"})
	if person {
		inc.meet(FirstResponse, now)
	} else {
		for i := range inc.Clocks {
			if inc.Clocks[i].Kind == FirstResponse {
				inc.Clocks[i].halt(now)
			}
		}
	}
	inc.resolve(now)
	return nil
}

func (inc *Incident) resolve(now time.Time) {
	inc.Status, inc.ResolvedAt = Resolved, now
	inc.meet(Resolution, now)
}

// Reopen reopens a resolved incident. Its resolution clock resumes where it stopped: the time
// it spent resolved does not count. Reopening is a person's public update: a first-response
// clock that stopped unmet (the monitor resolved it before anyone acted) is met by it, the time
// the incident spent resolved not counted either. Its message is checked as Resolve's is.
func (inc *Incident) Reopen(author, body string, now time.Time) error {
	if inc.Status != Resolved {
		return fmt.Errorf("incident %s is not resolved: %w", inc.ID, ErrInvalidState)
	}
	if inc.Backfilled {
		return fmt.Errorf("incident %s was recorded after the fact and cannot be reopened: %w", inc.ID, ErrInvalidState)
	}
	if errs := checkBody(body); len(errs) > 0 {
		return errs[0]
	}
	if body == "" {
		body = "This incident has been reopened."
	}
	now = now.UTC()
	inc.Status, inc.ResolvedAt = Investigating, time.Time{}
	inc.addUpdate(Update{At: now, Author: author, Status: Investigating, Body: body, Kind: "reopen"})
	for i := range inc.Clocks {
		c := &inc.Clocks[i]
		switch {
		case c.Kind == Resolution && !c.MetAt.IsZero() && inc.WorkaroundAt.IsZero():
			c.resume(now)
		case c.Kind == FirstResponse && !c.halted().IsZero():
			c.resume(now)
			c.stop(now)
		}
	}
	return nil
}

func (inc *Incident) meet(kind ClockKind, at time.Time) {
	for i := range inc.Clocks {
		if inc.Clocks[i].Kind == kind && inc.Clocks[i].MetAt.IsZero() {
			inc.Clocks[i].stop(at)
		}
	}
}

// retarget gives the clocks the new severity's targets, keeping the time they have run.
func (inc *Incident) retarget(p *Policy) {
	fresh := p.StartClocks(inc.Severity, inc.OpenedAt)
	for i, c := range fresh {
		for _, old := range inc.Clocks {
			if old.Kind == c.Kind {
				fresh[i].Segments, fresh[i].MetAt = old.Segments, old.MetAt
			}
		}
	}
	inc.Clocks = fresh
}
