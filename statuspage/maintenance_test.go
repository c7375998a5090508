package statuspage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	goical "github.com/emersion/go-ical"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

func (f *fixture) addComponents(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		c := component.Component{ID: id, Name: strings.ToUpper(id), Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0}
		if err := f.store.CreateComponent(f.t.Context(), c, store.AuditEntry{At: t0}); err != nil {
			f.t.Fatal(err)
		}
	}
}

const (
	nightlyBody = `{"id":"nightly","title":"Nightly releases","components":["api"],"time_zone":"Asia/Shanghai","daily":true,"start_time":"20:00","end_time":"08:00","first_date":"2026-11-01"}`
	tuesdayBody = `{"id":"tuesday-db","title":"Database","components":["db"],"time_zone":"America/Los_Angeles","days":["tue"],"start_time":"21:00","duration":"2h","first_date":"2026-11-01"}`
)

func TestMaintenanceAdmin(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeMaintenance]
	steps := []struct {
		method, path, token, body string
		want                      int
		wantErr, wantField        string
	}{
		{"POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeRead], nightlyBody, 403, "forbidden", ""},
		{"POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeIncidents], nightlyBody, 403, "forbidden", ""},
		{"POST", "/api/admin/v1/maintenance", ops, nightlyBody, 201, "", ""},
		{"POST", "/api/admin/v1/maintenance", ops, nightlyBody, 409, "conflict", ""},
		{"POST", "/api/admin/v1/maintenance", ops, tuesdayBody, 201, "", ""},
		// Bad input.
		{"POST", "/api/admin/v1/maintenance", ops, strings.Replace(tuesdayBody, `"America/Los_Angeles"`, `"Mars/Base"`, 1), 422, "validation_failed", "time_zone"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","daily":true,"start_time":"20:00","end_time":"20:00"}`, 422, "validation_failed", "end_time"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","rrule":"FREQ=DAILY;BYHOUR=2","start_time":"20:00","duration":"1h"}`, 422, "validation_failed", "rule"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","daily":true,"start_time":"20:00","duration":"30h"}`, 422, "validation_failed", "duration"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["nope"],"time_zone":"UTC","daily":true,"start_time":"20:00","duration":"1h"}`, 422, "validation_failed", "components[0]"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","start":"2026-10-01T00:00:00Z","end":"2026-10-01T01:00:00Z"}`, 422, "validation_failed", "end"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","daily":true,"start_time":"20:00","duration":"soon"}`, 422, "validation_failed", "duration"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","weekly":true}`, 400, "unknown_field", "weekly"},
		// The security review's window: a first date in the year 1 (every reader walked from it).
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"olda1","title":"x","components":["api"],"time_zone":"UTC","rrule":"FREQ=DAILY","start_time":"01:00","duration":"1m","first_date":"0001-01-02"}`, 422, "validation_failed", "first_date"},
		{"POST", "/api/admin/v1/maintenance", ops, `{"id":"x","title":"X","components":["api"],"time_zone":"UTC","start":"1999-10-01T00:00:00Z","end":"1999-10-01T01:00:00Z"}`, 422, "validation_failed", "start"},
		{"POST", "/api/admin/v1/maintenance", ops, strings.Replace(tuesdayBody, `"America/Los_Angeles"`, `"Local"`, 1), 422, "validation_failed", "time_zone"},
		{"POST", "/api/admin/v1/maintenance", ops, strings.Replace(tuesdayBody, `"America/Los_Angeles"`, `"posixrules"`, 1), 422, "validation_failed", "time_zone"},
		{"POST", "/api/admin/v1/maintenance", ops, strings.Replace(tuesdayBody, `"America/Los_Angeles"`, `""`, 1), 422, "validation_failed", "time_zone"},
		// Occurrence edits, at t0 = 2026-11-01 09:30 UTC.
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-04T05:00:00Z/cancel", ops, "", 200, "", ""},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-04T05:00:00Z/cancel", ops, "", 409, "invalid_state", ""},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-04T06:00:00Z/cancel", ops, "", 404, "not_found", ""},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/yesterday/cancel", ops, "", 400, "invalid_time", "start"},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-11T05:00:00Z/end", ops, "", 409, "invalid_state", ""},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-11T05:00:00Z/extend", ops, `{"end":"2026-11-11T08:00:00Z"}`, 200, "", ""},
		{"POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-11T05:00:00Z/extend", ops, `{}`, 422, "validation_failed", "end"},
		{"POST", "/api/admin/v1/maintenance/ghost/cancel", ops, "", 404, "not_found", ""},
		{"PATCH", "/api/admin/v1/maintenance/tuesday-db", ops, `{"title":"Database upgrades"}`, 200, "", ""},
		{"GET", "/api/admin/v1/maintenance/tuesday-db", f.tokens[apikey.ScopeRead], "", 200, "", ""},
	}
	for i, s := range steps {
		r := f.do(s.method, s.path, s.token, s.body)
		if r.code != s.want {
			t.Fatalf("step %d %s %s: status %d, want %d; %s", i, s.method, s.path, r.code, s.want, r.body)
		}
		if s.wantErr != "" {
			if e := r.apiErr(t); e.Code != s.wantErr || e.Field != s.wantField {
				t.Fatalf("step %d: error %+v, want %s on %q", i, e, s.wantErr, s.wantField)
			}
		}
	}
	// The nightly window was created now: its first night is less than 24 h away, so it is
	// unannounced; the one after is announced.
	r := f.do("GET", "/api/v1/maintenance/occurrences?from=2026-11-01T00:00:00Z&to=2026-11-03T00:00:00Z&component=api", "", "")
	var out struct {
		Occurrences []occurrenceView `json:"occurrences"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || len(out.Occurrences) != 2 {
		t.Fatalf("occurrences: %d %s", r.code, r.body)
	}
	first, second := out.Occurrences[0], out.Occurrences[1]
	if first.Start.Format(time.RFC3339) != "2026-11-01T12:00:00Z" || first.LocalStart != "2026-11-01T20:00:00+08:00" ||
		first.LocalEnd != "2026-11-02T08:00:00+08:00" || first.TimeZone != "Asia/Shanghai" || first.Status != "scheduled" || first.Announced {
		t.Errorf("first night = %+v", first)
	}
	if !second.Announced {
		t.Errorf("the second night, 26.5 h after announcement, must be announced: %+v", second)
	}
	// Every change was audited.
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Actor: "maintenance-key"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "maintenance.update,maintenance.occurrence.extend,maintenance.occurrence.cancel,maintenance.create,maintenance.create" {
		t.Errorf("audit = %s", got)
	}
}

// A window the config file declares changes only there: the API refuses to edit or cancel it,
// says where to change it, and leaves it as it was.
func TestConfigManagedWindowsAreReadOnly(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	w, errs := maintenance.Spec{ID: "nightly", Title: "Nightly", Components: []string{"api"}, TimeZone: "Asia/Shanghai",
		Daily: true, StartTime: "20:00", EndTime: "08:00", FirstDate: "2026-11-01"}.Window(t0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w.Source, w.CreatedAt, w.UpdatedAt = string(component.SourceConfig), t0, t0
	if err := f.store.CreateWindow(t.Context(), w, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	ops := f.tokens[apikey.ScopeMaintenance]
	for _, tc := range []struct{ method, path, body, where string }{
		{"PATCH", "/api/admin/v1/maintenance/nightly", `{"title":"Changed"}`, "change it there"},
		{"POST", "/api/admin/v1/maintenance/nightly/cancel", "", "remove it there"},
	} {
		r := f.do(tc.method, tc.path, ops, tc.body)
		if e := r.apiErr(t); r.code != 409 || e.Code != "managed_by_config" || !strings.Contains(e.Message, tc.where) {
			t.Errorf("%s %s: %d %s, want 409 managed_by_config saying %q", tc.method, tc.path, r.code, r.body, tc.where)
		}
	}
	got, err := f.store.GetWindow(t.Context(), "nightly")
	if err != nil || got.Title != "Nightly" || !got.CancelledAt.IsZero() {
		t.Errorf("window after refused edits: %+v, %v", got, err)
	}
}

func TestOccurrencesQueryErrors(t *testing.T) {
	f := newFixture(t)
	for q, field := range map[string]string{
		"":                           "from",
		"?from=2026-11-01":           "from",
		"?from=2026-11-01T00:00:00Z": "to",
		"?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z":              "to",
		"?from=2026-01-01T00:00:00Z&to=2027-12-01T00:00:00Z":              "to",
		"?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&component=A!": "component",
	} {
		r := f.do("GET", "/api/v1/maintenance/occurrences"+q, "", "")
		if r.code != 400 || r.apiErr(t).Field != field {
			t.Errorf("%q: %d %s, want 400 on %s", q, r.code, r.body, field)
		}
	}
}

// TestICSFeed parses the feed with a second, independent iCalendar library and checks that the
// occurrences it expands are exactly those of the windows, across both DST changes of a year.
func TestICSFeed(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeMaintenance]
	for _, b := range []string{nightlyBody, tuesdayBody} {
		if r := f.do("POST", "/api/admin/v1/maintenance", ops, strings.Replace(b, "2026-11-01", "2026-01-01", 1)); r.code != 201 {
			t.Fatalf("create: %d %s", r.code, r.body)
		}
	}
	if r := f.do("POST", "/api/admin/v1/maintenance/tuesday-db/occurrences/2026-11-11T05:00:00Z/cancel", ops, ""); r.code != 200 {
		t.Fatalf("cancel: %d %s", r.code, r.body)
	}
	r := f.do("GET", "/maintenance.ics", "", "")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %s", r.code, r.hdr)
	}
	body := string(r.body)
	for _, want := range []string{"BEGIN:VTIMEZONE", "TZID:America/Los_Angeles", "BEGIN:DAYLIGHT", "TZOFFSETFROM:-0800", "TZOFFSETTO:-0700",
		"UID:tuesday-db@status.example.com", "RRULE:FREQ=WEEKLY;BYDAY=TU", "DTSTART;TZID=America/Los_Angeles:20260106T210000",
		"EXDATE;TZID=America/Los_Angeles:20261110T210000", "DURATION:PT2H", "DTEND;TZID=Asia/Shanghai:20260102T080000"} {
		if !strings.Contains(body, want) {
			t.Errorf("feed lacks %q", want)
		}
	}
	cal, err := goical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("a real iCalendar parser rejects the feed: %v\n%s", err, body)
	}
	windows, _ := f.store.ListWindows(t.Context())
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	events := cal.Events()
	if len(events) != 2 {
		t.Fatalf("%d events, want one per window", len(events))
	}
	for _, ev := range events {
		uid, _ := ev.Props.Text(goical.PropUID)
		id := strings.Split(uid, "@")[0]
		var want []time.Time
		for _, w := range windows {
			if w.ID == id {
				for _, o := range w.Occurrences(from, to) {
					if !o.Cancelled && !o.Start.Before(from) {
						want = append(want, o.Start)
					}
				}
			}
		}
		set, err := ev.RecurrenceSet(time.UTC)
		if err != nil || set == nil {
			t.Fatalf("%s: RecurrenceSet: %v", id, err)
		}
		got := set.Between(from, to, true)
		if len(got) != len(want) {
			t.Fatalf("%s: the feed expands to %d occurrences in 2026, the window to %d", id, len(got), len(want))
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("%s: occurrence %d is %s in the feed, %s in Upstate", id, i, got[i].UTC(), want[i])
			}
		}
	}
}

func TestPageShowsMaintenance(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ctx := t.Context()
	for _, id := range []string{"api", "db"} {
		if err := f.store.AppendStatus(ctx, component.Change{ComponentID: id, At: t0.Add(-time.Hour), Status: component.Operational}); err != nil {
			t.Fatal(err)
		}
	}
	ops := f.tokens[apikey.ScopeMaintenance]
	// A one-off window running now on db, and the Tuesday window coming up.
	running := `{"id":"db-upgrade","title":"Database upgrade","components":["db"],"time_zone":"UTC","start":"2026-11-01T09:00:00Z","end":"2026-11-01T11:00:00Z"}`
	for _, b := range []string{running, tuesdayBody} {
		if r := f.do("POST", "/api/admin/v1/maintenance", ops, b); r.code != 201 {
			t.Fatalf("%d %s", r.code, r.body)
		}
	}
	page := string(f.do("GET", "/", "", "").body)
	for _, want := range []string{
		"Service Under Maintenance",
		"Maintenance in progress", "Database upgrade",
		"Scheduled maintenance", "Wed 4 Nov 2026, 13:00 – 15:00 CST", "(4 Nov 05:00 – 4 Nov 07:00 UTC)",
		"Under maintenance", `href="/maintenance.ics"`,
		"Repeats every Tuesday at 21:00 for 2 h (America/Los_Angeles)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if api := string(f.do("GET", "/api/v1/components", "", "").body); !strings.Contains(api, `"id":"db","name":"DB","description":"","group":false,"status":"under_maintenance"`) {
		t.Errorf("public components API lacks the overlay: %s", api)
	}
	if n := strings.Count(page, "Database</h3>"); n != 1 {
		t.Errorf("the weekly window is listed %d times, want once (its next occurrence)", n)
	}
	// The timeline keeps the measured status: maintenance is an overlay.
	c, _ := f.store.GetComponent(ctx, "db")
	if c.Status != component.Operational {
		t.Errorf("stored status = %s, want operational", c.Status)
	}
}

// TestOneOffWindowWithoutZone: a one-off window's instants need no zone; without one it is shown
// in the page's, and a recurring window without one is still refused, naming the field.
func TestOneOffWindowWithoutZone(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	ops := f.tokens[apikey.ScopeMaintenance]
	start := f.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	body := fmt.Sprintf(`{"id":"oneoff","title":"Disk swap","components":["api"],"start":%q,"end":%q}`,
		start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
	r := f.do("POST", "/api/admin/v1/maintenance", ops, body)
	if r.code != 201 || !strings.Contains(string(r.body), `"time_zone":"`+f.srv.page.Location.String()+`"`) {
		t.Fatalf("one-off without a zone: %d %s, want 201 in the page's zone %s", r.code, r.body, f.srv.page.Location)
	}
	r = f.do("POST", "/api/admin/v1/maintenance", ops, `{"id":"weekly","title":"W","components":["api"],"days":["tue"],"start_time":"21:00","duration":"1h"}`)
	if e := r.apiErr(t); r.code != 422 || e.Field != "time_zone" {
		t.Errorf("recurring without a zone: %d %s, want 422 naming time_zone", r.code, r.body)
	}
}
