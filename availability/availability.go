// Package availability computes a component's availability against an objective from its status
// timeline and its maintenance, by time, never by counting probes. It is pure: it never reads
// the clock, and the same inputs always give the same report.
//
// For a window W (DESIGN section 4):
//
//	M = time inside maintenance announced at least the notice period ahead
//	U = time with no data (unknown), outside M
//	D = weighted down time outside M and U: major 1.0, partial 0.3, degraded 0 (configurable)
//	B = |W| - |U|        (basis "calendar", the default)
//	B = |W| - |M| - |U|  (basis "eligible")
//	availability = 1 - D/B; budget = (1 - target) * B; budget left = budget - D
//
// A period in progress is measured up to now and no further: the rest of it has not happened,
// so it is neither up, down nor unknown. M, U, D and B above are so far; the budget stays the
// whole period's, on the basis of the time so far plus the time still to come:
//
//	B_period = B + (|W| - elapsed)     budget = (1 - target) * B_period
//
// so it counts unknown time (and, on the eligible basis, maintenance) only once it has
// happened, and on the period's last instant it is (1 - target) * B exactly. Whether the target
// is met is known only when the period is over; until then a report says whether it is on
// track: D <= (1 - target) * B so far, the rule met will apply once elapsed = |W|. A period
// that has not started has no figures (ErrNotStarted).
package availability

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// Ratio is a fraction in [0, 1]: 0.995 is 99.5 %.
type Ratio float64

// Basis says what the error budget is a share of.
type Basis string

// The bases.
const (
	BasisCalendar Basis = "calendar" // the whole window less unknown time: "3.6 h a month", maintenance or not
	BasisEligible Basis = "eligible" // also less announced maintenance: the budget shrinks with maintenance
)

// Weights say how much of each status counts as down.
type Weights struct {
	MajorOutage, PartialOutage, DegradedPerformance float64
}

// DefaultWeights are Statuspage's and Instatus's: major 1, partial 0.3, degraded 0.
var DefaultWeights = Weights{MajorOutage: 1, PartialOutage: 0.3, DegradedPerformance: 0}

func (w Weights) of(s component.Status) float64 {
	switch s {
	case component.MajorOutage:
		return w.MajorOutage
	case component.PartialOutage:
		return w.PartialOutage
	case component.DegradedPerformance:
		return w.DegradedPerformance
	}
	return 0
}

// Objective is an availability target.
type Objective struct {
	Target  Ratio
	Basis   Basis
	Weights Weights
}

// Maintenance is one maintenance occurrence as the engine sees it: its span and whether it was
// announced at least the notice period ahead. Unannounced maintenance counts as if it were not
// maintenance.
type Maintenance struct {
	WindowID  string
	Span      calendar.Interval
	Announced bool
}

// Incident is an incident as a report lists it.
type Incident struct {
	ID    string
	Title string
	Span  calendar.Interval // End zero while open
}

// Report is a component's availability over a period W as it stands at a given now. Every
// figure but Total, BudgetBasis, Budget and BudgetLeft is measured over the part of W before now.
type Report struct {
	Window       calendar.Interval `json:"-"`
	Total        time.Duration     // |W|, the whole period
	Elapsed      time.Duration     // the part of W before now: what the figures below measure
	Complete     bool              // now is at or after W's end: Met is final
	Maintenance  time.Duration     // M: announced maintenance, excluded
	Unannounced  time.Duration     // maintenance announced too late, counted like any other time
	Unknown      time.Duration     // U: no data, outside M
	Down         time.Duration     // D: weighted down time outside M and U
	MajorOutage  time.Duration     // raw time in each outage status, outside M and U
	PartialOut   time.Duration
	Degraded     time.Duration
	Basis        time.Duration // B so far: Elapsed - U (- M on the eligible basis)
	Availability Ratio         // 1 - D/B; NaN when B is zero (no data so far)
	Target       Ratio
	BudgetBasis  time.Duration // the whole period's basis: B + (Total - Elapsed)
	Budget       time.Duration // (1 - target) * BudgetBasis: what the period allows
	BudgetLeft   time.Duration // Budget - D (negative once overspent)
	// OnTrack: D <= (1 - target) * B, the target met if the period ended now. With no data
	// (B = 0, D = 0) it holds, as Met does: nothing was promised over no time.
	OnTrack   bool
	Met       bool     // D <= Budget; meaningful only when Complete (false until then)
	Incidents []string // ids of incidents that overlap the down time
}

// ErrEmptyWindow is returned for a window that holds no time.
var ErrEmptyWindow = errors.New("the window is empty")

// ErrNotStarted is returned for a period that starts after now: it has no figures yet.
var ErrNotStarted = errors.New("the period has not started")

// segment is a stretch of the timeline with one status.
type segment struct {
	span   calendar.Interval
	status component.Status
}

// segments cuts the window into spans of one status. Before the first change the status is
// unknown: no data is never counted as up.
func segments(w calendar.Interval, timeline []component.Change) []segment {
	byTime := func(a, b component.Change) int { return a.At.Compare(b.At) }
	changes := timeline
	if !slices.IsSortedFunc(changes, byTime) { // stores return them sorted; sort only if not
		changes = slices.Clone(timeline)
		slices.SortStableFunc(changes, byTime)
	}
	// Start at the last change at or before the window: earlier ones do not matter.
	i, _ := slices.BinarySearchFunc(changes, w.Start, func(c component.Change, t time.Time) int {
		if c.At.After(t) {
			return 1
		}
		return -1
	})
	if i > 0 {
		changes = changes[i-1:]
	}
	var out []segment
	cur, from := component.Unknown, w.Start
	for _, ch := range changes {
		if !ch.At.After(w.Start) {
			cur = ch.Status
			continue
		}
		if !ch.At.Before(w.End) {
			break
		}
		if ch.At.After(from) {
			out = append(out, segment{calendar.Interval{Start: from, End: ch.At}, cur})
		}
		cur, from = ch.Status, ch.At
	}
	out = append(out, segment{calendar.Interval{Start: from, End: w.End}, cur})
	return out
}

// subtract returns the parts of iv not covered by the sorted, disjoint intervals cover.
func subtract(iv calendar.Interval, cover []calendar.Interval) []calendar.Interval {
	var out []calendar.Interval
	start := iv.Start
	for _, c := range cover {
		if !c.End.After(start) {
			continue
		}
		if !c.Start.Before(iv.End) {
			break
		}
		if c.Start.After(start) {
			out = append(out, calendar.Interval{Start: start, End: c.Start})
		}
		if c.End.After(start) {
			start = c.End
		}
	}
	if iv.End.After(start) {
		out = append(out, calendar.Interval{Start: start, End: iv.End})
	}
	return out
}

func durationOf(is []calendar.Interval) time.Duration {
	var d time.Duration
	for _, i := range is {
		d += i.Duration()
	}
	return d
}

// Compute reports the availability of one component over the period w as it stands at now:
// measured over [w.Start, min(w.End, now)), with the whole period's budget (see the package
// doc). It returns ErrNotStarted when now is before w starts.
func Compute(w calendar.Interval, now time.Time, timeline []component.Change, maint []Maintenance, incidents []Incident, obj Objective) (Report, error) {
	if w.Empty() {
		return Report{}, ErrEmptyWindow
	}
	if obj.Target <= 0 || obj.Target >= 1 {
		return Report{}, fmt.Errorf("target %v must be between 0 and 1", obj.Target)
	}
	if now.Before(w.Start) {
		return Report{}, ErrNotStarted
	}
	r := Report{Window: w, Total: w.Duration(), Target: obj.Target, Complete: !now.Before(w.End)}
	measured := w
	if !r.Complete {
		measured.End = now
	}
	r.Elapsed = measured.Duration()
	var announced, late []calendar.Interval
	for _, m := range maint {
		part := m.Span.Intersect(measured)
		if part.Empty() {
			continue
		}
		if m.Announced {
			announced = append(announced, part)
		} else {
			late = append(late, part)
		}
	}
	announced = calendar.Union(announced)
	r.Maintenance = durationOf(announced)
	var downSpans []calendar.Interval
	weighted := 0.0
	if !measured.Empty() {
		for _, seg := range segments(measured, timeline) {
			for _, part := range subtract(seg.span, announced) {
				d := part.Duration()
				switch seg.status {
				case component.Unknown:
					r.Unknown += d
					continue
				case component.MajorOutage:
					r.MajorOutage += d
				case component.PartialOutage:
					r.PartialOut += d
				case component.DegradedPerformance:
					r.Degraded += d
				}
				if wt := obj.Weights.of(seg.status); wt > 0 {
					weighted += wt * float64(d)
					downSpans = append(downSpans, part)
				}
			}
		}
	}
	// Unannounced maintenance outside announced maintenance, for the report.
	r.Unannounced = durationOf(subtractAll(calendar.Union(late), announced))
	r.Down = time.Duration(math.Round(weighted))
	r.Basis = r.Elapsed - r.Unknown
	if obj.Basis == BasisEligible {
		r.Basis -= r.Maintenance
	}
	share := func(b time.Duration) time.Duration {
		return time.Duration(math.Round(float64(1-obj.Target) * float64(b)))
	}
	r.BudgetBasis = r.Basis + (r.Total - r.Elapsed)
	r.Budget = share(r.BudgetBasis)
	r.BudgetLeft = r.Budget - r.Down
	r.OnTrack = r.Down <= share(r.Basis)
	r.Met = r.Complete && r.Down <= r.Budget
	if r.Basis > 0 {
		r.Availability = Ratio(1 - float64(r.Down)/float64(r.Basis))
	} else {
		r.Availability = Ratio(math.NaN())
	}
	for _, inc := range incidents {
		span := inc.Span
		if span.End.IsZero() {
			span.End = measured.End
		}
		for _, d := range downSpans {
			if span.Overlaps(d) {
				r.Incidents = append(r.Incidents, inc.ID)
				break
			}
		}
	}
	return r, nil
}

func subtractAll(is, cover []calendar.Interval) []calendar.Interval {
	var out []calendar.Interval
	for _, i := range is {
		out = append(out, subtract(i, cover)...)
	}
	return out
}

// Month is the calendar month holding t, in loc: [first of the month 00:00, first of the next).
func Month(year int, month time.Month, loc *time.Location) calendar.Interval {
	first := calendar.Date{Year: year, Month: month, Day: 1}
	next := calendar.Date{Year: year, Month: month + 1, Day: 1}
	if month == time.December {
		next = calendar.Date{Year: year + 1, Month: time.January, Day: 1}
	}
	return calendar.Interval{Start: calendar.Local(first, 0, loc), End: calendar.Local(next, 0, loc)}
}

// BurnRate is how fast the error budget burns over w, which ends at the time of measurement:
// (D/B) / (1 - target). 1 spends exactly the budget over the objective's period; 14.4 spends
// 2 % of a 30-day budget in an hour. ok is false when w holds no eligible time (all
// maintenance or no data).
func BurnRate(w calendar.Interval, timeline []component.Change, maint []Maintenance, obj Objective) (rate float64, ok bool) {
	// Burn rates are measured on eligible time, whatever the report's basis.
	o := obj
	o.Basis = BasisEligible
	r, err := Compute(w, w.End, timeline, maint, nil, o)
	if err != nil || r.Basis <= 0 {
		return 0, false
	}
	return (float64(r.Down) / float64(r.Basis)) / float64(1-obj.Target), true
}

// AlertWindow is one row of the multiwindow, multi-burn-rate table (SRE Workbook, chapter 5).
type AlertWindow struct {
	Severity    string // "page" or "ticket"
	Long, Short time.Duration
	Rate        float64
}

// WorkbookWindows are the SRE Workbook's recommended windows for a 30-day objective.
var WorkbookWindows = []AlertWindow{
	{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, Rate: 14.4},
	{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, Rate: 6},
	{Severity: "ticket", Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, Rate: 1},
}

// BurnWindows are the distinct windows of the table, long and short, shortest first: 5m, 30m,
// 1h, 6h, 3d.
func BurnWindows(table []AlertWindow) []time.Duration {
	var out []time.Duration
	for _, aw := range table {
		out = append(out, aw.Long, aw.Short)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// BurnRates measures the burn rate over each window of the table ending at at, keyed by
// WindowLabel. A window with no eligible time (all maintenance, or no data) burnt nothing of
// the budget: its rate is 0, and it never fires.
func BurnRates(at time.Time, timeline []component.Change, maint []Maintenance, obj Objective, table []AlertWindow) map[string]float64 {
	out := map[string]float64{}
	for _, d := range BurnWindows(table) {
		rate, _ := BurnRate(calendar.Interval{Start: at.Add(-d), End: at}, timeline, maint, obj)
		out[WindowLabel(d)] = rate
	}
	return out
}

// Firing returns the alert windows whose long and short burn rates, as BurnRates measured them,
// both exceed their rate.
func Firing(rates map[string]float64, table []AlertWindow) []AlertWindow {
	var out []AlertWindow
	for _, aw := range table {
		long, ok1 := rates[WindowLabel(aw.Long)]
		short, ok2 := rates[WindowLabel(aw.Short)]
		if ok1 && ok2 && long > aw.Rate && short > aw.Rate {
			out = append(out, aw)
		}
	}
	return out
}

// WindowLabel writes a window as operators write it in Prometheus rules: its largest whole
// unit, 5m, 30m, 1h, 6h, 3d (never 1h0m0s). A window that is not a whole number of seconds
// keeps Go's form.
func WindowLabel(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d <= 0 || d%time.Second != 0:
		return d.String()
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
