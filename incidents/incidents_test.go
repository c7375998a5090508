package incidents_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func spans(loc *time.Location, name string, days []time.Weekday, from, to calendar.Clock) *calendar.Calendar {
	c := &calendar.Calendar{Name: name, Location: loc}
	for _, d := range days {
		c.Weekly[d] = []calendar.Span{{Start: from, End: to}}
	}
	return c
}

var everyDay = []time.Weekday{0, 1, 2, 3, 4, 5, 6}

func target(goal, warn time.Duration, cal *calendar.Calendar) *incidents.Target {
	if warn == 0 {
		warn = goal * 3 / 4
	}
	return &incidents.Target{Goal: goal, Warn: warn, Calendar: cal}
}

// Jenny's policy (seed 000) built in Go for the lifecycle tests; the shipped policy files are
// checked against hand-computed deadlines in package configs.
func seedPolicies(t *testing.T) map[string]*incidents.Policy {
	always := calendar.AroundTheClock()
	cn := spans(zone(t, "Asia/Shanghai"), "support-cn", everyDay, 8*60, 20*60)
	h := time.Hour
	return map[string]*incidents.Policy{
		"jenny": {Name: "jenny", Severities: map[incidents.Severity]incidents.Targets{
			incidents.P0: {FirstResponse: target(30*time.Minute, 0, always), Resolution: target(4*h, 0, always), WorkaroundResolves: true},
			incidents.P1: {FirstResponse: target(2*h, 0, cn), Resolution: target(12*h, 0, cn)},
			incidents.P2: {FirstResponse: target(24*h, 0, always), Resolution: target(36*h, 0, cn), WorkaroundResolves: true},
			incidents.P3: {FirstResponse: target(24*h, 0, always)},
		}},
	}
}

var t0 = time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC) // Friday 10:00 in Shanghai

func clock(t *testing.T, inc incidents.Incident, p *incidents.Policy, kind incidents.ClockKind, now time.Time) incidents.ClockStatus {
	t.Helper()
	for _, c := range inc.Clocks {
		if c.Kind == kind {
			st, err := c.At(p.Target(inc.Severity, kind).Calendar, now)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	t.Fatalf("no %s clock", kind)
	return incidents.ClockStatus{}
}

func TestLifecycleAndClocks(t *testing.T) {
	p := seedPolicies(t)["jenny"]
	inc, errs := incidents.Declare(incidents.Declaration{ID: "i1", Title: "Login fails", Body: "Looking into it.", Severity: incidents.P1,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}, Policy: "jenny", Author: "ops"}, p, t0)
	if errs != nil {
		t.Fatal(errs)
	}
	// Declaring is the first response.
	if st := clock(t, inc, p, incidents.FirstResponse, t0.Add(time.Hour)); st.State != incidents.Met || st.Used != 0 {
		t.Errorf("first response after declaring: %+v", st)
	}
	// One business day is 12 h: Friday 10:00-20:00 in Shanghai, then 08:00-10:00 on Saturday.
	saturday10 := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	res := clock(t, inc, p, incidents.Resolution, t0.Add(time.Hour))
	if res.State != incidents.Running || res.Used != time.Hour || !res.DueAt.Equal(saturday10) {
		t.Errorf("resolution running: %+v (due Saturday 10:00 Shanghai)", res)
	}
	if st := clock(t, inc, p, incidents.Resolution, saturday10.Add(-time.Second)); st.State != incidents.Running || st.Remaining != time.Second {
		t.Errorf("a second before the deadline: %+v", st)
	}
	if st := clock(t, inc, p, incidents.Resolution, saturday10); st.State != incidents.Breached {
		t.Errorf("at the deadline the clock is breached: %+v", st)
	}
	if errs := inc.Apply(incidents.Change{Author: "ops", Body: "Found it.", Status: incidents.Identified}, p, t0.Add(2*time.Hour)); errs != nil {
		t.Fatal(errs)
	}
	if err := inc.Resolve("ops", "", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := inc.Resolve("ops", "", t0.Add(3*time.Hour)); !errors.Is(err, incidents.ErrConflict) {
		t.Errorf("resolving twice: %v", err)
	}
	if errs := inc.Apply(incidents.Change{Author: "ops", Body: "More"}, p, t0.Add(4*time.Hour)); errs == nil {
		t.Error("a resolved incident took an update")
	}
	if st := clock(t, inc, p, incidents.Resolution, t0.Add(5*time.Hour)); st.State != incidents.Met || st.Used != 3*time.Hour {
		t.Errorf("resolution met: %+v", st)
	}
	// Reopened two hours later: the clock resumes; the resolved time does not count.
	if err := inc.Reopen("ops", "", t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	st := clock(t, inc, p, incidents.Resolution, t0.Add(6*time.Hour))
	if st.State != incidents.Running || st.Used != 4*time.Hour || !st.DueAt.Equal(saturday10.Add(2*time.Hour)) {
		t.Errorf("after reopening: %+v (3h + 1h used; due two hours later than first)", st)
	}
	if err := inc.Reopen("ops", "", t0.Add(6*time.Hour)); !errors.Is(err, incidents.ErrInvalidState) {
		t.Errorf("reopening an open incident: %v", err)
	}
	if n := len(inc.Updates); n != 4 {
		t.Errorf("%d updates, want declare, update, resolve, reopen", n)
	}
}

func TestAutomaticIncidentWaitsForAHuman(t *testing.T) {
	p := seedPolicies(t)["jenny"]
	inc, _ := incidents.Declare(incidents.Declaration{ID: "a1", Title: "API down", Severity: incidents.P0, Automatic: true, MonitorID: "api-health", Policy: "jenny"}, p, t0)
	if st := clock(t, inc, p, incidents.FirstResponse, t0.Add(10*time.Minute)); st.State != incidents.Running || !st.DueAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("automatic incident: %+v", st)
	}
	if st := clock(t, inc, p, incidents.FirstResponse, t0.Add(31*time.Minute)); st.State != incidents.Breached {
		t.Errorf("no one answered in 30 minutes: %+v", st)
	}
	if err := inc.Acknowledge("oncall", "", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := inc.Acknowledge("oncall", "", t0.Add(21*time.Minute)); !errors.Is(err, incidents.ErrConflict) {
		t.Errorf("acknowledging twice: %v", err)
	}
	if st := clock(t, inc, p, incidents.FirstResponse, t0.Add(time.Hour)); st.State != incidents.Met || st.Used != 20*time.Minute {
		t.Errorf("acknowledged after 20 minutes: %+v", st)
	}
	// P0 in Jenny's policy: a workaround meets the resolution target.
	if errs := inc.Apply(incidents.Change{Author: "oncall", Body: "Use the backup login page.", Workaround: true}, p, t0.Add(90*time.Minute)); errs != nil {
		t.Fatal(errs)
	}
	if st := clock(t, inc, p, incidents.Resolution, t0.Add(5*time.Hour)); st.State != incidents.Met || st.Used != 90*time.Minute {
		t.Errorf("workaround: %+v", st)
	}
}

// TestAutomaticDetailIsInternal: an automatic incident's detail (its monitor and the probe's
// reason) is an internal update recorded just before the public one, cleaned as a monitor's
// words are, and it meets no clock.
func TestAutomaticDetailIsInternal(t *testing.T) {
	p := seedPolicies(t)["jenny"]
	inc, errs := incidents.Declare(incidents.Declaration{ID: "a1", Title: "API down", Severity: incidents.P0, Automatic: true, MonitorID: "api-health",
		Policy: "jenny", Body: "API is not responding as expected.", Detail: "Automatic: monitor api-health failed (dial tcp 10.0.0.7:443\x1b)."}, p, t0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(inc.Updates) != 2 {
		t.Fatalf("%d updates, want the detail and the public one: %+v", len(inc.Updates), inc.Updates)
	}
	detail, public := inc.Updates[0], inc.Updates[1]
	if detail.Public() || !detail.Internal || detail.ID != "a1-1" || detail.Body != "Automatic: monitor api-health failed (dial tcp 10.0.0.7:443)." || detail.Kind != "automatic" {
		t.Errorf("the detail: %+v", detail)
	}
	if !public.Public() || public.ID != "a1-2" || public.Body != "API is not responding as expected." || public.Severity != incidents.P0 {
		t.Errorf("the public update: %+v", public)
	}
	if st := clock(t, inc, p, incidents.FirstResponse, t0.Add(10*time.Minute)); st.State != incidents.Running {
		t.Errorf("the detail met the first response: %+v", st)
	}
	// A person's declaration with a detail is checked as any text is.
	if _, errs := incidents.Declare(incidents.Declaration{ID: "d1", Title: "API down", Severity: incidents.P1, Policy: "jenny", Detail: "bad\x1b"}, p, t0); len(errs) != 1 || errs[0].Field != "detail" {
		t.Errorf("a detail with a control character: %v", errs)
	}
}

// TestLegacyAutomaticTextIsInternal: an automatic incident stored before the monitor's words
// became internal kept them in its public first update; it is internal now.
func TestLegacyAutomaticTextIsInternal(t *testing.T) {
	for _, c := range []struct {
		u    incidents.Update
		want bool
	}{
		{incidents.Update{Kind: "automatic", Body: "Automatic: monitor web failed (connect: dial tcp 10.1.2.3:443: connect: connection refused). We are investigating."}, false},
		{incidents.Update{Kind: "automatic", Body: "Web is not responding as expected. We are investigating."}, true},
		{incidents.Update{Kind: "resolve", Body: "Automatic: checks have passed again since 2026-11-27T10:00:00Z. Resolved automatically."}, true},
		{incidents.Update{Kind: "update", Body: "Automatic: monitor web was wrong, all good."}, true}, // a person's words stay as written
	} {
		if got := c.u.Public(); got != c.want {
			t.Errorf("%s %q: public %v, want %v", c.u.Kind, c.u.Body, got, c.want)
		}
	}
}

func TestSeverityChangeRetargets(t *testing.T) {
	p := seedPolicies(t)["jenny"]
	inc, _ := incidents.Declare(incidents.Declaration{ID: "s1", Title: "Slow reports", Severity: incidents.P2, Policy: "jenny"}, p, t0)
	if errs := inc.Apply(incidents.Change{Body: "It is worse than thought.", Severity: incidents.P1}, p, t0.Add(time.Hour)); errs != nil {
		t.Fatal(errs)
	}
	// P1 resolution: 1 business day (12 h) from 10:00 Shanghai: 22:00? No: 20:00 closes the day at
	// 10 h, so 2 h more on Saturday from 08:00.
	if st := clock(t, inc, p, incidents.Resolution, t0.Add(time.Hour)); st.Goal != 12*time.Hour || !st.DueAt.Equal(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("retargeted clock: %+v", st)
	}
}

func TestDeclareRejects(t *testing.T) {
	p := seedPolicies(t)["jenny"]
	tests := []struct {
		name  string
		d     incidents.Declaration
		field string
	}{
		{"unknown severity", incidents.Declaration{Title: "x", Severity: "P7"}, "severity"},
		{"no title", incidents.Declaration{Severity: incidents.P1}, "title"},
		{"bad impact", incidents.Declaration{Title: "x", Severity: incidents.P1, Components: []incidents.Affected{{ComponentID: "api", Impact: "on_fire"}}}, "components[0].impact"},
		{"backfill ending before it starts", incidents.Declaration{Title: "x", Severity: incidents.P1, StartedAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(-2 * time.Hour)}, "resolved_at"},
		{"backfill in the future", incidents.Declaration{Title: "x", Severity: incidents.P1, StartedAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(time.Hour)}, "resolved_at"},
		{"starts in the future", incidents.Declaration{Title: "x", Severity: incidents.P1, StartedAt: t0.Add(time.Hour)}, "started_at"},
		{"resolved without a backfill", incidents.Declaration{Title: "x", Severity: incidents.P1, Status: incidents.Resolved}, "status"},
		{"starts in the year 0", incidents.Declaration{Title: "x", Severity: incidents.P1, StartedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}, "started_at"},
		{"backfill from 1999", incidents.Declaration{Title: "x", Severity: incidents.P1, StartedAt: time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), ResolvedAt: t0.Add(-time.Hour)}, "started_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := incidents.Declare(tt.d, p, t0)
			for _, e := range errs {
				if e.Field == tt.field {
					return
				}
			}
			t.Errorf("errors = %v, want one on %s", errs, tt.field)
		})
	}
	inc, errs := incidents.Declare(incidents.Declaration{ID: "b", Title: "Past outage", Severity: incidents.P1, StartedAt: t0.Add(-3 * time.Hour), ResolvedAt: t0.Add(-2 * time.Hour)}, p, t0)
	if errs != nil || !inc.Backfilled || inc.Status != incidents.Resolved || len(inc.Clocks) != 0 {
		t.Errorf("backfill = %+v, %v", inc, errs)
	}
	if err := inc.Reopen("ops", "", t0); !errors.Is(err, incidents.ErrInvalidState) {
		t.Errorf("reopening a backfill: %v", err)
	}
}

// Text a person writes is refused with control characters in it, the field named; a monitor's
// text is cleaned, so an outage is declared whatever its reason says.
func TestTextRule(t *testing.T) {
	now := t0
	decl := func(title, body string, automatic bool) incidents.Declaration {
		return incidents.Declaration{ID: "inc-1", Title: title, Body: body, Severity: incidents.P2, Automatic: automatic}
	}
	fields := func(errs []*incidents.FieldError) []string {
		var out []string
		for _, e := range errs {
			out = append(out, e.Field)
		}
		return out
	}
	tests := []struct {
		name        string
		title, body string
		want        []string
	}{
		{"fine", "API errors", "Looking.\n\n- one\r\n- two\twith a tab", nil},
		{"escape in the title", "API \x1b[31merrors", "", []string{"title"}},
		{"newline in the title", "API\nerrors", "", []string{"title"}},
		{"U+0001 in the message", "API errors", "a\x01b", []string{"message"}},
		{"invalid UTF-8 in both", "caf\xe9", "caf\xe9", []string{"title", "message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := incidents.Declare(decl(tt.title, tt.body, false), nil, now)
			if got := fields(errs); !slices.Equal(got, tt.want) {
				t.Errorf("Declare: invalid fields %v, want %v (%v)", got, tt.want, errs)
			}
		})
	}
	inc, errs := incidents.Declare(decl("API\x00 is down", "monitor failed (banner \x1b[0m\xff)", true), nil, now)
	if len(errs) > 0 || inc.Title != "API is down" || inc.Updates[0].Body != "monitor failed (banner [0m\uFFFD)" {
		t.Errorf("automatic: %q / %q, %v", inc.Title, inc.Updates[0].Body, errs)
	}

	inc, errs = incidents.Declare(decl("API errors", "", false), nil, now)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if errs := inc.Apply(incidents.Change{Body: "still \x0b broken"}, nil, now); len(errs) != 1 || errs[0].Field != "message" {
		t.Errorf("Apply: %v", errs)
	}
	var fe *incidents.FieldError
	if err := inc.Resolve("ops", "fixed\x1b", now); !errors.As(err, &fe) || fe.Field != "message" || inc.Status == incidents.Resolved {
		t.Errorf("Resolve: %v, status %s", err, inc.Status)
	}
	mustOK := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOK(inc.Resolve("ops", "fixed\r\n", now))
	if err := inc.Reopen("ops", "\u0085back", now); !errors.As(err, &fe) || fe.Field != "message" || inc.Status != incidents.Resolved {
		t.Errorf("Reopen: %v, status %s", err, inc.Status)
	}
	mustOK(inc.Reopen("ops", "", now))
}

// TestAutomaticFirstResponseWaitsForAPerson: an automatic incident's first response is met by a
// person only (DESIGN section 6). A monitor's recovery is no response: resolving stops the clock
// unmet (stopped before its deadline, breached after it), moving to monitoring leaves it running;
// a person's acknowledgement, update, resolve or reopen meets it.
func TestAutomaticFirstResponseWaitsForAPerson(t *testing.T) {
	p := seedPolicies(t)["jenny"] // P0: first response 30 min around the clock
	due := t0.Add(30 * time.Minute)
	m := func(d time.Duration) time.Time { return t0.Add(d * time.Minute) }
	for _, tt := range []struct {
		name  string
		steps func(inc *incidents.Incident) error
		at    time.Time // seen at
		state incidents.ClockState
		used  time.Duration
		met   time.Time
	}{
		{"resolved by its monitor before the deadline", func(inc *incidents.Incident) error {
			return inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", m(10))
		}, m(60), incidents.Stopped, 10 * time.Minute, time.Time{}},
		{"resolved by its monitor after the deadline", func(inc *incidents.Incident) error {
			return inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", m(40))
		}, m(60), incidents.Breached, 40 * time.Minute, time.Time{}},
		{"resolved by its monitor at the deadline", func(inc *incidents.Incident) error {
			return inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", due)
		}, m(60), incidents.Breached, 30 * time.Minute, time.Time{}},
		{"moved to monitoring by its monitor", func(inc *incidents.Incident) error {
			return errOf(inc.Apply(incidents.Change{Author: "monitor:api-health", Body: "Checks pass again.", Status: incidents.Monitoring, Automatic: true}, p, m(10)))
		}, m(20), incidents.Running, 20 * time.Minute, time.Time{}},
		{"moved to monitoring, no one came", func(inc *incidents.Incident) error {
			return errOf(inc.Apply(incidents.Change{Author: "monitor:api-health", Body: "Checks pass again.", Status: incidents.Monitoring, Automatic: true}, p, m(10)))
		}, m(60), incidents.Breached, 60 * time.Minute, time.Time{}},
		{"resolved by a person", func(inc *incidents.Incident) error {
			return inc.Resolve("oncall", "", m(10))
		}, m(60), incidents.Met, 10 * time.Minute, m(10)},
		{"acknowledged, then resolved by its monitor", func(inc *incidents.Incident) error {
			if err := inc.Acknowledge("oncall", "", m(5)); err != nil {
				return err
			}
			return inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", m(10))
		}, m(60), incidents.Met, 5 * time.Minute, m(5)},
		{"resolved by its monitor, reopened by a person", func(inc *incidents.Incident) error {
			if err := inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", m(10)); err != nil {
				return err
			}
			return inc.Reopen("oncall", "It is back.", m(50)) // the 40 minutes resolved do not count
		}, m(60), incidents.Met, 10 * time.Minute, m(50)},
		{"resolved by its monitor after the deadline, reopened", func(inc *incidents.Incident) error {
			if err := inc.ResolveAutomatic("monitor:api-health", "Checks pass again.", m(40)); err != nil {
				return err
			}
			return inc.Reopen("oncall", "It is back.", m(50))
		}, m(60), incidents.Breached, 40 * time.Minute, m(50)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inc, errs := incidents.Declare(incidents.Declaration{ID: "a1", Title: "API down", Body: "API is not responding as expected.", Severity: incidents.P0,
				Automatic: true, MonitorID: "api-health", Policy: "jenny", Author: "monitor:api-health"}, p, t0)
			if errs != nil {
				t.Fatal(errs)
			}
			if err := tt.steps(&inc); err != nil {
				t.Fatal(err)
			}
			st := clock(t, inc, p, incidents.FirstResponse, tt.at)
			if st.State != tt.state || st.Used != tt.used || !st.MetAt.Equal(tt.met) {
				t.Errorf("first response: %s, used %s, met at %s; want %s, used %s, met at %s", st.State, st.Used, st.MetAt, tt.state, tt.used, tt.met)
			}
		})
	}
}

func errOf(errs []*incidents.FieldError) error {
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}
