package statuspage

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// TestAdminComponentStatusIsShown: the admin API's status is what /api/v1 (and so the CLI and
// the page) shows, component by component: a group's from its components, maintenance
// overlaid, a new component unknown; status_since is when that began (the occurrence's start
// under maintenance, null for a group, never the zero time); recorded_status and
// recorded_since keep the timeline's value.
func TestAdminComponentStatusIsShown(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, c := range []component.Component{
		{ID: "core", Name: "Core", IsGroup: true},
		{ID: "search", Name: "Search", GroupID: "core", Position: 1},
		{ID: "db", Name: "Database", GroupID: "core", Position: 2},
	} {
		c.Source, c.CreatedAt, c.UpdatedAt = component.SourceConfig, t0.Add(-time.Hour), t0.Add(-time.Hour)
		if err := f.store.CreateComponent(ctx, c, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	degraded := t0.Add(-30 * time.Minute)
	for _, ch := range []component.Change{
		{ComponentID: "search", At: degraded, Status: component.DegradedPerformance},
		{ComponentID: "db", At: t0.Add(-40 * time.Minute), Status: component.MajorOutage},
	} {
		if err := f.store.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	start := t0.Add(time.Minute)
	body := `{"id":"reindex","title":"Reindex","components":["search"],"time_zone":"UTC","start":"` + start.Format(time.RFC3339) +
		`","end":"` + start.Add(time.Hour).Format(time.RFC3339) + `"}`
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance], body); r.code != 201 {
		t.Fatalf("window: %d %s", r.code, r.body)
	}
	if r := f.do("POST", "/api/admin/v1/components", f.tokens[apikey.ScopeAdmin], `{"id":"docs-site","name":"Docs"}`); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	} else {
		var got struct {
			Status      string     `json:"status"`
			StatusSince *time.Time `json:"status_since"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil || got.Status != "unknown" || got.StatusSince != nil {
			t.Errorf("the created component answers %s, want status unknown and status_since null", r.body)
		}
	}
	f.clock.Advance(2 * time.Minute) // inside the window

	type comp struct {
		ID             string     `json:"id"`
		Status         string     `json:"status"`
		StatusSince    *time.Time `json:"status_since"`
		RecordedStatus string     `json:"recorded_status"`
		RecordedSince  *time.Time `json:"recorded_since"`
	}
	list := func(path, token string) map[string]comp {
		t.Helper()
		r := f.do("GET", path, token, "")
		var out struct{ Components []comp }
		if r.code != 200 || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
		m := map[string]comp{}
		for _, c := range out.Components {
			m[c.ID] = c
		}
		return m
	}
	admin := list("/api/admin/v1/components", f.tokens[apikey.ScopeRead])
	public := list("/api/v1/components", "")
	if len(admin) != 4 {
		t.Fatalf("admin lists %d components, want 4: %+v", len(admin), admin)
	}
	for id, a := range admin {
		p := public[id]
		if a.Status != p.Status || !sameTime(a.StatusSince, p.StatusSince) {
			t.Errorf("%s: admin says %s since %v, /api/v1 %s since %v: one figure everywhere", id, a.Status, a.StatusSince, p.Status, p.StatusSince)
		}
	}
	want := map[string]comp{
		"core":      {Status: "major_outage", RecordedStatus: "unknown"},
		"search":    {Status: "under_maintenance", StatusSince: &start, RecordedStatus: "degraded_performance", RecordedSince: &degraded},
		"db":        {Status: "major_outage", StatusSince: ptr(t0.Add(-40 * time.Minute)), RecordedStatus: "major_outage", RecordedSince: ptr(t0.Add(-40 * time.Minute))},
		"docs-site": {Status: "unknown", RecordedStatus: "unknown"},
	}
	for id, w := range want {
		g := admin[id]
		if g.Status != w.Status || !sameTime(g.StatusSince, w.StatusSince) || g.RecordedStatus != w.RecordedStatus || !sameTime(g.RecordedSince, w.RecordedSince) {
			t.Errorf("%s: got %s since %v (recorded %s since %v), want %s since %v (recorded %s since %v)", id,
				g.Status, g.StatusSince, g.RecordedStatus, g.RecordedSince, w.Status, w.StatusSince, w.RecordedStatus, w.RecordedSince)
		}
	}
	r := f.do("GET", "/api/admin/v1/components/search", f.tokens[apikey.ScopeRead], "")
	var one comp
	if r.code != 200 || json.Unmarshal(r.body, &one) != nil || one.Status != "under_maintenance" || one.RecordedStatus != "degraded_performance" {
		t.Errorf("GET one: %d %s, want under_maintenance recorded degraded_performance", r.code, r.body)
	}
}

func ptr(t time.Time) *time.Time { return &t }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
