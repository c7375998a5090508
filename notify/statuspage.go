package notify

import (
	"time"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
)

// Statuspage's webhook payloads (what Zulip, Better Stack and many scripts parse): meta and page,
// then the incident with its updates, or a component with its update. Upstate adds its own
// "upstate" object (the idempotency key, the event kinds, the page's lifecycle action), which
// Statuspage consumers ignore. Field names and nulls follow Statuspage's v2 shapes exactly.

// spTime is Statuspage's timestamp: ISO 8601 with milliseconds and the page's offset.
type spTime struct {
	t   time.Time
	loc *time.Location
}

func (t spTime) MarshalJSON() ([]byte, error) {
	if t.t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.t.In(t.loc).Format("2006-01-02T15:04:05.000-07:00") + `"`), nil
}

type spMeta struct {
	Unsubscribe   string `json:"unsubscribe"`
	Documentation string `json:"documentation"`
	GeneratedAt   spTime `json:"generated_at"`
}

type spPage struct {
	ID                string `json:"id"`
	StatusIndicator   string `json:"status_indicator"`
	StatusDescription string `json:"status_description"`
}

type spComponent struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          spTime  `json:"created_at"`
	UpdatedAt          spTime  `json:"updated_at"`
	Position           int     `json:"position"`
	Description        *string `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
}

type spAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type spUpdate struct {
	ID                   string        `json:"id"`
	Status               string        `json:"status"`
	Body                 string        `json:"body"`
	IncidentID           string        `json:"incident_id"`
	CreatedAt            spTime        `json:"created_at"`
	UpdatedAt            spTime        `json:"updated_at"`
	DisplayAt            spTime        `json:"display_at"`
	AffectedComponents   *[]spAffected `json:"affected_components"`
	DeliverNotifications bool          `json:"deliver_notifications"`
	CustomTweet          *string       `json:"custom_tweet"`
	TweetID              *string       `json:"tweet_id"`
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       spTime        `json:"created_at"`
	UpdatedAt       spTime        `json:"updated_at"`
	MonitoringAt    spTime        `json:"monitoring_at"`
	ResolvedAt      spTime        `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       spTime        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"` // newest first
	Components      []spComponent `json:"components"`
}

type spComponentUpdate struct {
	OldStatus     string `json:"old_status"`
	NewStatus     string `json:"new_status"`
	CreatedAt     spTime `json:"created_at"`
	ComponentType string `json:"component_type"`
	ID            string `json:"id"`
	ComponentID   string `json:"component_id"`
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
	Incident        *spIncident        `json:"incident,omitempty"`
	ComponentUpdate *spComponentUpdate `json:"component_update,omitempty"`
	Component       *spComponent       `json:"component,omitempty"`
	Upstate         upstateBlock       `json:"upstate"`
}

// indicator is Statuspage's page status indicator and description for a component status.
func indicator(status string) (string, string) {
	switch status {
	case "major_outage":
		return "major", "Major System Outage"
	case "partial_outage":
		return "minor", "Partial System Outage"
	case "degraded_performance":
		return "minor", "Partially Degraded Service"
	case "under_maintenance":
		return "maintenance", "Service Under Maintenance"
	}
	return "none", "All Systems Operational"
}

// spStatus maps a status to Statuspage's five words (unknown reads operational there).
func spStatus(s string) string {
	switch s {
	case "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance":
		return s
	}
	return "operational"
}

func (p Page) spComponent(id, name, status string, at time.Time) spComponent {
	t := spTime{at, p.loc()}
	return spComponent{ID: id, Name: name, Status: spStatus(status), CreatedAt: t, UpdatedAt: t, Showcase: true, PageID: p.ID()}
}

func (p Page) spIncident(inc *incidents.Incident, names map[string]string) *spIncident {
	loc := p.loc()
	v := &spIncident{ID: inc.ID, Name: inc.Title, Status: string(inc.Status), CreatedAt: spTime{inc.OpenedAt, loc}, UpdatedAt: spTime{inc.UpdatedAt, loc},
		ResolvedAt: spTime{inc.ResolvedAt, loc}, Impact: inc.Severity.Impact(), Shortlink: p.PublicURL + "/incidents/" + inc.ID,
		StartedAt: spTime{inc.StartedAt, loc}, PageID: p.ID(), IncidentUpdates: []spUpdate{}, Components: []spComponent{}}
	if v.UpdatedAt.t.IsZero() {
		v.UpdatedAt = v.CreatedAt
	}
	for _, u := range inc.Updates {
		if u.Status == incidents.Monitoring && v.MonitoringAt.t.IsZero() {
			v.MonitoringAt = spTime{u.At, loc}
		}
	}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		up := spUpdate{ID: u.ID, Status: string(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: spTime{u.At, loc}, UpdatedAt: spTime{u.At, loc},
			DisplayAt: spTime{u.At, loc}, DeliverNotifications: true}
		if len(u.Components) > 0 {
			aff := []spAffected{}
			for _, a := range u.Components {
				aff = append(aff, spAffected{Code: a.ComponentID, Name: nameOr(names, a.ComponentID), OldStatus: "operational", NewStatus: spStatus(string(a.Impact))})
			}
			up.AffectedComponents = &aff
		}
		v.IncidentUpdates = append(v.IncidentUpdates, up)
	}
	for _, a := range inc.Components {
		status := string(a.Impact)
		if !inc.Open() {
			status = "operational"
		}
		v.Components = append(v.Components, p.spComponent(a.ComponentID, nameOr(names, a.ComponentID), status, inc.OpenedAt))
	}
	return v
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
			GeneratedAt: spTime{now, p.loc()}},
		Upstate: upstateBlock{NotificationID: n.ID, Attempt: n.Attempts, Kind: m.Kind, Action: m.Action, DedupKey: n.DedupKey, Severity: m.Severity,
			Subject: m.Subject, Text: m.Text, URL: m.URL, Step: m.Step, Repeat: m.Repeat, Route: m.Route, Events: m.Events},
	}
	if pl.Upstate.Events == nil {
		pl.Upstate.Events = []events.Event{}
	}
	pl.Page.ID = p.ID()
	pl.Page.StatusIndicator, pl.Page.StatusDescription = indicator("operational")
	if inc := m.Incident(); inc != nil {
		pl.Incident = p.spIncident(inc, m.Components)
		if inc.Open() {
			worst := "operational"
			for _, a := range inc.Components {
				if rank(string(a.Impact)) > rank(worst) {
					worst = string(a.Impact)
				}
			}
			pl.Page.StatusIndicator, pl.Page.StatusDescription = indicator(worst)
		}
		return pl
	}
	if len(m.Events) > 0 {
		ev := m.Events[len(m.Events)-1]
		if ev.Kind == events.ComponentStatus {
			pl.ComponentUpdate = &spComponentUpdate{OldStatus: spStatus(ev.From), NewStatus: spStatus(ev.To), CreatedAt: spTime{ev.At, p.loc()},
				ComponentType: "Component", ID: ev.ID, ComponentID: ev.ComponentID}
			c := p.spComponent(ev.ComponentID, nameOr(m.Components, ev.ComponentID), ev.To, ev.At)
			pl.Component = &c
			pl.Page.StatusIndicator, pl.Page.StatusDescription = indicator(ev.To)
		}
	}
	return pl
}

func rank(status string) int {
	switch status {
	case "degraded_performance":
		return 1
	case "partial_outage":
		return 2
	case "major_outage":
		return 3
	}
	return 0
}
