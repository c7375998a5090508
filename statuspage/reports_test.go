package statuspage

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

func TestAvailabilityReports(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ctx := t.Context()
	// api: up since October, down one hour on Nov 10 (UTC), and down two hours inside a window
	// announced well ahead on Nov 12.
	for _, ch := range []component.Change{
		{ComponentID: "api", At: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Status: component.Operational},
		{ComponentID: "api", At: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC), Status: component.MajorOutage},
		{ComponentID: "api", At: time.Date(2026, 11, 10, 13, 0, 0, 0, time.UTC), Status: component.Operational},
		{ComponentID: "api", At: time.Date(2026, 11, 12, 2, 0, 0, 0, time.UTC), Status: component.MajorOutage},
		{ComponentID: "api", At: time.Date(2026, 11, 12, 4, 0, 0, 0, time.UTC), Status: component.Operational},
	} {
		if err := f.store.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	// A window announced now (Nov 1, 09:30 UTC) for Nov 12 01:00-05:00 UTC.
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance],
		`{"id":"db-move","title":"DB move","components":["api"],"time_zone":"UTC","start":"2026-11-12T01:00:00Z","end":"2026-11-12T05:00:00Z"}`); r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	f.clock.Advance(34 * 24 * time.Hour) // Dec 5: November is over (TestAvailabilityMonthSoFar: while it runs)
	r := f.do("GET", "/api/v1/components/api/availability?month=2026-11", "", "")
	var v ReportView
	if err := json.Unmarshal(r.body, &v); err != nil || r.code != 200 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	// November in Shanghai is 30 days: budget 0.5 % of 720 h = 12,960 s. Down 1 h; the 2 h
	// inside the announced window are excluded.
	if v.TotalSeconds != 2592000 || v.ElapsedSeconds != 2592000 || !v.Complete || v.OnTrack != nil || v.BudgetSeconds != 12960 || v.DownSeconds != 3600 || v.MaintenanceSeconds != 4*3600 ||
		v.BudgetRemainingSecond != 9360 || v.Met == nil || !*v.Met || v.Availability == nil || *v.Availability != 1-3600.0/2592000 ||
		v.Start != "2026-11-01T00:00:00+08:00" || v.TimeZone != "Asia/Shanghai" || v.Objective != "seed-99-5" {
		t.Errorf("report = %+v", v)
	}
	// Burn rates are measured at the earlier of the month's end and now: the month's end, after
	// weeks up: zero on each of the five windows, labelled as operators write them.
	if v.BurnAt != "2026-11-30T16:00:00Z" || len(v.BurnRates) != 5 || v.BurnRates["1h"] != 0 || v.BurnRates["3d"] != 0 {
		t.Errorf("burn rates = %v at %s", v.BurnRates, v.BurnAt)
	}
	// db has no data at all: availability null, and met by the documented rule (D = 0 <= budget = 0).
	r = f.do("GET", "/api/v1/components/db/availability?month=2026-11", "", "")
	if !strings.Contains(string(r.body), `"availability":null`) || !strings.Contains(string(r.body), `"unknown_seconds":2592000`) ||
		!strings.Contains(string(r.body), `"met":true`) || !strings.Contains(string(r.body), `"budget_seconds":0,`) {
		t.Errorf("no data: %s", r.body)
	}
	csv := f.do("GET", "/api/v1/reports/monthly?month=2026-11&format=csv", "", "")
	lines := strings.Split(strings.TrimSpace(string(csv.body)), "\n")
	if csv.code != 200 || len(lines) != 3 || !strings.HasPrefix(lines[0], "component_id,name,objective") || !strings.HasPrefix(lines[1], "api,API,seed-99-5,") {
		t.Errorf("csv: %d\n%s", csv.code, csv.body)
	}
	for q, field := range map[string]string{"?month=November": "month", "?month=2026-11&format=xml": "format", "?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z": "to"} {
		if r := f.do("GET", "/api/v1/components/api/availability"+q, "", ""); r.code != 400 || r.apiErr(t).Field != field {
			t.Errorf("%s: %d %s", q, r.code, r.body)
		}
	}
	if r := f.do("GET", "/api/v1/components/ghost/availability?month=2026-11", "", ""); r.code != 404 {
		t.Errorf("unknown component: %d", r.code)
	}
	if r := f.do("GET", "/api/v1/reports/monthly", "", ""); r.code != 400 {
		t.Errorf("monthly without a month: %d", r.code)
	}
}

// The findings: the current month carried today's state to its end, a future month
// reported availability 1 and met, and no data reported met false. Now (Nov 1, 09:30 UTC)
// November has run 17.5 h in Shanghai: the figures stop here, though the store holds changes
// dated later; the budget is the whole month's; met waits for the month's end.
func TestAvailabilityMonthSoFar(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ctx := t.Context()
	for _, ch := range []component.Change{
		{ComponentID: "api", At: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Status: component.Operational},
		{ComponentID: "api", At: t0.Add(-3 * time.Minute), Status: component.MajorOutage}, // down for three minutes, still down
		{ComponentID: "api", At: time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC), Status: component.DegradedPerformance},
		{ComponentID: "api", At: time.Date(2026, 11, 12, 4, 0, 0, 0, time.UTC), Status: component.Operational},
	} {
		mustOK(t, f.store.AppendStatus(ctx, ch))
	}
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance],
		`{"id":"later","title":"Later","components":["api"],"time_zone":"UTC","start":"2026-11-20T00:00:00Z","end":"2026-11-21T04:00:00Z"}`); r.code != 201 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	const elapsed = 17.5 * 3600
	want := map[string]any{"total_seconds": 2592000.0, "elapsed_seconds": elapsed, "eligible_seconds": elapsed, "down_seconds": 180.0,
		"major_outage_seconds": 180.0, "degraded_seconds": 0.0, "maintenance_seconds": 0.0, "unknown_seconds": 0.0,
		"budget_seconds": 12960.0, "budget_remaining_seconds": 12960.0 - 180, "availability": 1 - 180/elapsed,
		"complete": false, "met": nil, "on_track": true, "burn_rates_at": "2026-11-01T09:30:00Z"}
	for _, q := range []string{"", "?month=2026-11"} {
		r := f.do("GET", "/api/v1/components/api/availability"+q, "", "")
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil || r.code != 200 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		for k, w := range want {
			if got, ok := v[k]; !ok || got != w {
				t.Errorf("%q: %s = %v (present %v), want %v", q, k, got, ok, w)
			}
		}
		rates, _ := v["burn_rates"].(map[string]any)
		if r5, _ := rates["5m"].(float64); len(rates) != 5 || math.Abs(r5-120) > 1e-9 || rates["1h0m0s"] != nil {
			t.Errorf("%q: burn rates %v, want 5m at 120 and no 1h0m0s", q, v["burn_rates"])
		}
	}
	// db has no data so far: availability null, on track by the documented rule (D = 0 <= 0).
	r := f.do("GET", "/api/v1/components/db/availability", "", "")
	for _, s := range []string{`"availability":null`, `"eligible_seconds":0,`, `"unknown_seconds":63000,`, `"on_track":true`, `"met":null`} {
		if !strings.Contains(string(r.body), s) {
			t.Errorf("no data: lacks %s: %s", s, r.body)
		}
	}
	// December has not started: no figures, a 404 naming the field.
	for path, field := range map[string]string{
		"/api/v1/components/api/availability?month=2026-12":                                     "month",
		"/api/v1/reports/monthly?month=2026-12":                                                 "month",
		"/api/v1/components/api/availability?from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z": "from",
	} {
		r := f.do("GET", path, "", "")
		if r.code != 404 {
			t.Errorf("%s: %d %s, want 404", path, r.code, r.body)
			continue
		}
		if e := r.apiErr(t); e.Field != field || e.Code != "not_started" {
			t.Errorf("%s: %+v, want not_started naming %s", path, e, field)
		}
	}
	// The CSV: a null is an empty cell.
	rows, err := csv.NewReader(bytes.NewReader(f.do("GET", "/api/v1/reports/monthly?month=2026-11&format=csv", "", "").body)).ReadAll()
	mustOK(t, err)
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if len(rows) != 3 || rows[1][col["met"]] != "" || rows[1][col["on_track"]] != "true" || rows[1][col["elapsed_seconds"]] != "63000" || rows[2][col["availability"]] != "" {
		t.Errorf("csv: %q", rows)
	}
}

func TestPageBars(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ctx := t.Context()
	// Data from 40 days ago; down one hour ten days ago (Oct 22, 17:30-18:30 Shanghai).
	for _, ch := range []component.Change{
		{ComponentID: "api", At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational},
		{ComponentID: "api", At: t0.Add(-10 * 24 * time.Hour), Status: component.MajorOutage},
		{ComponentID: "api", At: t0.Add(-10*24*time.Hour + time.Hour), Status: component.Operational},
	} {
		if err := f.store.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	page := string(f.do("GET", "/", "", "").body)
	if n := len(regexp.MustCompile(`<i class=(ok|n|mi|pa|ma) title="`).FindAllString(page, -1)); n != 90 {
		t.Errorf("%d bars, want 90", n)
	}
	for _, want := range []string{
		`<i class=pa title="22 Oct: 95.83% up, 1 h down">`, // 23 of 24 hours
		`<i class=n title="4 Aug: no data">`,               // the first of the 90 days ending today
		`<i class=ok title="1 Nov: 100%">`,
		"This month 100% (target 99.5%), 3 h 36 min of budget left", // the whole month's budget
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestCSVText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`=HYPERLINK("http://x")`, `'=HYPERLINK("http://x")`},
		{"-1+2", "'-1+2"},
		{"+1", "'+1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"API", "API"},
		{"a=b", "a=b"},
		{"", ""},
		{"'quoted", "'quoted"},
	}
	for _, tt := range tests {
		if got := csvText(tt.in); got != tt.want {
			t.Errorf("csvText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Component names that a spreadsheet would run as formulas reach the CSV report as text; numbers,
// negative ones included, stay numbers.
func TestReportsCSVNeutralisesFormulas(t *testing.T) {
	var buf bytes.Buffer
	avail := 0.99
	mustOK(t, WriteReportsCSV(&buf, []ReportView{
		{ComponentID: "api", Name: `=HYPERLINK("http://x")`, Objective: "seed-99-5", TimeZone: "UTC", Target: 0.995, Availability: &avail,
			BudgetRemainingSecond: -12960, Incidents: []string{"inc-1"}},
		{ComponentID: "db", Name: "-1+2", Objective: "@x", TimeZone: "UTC", Target: 0.995, DownSeconds: 3600},
	}))
	rows, err := csv.NewReader(&buf).ReadAll()
	mustOK(t, err)
	if len(rows) != 3 {
		t.Fatalf("%d rows", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, c := range []struct {
		row, col int
		want     string
	}{
		{1, col["name"], `'=HYPERLINK("http://x")`},
		{1, col["budget_remaining_seconds"], "-12960"},
		{1, col["availability"], "0.99"},
		{1, col["incidents"], "inc-1"},
		{2, col["name"], "'-1+2"},
		{2, col["objective"], "'@x"},
		{2, col["down_seconds"], "3600"},
	} {
		if got := rows[c.row][c.col]; got != c.want {
			t.Errorf("row %d %s = %q, want %q", c.row, rows[0][c.col], got, c.want)
		}
	}
}

// The same through the API, from components' stored names.
func TestReportsCSVThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	for id, name := range map[string]string{"api": `=HYPERLINK("http://x")`, "db": "-1+2"} {
		mustOK(t, f.store.CreateComponent(t.Context(), component.Component{ID: id, Name: name, Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0},
			store.AuditEntry{At: t0}))
	}
	r := f.do("GET", "/api/v1/reports/monthly?month=2026-11&format=csv", "", "")
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if r.code != 200 || err != nil || len(rows) != 3 {
		t.Fatalf("%d %v\n%s", r.code, err, r.body)
	}
	names := map[string]string{}
	for _, row := range rows[1:] {
		names[row[0]] = row[1]
	}
	if names["api"] != `'=HYPERLINK("http://x")` || names["db"] != "'-1+2" {
		t.Errorf("names in the CSV: %q", names)
	}
}
