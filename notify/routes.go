package notify

import (
	"slices"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
)

// Route says which events go to which targets: by kind, component and severity (an empty list
// matches all). Every route that matches an event sends it to its targets; an event reaches a
// target once however many routes name it.
type Route struct {
	Name       string
	Kinds      []string // event kinds, and the refinements in Kinds below
	Components []string
	Severities []string // P0..P3, and page or ticket for burn-rate alerts
	Targets    []string
	// GroupBy and GroupWait gather the events of one group (the same values of GroupBy's
	// fields: component, kind, severity, monitor, incident) arriving within GroupWait of the
	// first into one message: ten monitors of one component going down together send one.
	GroupBy   []string
	GroupWait time.Duration
	// Repeat sends an open, unacknowledged incident again every Repeat (wall-clock time) to the
	// route's targets, when the route matches the incident's opening.
	Repeat time.Duration
}

// Kinds a route can name: every event kind a notification can be about, and these refinements.
var (
	// MonitorDown, MonitorUp and MonitorDegraded refine monitor.state: down; up again after
	// being down or degraded (not a monitor's first result); degraded.
	MonitorDown     = "monitor.down"
	MonitorUp       = "monitor.up"
	MonitorDegraded = "monitor.degraded"
	// IncidentOpened is an incident a monitor opened (incident.declared, automatic).
	IncidentOpened = "incident.opened"

	RouteKinds = []string{string(events.MonitorState), MonitorDown, MonitorUp, MonitorDegraded, string(events.ComponentStatus),
		string(events.IncidentDeclared), IncidentOpened, string(events.IncidentUpdated), string(events.IncidentAcknowledged),
		string(events.IncidentResolved), string(events.IncidentReopened), string(events.SLAWarning), string(events.SLABreached),
		string(events.BudgetBurn), string(events.MaintenanceScheduled), string(events.MaintenanceRescheduled), string(events.MaintenanceCancelled),
		string(events.MaintenanceReminder), string(events.MaintenanceStarted), string(events.MaintenanceEnded)}
	// GroupFields are what GroupBy may name.
	GroupFields = []string{"component", "kind", "severity", "monitor", "incident"}
)

// notifiable reports whether any route could send ev: not a change inside maintenance (it
// pages no one), not an API key or component edit, not a notification's own change.
func notifiable(ev events.Event) bool {
	if ev.UnderMaintenance {
		return false
	}
	return slices.Contains(RouteKinds, string(ev.Kind))
}

// kinds are the names ev answers to: its kind and its refinements.
func kinds(ev events.Event) []string {
	out := []string{string(ev.Kind)}
	switch ev.Kind {
	case events.MonitorState:
		// After a restart a monitor's first change carries on from its state at the stop: still
		// down is no new monitor.down, up again is a monitor.up.
		from := ev.From
		if from == "unknown" && ev.Resumed != "" {
			from = ev.Resumed
		}
		switch {
		case ev.To == "down" && from != "down":
			out = append(out, MonitorDown)
		case ev.To == "up" && (from == "down" || from == "degraded"):
			out = append(out, MonitorUp)
		case ev.To == "degraded" && from != "degraded":
			out = append(out, MonitorDegraded)
		}
	case events.IncidentDeclared:
		if ev.Incident != nil && ev.Incident.Automatic {
			out = append(out, IncidentOpened)
		}
	}
	return out
}

// components are the components ev is about.
func components(ev events.Event) []string {
	var out []string
	if ev.ComponentID != "" {
		out = append(out, ev.ComponentID)
	}
	out = append(out, ev.Components...)
	if ev.Incident != nil {
		for _, a := range ev.Incident.Components {
			out = append(out, a.ComponentID)
		}
	}
	return out
}

// severity is ev's severity: its own, its incident's, or its monitor's (sev).
func severity(ev events.Event, monitorSeverity map[string]incidents.Severity) string {
	switch {
	case ev.Severity != "":
		return ev.Severity
	case ev.Incident != nil:
		return string(ev.Incident.Severity)
	case ev.MonitorID != "":
		if s, ok := monitorSeverity[ev.MonitorID]; ok {
			return string(s)
		}
		return string(incidents.P1)
	}
	return ""
}

// Matches reports whether the route sends ev.
func (r *Route) Matches(ev events.Event, monitorSeverity map[string]incidents.Severity) bool {
	if !notifiable(ev) {
		return false
	}
	if len(r.Kinds) > 0 && !overlaps(r.Kinds, kinds(ev)) {
		return false
	}
	if len(r.Components) > 0 && !overlaps(r.Components, components(ev)) {
		return false
	}
	if len(r.Severities) > 0 && !slices.Contains(r.Severities, severity(ev, monitorSeverity)) {
		return false
	}
	return true
}

func overlaps(a, b []string) bool {
	for _, x := range b {
		if slices.Contains(a, x) {
			return true
		}
	}
	return false
}

// groupKey is the group ev falls in on route r ("" when the route does not group).
func (r *Route) groupKey(ev events.Event, monitorSeverity map[string]incidents.Severity) string {
	if r.GroupWait <= 0 {
		return ""
	}
	parts := []string{r.Name}
	for _, f := range r.GroupBy {
		switch f {
		case "component":
			parts = append(parts, strings.Join(components(ev), ","))
		case "kind":
			parts = append(parts, strings.Join(kinds(ev), ","))
		case "severity":
			parts = append(parts, severity(ev, monitorSeverity))
		case "monitor":
			parts = append(parts, ev.MonitorID)
		case "incident":
			parts = append(parts, ev.IncidentID)
		}
	}
	return strings.Join(parts, "\x00")
}

// lifecycle is the page action and dedup key of ev: what a PagerDuty-like receiver does with it.
func lifecycle(ev events.Event) (action, dedup string) {
	switch ev.Kind {
	case events.IncidentDeclared, events.IncidentReopened:
		return "trigger", "incident/" + ev.IncidentID
	case events.IncidentAcknowledged:
		return "acknowledge", "incident/" + ev.IncidentID
	case events.IncidentResolved:
		return "resolve", "incident/" + ev.IncidentID
	case events.IncidentUpdated:
		return "", "incident/" + ev.IncidentID
	case events.MonitorState:
		switch ev.To {
		case "down", "degraded":
			return "trigger", "monitor/" + ev.MonitorID
		case "up":
			return "resolve", "monitor/" + ev.MonitorID
		}
		return "", "monitor/" + ev.MonitorID
	case events.SLAWarning, events.SLABreached:
		return "trigger", "sla/" + ev.IncidentID + "/" + ev.Clock
	case events.BudgetBurn:
		return "trigger", "burn/" + ev.ComponentID + "/" + ev.Severity
	case events.ComponentStatus:
		if ev.To == "operational" {
			return "resolve", "component/" + ev.ComponentID
		}
		return "trigger", "component/" + ev.ComponentID
	}
	return "", ""
}
