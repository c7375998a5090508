package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/upstate-dev/upstate/events"
)

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pagerDuty sends Events API v2 events: a trigger opens (or adds to) the alert of its dedup_key,
// acknowledge and resolve move it along, so an incident's page follows the incident.
type pagerDuty struct {
	t       Target
	client  *http.Client
	page    Page
	version string
}

func newPagerDuty(t Target, client *http.Client, page Page, version string) (*pagerDuty, error) {
	if t.URL == "" {
		t.URL = DefaultPagerDutyURL
	}
	if err := CheckHTTPURL(t.URL); err != nil {
		return nil, err
	}
	if t.RoutingKey == "" {
		return nil, fmt.Errorf("routing_key is required")
	}
	return &pagerDuty{t: t, client: client, page: page, version: version}, nil
}

// PagerDutyEvent is an Events API v2 event.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"` // trigger, acknowledge, resolve
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"` // trigger only
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
}

// PagerDutyPayload is a trigger's payload.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"` // critical, error, warning, info
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// pdSeverity maps P0..P3 (and a burn-rate alert's page or ticket) to PagerDuty's words.
func pdSeverity(s string) string {
	switch s {
	case "P0", "page":
		return "critical"
	case "P1":
		return "error"
	case "P2", "ticket":
		return "warning"
	}
	return "info"
}

func (p *pagerDuty) event(d Delivery) PagerDutyEvent {
	m := d.Message
	action := m.Action
	if action == "" {
		action = "trigger"
	}
	dedup := d.Notification.DedupKey
	if dedup == "" {
		dedup = d.Notification.ID
	}
	ev := PagerDutyEvent{RoutingKey: p.t.RoutingKey, EventAction: action, DedupKey: dedup, Client: p.page.Title, ClientURL: m.URL}
	if action != "trigger" {
		return ev
	}
	sev := m.Severity
	pl := &PagerDutyPayload{Summary: clip(m.Subject, 1024), Source: p.page.PublicURL, Severity: pdSeverity(sev), Class: m.Kind,
		Timestamp: m.At.UTC().Format(time.RFC3339), CustomDetails: map[string]any{"text": m.Text, "notification_id": d.Notification.ID}}
	if len(m.Events) > 0 {
		e := m.Events[0]
		pl.Component = e.ComponentID
		if e.Kind == events.MonitorState {
			pl.Group = e.MonitorID
		}
	}
	if inc := m.Incident(); inc != nil && len(inc.Components) > 0 {
		pl.Component = inc.Components[0].ComponentID
	}
	if m.Step > 0 {
		pl.CustomDetails["escalation_step"] = m.Step
	}
	ev.Payload = pl
	return ev
}

func (p *pagerDuty) Send(ctx context.Context, d Delivery) error {
	body, err := json.Marshal(p.event(d))
	if err != nil {
		return &Permanent{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.t.URL, bytes.NewReader(body))
	if err != nil {
		return &Permanent{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Upstate/"+p.version)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	answer := readBounded(resp.Body)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		return httpError(resp, answer, true) // "invalid event": sending it again changes nothing
	}
	return httpError(resp, answer, false)
}
