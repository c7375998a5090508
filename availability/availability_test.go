package availability_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
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

	r, err := availability.Compute(march, march.End, up, nil, nil, obj)
	if err != nil {
		t.Fatal(err)
	}
	if r.Budget != 3*time.Hour+43*time.Minute+12*time.Second || r.Availability != 1 || !r.Met {
		t.Errorf("a 31-day month at 99.5%%: budget %s, availability %v", r.Budget, r.Availability)
	}
	nov := availability.Month(2026, time.November, sh)
	r, _ = availability.Compute(nov, nov.End, up, nil, nil, obj)
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
	r, _ = availability.Compute(march, march.End, timeline, nights, nil, obj)
	if r.Down != 0 || r.Maintenance != 31*12*time.Hour || r.Availability != 1 || !r.Met {
		t.Errorf("announced maintenance must not count: down %s, maintenance %s", r.Down, r.Maintenance)
	}
	for i := range nights {
		nights[i].Announced = false // created too late
	}
	r, _ = availability.Compute(march, march.End, timeline, nights, nil, obj)
	if r.Down != 31*2*time.Hour || r.Maintenance != 0 || r.Unannounced != 31*12*time.Hour || r.Met {
		t.Errorf("unannounced maintenance counts: down %s, unannounced %s, met %v", r.Down, r.Unannounced, r.Met)
	}
	// The eligible basis shrinks the budget by the announced maintenance.
	for i := range nights {
		nights[i].Announced = true
	}
	eligible := obj
	eligible.Basis = availability.BasisEligible
	r, _ = availability.Compute(march, march.End, up, nights, nil, eligible)
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
	r, err := availability.Compute(w, w.End, timeline, nil, incs, obj)
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
	// No data at all: availability null, and met by the documented rule (D = 0 <= budget = 0).
	all, _ := availability.Compute(w, w.End, nil, nil, nil, obj)
	if !math.IsNaN(float64(all.Availability)) || !all.Met || !all.OnTrack || all.Unknown != 24*time.Hour || all.Budget != 0 || all.BudgetLeft != 0 {
		t.Errorf("no data at all: %+v", all)
	}
}

// TestAgainstBruteForce compares Compute with a second-by-second count over random timelines
// and maintenance, for both bases, at a random now: before the window (no figures), inside it
// (figures up to now, the whole window's budget) or after it (final).
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
		nowSec := r.IntN(span+1200) - 600 // seconds after the window's start
		if iter%3 == 0 {
			nowSec = span + r.IntN(600) // after its end
		}
		now := base.Add(time.Duration(nowSec) * time.Second)
		got, err := availability.Compute(w, now, timeline, maint, nil, o)
		if nowSec < 0 {
			if !errors.Is(err, availability.ErrNotStarted) {
				t.Fatalf("iteration %d: now %ds before the window: %v, want ErrNotStarted", iter, -nowSec, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// Brute force: the status and maintenance of each second up to now.
		sorted := slices.Clone(timeline)
		slices.SortStableFunc(sorted, func(a, b component.Change) int { return a.At.Compare(b.At) })
		elapsed := min(nowSec, span)
		var m, u int
		var d float64
		for s := 0; s < elapsed; s++ {
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
		b := elapsed - u
		if o.Basis == availability.BasisEligible {
			b -= m
		}
		budget := 0.005 * float64(b+span-elapsed) // the whole window's: what is still to come counts in full
		sec := func(x int) time.Duration { return time.Duration(x) * time.Second }
		near := func(got time.Duration, want float64) bool { return math.Abs(got.Seconds()-want) < 1e-6 } // float error of the 0.3 sums
		if got.Elapsed != sec(elapsed) || got.Total != sec(span) || got.Complete != (nowSec >= span) ||
			got.Maintenance != sec(m) || got.Unknown != sec(u) || got.Basis != sec(b) || !near(got.Down, d) ||
			!near(got.Budget, budget) || !near(got.BudgetLeft, budget-d) ||
			got.OnTrack != (d <= 0.005*float64(b)+1e-6) || got.Met != (nowSec >= span && d <= budget+1e-6) {
			t.Fatalf("iteration %d, now +%ds: got %+v; brute force elapsed %ds M %ds U %ds D %.1fs B %ds budget %.1fs",
				iter, nowSec, got, elapsed, m, u, d, b, budget)
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
	if got := availability.Firing(availability.BurnRates(now, down, nil, obj, availability.WorkbookWindows), availability.WorkbookWindows); len(got) != 3 {
		t.Errorf("a full outage for an hour fires %d windows, want all 3", len(got))
	}
	// Down two minutes an hour ago and fine since: the short windows reset the alert.
	blip := []component.Change{up, change(now.Add(-50*time.Minute), component.MajorOutage), change(now.Add(-48*time.Minute), component.Operational)}
	if got := availability.Firing(availability.BurnRates(now, blip, nil, obj, availability.WorkbookWindows), availability.WorkbookWindows); len(got) != 0 {
		t.Errorf("a past blip fires %v", got)
	}
	// All of it inside announced maintenance: no data, no alert.
	m := []availability.Maintenance{{Span: calendar.Interval{Start: now.Add(-7 * 24 * time.Hour), End: now}, Announced: true}}
	if _, ok := availability.BurnRate(calendar.Interval{Start: now.Add(-time.Hour), End: now}, down, m, obj); ok {
		t.Error("a window inside maintenance has no burn rate")
	}
}

// The findings: a month in progress carried today's state to its end (a component down
// for three minutes showed 80 h down, maintenance still to come was counted). Its figures stop
// at now; the budget stays the whole month's.
func TestMonthInProgress(t *testing.T) {
	la := zone(t, "America/Los_Angeles")
	march := availability.Month(2027, time.March, la) // 743 h: the clocks spring forward on the 14th
	now := time.Date(2027, 3, 20, 12, 0, 0, 0, la)
	elapsed := now.Sub(march.Start) // 19 days 12 h less the hour lost on the 14th: 467 h
	if elapsed != 467*time.Hour {
		t.Fatalf("elapsed %s", elapsed)
	}
	timeline := []component.Change{
		change(march.Start.Add(-time.Hour), component.Operational),
		change(now.Add(-3*time.Minute), component.MajorOutage), // down for the last three minutes, still down
		change(now.Add(24*time.Hour), component.Unknown),       // the future holds nothing, whatever is stored
	}
	maint := []availability.Maintenance{
		{Span: calendar.Interval{Start: now.Add(-time.Hour), End: now.Add(-30 * time.Minute)}, Announced: true},
		{Span: calendar.Interval{Start: now.Add(48 * time.Hour), End: now.Add(76 * time.Hour)}, Announced: true}, // 28 h still to come
	}
	incs := []availability.Incident{{ID: "open", Span: calendar.Interval{Start: now.Add(-3 * time.Minute)}}, {ID: "later", Span: calendar.Interval{Start: now.Add(time.Hour)}}}
	r, err := availability.Compute(march, now, timeline, maint, incs, obj)
	if err != nil {
		t.Fatal(err)
	}
	budget := time.Duration(0.005 * float64(743*time.Hour)) // no unknown time so far: the whole month's 3 h 42 m 54 s
	if r.Total != 743*time.Hour || r.Elapsed != elapsed || r.Complete || r.Down != 3*time.Minute || r.Maintenance != 30*time.Minute ||
		r.Unknown != 0 || r.Basis != elapsed || r.BudgetBasis != 743*time.Hour || r.Budget != budget || r.BudgetLeft != budget-3*time.Minute ||
		!r.OnTrack || r.Met || !slices.Equal(r.Incidents, []string{"open"}) {
		t.Errorf("month so far = %+v", r)
	}
	if want := 1 - float64(3*time.Minute)/float64(elapsed); math.Abs(float64(r.Availability)-want) > 1e-15 {
		t.Errorf("availability %v, want %v", r.Availability, want)
	}
	// The eligible basis takes out the maintenance so far, not the 28 h still to come.
	el := obj
	el.Basis = availability.BasisEligible
	r, _ = availability.Compute(march, now, timeline, maint, nil, el)
	if r.Basis != elapsed-30*time.Minute || r.BudgetBasis != 743*time.Hour-30*time.Minute {
		t.Errorf("eligible basis: B %s, budget basis %s", r.Basis, r.BudgetBasis)
	}
	// Unknown time so far shrinks the budget; the rest of the month counts in full.
	gap := append(slices.Clone(timeline[:1]), change(march.Start.Add(24*time.Hour), component.Unknown), change(march.Start.Add(34*time.Hour), component.Operational))
	r, _ = availability.Compute(march, now, gap, nil, nil, obj)
	if r.Unknown != 10*time.Hour || r.BudgetBasis != 733*time.Hour || r.Budget != time.Duration(0.005*float64(733*time.Hour)) {
		t.Errorf("unknown so far: U %s, budget basis %s, budget %s", r.Unknown, r.BudgetBasis, r.Budget)
	}
	// Overspent while running: not on track, budget left negative, met still unknown.
	long := []component.Change{timeline[0], change(now.Add(-4*time.Hour), component.MajorOutage)}
	r, _ = availability.Compute(march, now, long, nil, nil, obj)
	if r.OnTrack || r.Met || r.BudgetLeft != budget-4*time.Hour {
		t.Errorf("overspent: on track %v, met %v, left %s", r.OnTrack, r.Met, r.BudgetLeft)
	}
	// On the last instant the figures are final: the same as a month computed long after.
	end, _ := availability.Compute(march, march.End, long, nil, nil, obj)
	later, _ := availability.Compute(march, march.End.Add(1000*time.Hour), long, nil, nil, obj)
	if !end.Complete || end.Elapsed != end.Total || end.BudgetBasis != end.Basis || end.Met || end.OnTrack ||
		!reflect.DeepEqual(end, later) {
		t.Errorf("complete month: %+v\nlater: %+v", end, later)
	}
}

func TestPeriodNotStarted(t *testing.T) {
	april := availability.Month(2027, time.April, time.UTC)
	up := []component.Change{change(april.Start.Add(-time.Hour), component.Operational)}
	if _, err := availability.Compute(april, april.Start.Add(-time.Nanosecond), up, nil, nil, obj); !errors.Is(err, availability.ErrNotStarted) {
		t.Errorf("a month that has not started: %v, want ErrNotStarted", err)
	}
	// On its first instant it has started, and nothing has happened yet.
	r, err := availability.Compute(april, april.Start, up, nil, nil, obj)
	if err != nil || r.Elapsed != 0 || r.Basis != 0 || !math.IsNaN(float64(r.Availability)) || r.Budget != time.Duration(0.005*float64(30*24*time.Hour)) || !r.OnTrack || r.Met {
		t.Errorf("first instant: %+v, %v", r, err)
	}
}

func TestWindowLabels(t *testing.T) {
	got := []string{}
	for _, d := range availability.BurnWindows(availability.WorkbookWindows) {
		got = append(got, availability.WindowLabel(d))
	}
	if want := []string{"5m", "30m", "1h", "6h", "3d"}; !slices.Equal(got, want) {
		t.Errorf("burn windows %v, want %v", got, want)
	}
	for d, want := range map[time.Duration]string{90 * time.Minute: "90m", 36 * time.Hour: "36h", 45 * time.Second: "45s", 28 * 24 * time.Hour: "28d", 1500 * time.Millisecond: "1.5s"} {
		if got := availability.WindowLabel(d); got != want {
			t.Errorf("WindowLabel(%s) = %s, want %s", d, got, want)
		}
	}
}

// Every window has a rate, 0 where nothing was eligible (no data, or all maintenance): nothing
// of the budget was spent there, and a NaN would break the operator's rules.
func TestBurnRatesEveryWindow(t *testing.T) {
	now := time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)
	tl := []component.Change{change(now.Add(-2*time.Hour), component.Operational), change(now.Add(-10*time.Minute), component.MajorOutage)}
	m := []availability.Maintenance{{Span: calendar.Interval{Start: now.Add(-5 * time.Minute), End: now}, Announced: true}}
	rates := availability.BurnRates(now, tl, m, obj, availability.WorkbookWindows)
	want := map[string]float64{
		"5m":  0,                   // all maintenance
		"30m": (5.0 / 25) / 0.005,  // 5 min down of 25 eligible
		"1h":  (5.0 / 55) / 0.005,  // of 55
		"6h":  (5.0 / 115) / 0.005, // no data before two hours ago
		"3d":  (5.0 / 115) / 0.005, // the same
	}
	if len(rates) != len(want) {
		t.Fatalf("rates %v", rates)
	}
	for k, w := range want {
		if math.Abs(rates[k]-w) > 1e-9 {
			t.Errorf("burn rate %s = %v, want %v", k, rates[k], w)
		}
	}
}
