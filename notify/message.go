package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/statuspage/spv2"
)

// Page is how messages name the status page: its title, address and zone.
type Page struct {
	Title     string
	PublicURL string // without a trailing slash
	Location  *time.Location
}

// ID is the page's Statuspage-style id, derived from its address as the public API derives it.
func (p Page) ID() string { return spv2.PageID(p.PublicURL) }

// sp is the page as Statuspage's shapes name it.
func (p Page) sp() spv2.Page { return spv2.NewPage(p.PublicURL, p.loc()) }

func (p Page) loc() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Message is what a notification says, independent of its channel: stored in the outbox as the
// notification's payload and rendered by each channel (JSON, mail, chat text, a PagerDuty event).
type Message struct {
	Kind     string `json:"kind"`             // an event kind, or escalation, repeat, test
	Action   string `json:"action,omitempty"` // trigger, acknowledge, resolve: a page's lifecycle
	Subject  string `json:"subject"`
	Text     string `json:"text"` // plain text, a few lines
	Severity string `json:"severity,omitempty"`
	URL      string `json:"url,omitempty"` // the page of what it is about
	// Step is an escalation's step (1 is the first); Repeat counts re-sends while unacknowledged.
	Step   int `json:"step,omitempty"`
	Repeat int `json:"repeat,omitempty"`
	// Events are what it is about: one, or several grouped into one message.
	Events []events.Event `json:"events"`
	// Components names the components the events name (id -> name).
	Components map[string]string `json:"components,omitempty"`
	At         time.Time         `json:"at"` // when it happened (the first event's time)
	// Route names the route that chose the targets ("" for escalations and tests).
	Route string `json:"route,omitempty"`
}

// Incident is the incident the message is about, as of its newest event, or nil.
func (m *Message) Incident() *incidents.Incident {
	for i := len(m.Events) - 1; i >= 0; i-- {
		if m.Events[i].Incident != nil {
			return m.Events[i].Incident
		}
	}
	return nil
}

// key derives a notification's id (its idempotency key) from what it is about and where it
// goes: the same parts always give the same id, so enqueuing twice stores once.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "ntf-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// when renders an instant in the page's zone and in UTC.
func (p Page) when(t time.Time) string {
	local := t.In(p.loc())
	if p.loc() == time.UTC {
		return local.Format("2006-01-02 15:04:05 UTC")
	}
	return local.Format("2006-01-02 15:04:05 MST") + " (" + t.UTC().Format("15:04:05 UTC") + ")"
}

func (m *Message) name(id string) string {
	if n := m.Components[id]; n != "" {
		return n
	}
	return id
}

// describe writes the subject and text of a message about one event.
func (p Page) describe(m *Message, ev events.Event) {
	inc := ev.Incident
	incURL := func() string {
		if inc == nil {
			return p.PublicURL + "/"
		}
		return p.PublicURL + "/incidents/" + inc.ID
	}
	m.URL = p.PublicURL + "/"
	switch ev.Kind {
	case events.MonitorState:
		comp := m.name(ev.ComponentID)
		switch ev.To {
		case "down":
			m.Subject = fmt.Sprintf("[DOWN] %s: monitor %s is down", comp, ev.MonitorID)
			m.Text = fmt.Sprintf("Monitor %s of %s is down since %s (back-dated to its first failed check): %s.", ev.MonitorID, comp, p.when(ev.At), orNone(ev.Reason))
		case "up":
			m.Subject = fmt.Sprintf("[UP] %s: monitor %s is up", comp, ev.MonitorID)
			m.Text = fmt.Sprintf("Monitor %s of %s passes again since %s (it was %s).", ev.MonitorID, comp, p.when(ev.At), ev.From)
		default:
			m.Subject = fmt.Sprintf("[%s] %s: monitor %s is %s", strings.ToUpper(ev.To), comp, ev.MonitorID, ev.To)
			m.Text = fmt.Sprintf("Monitor %s of %s is %s since %s (it was %s): %s.", ev.MonitorID, comp, ev.To, p.when(ev.At), ev.From, orNone(ev.Reason))
		}
	case events.ComponentStatus:
		comp := m.name(ev.ComponentID)
		m.Subject = fmt.Sprintf("[%s] %s is %s", words(ev.To), comp, words(ev.To))
		m.Text = fmt.Sprintf("%s is %s since %s (it was %s). %s", comp, words(ev.To), p.when(ev.At), words(ev.From), ev.Reason)
	case events.IncidentDeclared, events.IncidentUpdated, events.IncidentAcknowledged, events.IncidentResolved, events.IncidentReopened:
		if inc == nil {
			m.Subject, m.Text = string(ev.Kind), ""
			break
		}
		m.URL = incURL()
		verb := map[events.Kind]string{events.IncidentDeclared: "Incident", events.IncidentUpdated: "Update", events.IncidentAcknowledged: "Acknowledged",
			events.IncidentResolved: "Resolved", events.IncidentReopened: "Reopened"}[ev.Kind]
		if ev.Kind == events.IncidentDeclared && inc.Automatic {
			verb = "Incident opened"
		}
		m.Subject = fmt.Sprintf("[%s %s] %s", inc.Severity, verb, inc.Title)
		var b strings.Builder
		fmt.Fprintf(&b, "%s, %s (%s), since %s.", inc.Title, inc.Status, severityWords(inc.Severity), p.when(inc.StartedAt))
		if ev.Kind == events.IncidentAcknowledged {
			fmt.Fprintf(&b, " Acknowledged by %s at %s.", ev.Actor, p.when(ev.At))
		}
		if t := latestText(inc); t != "" && ev.Kind != events.IncidentAcknowledged {
			fmt.Fprintf(&b, "\n\n%s", t)
		}
		if len(inc.Components) > 0 {
			var names []string
			for _, a := range inc.Components {
				names = append(names, m.name(a.ComponentID)+" ("+words(string(a.Impact))+")")
			}
			fmt.Fprintf(&b, "\n\nAffected: %s.", strings.Join(names, ", "))
		}
		m.Text = b.String()
	case events.SLAWarning, events.SLABreached:
		title := ev.IncidentID
		if inc != nil {
			title = inc.Title
			m.URL = incURL()
		}
		what := "passed its warning point"
		tag := "SLA warning"
		if ev.Kind == events.SLABreached {
			what, tag = "passed its deadline unmet", "SLA breached"
		}
		if ev.Reason != "" {
			what = ev.Reason
		}
		m.Subject = fmt.Sprintf("[%s] %s %s: %s", tag, ev.Severity, strings.ReplaceAll(ev.Clock, "_", " "), title)
		m.Text = fmt.Sprintf("The %s clock of %s incident %q %s at %s.", strings.ReplaceAll(ev.Clock, "_", " "), ev.Severity, title, what, p.when(ev.At))
	case events.BudgetBurn:
		comp := m.name(ev.ComponentID)
		m.Subject = fmt.Sprintf("[Budget burn, %s] %s", ev.Severity, comp)
		m.Text = fmt.Sprintf("%s is burning its error budget fast (%s) as of %s.", comp, ev.Reason, p.when(ev.At))
	case events.MaintenanceScheduled, events.MaintenanceRescheduled, events.MaintenanceCancelled, events.MaintenanceReminder,
		events.MaintenanceStarted, events.MaintenanceEnded:
		title := ev.WindowID
		if ev.Window != nil && ev.Window.Title != "" {
			title = ev.Window.Title
		}
		var comps []string
		for _, c := range ev.Components {
			comps = append(comps, m.name(c))
		}
		verb := map[events.Kind]string{events.MaintenanceScheduled: "scheduled", events.MaintenanceRescheduled: "changed",
			events.MaintenanceCancelled: "cancelled", events.MaintenanceReminder: "reminder", events.MaintenanceStarted: "started",
			events.MaintenanceEnded: "ended"}[ev.Kind]
		m.Subject = fmt.Sprintf("[Maintenance %s] %s", verb, title)
		switch {
		case ev.Kind == events.MaintenanceReminder:
			m.Text = fmt.Sprintf("%s starts in %s, at %s.", title, ev.Before, p.when(ev.At.Add(ev.Before)))
		case !ev.Scheduled.IsZero():
			m.Text = fmt.Sprintf("%s (the occurrence scheduled for %s) %s at %s.", title, p.when(ev.Scheduled), verb, p.when(ev.At))
		default:
			m.Text = fmt.Sprintf("%s was %s at %s.", title, verb, p.when(ev.At))
		}
		if len(comps) > 0 {
			m.Text += " Components: " + strings.Join(comps, ", ") + "."
		}
	default:
		m.Subject, m.Text = string(ev.Kind), ev.Reason
	}
}

// latestText is what the incident's latest change wrote: its newest update's text, after the
// internal updates recorded with it. An automatic incident's first change is an internal
// update naming the monitor and the probe's reason, then the public text that names neither:
// the team's messages carry both. A subscriber's event holds public updates only.
func latestText(inc *incidents.Incident) string {
	n := len(inc.Updates)
	if n == 0 {
		return ""
	}
	last, first := inc.Updates[n-1], n-1
	for first > 0 && inc.Updates[first-1].Internal && inc.Updates[first-1].At.Equal(last.At) {
		first--
	}
	var parts []string
	for _, u := range inc.Updates[first:] {
		if u.Body != "" {
			parts = append(parts, u.Body)
		}
	}
	return strings.Join(parts, "\n\n")
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// words turns a status such as major_outage into words.
func words(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.ReplaceAll(s, "_", " ")
}

func severityWords(s incidents.Severity) string {
	return map[incidents.Severity]string{incidents.P0: "critical", incidents.P1: "major", incidents.P2: "minor", incidents.P3: "low"}[s] + " " + string(s)
}

// eventMessage is the message about one event.
func (p Page) eventMessage(ev events.Event, names map[string]string) Message {
	m := Message{Kind: string(ev.Kind), Severity: ev.Severity, Events: []events.Event{ev}, At: ev.At, Components: names}
	p.describe(&m, ev)
	return m
}

// groupMessage is one message about several events of one route and group.
func (p Page) groupMessage(evs []events.Event, names map[string]string) Message {
	if len(evs) == 1 {
		return p.eventMessage(evs[0], names)
	}
	m := Message{Kind: string(evs[0].Kind), Events: evs, At: evs[0].At, Components: names, URL: p.PublicURL + "/"}
	var lines []string
	comps := map[string]bool{}
	for _, ev := range evs {
		one := p.eventMessage(ev, names)
		lines = append(lines, "- "+one.Text)
		comps[ev.ComponentID] = true
		if ev.Severity != "" && (m.Severity == "" || ev.Severity < m.Severity) {
			m.Severity = ev.Severity
		}
	}
	what := groupWhat(evs)
	if len(comps) == 1 && evs[0].ComponentID != "" {
		what += " on " + m.name(evs[0].ComponentID)
	}
	tag := kindWord(evs[0])
	for _, ev := range evs[1:] {
		if kindWord(ev) != tag {
			tag = "changes"
		}
	}
	m.Subject = "[" + strings.ToUpper(tag) + "] " + what
	m.Text = what + ":\n" + strings.Join(lines, "\n")
	return m
}

// groupWhat says what a group's events are, counting each thing as what it is: monitors by
// their ids, and burn-rate alerts, SLA alerts and the rest as themselves, never as monitors
// ("1 monitor and 2 burn-rate alerts"). A group of monitor changes alone says how they went.
func groupWhat(evs []events.Event) string {
	monitors := map[string]bool{}
	var changes []events.Event
	var nouns []string // the other kinds' nouns, in the order they first come
	count := map[string]int{}
	for _, ev := range evs {
		if ev.Kind == events.MonitorState {
			monitors[ev.MonitorID] = true
			changes = append(changes, ev)
			continue
		}
		n := eventNoun(ev.Kind)
		if count[n] == 0 {
			nouns = append(nouns, n)
		}
		count[n]++
	}
	var parts []string
	if n := len(changes); n > 0 {
		each := len(monitors) == n // one change a monitor
		switch {
		case len(nouns) == 0 && each && allTo(changes, "down"):
			return fmt.Sprintf("%d monitors are down", n)
		case len(nouns) == 0 && each && allTo(changes, "up"):
			return fmt.Sprintf("%d monitors are up", n)
		case each && (allTo(changes, "down") || allTo(changes, "up")):
			parts = append(parts, fmt.Sprintf("%d monitor%s %s", n, plural(n), changes[0].To))
		case each:
			parts = append(parts, fmt.Sprintf("%d monitor%s", n, plural(n)))
		default:
			parts = append(parts, fmt.Sprintf("%d changes of %d monitor%s", n, len(monitors), plural(len(monitors))))
		}
	}
	for _, n := range nouns {
		parts = append(parts, fmt.Sprintf("%d %s%s", count[n], n, plural(count[n])))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// eventNoun names one event of kind k in a group's subject (its plural adds an s).
func eventNoun(k events.Kind) string {
	switch {
	case k == events.BudgetBurn:
		return "burn-rate alert"
	case strings.HasPrefix(string(k), "sla."):
		return "SLA alert"
	case strings.HasPrefix(string(k), "incident."):
		return "incident update"
	case strings.HasPrefix(string(k), "maintenance."):
		return "maintenance event"
	case strings.HasPrefix(string(k), "component."):
		return "component change"
	}
	return "event"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func allTo(evs []events.Event, to string) bool {
	for _, ev := range evs {
		if ev.To != to {
			return false
		}
	}
	return true
}

func kindWord(ev events.Event) string {
	if ev.Kind == events.MonitorState && ev.To != "" {
		return ev.To
	}
	return string(ev.Kind)
}

// escalationMessage is a page of an escalation step (or its repeat).
func (p Page) escalationMessage(inc incidents.Incident, step, repeat int, since time.Duration, names map[string]string) Message {
	ev := events.Event{Kind: events.IncidentDeclared, At: inc.OpenedAt, IncidentID: inc.ID, Severity: string(inc.Severity), Incident: &inc}
	m := Message{Kind: "escalation", Action: "trigger", Severity: string(inc.Severity), Step: step, Repeat: repeat, Events: []events.Event{ev},
		At: inc.OpenedAt, Components: names, URL: p.PublicURL + "/incidents/" + inc.ID}
	tag := fmt.Sprintf("Escalation %d", step)
	if repeat > 0 {
		tag = fmt.Sprintf("Escalation %d, reminder %d", step, repeat)
	}
	m.Subject = fmt.Sprintf("[%s %s] %s", inc.Severity, tag, inc.Title)
	m.Text = fmt.Sprintf("%s (%s) has not been acknowledged: opened %s, %s of working time ago on its policy's calendar. Acknowledge it to stop the escalation.",
		inc.Title, severityWords(inc.Severity), p.when(inc.OpenedAt), since.Round(time.Second))
	if step == 1 && repeat == 0 {
		m.Text = fmt.Sprintf("%s (%s) is open since %s and needs a response.", inc.Title, severityWords(inc.Severity), p.when(inc.OpenedAt))
		if t := latestText(&inc); t != "" {
			m.Text += "\n\n" + t
		}
	}
	return m
}

// lifecycleMessage tells a paged target that the incident was acknowledged or resolved.
func (p Page) lifecycleMessage(ev events.Event, action string, names map[string]string) Message {
	m := p.eventMessage(ev, names)
	m.Action = action
	return m
}

// TestMessage is the message `upstate notify test` and the admin API send.
func (p Page) TestMessage(target, by string, at time.Time) Message {
	return Message{Kind: "test", Subject: "[Test] Upstate can reach " + target,
		Text: fmt.Sprintf("A test message to target %s from %s, asked for by %s at %s. Nothing happened.", target, p.Title, by, p.when(at)),
		At:   at, URL: p.PublicURL + "/", Events: []events.Event{}}
}
