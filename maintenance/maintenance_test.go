package maintenance_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/maintenance"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func prepared(t *testing.T, w maintenance.Window) *maintenance.Window {
	t.Helper()
	if w.ID == "" {
		w.ID = "w"
	}
	if w.Title == "" {
		w.Title = "Maintenance"
	}
	if len(w.Components) == 0 {
		w.Components = []string{"api"}
	}
	if w.AnnouncedAt.IsZero() {
		w.AnnouncedAt = utc("2025-12-01T00:00:00Z")
	}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatalf("Prepare: %v", errs)
	}
	return &w
}

// The seeds' nightly window: every night 20:00 to 08:00 in Asia/Shanghai.
func nightlyShanghai(t *testing.T) *maintenance.Window {
	return prepared(t, maintenance.Window{TimeZone: "Asia/Shanghai", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 20 * 60, EndClock: 8 * 60})
}

// The seeds' weekly window: Tuesdays at 21:00 Pacific for two hours.
func tuesdayPacific(t *testing.T) *maintenance.Window {
	return prepared(t, maintenance.Window{TimeZone: "America/Los_Angeles", Rule: "FREQ=WEEKLY;BYDAY=TU", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 21 * 60, Duration: 2 * time.Hour})
}

func TestNightlyShanghaiMarch(t *testing.T) {
	w := nightlyShanghai(t)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	march := calendar.Interval{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, sh), End: time.Date(2026, 4, 1, 0, 0, 0, 0, sh)}
	occ := w.Occurrences(march.Start, march.End)
	if len(occ) != 32 {
		t.Fatalf("%d occurrences overlap March, want 32 (Feb 28's night reaches into March 1)", len(occ))
	}
	var total time.Duration
	for _, o := range occ {
		if o.Start.Hour() != 12 || o.End.Hour() != 0 || o.End.Sub(o.Start) != 12*time.Hour {
			t.Errorf("occurrence %s-%s: want 12:00 to 00:00 UTC", o.Start, o.End)
		}
		total += o.Interval().Intersect(march).Duration()
	}
	if total != 31*12*time.Hour {
		t.Errorf("maintenance inside March = %s, want %s", total, 31*12*time.Hour)
	}
	if first := occ[0]; !first.Start.Equal(utc("2026-02-28T12:00:00Z")) {
		t.Errorf("first = %s, want the night starting Feb 28 (it belongs to the day it starts)", first.Start)
	}
}

func TestTuesdayPacificWholeYear(t *testing.T) {
	w := tuesdayPacific(t)
	occ := w.Occurrences(utc("2026-01-01T08:00:00Z"), utc("2027-01-01T08:00:00Z"))
	if len(occ) != 52 {
		t.Fatalf("%d Tuesdays in 2026, want 52", len(occ))
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	for _, o := range occ {
		local := o.Start.In(la)
		if local.Weekday() != time.Tuesday || local.Hour() != 21 || local.Minute() != 0 || o.End.Sub(o.Start) != 2*time.Hour {
			t.Errorf("occurrence %s (local %s): want Tuesday 21:00 for 2h", o.Start, local)
		}
		if o.Start.Weekday() != time.Wednesday {
			t.Errorf("%s: Tuesday 21:00 Pacific is Wednesday in UTC", o.Start)
		}
		_, off := local.Zone()
		wantHour := map[int]int{-7 * 3600: 4, -8 * 3600: 5}[off]
		if o.Start.Hour() != wantHour {
			t.Errorf("%s: at offset %d want %02d:00 UTC", o.Start, off, wantHour)
		}
	}
	// Hand-checked instants on both sides of both changes.
	for _, want := range []string{"2026-03-04T05:00:00Z", "2026-03-11T04:00:00Z", "2026-10-28T04:00:00Z", "2026-11-04T05:00:00Z"} {
		if _, err := w.Find(utc(want)); err != nil {
			t.Errorf("no occurrence at %s: %v", want, err)
		}
	}
}

func TestNightlyAcrossDSTIsElevenAndThirteenHours(t *testing.T) {
	w := prepared(t, maintenance.Window{TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 20 * 60, EndClock: 8 * 60})
	spring, err := w.Find(utc("2026-03-08T04:00:00Z")) // Saturday Mar 7, 20:00 PST
	if err != nil || spring.End.Sub(spring.Start) != 11*time.Hour {
		t.Errorf("spring night: %v %v, want 11h", spring.End.Sub(spring.Start), err)
	}
	autumn, err := w.Find(utc("2026-11-01T03:00:00Z")) // Saturday Oct 31, 20:00 PDT
	if err != nil || autumn.End.Sub(autumn.Start) != 13*time.Hour {
		t.Errorf("autumn night: %v %v, want 13h", autumn.End.Sub(autumn.Start), err)
	}
	exact := prepared(t, maintenance.Window{TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 20 * 60, Duration: 12 * time.Hour})
	o, _ := exact.Find(utc("2026-03-08T04:00:00Z"))
	if o.End.Sub(o.Start) != 12*time.Hour {
		t.Errorf("a duration is exact: got %s", o.End.Sub(o.Start))
	}
}

func TestStartInsideTheSpringGap(t *testing.T) {
	w := prepared(t, maintenance.Window{TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 2026, Month: 3, Day: 6}, StartClock: 2*60 + 30, Duration: time.Hour})
	occ := w.Occurrences(utc("2026-03-07T00:00:00Z"), utc("2026-03-10T00:00:00Z"))
	var got []string
	for _, o := range occ {
		got = append(got, o.Start.Format(time.RFC3339))
	}
	// 02:30 PST, then 03:30 PDT (02:30 does not exist on Mar 8), then 02:30 PDT.
	want := "2026-03-07T10:30:00Z 2026-03-08T10:30:00Z 2026-03-09T09:30:00Z"
	if strings.Join(got, " ") != want {
		t.Errorf("starts = %v, want %s", got, want)
	}
}

func TestRuleSubset(t *testing.T) {
	tests := []struct {
		name, rule string
		first      calendar.Date
		from, to   string
		want       []string // local dates in UTC zone of start
	}{
		{"second Tuesday monthly", "FREQ=MONTHLY;BYDAY=2TU", calendar.Date{Year: 2026, Month: 1, Day: 1}, "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z",
			[]string{"2026-01-13", "2026-02-10", "2026-03-10"}},
		{"the 15th every other month", "FREQ=MONTHLY;INTERVAL=2;BYMONTHDAY=15", calendar.Date{Year: 2026, Month: 1, Day: 1}, "2026-01-01T00:00:00Z", "2026-08-01T00:00:00Z",
			[]string{"2026-01-15", "2026-03-15", "2026-05-15", "2026-07-15"}},
		{"count", "FREQ=WEEKLY;BYDAY=MO,FR;COUNT=3", calendar.Date{Year: 2026, Month: 1, Day: 1}, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z",
			[]string{"2026-01-02", "2026-01-05", "2026-01-09"}},
		{"until", "FREQ=DAILY;UNTIL=20260104T120000Z", calendar.Date{Year: 2026, Month: 1, Day: 1}, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z",
			[]string{"2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"}},
		{"every third day", "FREQ=DAILY;INTERVAL=3", calendar.Date{Year: 2026, Month: 1, Day: 1}, "2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z",
			[]string{"2026-01-01", "2026-01-04", "2026-01-07"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := prepared(t, maintenance.Window{TimeZone: "UTC", Rule: tt.rule, FirstDate: tt.first, StartClock: 9 * 60, Duration: time.Hour})
			var got []string
			for _, o := range w.Occurrences(utc(tt.from), utc(tt.to)) {
				got = append(got, o.Start.Format(time.DateOnly))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("dates = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPrepareRejects(t *testing.T) {
	base := maintenance.Window{ID: "w", Title: "T", Components: []string{"api"}, AnnouncedAt: utc("2026-01-01T00:00:00Z"),
		TimeZone: "UTC", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 60, Duration: time.Hour}
	tests := []struct {
		name   string
		change func(*maintenance.Window)
		field  string
		msg    string
	}{
		{"unknown zone", func(w *maintenance.Window) { w.TimeZone = "Moon/Tranquility" }, "time_zone", `unknown time zone "Moon/Tranquility"`},
		{"machine zone", func(w *maintenance.Window) { w.TimeZone = "Local" }, "time_zone", `"Local" depends on the machine's settings`},
		{"posixrules", func(w *maintenance.Window) { w.TimeZone = "posixrules" }, "time_zone", `"posixrules" depends on the machine's settings`},
		{"no zone", func(w *maintenance.Window) { w.TimeZone = "" }, "time_zone", "is required"},
		{"first date in the year 1", func(w *maintenance.Window) { w.FirstDate = calendar.Date{Year: 1, Month: 1, Day: 9} }, "first_date", "must be between 2000-01-01 and 2199-12-31"},
		{"first date in 1999", func(w *maintenance.Window) { w.FirstDate = calendar.Date{Year: 1999, Month: 12, Day: 31} }, "first_date", "must be between 2000-01-01 and 2199-12-31"},
		{"first date in 2200", func(w *maintenance.Window) { w.FirstDate = calendar.Date{Year: 2200, Month: 1, Day: 1} }, "first_date", "must be between 2000-01-01 and 2199-12-31"},
		{"one-off in the year 1", func(w *maintenance.Window) {
			w.Rule, w.Start, w.End = "", utc("0001-01-01T01:00:00Z"), utc("0001-01-01T02:00:00Z")
		}, "start", "must be between 2000-01-01 and 2199-12-31"},
		{"announced in 1999", func(w *maintenance.Window) { w.AnnouncedAt = utc("1999-12-31T23:59:59Z") }, "announced_at", "must be between"},
		{"a rule with no date", func(w *maintenance.Window) { w.Rule = "FREQ=DAILY;INTERVAL=14;BYDAY=FR" }, "rule", "yields no date in the 2 years from first_date 2026-01-01"},
		{"end equals start", func(w *maintenance.Window) { w.Duration = 0; w.EndClock = 60 }, "end_time", "must differ from the start time"},
		{"hourly", func(w *maintenance.Window) { w.Rule = "FREQ=HOURLY" }, "rule", "FREQ must be DAILY, WEEKLY or MONTHLY"},
		{"byhour", func(w *maintenance.Window) { w.Rule = "FREQ=DAILY;BYHOUR=3" }, "rule", "BYHOUR is not supported"},
		{"bysetpos", func(w *maintenance.Window) { w.Rule = "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2" }, "rule", "BYSETPOS is not supported"},
		{"numbered weekly", func(w *maintenance.Window) { w.Rule = "FREQ=WEEKLY;BYDAY=2TU" }, "rule", "needs FREQ=MONTHLY"},
		{"tenth saturday", func(w *maintenance.Window) { w.Rule = "FREQ=MONTHLY;BYDAY=10SA" }, "rule", "at most five of each weekday"},
		{"sixth monday from the end", func(w *maintenance.Window) { w.Rule = "FREQ=MONTHLY;BYDAY=-6MO" }, "rule", "at most five of each weekday"},
		{"day 32", func(w *maintenance.Window) { w.Rule = "FREQ=MONTHLY;BYMONTHDAY=32" }, "rule", "days run from 1 to 31"},
		{"day -32", func(w *maintenance.Window) { w.Rule = "FREQ=MONTHLY;BYMONTHDAY=-32" }, "rule", "days run from 1 to 31"},
		{"garbage", func(w *maintenance.Window) { w.Rule = "FREQ=DAILY;INTERVAL=x" }, "rule", "invalid RRULE"},
		{"count and until", func(w *maintenance.Window) { w.Rule = "FREQ=DAILY;COUNT=2;UNTIL=20260301T000000Z" }, "rule", "not both"},
		{"longer than the period", func(w *maintenance.Window) { w.Duration = 25 * time.Hour }, "duration", "longer than the time between two occurrences"},
		{"weekly longer than a week", func(w *maintenance.Window) { w.Rule = "FREQ=WEEKLY;BYDAY=MO,TU"; w.Duration = 30 * time.Hour }, "duration", "longer than the time between"},
		{"one-off backwards", func(w *maintenance.Window) {
			w.Rule, w.Start, w.End = "", utc("2026-02-01T02:00:00Z"), utc("2026-02-01T01:00:00Z")
		}, "end", "must be after start"},
		{"no components", func(w *maintenance.Window) { w.Components = nil }, "components", "at least one"},
		{"escape in the title", func(w *maintenance.Window) { w.Title = "DB \x1b[1mmove" }, "title", "control character U+001B at byte 3"},
		{"newline in the title", func(w *maintenance.Window) { w.Title = "DB\nmove" }, "title", "control character U+000A"},
		{"U+0001 in the description", func(w *maintenance.Window) { w.Description = "a\nb\x01" }, "description", "control character U+0001 at byte 3"},
		{"invalid UTF-8 in the description", func(w *maintenance.Window) { w.Description = "caf\xe9" }, "description", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := base
			tt.change(&w)
			errs := w.Prepare()
			for _, e := range errs {
				if e.Field == tt.field && strings.Contains(e.Message, tt.msg) {
					return
				}
			}
			t.Errorf("Prepare errors = %v, want %s: ...%s...", errs, tt.field, tt.msg)
		})
	}
}

// A window stored before the date bounds (the review's year-1 window) still loads, and costs
// what any window costs.
func TestPrepareStoredKeepsOldDates(t *testing.T) {
	w := maintenance.Window{ID: "olda1", Title: "x", Components: []string{"x6"}, AnnouncedAt: utc("2026-11-27T00:00:00Z"),
		TimeZone: "UTC", Rule: "FREQ=DAILY", FirstDate: calendar.Date{Year: 1, Month: 1, Day: 2}, StartClock: 60, Duration: time.Minute}
	if errs := w.PrepareStored(); len(errs) > 0 {
		t.Fatalf("PrepareStored: %v", errs)
	}
	if errs := w.Prepare(); len(errs) != 1 || errs[0].Field != "first_date" {
		t.Errorf("Prepare: %v", errs)
	}
	// rrule-go ends a rule without UNTIL about 292 years after its start, and so does Upstate.
	if got := w.Occurrences(utc("0100-01-01T00:00:00Z"), utc("0100-01-03T00:00:00Z")); len(got) != 2 {
		t.Errorf("got %d occurrences in the year 100, want 2", len(got))
	}
	if got := w.Occurrences(utc("2026-11-27T00:00:00Z"), utc("2026-11-29T00:00:00Z")); len(got) != 0 {
		t.Errorf("got %d occurrences in 2026, want none", len(got))
	}
	if !w.Started(utc("2026-11-27T00:00:00Z")) {
		t.Error("Started = false")
	}
}

// A window stored before the text rule still loads (PrepareStored); a multi-line description
// with tabs and CRLF is fine for both.
func TestPrepareStoredKeepsOldText(t *testing.T) {
	w := maintenance.Window{ID: "w", Title: "DB\x01 move", Description: "line\r\n\tline\x1b", Components: []string{"api"},
		AnnouncedAt: utc("2026-01-01T00:00:00Z"), TimeZone: "UTC", Start: utc("2026-02-01T01:00:00Z"), End: utc("2026-02-01T02:00:00Z")}
	if errs := w.PrepareStored(); len(errs) > 0 {
		t.Errorf("PrepareStored: %v", errs)
	}
	if len(w.Occurrences(utc("2026-01-01T00:00:00Z"), utc("2026-03-01T00:00:00Z"))) != 1 {
		t.Error("the stored window was not prepared")
	}
	if errs := w.Prepare(); len(errs) != 2 || errs[0].Field != "title" || errs[1].Field != "description" {
		t.Errorf("Prepare: %v", errs)
	}
	w.Title, w.Description = "DB move", "line\r\n\tline"
	if errs := w.Prepare(); len(errs) > 0 {
		t.Errorf("Prepare: %v", errs)
	}
}

func TestStatesAndEdits(t *testing.T) {
	w := tuesdayPacific(t)
	next := utc("2026-11-25T05:00:00Z") // Tuesday Nov 24, 21:00 PST
	after := utc("2026-12-02T05:00:00Z")
	o, err := w.Find(next)
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]maintenance.State{
		"2026-11-25T04:59:59Z": maintenance.StateScheduled,
		"2026-11-25T05:00:00Z": maintenance.StateInProgress,
		"2026-11-25T06:59:59Z": maintenance.StateInProgress,
		"2026-11-25T07:00:00Z": maintenance.StateCompleted,
	} {
		if got := o.State(utc(at)); got != want {
			t.Errorf("State(%s) = %s, want %s", at, got, want)
		}
	}
	now := utc("2026-11-22T10:00:00Z")
	if err := w.CancelOccurrence(next, now); err != nil {
		t.Fatal(err)
	}
	if o, _ := w.Find(next); o.State(now) != maintenance.StateCancelled || !o.ChangedAt.Equal(now) {
		t.Errorf("after cancel: %+v", o)
	}
	if err := w.CancelOccurrence(next, now); !errors.Is(err, maintenance.ErrInvalidState) {
		t.Errorf("cancelling twice: %v", err)
	}
	if err := w.CancelOccurrence(utc("2026-11-18T05:00:00Z"), now); !errors.Is(err, maintenance.ErrInvalidState) {
		t.Errorf("cancelling the past: %v", err)
	}
	if err := w.CancelOccurrence(utc("2026-11-25T06:00:00Z"), now); !errors.Is(err, maintenance.ErrNotFound) {
		t.Errorf("cancelling a time with no occurrence: %v", err)
	}

	during := utc("2026-12-02T06:00:00Z")
	if err := w.ExtendOccurrence(after, utc("2026-12-02T08:30:00Z"), during); err != nil {
		t.Fatal(err)
	}
	if o, _ := w.Find(after); !o.End.Equal(utc("2026-12-02T08:30:00Z")) || !o.ScheduledEnd.Equal(utc("2026-12-02T07:00:00Z")) {
		t.Errorf("after extend: %+v", o)
	}
	if err := w.ExtendOccurrence(after, utc("2026-12-09T06:00:00Z"), during); !errors.Is(err, maintenance.ErrInvalidState) {
		t.Errorf("extending over the next occurrence: %v", err)
	}
	if err := w.EndOccurrence(after, utc("2026-12-02T06:30:00Z")); err != nil {
		t.Fatal(err)
	}
	if o, _ := w.Find(after); !o.End.Equal(utc("2026-12-02T06:30:00Z")) || o.State(utc("2026-12-02T06:31:00Z")) != maintenance.StateCompleted {
		t.Errorf("after ending early: %+v", o)
	}
	if err := w.EndOccurrence(after, utc("2026-12-02T06:40:00Z")); !errors.Is(err, maintenance.ErrInvalidState) {
		t.Errorf("ending an ended occurrence: %v", err)
	}

	if err := w.CancelSeries(utc("2026-12-05T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if o, _ := w.Find(utc("2026-12-09T05:00:00Z")); !o.Cancelled {
		t.Error("occurrences after the series was cancelled must be cancelled")
	}
	if o, _ := w.Find(after); o.Cancelled {
		t.Error("past occurrences stay as they were")
	}
	if err := w.CancelSeries(utc("2026-12-06T00:00:00Z")); !errors.Is(err, maintenance.ErrInvalidState) {
		t.Errorf("cancelling the series twice: %v", err)
	}
}

func TestNoticeRule(t *testing.T) {
	start := utc("2026-12-05T02:00:00Z")
	early := prepared(t, maintenance.Window{TimeZone: "Asia/Shanghai", Start: start, End: start.Add(2 * time.Hour), AnnouncedAt: start.Add(-24 * time.Hour)})
	late := prepared(t, maintenance.Window{TimeZone: "Asia/Shanghai", Start: start, End: start.Add(2 * time.Hour), AnnouncedAt: start.Add(-23 * time.Hour)})
	o := early.Occurrences(start, start.Add(time.Hour))[0]
	if !early.Announced(o, 24*time.Hour) {
		t.Error("announced exactly 24h ahead counts as announced")
	}
	if late.Announced(late.Occurrences(start, start.Add(time.Hour))[0], 24*time.Hour) {
		t.Error("announced 23h ahead with a 24h notice period is unannounced")
	}
}

func TestStarted(t *testing.T) {
	w := prepared(t, maintenance.Window{TimeZone: "UTC", Rule: "FREQ=MONTHLY;BYMONTHDAY=20", FirstDate: calendar.Date{Year: 2026, Month: 11, Day: 1}, StartClock: 60, Duration: time.Hour})
	if w.Started(utc("2026-11-19T00:00:00Z")) || !w.Started(utc("2026-11-20T01:00:00Z")) {
		t.Error("Started must look at the rule's first occurrence (Nov 20), not the first date")
	}
}

func TestDescribe(t *testing.T) {
	for rule, want := range map[string]string{
		"FREQ=DAILY":                             "every day",
		"FREQ=WEEKLY;BYDAY=TU":                   "every Tuesday",
		"FREQ=WEEKLY;BYDAY=MO,WE,FR":             "every Monday, Wednesday and Friday",
		"FREQ=MONTHLY;BYDAY=2TU":                 "repeating (FREQ=MONTHLY;BYDAY=+2TU)", // rrule-go writes the normalised +2TU
		"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU":        "repeating (FREQ=WEEKLY;INTERVAL=2;BYDAY=TU)",
		"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU": "every day",
	} {
		w := prepared(t, maintenance.Window{TimeZone: "UTC", Rule: rule, FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 60, Duration: time.Hour})
		if got := w.Describe(); got != want {
			t.Errorf("Describe(%s) = %q, want %q", rule, got, want)
		}
	}
}

// FuzzRule: any rule, start and length either is rejected with errors or expands, in any zone,
// into occurrences that are in order, each a positive span overlapping the asked range, none
// overlapping the next. rrule-go panics on some rules (a tenth Saturday); none may get through.
func FuzzRule(f *testing.F) {
	for _, s := range []string{"FREQ=DAILY", "FREQ=WEEKLY;BYDAY=TU", "FREQ=MONTHLY;BYDAY=-1SU", "FREQ=MONTHLY;BYMONTHDAY=31",
		"FREQ=MONTHLY;BYDAY=10SA", "FREQ=MONTHLY;BYMONTHDAY=-32", "FREQ=WEEKLY;INTERVAL=3;COUNT=4;WKST=SU",
		"FREQ=DAILY;UNTIL=20270101T000000Z", "RRULE:FREQ=MONTHLY;BYDAY=5FR,1MO", "FREQ=YEARLY", ";;=", "BYDAY=MO"} {
		f.Add(s, uint16(20*60), uint32(12*60), "Asia/Shanghai")
		f.Add(s, uint16(2*60+30), uint32(90), "Australia/Lord_Howe")
	}
	from, to := utc("2026-01-01T00:00:00Z"), utc("2028-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, rule string, startMinute uint16, minutes uint32, zone string) {
		if zone == "Local" || zone == "" {
			zone = "UTC" // the machine's zone is not a choice a config can make
		}
		w := maintenance.Window{ID: "w", Title: "T", Components: []string{"api"}, AnnouncedAt: from, TimeZone: zone,
			Rule: rule, FirstDate: calendar.Date{Year: 2026, Month: 3, Day: 1}, StartClock: calendar.Clock(startMinute % (24 * 60)),
			Duration: time.Duration(minutes%(40*24*60)+1) * time.Minute}
		if errs := w.Prepare(); len(errs) > 0 {
			return
		}
		var prev maintenance.Occurrence
		for i, o := range w.Occurrences(from, to) {
			if !o.Start.Before(o.End) || !o.End.After(from) || !o.Start.Before(to) {
				t.Fatalf("rule %q: occurrence %+v is empty or outside [%s, %s)", rule, o, from, to)
			}
			if i > 0 && o.Start.Before(prev.End) {
				t.Fatalf("rule %q: %+v overlaps %+v", rule, o, prev)
			}
			prev = o
		}
	})
}
