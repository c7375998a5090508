package notify

import (
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/incidents"
)

// Escalation is how one severity of one policy pages: steps, each after some working time
// without an acknowledgement, on the calendar of the severity's first-response target (so a
// 7x12 P1 opened at 03:00 pages at 08:00, and a P0 whose first response is 24x7 pages at once).
type Escalation struct {
	Steps []Step
	// Repeat pages the last step reached again after each Repeat of working time while the
	// incident stays unacknowledged (0: no repeats).
	Repeat time.Duration
}

// Step is one level of an escalation.
type Step struct {
	// After is the working time since the incident opened when this step pages; Fraction, when
	// set, is instead that fraction of the first-response target (0.5: halfway to the deadline).
	After    time.Duration
	Fraction float64
	Targets  []string
}

// Escalations are per policy, then per severity.
type Escalations map[string]map[incidents.Severity]Escalation

// StepDue is a step due for an incident: its targets are paged.
type StepDue struct {
	Step    int       // 1 for the first step
	Repeat  int       // 0 for the step itself, then 1, 2, ...
	Due     time.Time // when it fell due
	Elapsed time.Duration
	Targets []string
}

// escalationCalendar is the calendar an incident's escalation counts working time on: its
// first-response target's, else its resolution target's, else every hour.
func escalationCalendar(p *incidents.Policy, sev incidents.Severity) (*calendar.Calendar, time.Duration) {
	if t := p.Target(sev, incidents.FirstResponse); t != nil && t.Calendar != nil {
		return t.Calendar, t.Goal
	}
	if t := p.Target(sev, incidents.Resolution); t != nil && t.Calendar != nil {
		return t.Calendar, 0
	}
	return calendar.AroundTheClock(), 0
}

// workingAt is the instant d of working time after t: for d = 0, the first working instant at
// or after t (an incident opened at night pages when the working day starts).
func workingAt(cal *calendar.Calendar, t time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		at, err := cal.Add(t, time.Nanosecond)
		return at.Add(-time.Nanosecond), err
	}
	return cal.Add(t, d)
}

// stepDue is when step falls due for an incident opened at opened.
func (s Step) due(cal *calendar.Calendar, goal time.Duration, opened time.Time) (time.Time, time.Duration, error) {
	after := s.After
	if s.Fraction > 0 && goal > 0 {
		after = time.Duration(s.Fraction * float64(goal))
	}
	at, err := workingAt(cal, opened, after)
	return at, after, err
}

// Reached lists the steps (not repeats) of inc that fell due before until: who has been paged.
func (e Escalation) Reached(inc incidents.Incident, p *incidents.Policy, until time.Time) []StepDue {
	cal, goal := escalationCalendar(p, inc.Severity)
	var out []StepDue
	for i, s := range e.Steps {
		due, after, err := s.due(cal, goal, inc.OpenedAt)
		if err != nil || due.After(until) {
			continue
		}
		out = append(out, StepDue{Step: i + 1, Due: due, Elapsed: after, Targets: s.Targets})
	}
	return out
}

// Pages lists what is due for inc at now: every step reached and, with Repeat, the latest
// repeat of the last step reached. Nothing once the incident is acknowledged or resolved, and
// nothing for a backfilled one.
func (e Escalation) Pages(inc incidents.Incident, p *incidents.Policy, now time.Time) []StepDue {
	if !inc.Open() || !inc.AcknowledgedAt.IsZero() || inc.Backfilled || p == nil {
		return nil
	}
	out := e.Reached(inc, p, now)
	if e.Repeat <= 0 || len(out) == 0 {
		return out
	}
	cal, _ := escalationCalendar(p, inc.Severity)
	last := out[len(out)-1]
	worked := cal.Elapsed(last.Due, now)
	if n := int(worked / e.Repeat); n > 0 {
		due, err := cal.Add(last.Due, time.Duration(n)*e.Repeat)
		if err == nil {
			out = append(out, StepDue{Step: last.Step, Repeat: n, Due: due, Elapsed: last.Elapsed + time.Duration(n)*e.Repeat, Targets: last.Targets})
		}
	}
	return out
}

// Next is when the next step or repeat of inc falls due after now (zero if none will).
func (e Escalation) Next(inc incidents.Incident, p *incidents.Policy, now time.Time) time.Time {
	if !inc.Open() || !inc.AcknowledgedAt.IsZero() || inc.Backfilled || p == nil {
		return time.Time{}
	}
	cal, goal := escalationCalendar(p, inc.Severity)
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	var lastDue time.Time
	for _, s := range e.Steps {
		due, _, err := s.due(cal, goal, inc.OpenedAt)
		if err != nil {
			continue
		}
		consider(due)
		if !due.After(now) {
			lastDue = due
		}
	}
	if e.Repeat > 0 && !lastDue.IsZero() {
		n := int(cal.Elapsed(lastDue, now)/e.Repeat) + 1
		if due, err := cal.Add(lastDue, time.Duration(n)*e.Repeat); err == nil {
			consider(due)
		}
	}
	return next
}
