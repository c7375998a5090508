package statuspage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
	goical "github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// TestICSExactAcrossDST expands the calendar feed the way a client must (RFC 5545: the master's
// exact duration for every instance, EXDATEs, overrides matched by RECURRENCE-ID, local times
// resolved with the gap and repeat rules) with code independent of the feed's, and checks every
// instance's exact start and end against the occurrences API over a year with both clock changes,
// in two zones: a nightly 20:00-08:00 window (11 h and 13 h on the change nights), a weekly 2 h
// one that must need no override, two windows starting at 02:30 (inside the spring gap), a
// one-off ending in the repeated hour, and edits on those nights.
func TestICSExactAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		zone           string
		spring, autumn time.Time // the 2027 days the clocks change, at local midnight
		fallBack       time.Time // the instant clocks go back
	}{
		{"America/Los_Angeles", icsDay(2027, 3, 14), icsDay(2027, 11, 7), time.Date(2027, 11, 7, 9, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", icsDay(2027, 3, 28), icsDay(2027, 10, 31), time.Date(2027, 10, 31, 1, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			// The fixture's clock is 2026-11-01, before both of 2027's changes.
			f := newFixture(t)
			f.addComponents("api", "db")
			loc := mustZone(t, tc.zone)
			at := func(day time.Time, h, m int) time.Time { // as RFC 5545 reads a local time
				return rfcLocal(time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, time.UTC), loc)
			}
			ops := f.tokens[apikey.ScopeMaintenance]
			for _, b := range []string{
				`{"id":"nightly","title":"Nightly releases","components":["api"],"daily":true,"start_time":"20:00","end_time":"08:00"`,
				`{"id":"tuesday-db","title":"Database","components":["db"],"days":["tue"],"start_time":"21:00","duration":"2h"`,
				`{"id":"early","title":"Early","components":["api"],"daily":true,"start_time":"02:30","end_time":"04:00"`,
				`{"id":"sunday","title":"Sunday","components":["db"],"days":["sun"],"start_time":"02:30","duration":"1h"`,
			} {
				b += fmt.Sprintf(`,"time_zone":%q,"first_date":"2027-01-01"}`, tc.zone)
				if r := f.do("POST", "/api/admin/v1/maintenance", ops, b); r.code != 201 {
					t.Fatalf("create: %d %s", r.code, r.body)
				}
			}
			// A one-off from the first pass of the repeated hour into the second.
			oneOff := fmt.Sprintf(`{"id":"switch","title":"Switch","components":["db"],"time_zone":%q,"start":%q,"end":%q}`,
				tc.zone, tc.fallBack.Add(-50*time.Minute).Format(time.RFC3339), tc.fallBack.Add(20*time.Minute).Format(time.RFC3339))
			if r := f.do("POST", "/api/admin/v1/maintenance", ops, oneOff); r.code != 201 {
				t.Fatalf("create one-off: %d %s", r.code, r.body)
			}
			springNight := at(tc.spring.AddDate(0, 0, -1), 20, 0)
			june := at(icsDay(2027, 6, 1), 20, 0)
			for _, e := range []struct {
				id      string
				start   time.Time
				action  string
				newEnd  time.Time
				comment string
			}{
				{"nightly", springNight, "extend", at(tc.spring, 8, 30), "a DST night extended: one override, not two"},
				{"nightly", june, "extend", at(icsDay(2027, 6, 2), 9, 0), "an ordinary night extended"},
				{"sunday", at(tc.spring, 3, 30), "cancel", time.Time{}, "an occurrence moved by the gap, cancelled: an EXDATE only"},
				{"early", at(tc.autumn, 2, 30), "cancel", time.Time{}, "a (Berlin: 2.5 h) autumn occurrence, cancelled: an EXDATE only"},
			} {
				body := ""
				if !e.newEnd.IsZero() {
					body = fmt.Sprintf(`{"end":%q}`, e.newEnd.UTC().Format(time.RFC3339))
				}
				path := fmt.Sprintf("/api/admin/v1/maintenance/%s/occurrences/%s/%s", e.id, e.start.UTC().Format(time.RFC3339), e.action)
				if r := f.do("POST", path, ops, body); r.code != 200 {
					t.Fatalf("%s (%s): %d %s", path, e.comment, r.code, r.body)
				}
			}

			r := f.do("GET", "/maintenance.ics", "", "")
			if r.code != 200 {
				t.Fatalf("feed: %d %s", r.code, r.body)
			}
			body := string(r.body)
			checkICSLines(t, body)
			feed := expandICS(t, body, time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC))

			from, to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
			want := apiOccurrences(t, f, from, to)
			for _, id := range []string{"nightly", "tuesday-db", "early", "sunday", "switch"} {
				var got []icsInstance
				for _, in := range feed.instances[id] {
					if in.start.Before(to) && from.Before(in.end) {
						got = append(got, in)
					}
				}
				if len(want[id]) == 0 {
					t.Fatalf("%s: the API has no occurrences", id)
				}
				compareInstances(t, id, loc, got, want[id])
			}
			// The change nights, spelled out.
			for _, c := range []struct {
				id    string
				start time.Time
				want  time.Duration
			}{
				{"nightly", springNight, 11*time.Hour + 30*time.Minute}, // 11 h, extended by 30 min
				{"nightly", at(tc.autumn.AddDate(0, 0, -1), 20, 0), 13 * time.Hour},
			} {
				i := slices.IndexFunc(feed.instances[c.id], func(in icsInstance) bool { return in.start.Equal(c.start) })
				if i < 0 {
					t.Errorf("%s: no instance starts at %s", c.id, c.start)
				} else if got := feed.instances[c.id][i].end.Sub(c.start); got != c.want {
					t.Errorf("%s on %s lasts %s in the feed, want %s", c.id, c.start, got, c.want)
				}
			}
			if n := feed.overrides["tuesday-db"]; n != 0 {
				t.Errorf("the weekly 2 h window has %d overrides, want none: an exact duration is the same every week", n)
			}
			if got := feed.descriptions["nightly"]; got != "Affects: API" {
				t.Errorf("nightly DESCRIPTION = %q, want the component's name", got)
			}
		})
	}
}

// TestICSText stores a window whose title and description hold every kind of character a
// client might choke on, bypassing the API's checks, and requires a calendar that is still valid
// and says the same thing without the control characters.
func TestICSText(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	w, errs := maintenance.Spec{ID: "mixed", Title: "x", Components: []string{"api", "db"}, TimeZone: "Europe/Berlin",
		Daily: true, StartTime: "20:00", EndTime: "08:00", FirstDate: "2026-11-02"}.Window(t0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w.Title = "Größenänderung — 数据库迁移 🚀; a, b\\c\x00\x07\x1b\x7f\u0085 and a title long enough to be folded"
	w.Description = "Line one\r\nline two\rline three\n\ttabbed\x0b; done, really\\"
	w.Source, w.CreatedAt, w.UpdatedAt = string(component.SourceConfig), t0, t0
	if err := f.store.CreateWindow(t.Context(), w, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	r := f.do("GET", "/maintenance.ics", "", "")
	if r.code != 200 {
		t.Fatalf("feed: %d %s", r.code, r.body)
	}
	body := string(r.body)
	checkICSLines(t, body)
	cal, err := goical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	ev := cal.Events()[0]
	for _, c := range []struct{ prop, want string }{
		{goical.PropSummary, "Größenänderung — 数据库迁移 🚀; a, b\\c and a title long enough to be folded"},
		{goical.PropDescription, "Line one\nline two\nline three\n tabbed; done, really\\\n\nAffects: API, DB"},
	} {
		if got, err := ev.Props.Text(c.prop); err != nil || got != c.want {
			t.Errorf("%s = %q (%v), want %q", c.prop, got, err, c.want)
		}
	}
	if !strings.Contains(body, `SUMMARY:Größenänderung — 数据库迁移 🚀\; a\, b\\c and a`) {
		t.Errorf("SUMMARY is not escaped as RFC 5545 says (3.3.11):\n%s", body)
	}
}

// TestICSFolding serializes long values the way the feed does and checks the folds: CRLF and one
// space, at most 75 octets a line, never inside a UTF-8 sequence, and the value unchanged once
// unfolded by another library.
func TestICSFolding(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"short", "Nightly releases"},
		{"ascii with spaces", strings.Repeat("maintenance window ", 12)},
		{"ascii without spaces", strings.Repeat("x", 300)},
		{"two-byte letters", strings.Repeat("é", 150)},
		{"three-byte letters", strings.Repeat("数据库", 40)},
		{"four-byte emoji", strings.Repeat("🚀", 60)},
		{"mixed widths at every offset", strings.Repeat("aé数🚀", 30)},
		{"escapes across the fold", strings.Repeat(`a;b,c\d`, 30)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cal := ics.NewCalendarFor("Upstate")
			ev := cal.AddEvent("fold@test")
			ev.SetSummary(icsText(tt.in))
			ev.SetDescription(icsText("Affects: " + tt.in))
			out := cal.Serialize(ics.WithNewLineWindows)
			checkICSLines(t, out)
			dec, err := goical.NewDecoder(strings.NewReader(out)).Decode()
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, out)
			}
			got, _ := dec.Events()[0].Props.Text(goical.PropSummary)
			if got != tt.in {
				t.Errorf("unfolded SUMMARY = %q, want %q", got, tt.in)
			}
		})
	}
}

func TestICSTextClean(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", "Nightly releases", "Nightly releases"},
		{"multi-byte kept", "Größe 数据库 🚀", "Größe 数据库 🚀"},
		{"C0 controls dropped", "a\x00b\x01c\x1bd\x1fe", "abcde"},
		{"DEL and C1 dropped", "a\x7fb\u0085c\u009fd", "abcd"},
		{"noncharacters dropped", "a\ufffeb\uffffc", "abc"},
		{"line breaks kept as newlines", "a\r\nb\rc\nd", "a\nb\nc\nd"},
		{"tab as a space", "a\tb", "a b"},
		{"invalid UTF-8 replaced", "a\xffb", "a\ufffdb"},
		{"escapes left to the serializer", `a;b,c\d`, `a;b,c\d`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := icsText(tt.in); got != tt.want {
				t.Errorf("icsText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// checkICSLines requires RFC 5545 3.1 content lines: each ends in CRLF, holds at most 75
// octets, is valid UTF-8 (no fold splits a character) and holds no control character.
func checkICSLines(t *testing.T, body string) {
	t.Helper()
	if !strings.HasSuffix(body, "\r\n") {
		t.Errorf("the calendar does not end in CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF (lines must end in CRLF): %q", i+1, line)
			continue
		}
		if len(line) > 75 {
			t.Errorf("line %d is %d octets, more than 75: %q", i+1, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d is not valid UTF-8 (a fold split a character?): %q", i+1, line)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("line %d holds a control character: %q", i+1, line)
		}
	}
}

type icsInstance struct{ start, end time.Time }

type expandedICS struct {
	instances    map[string][]icsInstance // by window id, in order
	overrides    map[string]int           // overriding VEVENTs by window id
	descriptions map[string]string
}

// expandICS reads a feed with go-ical (not the library that writes it) and expands it up to
// limit as RFC 5545 says, with rrule-go on floating local times and rfcLocal to place them.
func expandICS(t *testing.T, body string, limit time.Time) expandedICS {
	t.Helper()
	cal, err := goical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("go-ical rejects the feed: %v\n%s", err, body)
	}
	out := expandedICS{instances: map[string][]icsInstance{}, overrides: map[string]int{}, descriptions: map[string]string{}}
	masters := map[string]goical.Event{}
	overrides := map[string]map[string]goical.Event{} // by UID, then RECURRENCE-ID value
	for _, ev := range cal.Events() {
		uid, _ := ev.Props.Text(goical.PropUID)
		rid := ev.Props.Get(goical.PropRecurrenceID)
		if rid == nil {
			if _, dup := masters[uid]; dup {
				t.Fatalf("%s: two VEVENTs without RECURRENCE-ID", uid)
			}
			masters[uid] = ev
			continue
		}
		if overrides[uid] == nil {
			overrides[uid] = map[string]goical.Event{}
		}
		if _, dup := overrides[uid][rid.Value]; dup {
			t.Errorf("%s: two overrides for RECURRENCE-ID %s", uid, rid.Value)
		}
		overrides[uid][rid.Value] = ev
	}
	for uid, ev := range masters {
		id, _, _ := strings.Cut(uid, "@")
		out.overrides[id] = len(overrides[uid])
		out.descriptions[id], _ = ev.Props.Text(goical.PropDescription)
		if st, _ := ev.Props.Text(goical.PropStatus); st == "CANCELLED" {
			continue
		}
		dtstart := ev.Props.Get(goical.PropDateTimeStart)
		start := propTime(t, dtstart)
		var dur time.Duration
		if p := ev.Props.Get(goical.PropDateTimeEnd); p != nil {
			dur = propTime(t, p).Sub(start)
		} else if p := ev.Props.Get(goical.PropDuration); p != nil {
			if dur, err = p.Duration(); err != nil {
				t.Fatalf("%s: DURATION: %v", uid, err)
			}
		}
		rr := ev.Props.Get(goical.PropRecurrenceRule)
		if rr == nil {
			if len(overrides[uid]) > 0 {
				t.Errorf("%s: overrides on an event without RRULE", uid)
			}
			out.instances[id] = []icsInstance{{start, start.Add(dur)}}
			continue
		}
		tzid := dtstart.Params.Get(goical.PropTimezoneID)
		loc, err := time.LoadLocation(tzid)
		if tzid == "" || err != nil {
			t.Fatalf("%s: a recurring DTSTART needs a TZID: %q (%v)", uid, tzid, err)
		}
		// RECURRENCE-ID and EXDATE name an instance by the local time the rule generates.
		named := func(p goical.Prop, what string) string {
			if p.Params.Get(goical.PropTimezoneID) != tzid {
				t.Errorf("%s: %s %s is not in the DTSTART's zone %s", uid, what, p.Value, tzid)
			}
			return p.Value
		}
		excluded := map[string]bool{}
		for _, p := range ev.Props.Values(goical.PropExceptionDates) {
			for v := range strings.SplitSeq(p.Value, ",") {
				p.Value = v
				excluded[named(p, "EXDATE")] = true
			}
		}
		byRID := map[string]goical.Event{}
		for _, ov := range overrides[uid] {
			key := named(*ov.Props.Get(goical.PropRecurrenceID), "RECURRENCE-ID")
			if excluded[key] {
				t.Errorf("%s: %s is both an EXDATE and an override", uid, key)
			}
			byRID[key] = ov
		}
		opt, err := rrule.StrToROption(rr.Value)
		if err != nil {
			t.Fatalf("%s: RRULE %s: %v", uid, rr.Value, err)
		}
		until := opt.Until
		opt.Until = time.Time{}
		wall, _ := time.Parse("20060102T150405", dtstart.Value)
		opt.Dtstart = wall
		rule, err := rrule.NewRRule(*opt)
		if err != nil {
			t.Fatalf("%s: RRULE %s: %v", uid, rr.Value, err)
		}
		used := map[string]bool{}
		for _, w := range rule.Between(wall, limit, true) {
			key := w.Format("20060102T150405")
			s := rfcLocal(w, loc)
			if !until.IsZero() && s.After(until) {
				break
			}
			if excluded[key] {
				continue
			}
			in := icsInstance{s, s.Add(dur)}
			if ov, ok := byRID[key]; ok {
				used[key] = true
				in = icsInstance{propTime(t, ov.Props.Get(goical.PropDateTimeStart)), propTime(t, ov.Props.Get(goical.PropDateTimeEnd))}
			}
			out.instances[id] = append(out.instances[id], in)
		}
		for key := range byRID {
			if !used[key] {
				t.Errorf("%s: the override for RECURRENCE-ID %s matches no instance of the rule", uid, key)
			}
		}
	}
	return out
}

// propTime reads a DATE-TIME: UTC, or local in its TZID resolved by rfcLocal.
func propTime(t *testing.T, p *goical.Prop) time.Time {
	t.Helper()
	if p == nil {
		t.Fatalf("a date-time property is missing")
	}
	if strings.HasSuffix(p.Value, "Z") {
		v, err := time.Parse("20060102T150405Z", p.Value)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	loc, err := time.LoadLocation(p.Params.Get(goical.PropTimezoneID))
	if p.Params.Get(goical.PropTimezoneID) == "" || err != nil {
		t.Fatalf("%s:%s: a local time needs a TZID (%v)", p.Name, p.Value, err)
	}
	wall, err := time.Parse("20060102T150405", p.Value)
	if err != nil {
		t.Fatal(err)
	}
	return rfcLocal(wall, loc)
}

// rfcLocal places a local time (its fields in wall) as RFC 5545 3.3.5 says, by brute force over
// every offset the zone uses within two days: a repeated time is its first occurrence; a time in a
// gap is read with the offset before the gap, which moves it forward by the gap's length.
func rfcLocal(wall time.Time, loc *time.Location) time.Time {
	const layout = "2006-01-02 15:04:05"
	var best time.Time
	for h := -50; h <= 50; h++ {
		_, off := wall.Add(time.Duration(h) * time.Hour).In(loc).Zone()
		u := wall.Add(-time.Duration(off) * time.Second)
		if u.In(loc).Format(layout) == wall.Format(layout) && (best.IsZero() || u.Before(best)) {
			best = u
		}
	}
	if best.IsZero() {
		_, off := wall.Add(-50 * time.Hour).In(loc).Zone()
		best = wall.Add(-time.Duration(off) * time.Second)
	}
	return best.UTC()
}

// apiOccurrences is what GET /api/v1/maintenance/occurrences says takes place, by window.
func apiOccurrences(t *testing.T, f *fixture, from, to time.Time) map[string][]icsInstance {
	t.Helper()
	r := f.do("GET", "/api/v1/maintenance/occurrences?from="+from.Format(time.RFC3339)+"&to="+to.Format(time.RFC3339), "", "")
	var v struct {
		Occurrences []occurrenceView `json:"occurrences"`
	}
	if err := json.Unmarshal(r.body, &v); r.code != 200 || err != nil {
		t.Fatalf("occurrences: %d %s (%v)", r.code, r.body, err)
	}
	out := map[string][]icsInstance{}
	for _, o := range v.Occurrences {
		if o.Status != maintenance.StateCancelled {
			out[o.WindowID] = append(out[o.WindowID], icsInstance{o.Start, o.End})
		}
	}
	return out
}

func compareInstances(t *testing.T, id string, loc *time.Location, got, want []icsInstance) {
	t.Helper()
	show := func(in icsInstance) string {
		return fmt.Sprintf("%s - %s (%s, %s)", in.start.UTC().Format(time.RFC3339), in.end.UTC().Format(time.RFC3339),
			in.start.In(loc).Format("Jan 2 15:04 MST"), in.end.Sub(in.start))
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("%s: the feed lacks %s", id, show(want[i]))
		case i >= len(want):
			t.Errorf("%s: the feed has %s, which the API does not", id, show(got[i]))
		case !got[i].start.Equal(want[i].start) || !got[i].end.Equal(want[i].end):
			t.Errorf("%s: instance %d is %s in the feed, %s in the API", id, i, show(got[i]), show(want[i]))
		default:
			continue
		}
		return // the first difference is enough: the rest are shifted
	}
}

func icsDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
