package maintenance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
)

// The fast walk (Window.from) must give exactly what walking the rule from its first date gives,
// for every rule shape the subset allows, across DST changes and month ends.
func TestFastExpansionMatchesSlow(t *testing.T) {
	rules := []string{
		"FREQ=DAILY", "FREQ=DAILY;INTERVAL=2", "FREQ=DAILY;INTERVAL=3", "FREQ=DAILY;INTERVAL=13", "FREQ=DAILY;INTERVAL=366",
		"FREQ=DAILY;BYDAY=MO,WE", "FREQ=DAILY;INTERVAL=3;BYDAY=SA,SU", "FREQ=DAILY;INTERVAL=7;BYDAY=TU", "FREQ=DAILY;INTERVAL=14;BYDAY=MO,TU,WE,TH,FR,SA,SU",
		"FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,SA;WKST=SU",
		"FREQ=WEEKLY;INTERVAL=5;BYDAY=TU;WKST=TH", "FREQ=WEEKLY;INTERVAL=52",
		"FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=5", "FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=29,30,31",
		"FREQ=MONTHLY;BYDAY=2TU", "FREQ=MONTHLY;INTERVAL=7;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=5SA", "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=29",
		"FREQ=MONTHLY;BYDAY=MO", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1,15;BYDAY=FR",
		"FREQ=DAILY;COUNT=1", "FREQ=DAILY;COUNT=1000", "FREQ=DAILY;INTERVAL=3;BYDAY=MO,TU;COUNT=200", "FREQ=DAILY;INTERVAL=7;BYDAY=MO;COUNT=9",
		"FREQ=WEEKLY;COUNT=7", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=301", "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=40",
		"FREQ=DAILY;UNTIL=20300101T000000Z", "FREQ=WEEKLY;INTERVAL=4;BYDAY=WE;UNTIL=20281231T235959Z",
	}
	firstDates := []calendar.Date{
		{Year: 2003, Month: 2, Day: 28}, {Year: 2020, Month: 2, Day: 29}, {Year: 2021, Month: 3, Day: 14}, {Year: 2022, Month: 10, Day: 30},
		{Year: 2023, Month: 1, Day: 31}, {Year: 2025, Month: 11, Day: 2},
	}
	zones := []string{"America/Los_Angeles", "Europe/London", "UTC", "Australia/Lord_Howe"}
	clocks := []calendar.Clock{0, 60 + 30, 2*60 + 30, 23*60 + 30}
	// Spans that start on DST changes and month ends, and random ones.
	fixed := []string{"2026-03-08T00:00:00-08:00", "2026-11-01T00:00:00-07:00", "2026-03-29T00:00:00Z", "2026-10-25T00:00:00+01:00",
		"2028-02-29T12:00:00Z", "2027-01-31T23:00:00Z", "2026-12-31T23:59:59Z", "2027-04-30T00:00:00Z"}
	rng := rand.New(rand.NewPCG(21, 2026))
	compared := 0
	for _, rule := range rules {
		for _, first := range firstDates {
			zone := zones[rng.IntN(len(zones))]
			w := Window{ID: "w", Title: "t", Components: []string{"api"}, TimeZone: zone, Rule: rule, FirstDate: first,
				StartClock: clocks[rng.IntN(len(clocks))], AnnouncedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
			if rng.IntN(2) == 0 {
				w.Duration = time.Duration(1+rng.IntN(60)) * time.Minute
			} else {
				w.EndClock = (w.StartClock + calendar.Clock(30+rng.IntN(600))) % 1440
			}
			if errs := w.Prepare(); len(errs) > 0 {
				continue // an occurrence longer than the period: not a window
			}
			var froms []time.Time
			for _, f := range fixed {
				at, err := time.Parse(time.RFC3339, f)
				if err != nil {
					t.Fatal(err)
				}
				froms = append(froms, at)
			}
			for range 4 {
				base := floating(first).Add(-30 * 24 * time.Hour)
				froms = append(froms, base.Add(time.Duration(rng.Int64N(int64(8*365*24*time.Hour)))))
			}
			for _, from := range froms {
				for _, length := range []time.Duration{time.Nanosecond, time.Duration(1+rng.IntN(48)) * time.Hour, time.Duration(1+rng.IntN(400)) * 24 * time.Hour} {
					fast, slow := w.occurrences(from, from.Add(length), false), w.occurrences(from, from.Add(length), true)
					if !slices.Equal(fast, slow) {
						t.Fatalf("%s from %s in %s at %s, [%s, +%s): fast walk gave %d occurrences %v, slow %d %v",
							rule, first, zone, w.StartClock, from, length, len(fast), head(fast), len(slow), head(slow))
					}
					compared++
				}
			}
		}
	}
	if compared < 2000 {
		t.Fatalf("compared %d spans only", compared)
	}
}

func head(os []Occurrence) string {
	s := ""
	for i, o := range os {
		if i == 3 {
			return s + " ..."
		}
		s += fmt.Sprintf(" %s", o.Start.Format(time.RFC3339))
	}
	return s
}

// An old first date must not make every call pay for the years since (the security review's
// finding: 80 daily windows from the year 1 made the page take seconds): the walk starts within
// one cycle of the span asked, so its work follows the span, not the rule's age.
func TestWalkStartsNearTheSpan(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		rule  string
		cycle time.Duration // the most the walk may start before the span
	}{
		{"FREQ=DAILY", 7 * day},
		{"FREQ=DAILY;INTERVAL=3;BYDAY=MO,TU", 21 * day},
		{"FREQ=WEEKLY;BYDAY=MO,TU", 7 * day},
		{"FREQ=WEEKLY;INTERVAL=2;WKST=SU", 14 * day},
		{"FREQ=MONTHLY;BYMONTHDAY=31", 31 * day},
		{"FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR", 5 * 31 * day},
		{"FREQ=DAILY;COUNT=100000", 7 * day},
		{"FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=5000", 14 * day},
	} {
		t.Run(c.rule, func(t *testing.T) {
			w := Window{ID: "old", Title: "x", Components: []string{"x6"}, TimeZone: "UTC", Rule: c.rule,
				FirstDate: calendar.Date{Year: 2000, Month: 1, Day: 3}, StartClock: 60, Duration: time.Minute, AnnouncedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
			if errs := w.Prepare(); len(errs) > 0 {
				t.Fatal(errs)
			}
			now := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
			lo := calendar.DateOf(now, time.UTC).AddDays(-maxExpandedDays)
			r := w.from(lo, lo.AddDays(10))
			if got := floating(lo).Sub(r.GetDTStart()); got < 0 || got > c.cycle {
				t.Errorf("the walk for %s starts %s (%s before the span); want within %s", lo, r.GetDTStart().Format(time.DateOnly), got, c.cycle)
			}
			if got, want := w.Occurrences(now, now.Add(30*day)), w.occurrences(now, now.Add(30*day), true); !slices.Equal(got, want) {
				t.Errorf("got %d occurrences, want %d", len(got), len(want))
			}
		})
	}
	// A COUNT that runs out before the span: the walk stops short, and nothing comes back.
	w := Window{ID: "c", Title: "x", Components: []string{"x"}, TimeZone: "UTC", Rule: "FREQ=DAILY;COUNT=30",
		FirstDate: calendar.Date{Year: 2000, Month: 1, Day: 3}, StartClock: 60, Duration: time.Minute, AnnouncedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := w.Occurrences(time.Date(2000, 1, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); len(got) != 2 {
		t.Errorf("COUNT=30 from Jan 3: got %d occurrences from Jan 31, want 2 (Feb 1 and Jan 31)", len(got))
	}
}

// A rule that can yield no date is refused: rrule-go would look for one until the year 9999.
func TestEmptyRule(t *testing.T) {
	w := Window{ID: "e", Title: "x", Components: []string{"x"}, TimeZone: "UTC", Rule: "FREQ=DAILY;INTERVAL=7;BYDAY=TU",
		FirstDate: calendar.Date{Year: 2026, Month: 11, Day: 30}, StartClock: 60, Duration: time.Minute, AnnouncedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	errs := w.Prepare()
	if len(errs) != 1 || errs[0].Field != "rule" || errs[0].Message != "yields no date in the 2 years from first_date 2026-11-30" {
		t.Fatalf("got %v, want one rule error", errs)
	}
	if errs := w.PrepareStored(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := w.Occurrences(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); len(got) != 0 || w.Started(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("an empty rule gave %d occurrences", len(got))
	}
}

func TestOccurrencesAreBounded(t *testing.T) {
	w := Window{ID: "d", Title: "x", Components: []string{"x"}, TimeZone: "UTC", Rule: "FREQ=DAILY",
		FirstDate: calendar.Date{Year: 2000, Month: 1, Day: 1}, StartClock: 60, Duration: time.Minute, AnnouncedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	got := w.Occurrences(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2290, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(got) != MaxOccurrences {
		t.Errorf("got %d occurrences, want the cap %d", len(got), MaxOccurrences)
	}
}

// FuzzFastExpansion holds the fast walk to the slow one for any rule the subset accepts.
func FuzzFastExpansion(f *testing.F) {
	for _, s := range []string{"FREQ=DAILY;INTERVAL=3;BYDAY=MO,TU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=301;WKST=SU", "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=29,30,31", "FREQ=MONTHLY;BYDAY=-1FR"} {
		f.Add(s, uint16(400), uint16(3000), uint16(40), uint8(90))
	}
	f.Fuzz(func(t *testing.T, rule string, firstDays, fromDays, spanDays uint16, clock uint8) {
		w := Window{ID: "f", Title: "t", Components: []string{"api"}, TimeZone: "America/Los_Angeles", Rule: rule,
			FirstDate: calendar.Date{Year: 2000, Month: 1, Day: 1}.AddDays(int(firstDays) % 9000), StartClock: calendar.Clock(int(clock) * 1439 / 255),
			Duration: time.Minute, AnnouncedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
		if errs := w.Prepare(); len(errs) > 0 {
			return
		}
		from := floating(w.FirstDate).Add(time.Duration(int(fromDays)%6000-30) * 24 * time.Hour)
		to := from.Add(time.Duration(int(spanDays)%400+1) * 24 * time.Hour)
		if fast, slow := w.occurrences(from, to, false), w.occurrences(from, to, true); !slices.Equal(fast, slow) {
			t.Fatalf("%s from %s, [%s, %s): fast %d %s, slow %d %s", w.Rule, w.FirstDate, from, to, len(fast), head(fast), len(slow), head(slow))
		}
	})
}
