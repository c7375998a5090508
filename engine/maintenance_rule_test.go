package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/maintenance"
)

// TestMaintenanceEventsRule is the rule the maintenance job applies, without the job: which
// reminders, starts and ends fall in (from, to], at their exact instants, across the spring DST
// night of a nightly 20:00-08:00 window in Los Angeles (an 11 h night), with a cancelled
// occurrence and a reminder that would precede the announcement.
func TestMaintenanceEventsRule(t *testing.T) {
	sp := maintenance.Spec{ID: "nightly", Title: "Nightly", Components: []string{"api"}, TimeZone: "America/Los_Angeles",
		Daily: true, StartTime: "20:00", EndTime: "08:00", FirstDate: "2027-03-12"}
	announced := time.Date(2027, 3, 13, 2, 30, 0, 0, time.UTC) // 18:30 PST on the 12th: 1.5 h before the first start
	w, errs := sp.Window(announced)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := w.CancelOccurrence(time.Date(2027, 3, 15, 3, 0, 0, 0, time.UTC), announced); err != nil { // 20:00 PDT on the 14th
		t.Fatal(err)
	}
	utc := func(d, h, m int) time.Time { return time.Date(2027, 3, d, h, m, 0, 0, time.UTC) }
	type ev struct {
		kind EventKind
		at   time.Time
	}
	tests := []struct {
		name     string
		from, to time.Time
		want     []ev
	}{
		// The first night's 24 h reminder would precede the announcement; the second night's (the
		// 13th, 20:00 PST = 04:00 UTC on the 14th) falls at the first night's start.
		{"first night", announced, utc(13, 17, 0), []ev{
			{EventMaintenanceReminder, utc(13, 3, 0)}, {EventMaintenanceStarted, utc(13, 4, 0)}, {EventMaintenanceReminder, utc(13, 4, 0)},
			{EventMaintenanceCompleted, utc(13, 16, 0)}}},
		{"the spring night is 11 h: 20:00 PST to 08:00 PDT", utc(14, 0, 0), utc(14, 16, 0), []ev{
			{EventMaintenanceReminder, utc(14, 3, 0)}, {EventMaintenanceStarted, utc(14, 4, 0)}, {EventMaintenanceCompleted, utc(14, 15, 0)}}},
		{"the cancelled night publishes nothing, not even its reminders", utc(14, 16, 0), utc(15, 14, 0), []ev{
			{EventMaintenanceReminder, utc(15, 3, 0)}}}, // the 24 h reminder of the 15th's night (03:00 UTC on the 16th)
		{"half-open: an event at from is not repeated, one at to is included", utc(14, 4, 0), utc(14, 15, 0), []ev{
			{EventMaintenanceCompleted, utc(14, 15, 0)}}},
		{"an empty range", utc(14, 5, 0), utc(14, 5, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []ev
			for _, e := range maintenanceEvents([]maintenance.Window{w}, tt.from, tt.to, []time.Duration{24 * time.Hour, time.Hour}) {
				got = append(got, ev{e.Kind, e.At})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events in (%s, %s]:\n got  %v\n want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}
