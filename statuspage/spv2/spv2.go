// Package spv2 holds Statuspage's v2 shapes, exactly (field names, values and nulls), and the
// rules that fill them: the public API's JSON (/api/v2) and the webhook payloads that Zulip,
// Better Stack and many scripts parse are made here, so both say the same thing about the same
// state. Existing clients and widgets read these, so nothing here may be renamed, and arrays are
// never null.
package spv2

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

// Time is Statuspage's timestamp: ISO 8601 with milliseconds and the page's own offset, written
// when the value is made (a plain string encodes without a MarshalJSON call per timestamp, of
// which a summary of 10,000 components has 20,000).
type Time string

// Page is what the shapes need to know of the status page.
type Page struct {
	ID        string // PageID of PublicURL
	PublicURL string // without a trailing slash
	Location  *time.Location
}

// NewPage is the page at publicURL, its times in loc (UTC if nil).
func NewPage(publicURL string, loc *time.Location) Page {
	if loc == nil {
		loc = time.UTC
	}
	return Page{ID: PageID(publicURL), PublicURL: publicURL, Location: loc}
}

// PageID is a stable, Statuspage-like id derived from the page's public URL.
func PageID(publicURL string) string {
	sum := sha256.Sum256([]byte(publicURL))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:12]
}

// Time formats t in the page's zone.
func (p Page) Time(t time.Time) Time {
	return Time(t.In(p.Location).Format("2006-01-02T15:04:05.000-07:00"))
}

// OptionalTime is t, or null when t is zero.
func (p Page) OptionalTime(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := p.Time(t)
	return &v
}

// Status maps a status to Statuspage's five words. Statuspage has no word for "no data"; such a
// component is reported operational there (Upstate's own API and page say "unknown").
func Status(st component.Status) string {
	if st == component.Unknown || !st.Valid() {
		return string(component.Operational)
	}
	return string(st)
}

type Component struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          Time     `json:"created_at"`
	UpdatedAt          Time     `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"` // groups only: their children's ids
}

// Component is c in Statuspage's shape, showing status shown; children is each group's
// children's ids (GroupChildren), nil when not known (a group then lists none).
func (p Page) Component(c component.Component, shown component.Status, children map[string][]string) Component {
	v := Component{ID: c.ID, Name: c.Name, Status: Status(shown), CreatedAt: p.Time(c.CreatedAt), UpdatedAt: p.Time(c.UpdatedAt),
		Position: c.Position + 1, Showcase: true, PageID: p.ID, Group: c.IsGroup}
	if c.Description != "" {
		d := c.Description
		v.Description = &d
	}
	if c.GroupID != "" {
		g := c.GroupID
		v.GroupID = &g
	}
	if c.IsGroup {
		v.Components = children[c.ID] // shared, never written to
		if v.Components == nil {
			v.Components = []string{}
		}
	}
	return v
}

// GroupChildren lists each group's children's ids, in the components' order: a group's
// "components" field, found once for all groups rather than by a scan of every component per
// group.
func GroupChildren(all []component.Component) map[string][]string {
	out := map[string][]string{}
	for _, c := range all {
		if c.GroupID != "" {
			out[c.GroupID] = append(out[c.GroupID], c.ID)
		}
	}
	return out
}

type AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type Update struct {
	ID                   string               `json:"id"`
	Status               string               `json:"status"`
	Body                 string               `json:"body"`
	IncidentID           string               `json:"incident_id"`
	CreatedAt            Time                 `json:"created_at"`
	UpdatedAt            Time                 `json:"updated_at"`
	DisplayAt            Time                 `json:"display_at"`
	AffectedComponents   *[]AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                 `json:"deliver_notifications"`
	CustomTweet          *string              `json:"custom_tweet"`
	TweetID              *string              `json:"tweet_id"`
}

type Incident struct {
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	Status          string      `json:"status"`
	CreatedAt       Time        `json:"created_at"`
	UpdatedAt       Time        `json:"updated_at"`
	MonitoringAt    *Time       `json:"monitoring_at"`
	ResolvedAt      *Time       `json:"resolved_at"`
	Impact          string      `json:"impact"`
	Shortlink       string      `json:"shortlink"`
	StartedAt       Time        `json:"started_at"`
	PageID          string      `json:"page_id"`
	IncidentUpdates []Update    `json:"incident_updates"` // newest first
	Components      []Component `json:"components"`
}

// ScheduledMaintenance is an incident with its schedule: Statuspage gives both the same fields.
type ScheduledMaintenance struct {
	Incident
	ScheduledFor   Time `json:"scheduled_for"`
	ScheduledUntil Time `json:"scheduled_until"`
}

// Incident is inc in Statuspage's shape, with the components it affects (in the caller's
// shape: the page shows each one's current status) and name giving a component's name for the
// updates' affected components. Only public updates are shown (an acknowledgement without words
// is for the team); an update without a body says its status ("Identified.").
func (p Page) Incident(inc incidents.Incident, components []Component, name func(id string) string) Incident {
	if components == nil {
		components = []Component{}
	}
	v := Incident{ID: inc.ID, Name: inc.Title, Status: string(inc.Status), CreatedAt: p.Time(inc.OpenedAt), UpdatedAt: p.Time(inc.UpdatedAt),
		ResolvedAt: p.OptionalTime(inc.ResolvedAt), Impact: inc.Severity.Impact(), Shortlink: p.PublicURL + "/incidents/" + inc.ID,
		StartedAt: p.Time(inc.StartedAt), PageID: p.ID, IncidentUpdates: []Update{}, Components: components}
	if inc.UpdatedAt.IsZero() {
		v.UpdatedAt = v.CreatedAt
	}
	prev := map[string]component.Status{}
	for _, u := range inc.Updates {
		if !u.Public() {
			continue
		}
		if u.Status == incidents.Monitoring && v.MonitoringAt == nil {
			v.MonitoringAt = p.OptionalTime(u.At)
		}
		up := Update{ID: u.ID, Status: string(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: p.Time(u.At),
			UpdatedAt: p.Time(u.At), DisplayAt: p.Time(u.At), DeliverNotifications: true}
		if u.Components != nil {
			changes := []AffectedComponent{}
			for _, a := range u.Components {
				old := prev[a.ComponentID]
				if old == "" {
					old = component.Operational
				}
				changes = append(changes, AffectedComponent{Code: a.ComponentID, Name: name(a.ComponentID), OldStatus: string(old), NewStatus: string(a.Impact)})
				prev[a.ComponentID] = a.Impact
			}
			up.AffectedComponents = &changes
		}
		if up.Body == "" {
			up.Body = StatusWord(string(u.Status)) + "."
		}
		v.IncidentUpdates = append(v.IncidentUpdates, up)
	}
	slices.Reverse(v.IncidentUpdates) // newest first
	return v
}

// StatusWord is a status as a word of a sentence: "under_maintenance" -> "Under maintenance".
func StatusWord(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
}

// Indicator is the page's status in Statuspage's words.
type Indicator struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

// PageStatus is the worse of the components' statuses and the unresolved incidents' impacts,
// in Statuspage's words: degraded reads minor ("Partially Degraded Service"), a partial outage
// major, a major outage critical.
func PageStatus(statuses []component.Status, impacts []string) Indicator {
	rank := map[string]int{"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}
	words := map[string]string{"none": "All Systems Operational", "maintenance": "Service Under Maintenance", "minor": "Minor Service Outage",
		"major": "Partial System Outage", "critical": "Major System Outage"}
	out := Indicator{"none", words["none"]}
	raise := func(ind, desc string) {
		if rank[ind] > rank[out.Indicator] {
			out = Indicator{ind, desc}
		}
	}
	for _, st := range statuses {
		switch st {
		case component.DegradedPerformance:
			raise("minor", "Partially Degraded Service")
		case component.PartialOutage:
			raise("major", words["major"])
		case component.MajorOutage:
			raise("critical", words["critical"])
		case component.UnderMaintenance:
			raise("maintenance", words["maintenance"])
		}
	}
	for _, imp := range impacts {
		if _, known := words[imp]; known && imp != "none" {
			raise(imp, words[imp])
		}
	}
	return out
}
