package statuspage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

func (r response) incident(t *testing.T) incidentView {
	t.Helper()
	var v incidentView
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("not an incident: %s", r.body)
	}
	return v
}

const declareP1 = `{"title":"Login fails","message":"We are **looking** into it.","severity":"P1","components":[{"id":"api","impact":"major_outage"}]}`

func TestIncidentLifecycleThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeIncidents]
	for _, tok := range []string{"", f.tokens[apikey.ScopeRead], f.tokens[apikey.ScopeMaintenance]} {
		if r := f.do("POST", "/api/admin/v1/incidents", tok, declareP1); r.code != 401 && r.code != 403 {
			t.Fatalf("declare without the incidents scope: %d", r.code)
		}
	}
	r := f.do("POST", "/api/admin/v1/incidents", ops, declareP1)
	if r.code != 201 {
		t.Fatalf("declare: %d %s", r.code, r.body)
	}
	inc := r.incident(t)
	if inc.Policy != "jenny" || inc.Impact != "major" || len(inc.Clocks) != 2 || inc.Version != 1 {
		t.Fatalf("declared = %+v", inc)
	}
	// Declared Sunday 17:30 in Shanghai: the first response is met by declaring; one business
	// day (12 h of 08:00-20:00) runs to Monday 17:30.
	fr, res := inc.Clocks[0], inc.Clocks[1]
	if fr.Kind != incidents.FirstResponse || fr.State != incidents.Met || res.State != incidents.Running ||
		!res.DueAt.Equal(time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)) {
		t.Errorf("clocks = %+v", inc.Clocks)
	}
	base := "/api/admin/v1/incidents/" + inc.ID
	steps := []struct {
		path, body string
		want       int
		wantErr    string
	}{
		{base + "/updates", `{"message":"Found the cause.","status":"identified"}`, 200, ""},
		{base + "/updates", `{"message":"Worse.","severity":"P0","components":[{"id":"api","impact":"major_outage"},{"id":"db","impact":"partial_outage"}]}`, 200, ""},
		{base + "/updates", `{"message":""}`, 422, "validation_failed"},
		{base + "/acknowledge", "", 200, ""},
		{base + "/acknowledge", "", 409, "conflict"},
		{base + "/resolve", `{"message":"Fixed."}`, 200, ""},
		{base + "/resolve", "", 409, "conflict"},
		{base + "/updates", `{"message":"Still there?"}`, 409, "invalid_state"},
		{base + "/reopen", `{"message":"It is back."}`, 200, ""},
		{base + "/reopen", "", 409, "invalid_state"},
		{"/api/admin/v1/incidents/inc-nope/resolve", "", 404, "not_found"},
	}
	for i, s := range steps {
		r := f.do("POST", s.path, ops, s.body)
		if r.code != s.want {
			t.Fatalf("step %d %s: %d, want %d; %s", i, s.path, r.code, s.want, r.body)
		}
		if s.wantErr != "" && r.apiErr(t).Code != s.wantErr {
			t.Fatalf("step %d: %s, want %s", i, r.body, s.wantErr)
		}
	}
	got := f.do("GET", base, f.tokens[apikey.ScopeRead], "").incident(t)
	if got.Status != incidents.Investigating || got.Severity != incidents.P0 || len(got.Components) != 2 || len(got.Updates) != 6 || got.Version != 6 {
		t.Errorf("after the lifecycle: %+v", got)
	}
	if got.Updates[0].Kind != "reopen" || got.Updates[5].Kind != "declare" || got.Updates[0].Author != "incidents-key" {
		t.Errorf("updates are newest first with their authors: %+v", got.Updates)
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Target: "incident/" + inc.ID})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if s := strings.Join(actions, ","); s != "incident.reopen,incident.resolve,incident.acknowledge,incident.update,incident.update,incident.declare" {
		t.Errorf("audit = %s", s)
	}
	// The public view: sanitized HTML, no authors, no version, and no acknowledgement without
	// words (it is for the team: the admin view above has it).
	pub := f.do("GET", "/api/v1/incidents/"+inc.ID, "", "")
	pv := pub.incident(t)
	if pub.code != 200 || strings.Contains(string(pub.body), "incidents-key") || strings.Contains(string(pub.body), `"version"`) ||
		len(pv.Updates) != 5 || strings.Contains(string(pub.body), `"acknowledge"`) ||
		!strings.Contains(string(pv.Updates[4].BodyHTML), `<strong>looking</strong>`) {
		t.Errorf("public incident: %s", pub.body)
	}
	for _, path := range []string{"/history.rss", "/api/v2/incidents.json", "/incidents/" + inc.ID} {
		if body := string(f.do("GET", path, "", "").body); strings.Contains(body, "Acknowledged.") {
			t.Errorf("%s shows the acknowledgement without words", path)
		}
	}
	list := f.do("GET", "/api/v1/incidents?status=open", "", "")
	if !strings.Contains(string(list.body), inc.ID) {
		t.Errorf("open incidents: %s", list.body)
	}
}

func TestIncidentBadInput(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ops := f.tokens[apikey.ScopeIncidents]
	tests := []struct {
		name, body, field string
	}{
		{"unknown severity", `{"title":"x","severity":"P5"}`, "severity"},
		{"missing title", `{"severity":"P1"}`, "title"},
		{"unknown component", `{"title":"x","severity":"P1","components":[{"id":"ghost","impact":"major_outage"}]}`, "components[0]"},
		{"bad impact", `{"title":"x","severity":"P1","components":[{"id":"api","impact":"meltdown"}]}`, "components[0].impact"},
		{"unknown policy", `{"title":"x","severity":"P1","policy":"acme"}`, "policy"},
		{"backfill ending first", `{"title":"x","severity":"P1","started_at":"2026-10-01T02:00:00Z","resolved_at":"2026-10-01T01:00:00Z"}`, "resolved_at"},
		{"started in the year 0", `{"title":"x","severity":"P1","started_at":"0000-01-01T00:00:00Z"}`, "started_at"},
		{"backfill from 1999", `{"title":"x","severity":"P1","started_at":"1999-12-31T00:00:00Z","resolved_at":"2026-10-01T01:00:00Z"}`, "started_at"},
		{"script in the message", `{"title":"x","severity":"P1","message":"<script>alert(1)</script>"}`, "message"},
		{"event handler in the message", `{"title":"x","severity":"P1","message":"see <img src=x onerror=alert(1)>"}`, "message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", "/api/admin/v1/incidents", ops, tt.body)
			if r.code != 422 || r.apiErr(t).Field != tt.field {
				t.Errorf("%d %s, want 422 on %s", r.code, r.body, tt.field)
			}
		})
	}
	if list, _ := f.store.ListIncidents(t.Context(), store.IncidentQuery{}); len(list) != 0 {
		t.Errorf("bad declarations stored %d incidents", len(list))
	}
	// A title is text, never HTML; a link with a script URL is dropped when rendered.
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"<script>alert(1)</script>","severity":"P2","message":"[click](javascript:alert(1)) **ok**"}`)
	if r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	v := r.incident(t)
	if h := string(v.Updates[0].BodyHTML); strings.Contains(h, "javascript:") || !strings.Contains(h, "<strong>ok</strong>") {
		t.Errorf("rendered body = %s", h)
	}
	// Backfilled: no clocks, resolved, marked.
	r = f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"Past outage","severity":"P1","started_at":"2026-10-01T01:00:00Z","resolved_at":"2026-10-01T02:00:00Z"}`)
	if b := r.incident(t); r.code != 201 || !b.Backfilled || b.Status != incidents.Resolved || len(b.Clocks) != 0 {
		t.Errorf("backfill: %d %s", r.code, r.body)
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Action: "incident.backfill"})
	if len(entries) != 1 {
		t.Errorf("backfill audit entries = %d", len(entries))
	}
}

func TestPageShowsOpenIncidents(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ops := f.tokens[apikey.ScopeIncidents]
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"<b>Login</b> fails","severity":"P0","message":"We are **on it**.","components":[{"id":"api","impact":"major_outage"}]}`)
	if r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	page := string(f.do("GET", "/", "", "").body)
	for _, want := range []string{"&lt;b&gt;Login&lt;/b&gt; fails", "<strong>on it</strong>", "Investigating", "Affects: API", "1 Nov 17:30 CST"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>Login</b>") {
		t.Error("an incident title reached the page as HTML")
	}
}

func TestIncidentAndHistoryPages(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ops := f.tokens[apikey.ScopeIncidents]
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"Past <b>outage</b>","severity":"P1","started_at":"2026-10-05T01:00:00Z","resolved_at":"2026-10-05T02:00:00Z","components":[{"id":"api","impact":"major_outage"}]}`)
	if r.code != 201 {
		t.Fatal(r.body)
	}
	id := r.incident(t).ID
	page := f.do("GET", "/incidents/"+id, "", "")
	if page.code != 200 || !strings.Contains(string(page.body), "Past &lt;b&gt;outage&lt;/b&gt;") || !strings.Contains(string(page.body), "Affects: API") {
		t.Errorf("incident page: %d", page.code)
	}
	if r := f.do("GET", "/incidents/inc-nope", "", "", "Accept", "text/html"); r.code != 404 || !strings.Contains(string(r.body), "Back to the status page") {
		t.Errorf("missing incident page: %d", r.code)
	}
	hist := string(f.do("GET", "/history?month=2026-10", "", "").body)
	for _, want := range []string{"History: October 2026", `href="/incidents/` + id + `"`, "5 Oct 09:00 – 5 Oct 10:00 CST", `href="/history?month=2026-09"`, `href="/history?month=2026-11"`} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	now := string(f.do("GET", "/history", "", "").body)
	if !strings.Contains(now, "History: November 2026") || strings.Contains(now, "month=2026-12") || !strings.Contains(now, "No incidents this month.") {
		t.Error("this month's history is wrong")
	}
	if r := f.do("GET", "/history?month=soon", "", ""); r.code != 400 {
		t.Errorf("bad month: %d", r.code)
	}
}

// TestAcknowledgementWithWordsIsPublic: what the SRE writes with an acknowledgement is an update
// customers see; an acknowledgement without words is not.
func TestAcknowledgementWithWordsIsPublic(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ops := f.tokens[apikey.ScopeIncidents]
	declared := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"Slow API","severity":"P2","message":"Looking.","components":[]}`).incident(t)
	if r := f.do("POST", "/api/admin/v1/incidents/"+declared.ID+"/acknowledge", ops, `{"message":"We see it and are on it."}`); r.code != 200 {
		t.Fatalf("acknowledge: %d %s", r.code, r.body)
	}
	pub := f.do("GET", "/api/v1/incidents/"+declared.ID, "", "").incident(t)
	if len(pub.Updates) != 2 || pub.Updates[0].Kind != "acknowledge" || pub.Updates[0].Body != "We see it and are on it." {
		t.Errorf("public updates %+v, want the acknowledgement's words first", pub.Updates)
	}
}
