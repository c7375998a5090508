package statuspage

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/apikey"
)

// writeEndpoints are the admin writes whose bodies are parsed into schedules, severities,
// impacts, times and Markdown: the parsers a client reaches.
var writeEndpoints = []struct {
	method, path string
	scope        apikey.Scope
	readBack     string // where a created resource is read again; "" for none
}{
	{"POST", "/api/admin/v1/maintenance", apikey.ScopeMaintenance, "/api/admin/v1/maintenance/"},
	{"PATCH", "/api/admin/v1/maintenance/tuesday-db", apikey.ScopeMaintenance, ""},
	{"POST", "/api/admin/v1/incidents", apikey.ScopeIncidents, "/api/v1/incidents/"},
	{"POST", "/api/admin/v1/incidents/{incident}/updates", apikey.ScopeIncidents, ""},
	{"POST", "/api/admin/v1/incidents/{incident}/resolve", apikey.ScopeIncidents, ""},
	{"POST", "/api/admin/v1/incidents/{incident}/reopen", apikey.ScopeIncidents, ""},
	{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-11T05:00:00Z/extend", apikey.ScopeMaintenance, ""},
}

// publicReads must keep answering whatever was stored: a write the API accepted must never
// leave data the page, the feeds or the Statuspage API cannot show.
var publicReads = []string{"/", "/history", "/api/v2/summary.json", "/api/v2/incidents.json",
	"/api/v2/scheduled-maintenances.json", "/api/v1/incidents", "/maintenance.ics",
	"/api/v1/maintenance/occurrences?from=2026-10-01T00:00:00Z&to=2027-01-01T00:00:00Z"}

// FuzzWriteAPIs sends arbitrary bodies to the maintenance and incident writes: nothing may
// cause a 5xx; a created resource reads back with the title it was answered with; and after any
// accepted write every public read still answers 200.
func FuzzWriteAPIs(f *testing.F) {
	seeds := []string{nightlyBody, tuesdayBody, declareP1,
		`{"id":"once","title":"Once","components":["api"],"time_zone":"Europe/London","start":"2026-11-02T01:00:00Z","end":"2026-11-02T02:00:00Z"}`,
		`{"id":"rr","title":"RR","components":["db"],"time_zone":"Australia/Lord_Howe","rrule":"FREQ=MONTHLY;BYDAY=-1SU","start_time":"02:00","duration":"90m"}`,
		`{"title":"Slow","severity":"P3","started_at":"2026-10-31T23:59:59Z","components":[{"id":"db","impact":"degraded_performance"}]}`,
		`{"title":"<script>alert(1)</script>","message":"[x](javascript:alert(1))","severity":"P0","components":[]}`,
		`{"start_time":"24:00","end_time":"-1:00","duration":"-5m"}`, `{"rrule":"FREQ=SECONDLY"}`, `{"time_zone":"Local"}`,
		`{"message":"Found it.","status":"identified","severity":"P0","components":[{"id":"db","impact":"partial_outage"}]}`,
		`{"message":"Fixed.","at":"2026-11-01T09:00:00Z"}`, `{"end":"2026-11-11T08:00:00Z"}`, `{"end":"1999-01-01T00:00:00Z"}`,
		`{"title":"\u0000","severity":"P9"}`, `{"components":[{"id":"api","impact":"meltdown"}]}`, `[`, `null`, `{}`}
	for i := range writeEndpoints {
		for _, s := range seeds {
			f.Add(uint8(i), s)
		}
	}
	fx := newFixture(f)
	fx.addComponents("api", "db")
	if r := fx.do("POST", "/api/admin/v1/maintenance", fx.tokens[apikey.ScopeMaintenance], tuesdayBody); r.code != 201 {
		f.Fatalf("seed window: %d %s", r.code, r.body)
	}
	declared := fx.do("POST", "/api/admin/v1/incidents", fx.tokens[apikey.ScopeIncidents], declareP1)
	if declared.code != 201 {
		f.Fatalf("seed incident: %d %s", declared.code, declared.body)
	}
	var seeded struct{ ID string }
	if err := json.Unmarshal(declared.body, &seeded); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		ep := writeEndpoints[int(which)%len(writeEndpoints)]
		path := strings.ReplaceAll(ep.path, "{incident}", seeded.ID)
		r := fx.do(ep.method, path, fx.tokens[ep.scope], body)
		if r.code >= 500 {
			t.Fatalf("%s %s %q: status %d %s", ep.method, path, body, r.code, r.body)
		}
		if r.code >= 300 {
			return
		}
		var answered struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		if err := json.Unmarshal(r.body, &answered); err != nil {
			t.Fatalf("%s %s answered %d with %s", ep.method, ep.path, r.code, r.body)
		}
		if ep.readBack != "" {
			back := fx.do("GET", ep.readBack+answered.ID, fx.tokens[apikey.ScopeRead], "")
			var stored struct {
				Title string `json:"title"`
			}
			if back.code != 200 || json.Unmarshal(back.body, &stored) != nil || stored.Title != answered.Title {
				t.Fatalf("%s %q answered %s; reading it back gave %d %s", ep.path, body, r.body, back.code, back.body)
			}
		}
		for _, path := range publicReads {
			if got := fx.do("GET", path, "", ""); got.code != 200 {
				t.Fatalf("after %s %s %q: GET %s answered %d %s", ep.method, ep.path, body, path, got.code, got.body)
			}
		}
	})
}

// FuzzReadAPIs asks the reads for arbitrary ids and raw queries (bad escapes, huge numbers,
// repeated keys, zones and months that do not exist): a client mistake is a 4xx, never a 5xx.
// Before fuzzing, every route must answer 2xx for a valid segment and no query, so a typo in a
// route cannot turn the target into a fuzzer of 404s.
func FuzzReadAPIs(f *testing.F) {
	for i := range readRoutes {
		for _, q := range []string{"", "month=2026-11", "month=2026-13", "month=0000-01&format=csv", "from=2026-11-01T00:00:00Z&to=2026-10-01T00:00:00Z",
			"from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", "window=30d", "window=99999999999d", "limit=-1&before=%zz",
			"tz=Mars/Base", "component=api&component=db", "actor=%00", "format=xml", "month=2026-11&tz=Local"} {
			f.Add(uint8(i), "api", q)
		}
		f.Add(uint8(i), "../../etc/passwd", "")
		f.Add(uint8(i), "\x00", "month=\xff")
	}
	fx := newFixture(f)
	fx.addComponents("api", "db")
	if r := fx.do("POST", "/api/admin/v1/maintenance", fx.tokens[apikey.ScopeMaintenance], tuesdayBody); r.code != 201 {
		f.Fatalf("seed window: %d %s", r.code, r.body)
	}
	declared := fx.do("POST", "/api/admin/v1/incidents", fx.tokens[apikey.ScopeIncidents], declareP1)
	var seeded struct{ ID string }
	if declared.code != 201 || json.Unmarshal(declared.body, &seeded) != nil {
		f.Fatalf("seed incident: %d %s", declared.code, declared.body)
	}
	get := func(path, rawPath, query string) *httptest.ResponseRecorder {
		// Built by hand: httptest.NewRequest would refuse a raw query a real client can still send.
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, rawPath, query
		req.RequestURI = req.URL.RequestURI()
		req.Header.Set("Authorization", "Bearer "+fx.tokens[apikey.ScopeAdmin])
		rec := httptest.NewRecorder()
		fx.srv.ServeHTTP(rec, req)
		return rec
	}
	for _, r := range readRoutes {
		path := r.path(strings.ReplaceAll(r.valid, "{incident}", seeded.ID))
		if rec := get(path, "", r.validQuery); rec.Code >= 300 {
			f.Fatalf("GET %s?%s answered %d: the fuzzer would not reach it: %s", path, r.validQuery, rec.Code, rec.Body)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, segment, query string) {
		r := readRoutes[int(route)%len(readRoutes)]
		rec := get(r.path(segment), r.path(url.PathEscape(segment)), query)
		if rec.Code >= 500 {
			t.Fatalf("GET %s?%s: %d %s", r.path(segment), query, rec.Code, rec.Body)
		}
	})
}

// readRoute is a read that parses a path segment or a query. A pattern's {} is where the
// fuzzed segment goes; a pattern without one fuzzes only the query.
type readRoute struct {
	pattern    string
	valid      string // a segment that exists ({incident} is the seeded incident's id)
	validQuery string // a query the route needs to answer 2xx
}

func (r readRoute) path(segment string) string { return strings.Replace(r.pattern, "{}", segment, 1) }

var readRoutes = []readRoute{
	{"/api/v1/components/{}/availability", "api", ""},
	{"/api/v1/incidents/{}", "{incident}", ""},
	{"/incidents/{}", "{incident}", ""},
	{"/badge/{}/status.svg", "api", ""},
	{"/badge/api/{}", "uptime.svg", ""},
	{"/api/admin/v1/maintenance/{}", "tuesday-db", ""},
	{"/api/admin/v1/components/{}", "api", ""},
	{"/api/v1/reports/monthly", "", "month=2026-11"},
	{"/api/v1/maintenance/occurrences", "", "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"},
	{"/history", "", ""},
	{"/api/v1/incidents", "", ""},
	{"/api/admin/v1/audit", "", ""},
	{"/api/v2/incidents.json", "", ""},
	{"/maintenance.ics", "", ""},
}
