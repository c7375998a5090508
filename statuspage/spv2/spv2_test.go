package spv2_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/statuspage/spv2"
)

func TestPageStatus(t *testing.T) {
	for _, tt := range []struct {
		statuses []component.Status
		impacts  []string
		want     spv2.Indicator
	}{
		{nil, nil, spv2.Indicator{"none", "All Systems Operational"}},
		{[]component.Status{component.Operational, component.Unknown}, []string{"none"}, spv2.Indicator{"none", "All Systems Operational"}},
		{[]component.Status{component.UnderMaintenance}, nil, spv2.Indicator{"maintenance", "Service Under Maintenance"}},
		{[]component.Status{component.DegradedPerformance, component.UnderMaintenance}, nil, spv2.Indicator{"minor", "Partially Degraded Service"}},
		{[]component.Status{component.DegradedPerformance}, []string{"minor"}, spv2.Indicator{"minor", "Partially Degraded Service"}},
		{nil, []string{"minor"}, spv2.Indicator{"minor", "Minor Service Outage"}},
		{[]component.Status{component.PartialOutage, component.DegradedPerformance}, nil, spv2.Indicator{"major", "Partial System Outage"}},
		{[]component.Status{component.MajorOutage, component.PartialOutage}, []string{"minor"}, spv2.Indicator{"critical", "Major System Outage"}},
		{[]component.Status{component.Operational}, []string{"critical", "bogus"}, spv2.Indicator{"critical", "Major System Outage"}},
	} {
		if got := spv2.PageStatus(tt.statuses, tt.impacts); got != tt.want {
			t.Errorf("PageStatus(%v, %v) = %v, want %v", tt.statuses, tt.impacts, got, tt.want)
		}
	}
}

// TestIncident: only public updates, newest first; an update without words says its status;
// each affected component's old status is what the previous update said; monitoring_at is the
// first monitoring update; resolved_at is null while open; times in the page's zone.
func TestIncident(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	p := spv2.NewPage("https://status.example.com", sh)
	at := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	inc := incidents.Incident{ID: "inc-1", Title: "API errors", Severity: incidents.P1, Status: incidents.Monitoring, StartedAt: at.Add(-time.Minute), OpenedAt: at,
		UpdatedAt: at.Add(30 * time.Minute),
		Updates: []incidents.Update{
			{ID: "u1", At: at, Status: incidents.Investigating, Body: "Errors on the API.", Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}},
			{ID: "u2", At: at.Add(5 * time.Minute), Status: incidents.Investigating, Kind: "acknowledge", Internal: true},
			{ID: "u3", At: at.Add(10 * time.Minute), Status: incidents.Identified, Components: []incidents.Affected{{ComponentID: "api", Impact: component.PartialOutage}}},
			{ID: "u4", At: at.Add(30 * time.Minute), Status: incidents.Monitoring, Body: "A fix is out."},
		}}
	v := p.Incident(inc, nil, func(id string) string { return map[string]string{"api": "API"}[id] })
	var ids []string
	for _, u := range v.IncidentUpdates {
		ids = append(ids, u.ID)
	}
	if len(ids) != 3 || ids[0] != "u4" || ids[1] != "u3" || ids[2] != "u1" {
		t.Fatalf("updates %v, want u4 u3 u1 (the internal acknowledgement left out)", ids)
	}
	u3 := v.IncidentUpdates[1]
	if u3.Body != "Identified." || u3.AffectedComponents == nil || len(*u3.AffectedComponents) != 1 {
		t.Fatalf("u3 = %+v", u3)
	}
	if a := (*u3.AffectedComponents)[0]; a != (spv2.AffectedComponent{Code: "api", Name: "API", OldStatus: "major_outage", NewStatus: "partial_outage"}) {
		t.Errorf("u3 affected %+v, want api from major_outage to partial_outage", a)
	}
	if v.MonitoringAt == nil || *v.MonitoringAt != "2026-11-27T09:30:00.000+08:00" || v.ResolvedAt != nil || v.CreatedAt != "2026-11-27T09:00:00.000+08:00" {
		t.Errorf("monitoring_at %v, resolved_at %v, created_at %s", v.MonitoringAt, v.ResolvedAt, v.CreatedAt)
	}
	if v.Impact != "major" || v.Shortlink != "https://status.example.com/incidents/inc-1" || v.PageID != spv2.PageID("https://status.example.com") {
		t.Errorf("impact %s, shortlink %s, page %s", v.Impact, v.Shortlink, v.PageID)
	}
	b, _ := json.Marshal(v)
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if c, ok := raw["components"].([]any); !ok || len(c) != 0 {
		t.Errorf("components = %v, want [] (never null)", raw["components"])
	}
	if _, ok := raw["resolved_at"]; !ok || raw["resolved_at"] != nil {
		t.Errorf("resolved_at = %v, want null", raw["resolved_at"])
	}
}
