package statuspage

import (
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/maintenance"
)

// The feed looks only at occurrences with overrides and near offset changes; it must write
// exactly the entries that looking at every occurrence since the first would.
func TestICSCandidates(t *testing.T) {
	d := func(y int, m time.Month, day int) calendar.Date { return calendar.Date{Year: y, Month: m, Day: day} }
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	windows := []maintenance.Window{
		// Wall-clock nights: 11 h and 13 h on the DST nights.
		{ID: "la-nightly", TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY", FirstDate: d(2000, 1, 1), StartClock: 20 * 60, EndClock: 8 * 60},
		// Starts inside the spring gap.
		{ID: "la-0230", TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY", FirstDate: d(2003, 2, 28), StartClock: 2*60 + 30, Duration: time.Hour},
		{ID: "london-0130", TimeZone: "Europe/London", Rule: "FREQ=WEEKLY;BYDAY=SU", FirstDate: d(2001, 3, 25), StartClock: 60 + 30, EndClock: 2*60 + 15},
		{ID: "lord-howe", TimeZone: "Australia/Lord_Howe", Rule: "FREQ=DAILY;INTERVAL=3", FirstDate: d(2010, 1, 31), StartClock: 2*60 + 10, EndClock: 3 * 60},
		{ID: "monthly-end", TimeZone: "Europe/London", Rule: "FREQ=MONTHLY;BYMONTHDAY=-1", FirstDate: d(2000, 1, 31), StartClock: 23 * 60, EndClock: 2 * 60,
			CancelledAt: at("2026-06-15T00:00:00Z")},
		{ID: "utc", TimeZone: "UTC", Rule: "FREQ=DAILY", FirstDate: d(2000, 1, 1), StartClock: 0, Duration: 30 * time.Minute},
	}
	for i := range windows {
		w := &windows[i]
		w.Title, w.Components, w.AnnouncedAt = "x", []string{"api"}, at("2000-01-01T00:00:00Z")
		if errs := w.Prepare(); len(errs) > 0 {
			t.Fatalf("%s: %v", w.ID, errs)
		}
		// Overrides on a few occurrences: cancelled, extended, ended early.
		occ := w.Occurrences(at("2025-01-01T00:00:00Z"), at("2025-03-01T00:00:00Z"))
		for j, o := range occ[:3] {
			ov := maintenance.Override{Scheduled: o.Scheduled, At: at("2024-12-01T00:00:00Z")}
			switch j {
			case 0:
				ov.Cancelled = true
			case 1:
				ov.End = o.End.Add(20 * time.Minute)
			case 2:
				ov.End = o.Start.Add(time.Minute)
			}
			w.Overrides = append(w.Overrides, ov)
		}
		first, ok := firstOccurrence(w)
		if !ok {
			t.Fatalf("%s: no first occurrence", w.ID)
		}
		usual := w.Duration
		if usual == 0 {
			usual = paperLength(w)
		}
		entries := func(os []maintenance.Occurrence) []maintenance.Occurrence {
			var out []maintenance.Occurrence
			for _, o := range os {
				switch {
				case o.Cancelled && (w.CancelledAt.IsZero() || o.Start.Before(w.CancelledAt)):
					out = append(out, o)
				case !o.Cancelled && (moved(w, o) || o.End.Sub(o.Start) != usual || !o.End.Equal(o.ScheduledEnd)):
					out = append(out, o)
				}
			}
			return out
		}
		to := at("2028-11-27T00:00:00Z")
		all := w.Occurrences(first.Scheduled, to)
		got, want := entries(icsCandidates(w, first.Scheduled, to)), entries(all)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d entries from the candidates, %d from all %d occurrences", w.ID, len(got), len(want), len(all))
		}
		if len(want) < 3 {
			t.Errorf("%s: only %d entries; the test needs exceptions to compare", w.ID, len(want))
		}
	}
}
