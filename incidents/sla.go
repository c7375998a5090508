package incidents

import (
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/calendar"
)

// ClockKind names a service-level clock.
type ClockKind string

// The clocks every incident has, where its policy sets a target.
const (
	FirstResponse ClockKind = "first_response"
	Resolution    ClockKind = "resolution"
)

// Target is a goal of working time on a calendar, with a warning point.
type Target struct {
	Goal     time.Duration      // working time allowed
	Warn     time.Duration      // working time after which a warning is raised (< Goal)
	Calendar *calendar.Calendar // the working time it is measured on
}

// Targets are one severity's targets.
type Targets struct {
	Label              string  // the policy's own name for the severity ("Critical", "Urgent")
	FirstResponse      *Target // nil: no target
	Resolution         *Target // nil: no target
	WorkaroundResolves bool    // an update marked as a workaround meets the resolution target
}

// Policy is a service-level policy: targets per severity.
type Policy struct {
	Name        string
	Description string
	Severities  map[Severity]Targets
}

// StartClocks returns the running clocks an incident of severity sev opened at start has.
func (p *Policy) StartClocks(sev Severity, start time.Time) []Clock {
	if p == nil {
		return []Clock{}
	}
	ts := p.Severities[sev]
	out := []Clock{}
	for _, k := range []struct {
		kind ClockKind
		t    *Target
	}{{FirstResponse, ts.FirstResponse}, {Resolution, ts.Resolution}} {
		if k.t == nil {
			continue
		}
		out = append(out, Clock{Kind: k.kind, Calendar: k.t.Calendar.Name, Goal: k.t.Goal, Warn: k.t.Warn,
			Segments: []Segment{{Start: start.UTC()}}, target: k.t})
	}
	return out
}

func (p *Policy) workaroundResolves(sev Severity) bool {
	return p != nil && p.Severities[sev].WorkaroundResolves
}

// Target returns the target of one clock for a severity, or nil.
func (p *Policy) Target(sev Severity, kind ClockKind) *Target {
	if p == nil {
		return nil
	}
	ts := p.Severities[sev]
	if kind == FirstResponse {
		return ts.FirstResponse
	}
	return ts.Resolution
}

// Segment is a stretch of real time during which a clock ran; End is zero while it runs.
type Segment struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end,omitzero"`
}

// Clock is one service-level clock of an incident. It is stored as the segments it ran and
// when it was met; its state, due time and warning time are computed from those, the
// calendar and a time (At), so a restart or a new leader computes the same deadlines.
type Clock struct {
	Kind     ClockKind     `json:"kind"`
	Calendar string        `json:"calendar"`
	Goal     time.Duration `json:"goal"`
	Warn     time.Duration `json:"warn"`
	Segments []Segment     `json:"segments"`
	MetAt    time.Time     `json:"met_at,omitzero"`

	target *Target // not stored: resolved from the policy when needed
}

// ClockState is a clock's state.
type ClockState string

// The clock states.
const (
	Running  ClockState = "running"
	Met      ClockState = "met"      // met within the target
	Breached ClockState = "breached" // the deadline passed first (whether or not it was met later)
	// Stopped: the clock stopped before its deadline without being met. Only a first response
	// stops so: an automatic incident resolved by its monitor before any person acted. Nobody
	// responded, so it is not met; its deadline never passed, so it is not breached.
	Stopped ClockState = "stopped"
)

func (c *Clock) stop(at time.Time) {
	c.MetAt = at
	if n := len(c.Segments); n > 0 && c.Segments[n-1].End.IsZero() {
		c.Segments[n-1].End = at
	}
}

// halt stops a running clock at at without meeting it.
func (c *Clock) halt(at time.Time) {
	if n := len(c.Segments); n > 0 && c.MetAt.IsZero() && c.Segments[n-1].End.IsZero() {
		c.Segments[n-1].End = at
	}
}

// halted is when the clock stopped without being met; zero if it runs or was met.
func (c *Clock) halted() time.Time {
	if n := len(c.Segments); n > 0 && c.MetAt.IsZero() {
		return c.Segments[n-1].End
	}
	return time.Time{}
}

func (c *Clock) resume(at time.Time) {
	c.MetAt = time.Time{}
	c.Segments = append(c.Segments, Segment{Start: at})
}

// ClockStatus is a clock seen at some time.
type ClockStatus struct {
	Kind      ClockKind     `json:"kind"`
	Calendar  string        `json:"calendar"`
	State     ClockState    `json:"state"`
	Goal      time.Duration `json:"goal"`
	DueAt     time.Time     `json:"due_at"`
	WarnAt    time.Time     `json:"warn_at"`
	MetAt     time.Time     `json:"met_at,omitzero"`
	StoppedAt time.Time     `json:"stopped_at,omitzero"` // stopped without being met (State Stopped, or Breached if after DueAt)
	Used      time.Duration `json:"used"`                // working time used, until met, stopped or now
	Remaining time.Duration `json:"remaining"`           // goal minus used (negative once breached)
	Warned    bool          `json:"warned"`              // the warning point has passed
}

// At computes the clock's state at now on calendar cal (the calendar its target names).
func (c Clock) At(cal *calendar.Calendar, now time.Time) (ClockStatus, error) {
	st := ClockStatus{Kind: c.Kind, Calendar: c.Calendar, Goal: c.Goal, MetAt: c.MetAt, StoppedAt: c.halted()}
	end := now
	if !c.MetAt.IsZero() {
		end = c.MetAt
	}
	// Working time used by the closed segments; the last segment decides the deadlines.
	var before time.Duration
	var last Segment
	for i, s := range c.Segments {
		segEnd := s.End
		if segEnd.IsZero() || segEnd.After(end) {
			segEnd = end
		}
		if i == len(c.Segments)-1 {
			last = Segment{Start: s.Start, End: segEnd}
			continue
		}
		before += cal.Elapsed(s.Start, segEnd)
	}
	if len(c.Segments) == 0 {
		return st, fmt.Errorf("clock %s has no segments", c.Kind)
	}
	st.Used = before + cal.Elapsed(last.Start, last.End)
	st.Remaining = c.Goal - st.Used
	var err error
	if st.DueAt, err = cal.Add(last.Start, c.Goal-before); err != nil {
		return st, err
	}
	if st.WarnAt, err = cal.Add(last.Start, max(c.Warn-before, 0)); err != nil {
		return st, err
	}
	if c.Warn <= before {
		st.WarnAt = last.Start
	}
	st.Warned = !now.Before(st.WarnAt)
	switch {
	case before >= c.Goal && c.Goal > 0:
		st.State = Breached // its working time ran out in an earlier segment
	case !c.MetAt.IsZero() && !c.MetAt.After(st.DueAt):
		st.State = Met
	case !st.StoppedAt.IsZero() && st.StoppedAt.Before(st.DueAt):
		st.State = Stopped
	case !c.MetAt.IsZero() || !st.StoppedAt.IsZero() || !now.Before(st.DueAt):
		st.State = Breached
	default:
		st.State = Running
	}
	return st, nil
}

// Deadlines are a policy's promises for an incident of one severity opened at one time.
type Deadlines struct {
	Policy             string    `json:"policy"`
	Severity           Severity  `json:"severity"`
	Label              string    `json:"label,omitempty"`
	Opened             time.Time `json:"opened"`
	FirstResponseDue   time.Time `json:"first_response_due,omitzero"`
	FirstResponseWarn  time.Time `json:"first_response_warning,omitzero"`
	FirstResponseCal   string    `json:"first_response_calendar,omitempty"`
	FirstResponseLocal string    `json:"first_response_due_local,omitempty"` // in the calendar's zone
	ResolutionDue      time.Time `json:"resolution_due,omitzero"`
	ResolutionWarn     time.Time `json:"resolution_warning,omitzero"`
	ResolutionCal      string    `json:"resolution_calendar,omitempty"`
	ResolutionLocal    string    `json:"resolution_due_local,omitempty"`
	WorkaroundResolves bool      `json:"workaround_resolves"`
}

// Deadlines computes when each target falls due for an incident opened at opened.
func (p *Policy) Deadlines(sev Severity, opened time.Time) (Deadlines, error) {
	if !sev.Valid() {
		return Deadlines{}, fmt.Errorf("unknown severity %q (want P0, P1, P2 or P3)", sev)
	}
	ts := p.Severities[sev]
	d := Deadlines{Policy: p.Name, Severity: sev, Label: ts.Label, Opened: opened.UTC(), WorkaroundResolves: ts.WorkaroundResolves}
	for _, c := range p.StartClocks(sev, opened) {
		st, err := c.At(c.target.Calendar, opened)
		if err != nil {
			return d, err
		}
		local := st.DueAt.In(c.target.Calendar.Location).Format(time.RFC3339)
		if c.Kind == FirstResponse {
			d.FirstResponseDue, d.FirstResponseWarn, d.FirstResponseCal, d.FirstResponseLocal = st.DueAt.UTC(), st.WarnAt.UTC(), c.Calendar, local
		} else {
			d.ResolutionDue, d.ResolutionWarn, d.ResolutionCal, d.ResolutionLocal = st.DueAt.UTC(), st.WarnAt.UTC(), c.Calendar, local
		}
	}
	return d, nil
}
