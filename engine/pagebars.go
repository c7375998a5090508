package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// PageStore is what PageBars reads beside a ReportStore: the store's reads for the page.
type PageStore interface {
	StatusDays(ctx context.Context, q store.DaysQuery) ([]store.ComponentDays, error)
	IncidentSpans(ctx context.Context, from, to time.Time) ([]store.IncidentSpan, error)
}

// PageBars is Bars for many components at once, at one now, with reads whose cost follows what
// the page shows rather than how much history is kept: the store's daily status aggregates (a
// few rows per component), the incidents of the bars' days, the maintenance windows once. It
// gives each component the same Bars as Bars does (TestPageBarsAreBars), from two sources:
//
//   - a day without maintenance of the component, and without its incidents or without down
//     time (or with them, when the days are left out: Span and Month list no incidents), from
//     its aggregate: availability.Compute over a timeline laid out to spend the same
//     time in each status (equal aggregates give equal reports, so they are computed once);
//   - any other day, the month when the objective's zone is not the page's, and a day holding a
//     change recorded ahead of now, from the component's timeline over those days alone, as Bars
//     does.
//
// With withDays false the days are left out (Days is nil): Span and Month only.
//
// A store without daily aggregates (no PageStore) gets Bars for each component.
func (r *Reports) PageBars(ctx context.Context, ids []string, loc *time.Location, now time.Time, days int, withDays bool) (map[string]Bars, error) {
	out := make(map[string]Bars, len(ids))
	ps, ok := r.Store.(PageStore)
	if !ok {
		for _, id := range ids {
			b, err := r.Bars(ctx, id, loc, now, days)
			if err != nil {
				return nil, err
			}
			if !withDays {
				b.Days = nil
			}
			out[id] = b
		}
		return out, nil
	}
	today := calendar.DateOf(now, loc)
	q := store.DaysQuery{Location: loc, First: today.AddDays(-(days - 1)), Last: today, ComponentIDs: ids}
	start := calendar.Local(q.First, 0, loc)
	cds, err := ps.StatusDays(ctx, q)
	if err != nil {
		return nil, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return nil, err
	}
	// Incidents only name themselves in the days' captions (Report.Incidents): they count in
	// no figure, so a page without days does not read them.
	var spans []store.IncidentSpan
	if withDays {
		if spans, err = ps.IncidentSpans(ctx, start, now); err != nil {
			return nil, err
		}
	}
	// Incidents by component, newest opened first (as Bars lists them: captions keep that order).
	slices.SortFunc(spans, func(a, b store.IncidentSpan) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	incs := map[string][]availability.Incident{}
	titles := map[string]string{}
	for _, sp := range spans {
		titles[sp.ID] = sp.Title
		for _, c := range sp.ComponentIDs {
			incs[c] = append(incs[c], availability.Incident{ID: sp.ID, Title: sp.Title, Span: calendar.Interval{Start: sp.StartedAt, End: sp.ResolvedAt}})
		}
	}
	pb := pageBars{r: r, loc: loc, now: now, q: q, days: q.Windows(), start: start, windows: windows, titles: titles, withDays: withDays,
		byComponent: map[string][]int{}, months: map[string]monthSpan{}, maint: map[maintKey][]availability.Maintenance{}, memo: map[memoKey]availability.Report{}}
	for i := range windows {
		for _, c := range windows[i].Components {
			pb.byComponent[c] = append(pb.byComponent[c], i)
		}
	}
	for i, id := range ids {
		b, err := pb.bars(ctx, id, cds[i], incs[id])
		if err != nil {
			return nil, fmt.Errorf("bars of %s: %w", id, err)
		}
		out[id] = b
	}
	return out, nil
}

type maintKey struct {
	window int
	notice time.Duration
	from   time.Time
}

// memoKey is everything a report made from status time depends on but its window's place.
type memoKey struct {
	t              totals
	total, elapsed time.Duration
	obj            availability.Objective
}

// totals is time in each status outside announced maintenance, the maintenance itself, and the
// maintenance announced too late.
type totals struct {
	unknown, major, partial, degraded, up, maintenance, unannounced time.Duration
}

func (t *totals) add(u totals) {
	t.unknown += u.unknown
	t.major += u.major
	t.partial += u.partial
	t.degraded += u.degraded
	t.up += u.up
	t.maintenance += u.maintenance
	t.unannounced += u.unannounced
}

func totalsOf(st store.StatusTime) totals {
	return totals{unknown: st.Unknown, major: st.Major, partial: st.Partial, degraded: st.Degraded, up: st.Up}
}

func totalsOfReport(rep availability.Report) totals {
	return totals{unknown: rep.Unknown, major: rep.MajorOutage, partial: rep.PartialOut, degraded: rep.Degraded, maintenance: rep.Maintenance,
		unannounced: rep.Unannounced, up: rep.Elapsed - rep.Maintenance - rep.Unknown - rep.MajorOutage - rep.PartialOut - rep.Degraded}
}

type pageBars struct {
	r           *Reports
	loc         *time.Location
	now         time.Time
	q           store.DaysQuery
	days        []store.DayWindow // q's, computed once
	start       time.Time
	windows     []maintenance.Window
	titles      map[string]string
	withDays    bool
	byComponent map[string][]int // windows covering each component
	maint       map[maintKey][]availability.Maintenance
	months      map[string]monthSpan // by the objective's zone
	spread      []store.DayTime      // buffers reused from one component to the next
	exact       []bool
	memo        map[memoKey]availability.Report
}

// monthSpan is this month in an objective's zone, and whether it is a sum of the page's days:
// when it is counted in the page's zone, from one of the days shown.
type monthSpan struct {
	month    calendar.Interval
	first    calendar.Date
	fromDays bool
}

func (pb *pageBars) monthIn(loc *time.Location) monthSpan {
	if m, ok := pb.months[loc.String()]; ok {
		return m
	}
	m := monthSpan{month: monthOf(pb.now, loc)}
	m.first = calendar.DateOf(m.month.Start, pb.loc)
	m.fromDays = loc.String() == pb.loc.String() && !m.month.Start.Before(pb.start) && m.month.Start.Equal(calendar.Local(m.first, 0, pb.loc))
	pb.months[loc.String()] = m
	return m
}

// maintenanceFor is MaintenanceFor(windows, id, [from, now), notice), each window's occurrences
// listed once for all the components it covers.
func (pb *pageBars) maintenanceFor(id string, from time.Time, notice time.Duration) []availability.Maintenance {
	var out []availability.Maintenance
	for _, i := range pb.byComponent[id] {
		k := maintKey{window: i, notice: notice, from: from}
		m, ok := pb.maint[k]
		if !ok {
			m = MaintenanceFor(pb.windows[i:i+1], id, calendar.Interval{Start: from, End: pb.now}, notice)
			pb.maint[k] = m
		}
		out = append(out, m...)
	}
	return out
}

func (pb *pageBars) bars(ctx context.Context, id string, cd store.ComponentDays, incs []availability.Incident) (Bars, error) {
	obj := pb.r.Objective(id)
	m := pb.monthIn(obj.Location)
	month, monthFirst, monthFromDays := m.month, m.first, m.fromDays
	from := earliest(pb.start, month.Start)
	maint := pb.maintenanceFor(id, from, obj.Notice)
	if !pb.withDays && monthFromDays && len(maint) == 0 {
		// Without days, maintenance or a month of its own, the span and the month are sums of
		// the aggregates: the same figures as below, without making each day (at 10,000
		// components, 900,000 of them a render).
		all, since, exact := cd.SumSpread(pb.days, pb.now, monthFirst)
		if exact {
			b := Bars{Target: obj.Objective.Target}
			var err error
			if b.Span, err = pb.report(calendar.Interval{Start: pb.start, End: pb.now}, totalsOf(all), obj.Objective); err != nil {
				return Bars{}, err
			}
			rep, err := pb.report(month, totalsOf(since), obj.Objective)
			b.Month = ComponentReport{ComponentID: id, ObjectiveID: obj.ID, Location: obj.Location, Report: rep}
			return b, err
		}
	}
	pb.spread = cd.AppendSpread(pb.spread[:0], pb.days, pb.now)
	dts := pb.spread
	// Which days need the timeline, and from when it is read.
	w := obj.Objective.Weights
	if cap(pb.exact) < len(dts) {
		pb.exact = make([]bool, len(dts))
	}
	exact := pb.exact[:len(dts)]
	clear(exact)
	var readFrom time.Time
	need := func(t time.Time) {
		if readFrom.IsZero() || t.Before(readFrom) {
			readFrom = t
		}
	}
	for j, dt := range dts {
		measured := calendar.Interval{Start: dt.Window.Start, End: earliest(dt.Window.End, pb.now)}
		down := w.MajorOutage > 0 && dt.Time.Major > 0 || w.PartialOutage > 0 && dt.Time.Partial > 0 || w.DegradedPerformance > 0 && dt.Time.Degraded > 0
		exact[j] = !dt.Exact || slices.ContainsFunc(maint, func(m availability.Maintenance) bool { return m.Span.Overlaps(measured) }) ||
			down && pb.withDays && slices.ContainsFunc(incs, func(inc availability.Incident) bool {
				sp := inc.Span
				if sp.End.IsZero() {
					sp.End = measured.End
				}
				return sp.Overlaps(measured)
			})
		if exact[j] {
			need(dt.Window.Start)
		}
	}
	if !monthFromDays {
		need(month.Start)
	}
	var timeline []component.Change
	if !readFrom.IsZero() {
		var err error
		if timeline, err = pb.r.Store.StatusTimeline(ctx, id, readFrom, pb.now); err != nil {
			return Bars{}, err
		}
	}
	b := Bars{Target: obj.Objective.Target}
	var span, inMonth totals
	for j, dt := range dts {
		var rep availability.Report
		var t totals
		switch {
		case exact[j]:
			var err error
			if rep, err = availability.Compute(dt.Window, pb.now, timeline, maint, incs, obj.Objective); err != nil {
				return Bars{}, err
			}
			t = totalsOfReport(rep)
		case pb.withDays:
			t = totalsOf(dt.Time)
			var err error
			if rep, err = pb.report(dt.Window, t, obj.Objective); err != nil {
				return Bars{}, err
			}
		default:
			t = totalsOf(dt.Time)
		}
		span.add(t)
		if monthFromDays && !dt.Date.Before(monthFirst) {
			inMonth.add(t)
		}
		if pb.withDays {
			day := Day{Date: dt.Date, Report: rep}
			for _, inc := range rep.Incidents {
				day.Incidents = append(day.Incidents, pb.titles[inc])
			}
			b.Days = append(b.Days, day)
		}
	}
	var err error
	if b.Span, err = pb.report(calendar.Interval{Start: pb.start, End: pb.now}, span, obj.Objective); err != nil {
		return Bars{}, err
	}
	if !monthFromDays {
		b.Month, err = pb.r.report(component.Component{ID: id}, month, pb.now, timeline, pb.windows, nil, false)
		return b, err
	}
	rep, err := pb.report(month, inMonth, obj.Objective)
	b.Month = ComponentReport{ComponentID: id, ObjectiveID: obj.ID, Location: obj.Location, Report: rep}
	return b, err
}

// report is availability.Compute over w at now for a component that spent t there: Compute
// over a timeline laid out to spend t (unknown, major, partial, degraded, up, then the announced
// maintenance, with the unannounced from the start), which counts the same time the same way.
// Reports of equal time are computed once.
func (pb *pageBars) report(w calendar.Interval, t totals, obj availability.Objective) (availability.Report, error) {
	k := memoKey{t: t, total: w.Duration(), elapsed: earliest(w.End, pb.now).Sub(w.Start), obj: obj}
	if rep, ok := pb.memo[k]; ok {
		rep.Window = w
		return rep, nil
	}
	t0 := time.Unix(0, 0).UTC()
	at := t0
	var timeline []component.Change
	lay := func(s component.Status, d time.Duration) {
		if d > 0 {
			timeline = append(timeline, component.Change{At: at, Status: s})
			at = at.Add(d)
		}
	}
	lay(component.Unknown, t.unknown)
	lay(component.MajorOutage, t.major)
	lay(component.PartialOutage, t.partial)
	lay(component.DegradedPerformance, t.degraded)
	lay(component.Operational, t.up)
	var maint []availability.Maintenance
	if t.maintenance > 0 {
		maint = append(maint, availability.Maintenance{Announced: true, Span: calendar.Interval{Start: at, End: at.Add(t.maintenance)}})
		lay(component.Operational, t.maintenance)
	}
	if t.unannounced > 0 {
		maint = append(maint, availability.Maintenance{Span: calendar.Interval{Start: t0, End: t0.Add(t.unannounced)}})
	}
	rep, err := availability.Compute(calendar.Interval{Start: t0, End: t0.Add(k.total)}, t0.Add(k.elapsed), timeline, maint, nil, obj)
	if err != nil {
		return rep, err
	}
	if at.Sub(t0) != k.elapsed {
		return rep, fmt.Errorf("status time %s does not fill %s", at.Sub(t0), k.elapsed)
	}
	pb.memo[k] = rep
	rep.Window = w
	return rep, nil
}
