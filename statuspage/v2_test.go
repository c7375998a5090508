package statuspage

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
)

// The Statuspage v2 shapes, written out from its documentation (not from this package's types),
// so a renamed or extra field fails strict decoding.
type spPage struct {
	ID, Name, URL string
	TimeZone      string `json:"time_zone"`
	UpdatedAt     string `json:"updated_at"`
}

type spComponent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components"`
}

type spUpdate struct {
	ID                 string `json:"id"`
	Status             string `json:"status"`
	Body               string `json:"body"`
	IncidentID         string `json:"incident_id"`
	CreatedAt          string `json:"created_at"`
	UpdatedAt          string `json:"updated_at"`
	DisplayAt          string `json:"display_at"`
	AffectedComponents *[]struct {
		Code      string `json:"code"`
		Name      string `json:"name"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	} `json:"affected_components"`
	DeliverNotifications bool    `json:"deliver_notifications"`
	CustomTweet          *string `json:"custom_tweet"`
	TweetID              *string `json:"tweet_id"`
}

type spMaintenance struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	MonitoringAt    *string       `json:"monitoring_at"`
	ResolvedAt      *string       `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       string        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
	ScheduledFor    string        `json:"scheduled_for"`
	ScheduledUntil  string        `json:"scheduled_until"`
}

type spMaintenances struct {
	Page                  spPage           `json:"page"`
	ScheduledMaintenances *[]spMaintenance `json:"scheduled_maintenances"`
}

var spTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$`)

func strictly(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("not Statuspage's shape: %v\n%s", err, body)
	}
}

func TestV2ScheduledMaintenances(t *testing.T) {
	f := newFixture(t)
	// Empty lists are arrays, never null: clients destructure them.
	for _, path := range []string{"/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/scheduled-maintenances/active.json"} {
		r := f.do("GET", path, "", "")
		var v spMaintenances
		strictly(t, r.body, &v)
		if v.ScheduledMaintenances == nil || len(*v.ScheduledMaintenances) != 0 || r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s with nothing scheduled: %s", path, r.body)
		}
	}
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeMaintenance]
	running := `{"id":"db-upgrade","title":"Database upgrade","components":["db"],"time_zone":"UTC","start":"2026-11-01T09:00:00Z","end":"2026-11-01T11:00:00Z"}`
	for _, b := range []string{running, tuesdayBody} {
		if r := f.do("POST", "/api/admin/v1/maintenance", ops, b); r.code != 201 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	var active, upcoming, all spMaintenances
	strictly(t, f.do("GET", "/api/v2/scheduled-maintenances/active.json", "", "").body, &active)
	strictly(t, f.do("GET", "/api/v2/scheduled-maintenances/upcoming.json", "", "").body, &upcoming)
	strictly(t, f.do("GET", "/api/v2/scheduled-maintenances.json", "", "").body, &all)
	if n := len(*active.ScheduledMaintenances); n != 1 {
		t.Fatalf("%d active, want 1", n)
	}
	a := (*active.ScheduledMaintenances)[0]
	if a.Status != "in_progress" || a.Impact != "maintenance" || len(a.Components) != 1 || a.Components[0].Status != "under_maintenance" ||
		a.ScheduledFor != "2026-11-01T17:00:00.000+08:00" || a.ResolvedAt != nil || len(a.IncidentUpdates) != 2 || a.IncidentUpdates[0].Status != "in_progress" {
		t.Errorf("active = %+v", a)
	}
	// Within the 7-day horizon from Nov 1: Tuesday Nov 3 only (Nov 10 is beyond it).
	if n := len(*upcoming.ScheduledMaintenances); n != 1 || (*upcoming.ScheduledMaintenances)[0].ScheduledFor != "2026-11-04T13:00:00.000+08:00" {
		t.Errorf("upcoming = %+v", *upcoming.ScheduledMaintenances)
	}
	if n := len(*all.ScheduledMaintenances); n != 2 || (*all.ScheduledMaintenances)[0].Name != "Database" {
		t.Errorf("all = %d, newest first", n)
	}
	for _, m := range *all.ScheduledMaintenances {
		for _, ts := range []string{m.CreatedAt, m.UpdatedAt, m.StartedAt, m.ScheduledFor, m.ScheduledUntil, all.Page.UpdatedAt} {
			if !spTime.MatchString(ts) {
				t.Errorf("timestamp %q is not ISO 8601 with milliseconds and the page's offset", ts)
			}
		}
	}
	if all.Page.TimeZone != "Asia/Shanghai" || len(all.Page.ID) != 12 {
		t.Errorf("page = %+v", all.Page)
	}
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	MonitoringAt    *string       `json:"monitoring_at"`
	ResolvedAt      *string       `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       string        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
}

type spStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type spSummary struct {
	Page                  spPage           `json:"page"`
	Components            *[]spComponent   `json:"components"`
	Incidents             *[]spIncident    `json:"incidents"`
	ScheduledMaintenances *[]spMaintenance `json:"scheduled_maintenances"`
	Status                spStatus         `json:"status"`
}

func TestV2SummaryAndFriends(t *testing.T) {
	f := newFixture(t)
	var empty spSummary
	strictly(t, f.do("GET", "/api/v2/summary.json", "", "").body, &empty)
	if empty.Components == nil || empty.Incidents == nil || empty.ScheduledMaintenances == nil || empty.Status.Indicator != "none" ||
		empty.Status.Description != "All Systems Operational" {
		t.Fatalf("empty summary = %+v", empty)
	}
	ctx := t.Context()
	f.addComponents("api", "db")
	for _, id := range []string{"api", "db"} {
		_ = f.store.AppendStatus(ctx, component.Change{ComponentID: id, At: t0.Add(-time.Hour), Status: component.Operational})
	}
	ops := f.tokens[apikey.ScopeIncidents]
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"Slow API","severity":"P1","message":"Looking.","components":[{"id":"api","impact":"partial_outage"}]}`)
	if r.code != 201 {
		t.Fatal(r.code)
	}
	id := r.incident(t).ID
	f.do("POST", "/api/admin/v1/incidents/"+id+"/updates", ops, `{"message":"Mitigated.","status":"monitoring"}`)

	var sum spSummary
	strictly(t, f.do("GET", "/api/v2/summary.json", "", "").body, &sum)
	if len(*sum.Components) != 2 || len(*sum.Incidents) != 1 || sum.Status.Indicator != "major" || sum.Status.Description != "Partial System Outage" {
		t.Errorf("summary = %+v", sum)
	}
	inc := (*sum.Incidents)[0]
	if inc.Impact != "major" || inc.Status != "monitoring" || inc.MonitoringAt == nil || len(inc.IncidentUpdates) != 2 ||
		inc.IncidentUpdates[0].Status != "monitoring" || inc.IncidentUpdates[1].AffectedComponents == nil ||
		(*inc.IncidentUpdates[1].AffectedComponents)[0].NewStatus != "partial_outage" || inc.Shortlink != "https://status.example.com/incidents/"+id {
		t.Errorf("incident = %+v", inc)
	}
	var st struct {
		Page   spPage   `json:"page"`
		Status spStatus `json:"status"`
	}
	strictly(t, f.do("GET", "/api/v2/status.json", "", "").body, &st)
	var comps struct {
		Page       spPage        `json:"page"`
		Components []spComponent `json:"components"`
	}
	strictly(t, f.do("GET", "/api/v2/components.json", "", "").body, &comps)
	var list, unresolved struct {
		Page      spPage       `json:"page"`
		Incidents []spIncident `json:"incidents"`
	}
	strictly(t, f.do("GET", "/api/v2/incidents.json", "", "").body, &list)
	strictly(t, f.do("GET", "/api/v2/incidents/unresolved.json", "", "").body, &unresolved)
	if len(list.Incidents) != 1 || len(unresolved.Incidents) != 1 || len(comps.Components) != 2 || st.Status.Indicator != "major" {
		t.Errorf("lists: %d incidents, %d unresolved, %d components, %s", len(list.Incidents), len(unresolved.Incidents), len(comps.Components), st.Status.Indicator)
	}
	f.do("POST", "/api/admin/v1/incidents/"+id+"/resolve", ops, "")
	strictly(t, f.do("GET", "/api/v2/incidents/unresolved.json", "", "").body, &unresolved)
	strictly(t, f.do("GET", "/api/v2/incidents.json", "", "").body, &list)
	if len(unresolved.Incidents) != 0 || len(list.Incidents) != 1 || list.Incidents[0].ResolvedAt == nil {
		t.Errorf("after resolving: %d unresolved; %+v", len(unresolved.Incidents), list.Incidents)
	}
}
