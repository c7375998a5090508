package calendar_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
)

func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestLocalHandChecked(t *testing.T) {
	tests := []struct {
		name string
		zone string
		date calendar.Date
		hhmm string
		want string // UTC
	}{
		{"ordinary LA summer evening", "America/Los_Angeles", calendar.Date{Year: 2026, Month: 7, Day: 14}, "21:00", "2026-07-15T04:00:00Z"},
		{"ordinary LA winter evening", "America/Los_Angeles", calendar.Date{Year: 2026, Month: 11, Day: 3}, "21:00", "2026-11-04T05:00:00Z"},
		{"LA spring gap moves forward", "America/Los_Angeles", calendar.Date{Year: 2026, Month: 3, Day: 8}, "02:30", "2026-03-08T10:30:00Z"},    // 03:30 PDT
		{"LA repeated hour is the first", "America/Los_Angeles", calendar.Date{Year: 2026, Month: 11, Day: 1}, "01:30", "2026-11-01T08:30:00Z"}, // 01:30 PDT
		{"LA just after the repeat", "America/Los_Angeles", calendar.Date{Year: 2026, Month: 11, Day: 1}, "02:00", "2026-11-01T10:00:00Z"},
		{"London spring gap", "Europe/London", calendar.Date{Year: 2026, Month: 3, Day: 29}, "01:30", "2026-03-29T01:30:00Z"},                 // 02:30 BST
		{"London repeated hour", "Europe/London", calendar.Date{Year: 2026, Month: 10, Day: 25}, "01:30", "2026-10-25T00:30:00Z"},             // 01:30 BST
		{"Lord Howe 30-minute gap", "Australia/Lord_Howe", calendar.Date{Year: 2026, Month: 10, Day: 4}, "02:15", "2026-10-03T15:45:00Z"},     // 02:45 +11
		{"Lord Howe repeated half hour", "Australia/Lord_Howe", calendar.Date{Year: 2026, Month: 4, Day: 5}, "01:45", "2026-04-04T14:45:00Z"}, // first, at +11
		{"Shanghai 20:00", "Asia/Shanghai", calendar.Date{Year: 2026, Month: 3, Day: 1}, "20:00", "2026-03-01T12:00:00Z"},
		{"24:00 is the next midnight", "Asia/Shanghai", calendar.Date{Year: 2026, Month: 3, Day: 31}, "24:00", "2026-03-31T16:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := calendar.ParseClock(tt.hhmm)
			if err != nil {
				t.Fatal(err)
			}
			got := calendar.Local(tt.date, c, zone(t, tt.zone))
			if !got.Equal(utc(tt.want)) {
				t.Errorf("Local(%s %s %s) = %s, want %s", tt.date, tt.hhmm, tt.zone, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

// bruteLocal finds the answer by trying every offset a zone can have, in 15-minute steps.
func bruteLocal(d calendar.Date, c calendar.Clock, loc *time.Location) time.Time {
	naive := time.Date(d.Year, d.Month, d.Day, 0, int(c), 0, 0, time.UTC)
	var best time.Time
	for off := -14 * time.Hour; off <= 14*time.Hour; off += 15 * time.Minute {
		u := naive.Add(-off)
		l := u.In(loc)
		if l.Year() == naive.Year() && l.Month() == naive.Month() && l.Day() == naive.Day() && l.Hour() == naive.Hour() && l.Minute() == naive.Minute() {
			if best.IsZero() || u.Before(best) {
				best = u
			}
		}
	}
	if !best.IsZero() {
		return best
	}
	// Not a wall time at all (a gap): the instant an hour... before the gap, plus the gap.
	_, before := naive.Add(-48 * time.Hour).In(loc).Zone()
	return naive.Add(-time.Duration(before) * time.Second)
}

func TestLocalProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := []string{"America/Los_Angeles", "Europe/London", "Asia/Shanghai", "Australia/Lord_Howe", "America/Sao_Paulo"}
	gaps := 0
	for _, name := range zones {
		loc := zone(t, name)
		for range 4000 {
			d := calendar.Date{Year: 2018 + r.IntN(12), Month: time.Month(1 + r.IntN(12)), Day: 1 + r.IntN(28)}
			// Bias towards the small hours, where transitions happen.
			c := calendar.Clock(r.IntN(1441))
			if r.IntN(2) == 0 {
				c = calendar.Clock(r.IntN(4*60) / 15 * 15)
			}
			got, want := calendar.Local(d, c, loc), bruteLocal(d, c, loc)
			if !got.Equal(want) {
				t.Fatalf("Local(%s %s %s) = %s, brute force says %s", d, c, name, got.UTC(), want.UTC())
			}
			if l := got.In(loc); l.Hour()*60+l.Minute() != int(c)%1440 {
				gaps++ // only in a spring gap may the wall clock differ from the request
			}
		}
	}
	if gaps == 0 {
		t.Log("no gap hit by the random sample; the hand-checked cases cover gaps")
	}
}

func TestParseClock(t *testing.T) {
	for _, bad := range []string{"", "8:00", "24:01", "25:00", "12:60", "12-00", "ab:cd"} {
		if _, err := calendar.ParseClock(bad); err == nil {
			t.Errorf("ParseClock(%q) accepted", bad)
		}
	}
	if c, err := calendar.ParseClock("24:00"); err != nil || c != 1440 {
		t.Errorf("ParseClock(24:00) = %v, %v", c, err)
	}
}

func TestUnionAndTotal(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	is := []calendar.Interval{{at(5), at(7)}, {at(1), at(3)}, {at(2), at(4)}, {at(7), at(8)}, {at(9), at(9)}}
	u := calendar.Union(is)
	if len(u) != 2 || !u[0].Start.Equal(at(1)) || !u[0].End.Equal(at(4)) || !u[1].Start.Equal(at(5)) || !u[1].End.Equal(at(8)) {
		t.Errorf("Union = %v", u)
	}
	if got := calendar.Total(is); got != 6*time.Hour {
		t.Errorf("Total = %s, want 6h", got)
	}
	if got := (calendar.Interval{at(1), at(5)}).Intersect(calendar.Interval{at(4), at(9)}); got.Duration() != time.Hour {
		t.Errorf("Intersect = %v", got)
	}
}
