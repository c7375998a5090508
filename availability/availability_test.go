package availability_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var obj = availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights}

func change(at time.Time, st component.Status) component.Change {
	return component.Change{ComponentID: "api", At: at, Status: st}
}

func TestMonthLengths(t *testing.T) {
	tests := []struct {
		zone  string
		year  int
		month time.Month
		hours float64
		start string
	}{
		{"Asia/Shanghai", 2026, time.March, 31 * 24, "2026-02-28T16:00:00Z"},
		{"America/Los_Angeles", 2026, time.November, 721, "2026-11-01T07:00:00Z"},
		{"America/Los_Angeles", 2027, time.March, 743, "2027-03-01T08:00:00Z"},
		{"UTC", 2026, time.February, 28 * 24, "2026-02-01T00:00:00Z"},
		{"Asia/Shanghai", 2026, time.December, 31 * 24, "2026-11-30T16:00:00Z"},
	}
	for _, tt := range tests {
		m := availability.Month(tt.year, tt.month, zone(t, tt.zone))
		if m.Duration().Hours() != tt.hours || m.Start.UTC().Format(time.RFC3339) != tt.start {
			t.Errorf("%s %d-%02d: %v hours from %s, want %v from %s", tt.zone, tt.year, tt.month, m.Duration().Hours(), m.Start.UTC(), tt.hours, tt.start)
		}
	}
}

// The seeds' promise: 99.5 % a month, announced night maintenance not counted.
func TestSeedMonth(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	march := availability.Month(2026, time.March, sh)
	up := []component.Change{change(march.Start.Add(-time.Hour), component.Operational)}

	r, err := availability.Compute(march, up, nil, nil, obj)
	if err != nil {
		t.Fatal(err)
	}
	if r.Budget != 3*time.Hour+43*time.Minute+12*time.Second || r.Availability != 1 || !r.Met {
		t.Errorf("a 31-day month at 99.5%%: budget %s, availability %v", r.Budget, r.Availability)
	}
	nov := availability.Month(2026, time.November, sh)
	r, _ = availability.Compute(nov, up, nil, nil, obj)
	if r.Budget != 3*time.Hour+36*time.Minute {
		t.Errorf("a 30-day month at 99.5%%: budget %s, want 3h36m", r.Budget)
	}

	// Every night the service is down 20:00-22:00, inside the nightly 20:00-08:00 window.
	timeline := slices.Clone(up)
	var nights []availability.Maintenance
	for d := 0; d <= 31; d++ {
		day := calendar.Date{Year: 2026, Month: time.February, Day: 28}.AddDays(d)
		start := calendar.Local(day, 20*60, sh)
		timeline = append(timeline, change(start, component.MajorOutage), change(start.Add(2*time.Hour), component.Operational))
		nights = append(nights, availability.Maintenance{WindowID: "nightly", Span: calendar.Interval{Start: start, End: start.Add(12 * time.Hour)}, Announced: true})
	}
	r, _ = availability.Compute(march, timeline, nights, nil, obj)
	if r.Down != 0 || r.Maintenance != 31*12*time.Hour || r.Availability != 1 || !r.Met {
		t.Errorf("announced maintenance must not count: down %s, maintenance %s", r.Down, r.Maintenance)
	}
	for i := range nights {
		nights[i].Announced = false // created too late
	}
	r, _ = availability.Compute(march, timeline, nights, nil, obj)
	if r.Down != 31*2*time.Hour || r.Maintenance != 0 || r.Unannounced != 31*12*time.Hour || r.Met {
		t.Errorf("unannounced maintenance counts: down %s, unannounced %s, met %v", r.Down, r.Unannounced, r.Met)
	}
	// The eligible basis shrinks the budget by the announced maintenance.
	for i := range nights {
		nights[i].Announced = true
	}
	eligible := obj
	eligible.Basis = availability.BasisEligible
	r, _ = availability.Compute(march, up, nights, nil, eligible)
	if r.Basis != 31*12*time.Hour || r.Budget != 6696*time.Second {
		t.Errorf("eligible basis: B %s, budget %s", r.Basis, r.Budget)
	}
}

func TestUnknownWeightsAndIncidents(t *testing.T) {
	w := calendar.Interval{Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 2, 0, 0, 0, 0, time.UTC)}
	at := func(h int) time.Time { return w.Start.Add(time.Duration(h) * time.Hour) }
	timeline := []component.Change{
		// No data until 02:00.
		change(at(2), component.Operational),
		change(at(4), component.PartialOutage),
		change(at(8), component.MajorOutage),
		change(at(9), component.DegradedPerformance),
		change(at(10), component.Unknown),
		change(at(12), component.Operational),
	}
	incs := []availability.Incident{
		{ID: "db-slow", Span: calendar.Interval{Start: at(5), End: at(6)}},
		{ID: "before", Span: calendar.Interval{Start: at(0), End: at(1)}},
		{ID: "open", Span: calendar.Interval{Start: at(8)}},
	}
	r, err := availability.Compute(w, timeline, nil, incs, obj)
	if err != nil {
		t.Fatal(err)
	}
	wantDown := time.Duration(0.3*float64(4*time.Hour)) + time.Hour
	if r.Unknown != 4*time.Hour || r.Down != wantDown || r.Basis != 20*time.Hour || r.Degraded != time.Hour || r.PartialOut != 4*time.Hour {
		t.Errorf("report = %+v; want unknown 4h, down %s, basis 20h", r, wantDown)
	}
	if want := 1 - float64(wantDown)/float64(20*time.Hour); math.Abs(float64(r.Availability)-want) > 1e-12 {
		t.Errorf("availability = %v, want %v", r.Availability, want)
	}
	if !slices.Equal(r.Incidents, []string{"db-slow", "open"}) {
		t.Errorf("incidents = %v", r.Incidents)
	}
	all, _ := availability.Compute(w, nil, nil, nil, obj)
	if !math.IsNaN(float64(all.Availability)) || all.Met || all.Unknown != 24*time.Hour {
		t.Errorf("no data at all: %+v", all)
	}
}

// TestAgainstBruteForce compares Compute with a second-by-second count over random timelines
// and maintenance, for both bases.
func TestAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	statuses := []component.Status{component.Operational, component.DegradedPerformance, component.PartialOutage, component.MajorOutage, component.Unknown}
	base := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	const span = 6 * 3600 // seconds in the window
	for iter := range 300 {
		w := calendar.Interval{Start: base, End: base.Add(span * time.Second)}
		var timeline []component.Change
		for range r.IntN(30) {
			s := r.IntN(span+2000) - 1000
			timeline = append(timeline, change(base.Add(time.Duration(s)*time.Second), statuses[r.IntN(len(statuses))]))
		}
		var maint []availability.Maintenance
		for range r.IntN(4) {
			s := r.IntN(span+2000) - 1000
			maint = append(maint, availability.Maintenance{Span: calendar.Interval{Start: base.Add(time.Duration(s) * time.Second), End: base.Add(time.Duration(s+r.IntN(4000)) * time.Second)}, Announced: r.IntN(3) > 0})
		}
		o := obj
		if iter%2 == 1 {
			o.Basis = availability.BasisEligible
		}
		got, err := availability.Compute(w, timeline, maint, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		// Brute force: the status and maintenance of each second.
		sorted := slices.Clone(timeline)
		slices.SortStableFunc(sorted, func(a, b component.Change) int { return a.At.Compare(b.At) })
		var m, u int
		var d float64
		for s := 0; s < span; s++ {
			at := base.Add(time.Duration(s) * time.Second)
			st := component.Unknown
			for _, ch := range sorted {
				if !ch.At.After(at) {
					st = ch.Status
				}
			}
			inMaint := false
			for _, mt := range maint {
				if mt.Announced && mt.Span.Contains(at) {
					inMaint = true
				}
			}
			switch {
			case inMaint:
				m++
			case st == component.Unknown:
				u++
			default:
				d += map[component.Status]float64{component.MajorOutage: 1, component.PartialOutage: 0.3}[st]
			}
		}
		b := span - u
		if o.Basis == availability.BasisEligible {
			b -= m
		}
		if got.Maintenance != time.Duration(m)*time.Second || got.Unknown != time.Duration(u)*time.Second ||
			got.Basis != time.Duration(b)*time.Second || math.Abs(float64(got.Down)-d*float64(time.Second)) > float64(time.Millisecond) { // the brute force sums 0.3 per second: its float error is nanoseconds
			t.Fatalf("iteration %d: got M %s U %s D %s B %s; brute force M %ds U %ds D %.1fs B %ds",
				iter, got.Maintenance, got.Unknown, got.Down, got.Basis, m, u, d, b)
		}
	}
}

func TestBurnRateAlerts(t *testing.T) {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	up := change(now.Add(-10*24*time.Hour), component.Operational)
	// Down for the last hour: burn rate 1/0.005 = 200 on the hour.
	down := []component.Change{up, change(now.Add(-time.Hour), component.MajorOutage)}
	rate, ok := availability.BurnRate(calendar.Interval{Start: now.Add(-time.Hour), End: now}, down, nil, obj)
	if !ok || math.Abs(rate-200) > 1e-9 {
		t.Errorf("burn rate = %v, %v; want 200", rate, ok)
	}
	if got := availability.Firing(now, down, nil, obj, availability.WorkbookWindows); len(got) != 3 {
		t.Errorf("a full outage for an hour fires %d windows, want all 3", len(got))
	}
	// Down two minutes an hour ago and fine since: the short windows reset the alert.
	blip := []component.Change{up, change(now.Add(-50*time.Minute), component.MajorOutage), change(now.Add(-48*time.Minute), component.Operational)}
	if got := availability.Firing(now, blip, nil, obj, availability.WorkbookWindows); len(got) != 0 {
		t.Errorf("a past blip fires %v", got)
	}
	// All of it inside announced maintenance: no data, no alert.
	m := []availability.Maintenance{{Span: calendar.Interval{Start: now.Add(-7 * 24 * time.Hour), End: now}, Announced: true}}
	if _, ok := availability.BurnRate(calendar.Interval{Start: now.Add(-time.Hour), End: now}, down, m, obj); ok {
		t.Error("a window inside maintenance has no burn rate")
	}
}
