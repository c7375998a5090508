package notify

import (
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/statuspage/spv2"
)

// Statuspage's webhook payloads (what Zulip, Better Stack and many scripts parse): meta and page,
// then the incident with its updates, or a component with its update. Upstate adds its own
// "upstate" object (the idempotency key, the event kinds, the page's lifecycle action), which
// Statuspage consumers ignore. The incident and component are the public API's shapes, made by
// statuspage/spv2 as /api/v2 makes them, and the page's indicator uses status.json's words.

type spMeta struct {
	Unsubscribe   string    `json:"unsubscribe"`
	Documentation string    `json:"documentation"`
	GeneratedAt   spv2.Time `json:"generated_at"`
}

type spPage struct {
	ID                string `json:"id"`
	StatusIndicator   string `json:"status_indicator"`
	StatusDescription string `json:"status_description"`
}

type spComponentUpdate struct {
	OldStatus     string    `json:"old_status"`
	NewStatus     string    `json:"new_status"`
	CreatedAt     spv2.Time `json:"created_at"`
	ComponentType string    `json:"component_type"`
	ID            string    `json:"id"`
	ComponentID   string    `json:"component_id"`
}

// upstateBlock is Upstate's own part of a webhook payload.
type upstateBlock struct {
	NotificationID string         `json:"notification_id"` // the idempotency key
	Attempt        int            `json:"attempt"`
	Kind           string         `json:"kind"`
	Action         string         `json:"action,omitempty"`
	DedupKey       string         `json:"dedup_key,omitempty"`
	Severity       string         `json:"severity,omitempty"`
	Subject        string         `json:"subject"`
	Text           string         `json:"text"`
	URL            string         `json:"url,omitempty"`
	Step           int            `json:"escalation_step,omitempty"`
	Repeat         int            `json:"repeat,omitempty"`
	Route          string         `json:"route,omitempty"`
	Events         []events.Event `json:"events"`
}

type webhookPayload struct {
	Meta            spMeta             `json:"meta"`
	Page            spPage             `json:"page"`
	Incident        *spv2.Incident     `json:"incident,omitempty"`
	ComponentUpdate *spComponentUpdate `json:"component_update,omitempty"`
	Component       *spv2.Component    `json:"component,omitempty"`
	Upstate         upstateBlock       `json:"upstate"`
}

// spComponent is a component as a webhook knows it: its name and the status it changed to.
func (p Page) spComponent(id, name, status string, at time.Time) spv2.Component {
	return p.sp().Component(component.Component{ID: id, Name: name, CreatedAt: at, UpdatedAt: at}, component.Status(status), nil)
}

// spIncident is the incident in the public API's shape, each component with the incident's
// impact on it (operational once resolved).
func (p Page) spIncident(inc *incidents.Incident, names map[string]string) *spv2.Incident {
	var comps []spv2.Component
	for _, a := range inc.Components {
		status := string(a.Impact)
		if !inc.Open() {
			status = string(component.Operational)
		}
		comps = append(comps, p.spComponent(a.ComponentID, nameOr(names, a.ComponentID), status, inc.OpenedAt))
	}
	v := p.sp().Incident(*inc, comps, func(id string) string { return nameOr(names, id) })
	return &v
}

func nameOr(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

// webhookBody is the JSON a webhook target receives for d.
func (p Page) webhookBody(d Delivery, now time.Time) webhookPayload {
	m := d.Message
	n := d.Notification
	pl := webhookPayload{
		Meta: spMeta{Unsubscribe: p.PublicURL + "/", Documentation: "https://github.com/upstate-dev/upstate/blob/main/docs/notifications.md",
			GeneratedAt: p.sp().Time(now)},
		Upstate: upstateBlock{NotificationID: n.ID, Attempt: n.Attempts, Kind: m.Kind, Action: m.Action, DedupKey: n.DedupKey, Severity: m.Severity,
			Subject: m.Subject, Text: m.Text, URL: m.URL, Step: m.Step, Repeat: m.Repeat, Route: m.Route, Events: m.Events},
	}
	if pl.Upstate.Events == nil {
		pl.Upstate.Events = []events.Event{}
	}
	pl.Page.ID = p.ID()
	status := spv2.PageStatus(nil, nil) // the words of /api/v2/status.json for what this is about
	if inc := m.Incident(); inc != nil {
		pl.Incident = p.spIncident(inc, m.Components)
		if inc.Open() {
			var statuses []component.Status
			for _, a := range inc.Components {
				statuses = append(statuses, a.Impact)
			}
			status = spv2.PageStatus(statuses, []string{inc.Severity.Impact()})
		}
	} else if len(m.Events) > 0 {
		ev := m.Events[len(m.Events)-1]
		if ev.Kind == events.ComponentStatus {
			pl.ComponentUpdate = &spComponentUpdate{OldStatus: spv2.Status(component.Status(ev.From)), NewStatus: spv2.Status(component.Status(ev.To)),
				CreatedAt: p.sp().Time(ev.At), ComponentType: "Component", ID: ev.ID, ComponentID: ev.ComponentID}
			c := p.spComponent(ev.ComponentID, nameOr(m.Components, ev.ComponentID), ev.To, ev.At)
			pl.Component = &c
			status = spv2.PageStatus([]component.Status{component.Status(ev.To)}, nil)
		}
	}
	pl.Page.StatusIndicator, pl.Page.StatusDescription = status.Indicator, status.Description
	return pl
}
