package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// ReportStore is what availability reports read.
type ReportStore interface {
	GetComponent(ctx context.Context, id string) (component.Component, error)
	ListComponents(ctx context.Context) ([]component.Component, error)
	StatusTimeline(ctx context.Context, componentID string, from, to time.Time) ([]component.Change, error)
	ListWindows(ctx context.Context) ([]maintenance.Window, error)
	ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error)
}

// Objective is what a component is measured against: the target, and the zone its months are
// counted in, and the notice period that makes maintenance count as announced.
type Objective struct {
	ID        string
	Objective availability.Objective
	Location  *time.Location
	Notice    time.Duration
}

// Reports gathers a component's timeline, maintenance and incidents from the store and hands them
// to the pure availability engine. Every figure Upstate shows about a period (the API's and the
// CLI's reports, the page's "this month", the availability gauges and the burn-rate alerts) is
// one call of report at one now.
type Reports struct {
	Store     ReportStore
	Objective func(componentID string) Objective
	// Now is the current time (the injected clock's), read once by Window. The other methods
	// take now from their caller, who reads its clock once.
	Now func() time.Time
}

// ComponentReport is a report with what it was computed for.
type ComponentReport struct {
	ComponentID string
	Name        string
	ObjectiveID string
	Location    *time.Location
	availability.Report
	// BurnRates over the SRE Workbook's windows, keyed by their label (5m, 30m, 1h, 6h, 3d),
	// ending at BurnAt, the earlier of the period's end and now. A window with no eligible time
	// burnt nothing: 0.
	BurnRates map[string]float64
	BurnAt    time.Time
}

// ErrNoClock is returned by Window when Reports has no Now.
var ErrNoClock = errors.New("reports: no clock")

// Month reports a component's availability over a calendar month in its objective's zone, as
// it stands at now: a month in progress is measured up to now, with the whole month's budget;
// one that has not started is availability.ErrNotStarted.
func (r *Reports) Month(ctx context.Context, componentID string, year int, month time.Month, now time.Time) (ComponentReport, error) {
	obj := r.Objective(componentID)
	return r.window(ctx, componentID, availability.Month(year, month, obj.Location), now)
}

// MonthOf reports the month holding now in the component's objective's zone, so far: the
// figure the page calls "this month" and the gauges export.
func (r *Reports) MonthOf(ctx context.Context, componentID string, now time.Time) (ComponentReport, error) {
	obj := r.Objective(componentID)
	return r.window(ctx, componentID, monthOf(now, obj.Location), now)
}

func monthOf(now time.Time, loc *time.Location) calendar.Interval {
	local := now.In(loc)
	return availability.Month(local.Year(), local.Month(), loc)
}

// Window reports a component's availability over any window, as it stands at r.Now().
func (r *Reports) Window(ctx context.Context, componentID string, w calendar.Interval) (ComponentReport, error) {
	if r.Now == nil {
		return ComponentReport{}, ErrNoClock
	}
	return r.window(ctx, componentID, w, r.Now())
}

func (r *Reports) window(ctx context.Context, componentID string, w calendar.Interval, now time.Time) (ComponentReport, error) {
	c, err := r.Store.GetComponent(ctx, componentID)
	if err != nil {
		return ComponentReport{}, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return ComponentReport{}, err
	}
	return r.compute(ctx, c, windows, w, now)
}

// AllMonth reports every component (groups excluded) for one month at now. Months are counted
// in each objective's zone, so for a few hours a month may have started for some components and
// not for others: those it has not started for are left out. If it has started for none, the
// error is availability.ErrNotStarted.
func (r *Reports) AllMonth(ctx context.Context, year int, month time.Month, now time.Time) ([]ComponentReport, error) {
	cs, err := r.Store.ListComponents(ctx)
	if err != nil {
		return nil, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return nil, err
	}
	out := []ComponentReport{}
	notStarted := 0
	for _, c := range cs {
		if c.IsGroup {
			continue
		}
		rep, err := r.compute(ctx, c, windows, availability.Month(year, month, r.Objective(c.ID).Location), now)
		if errors.Is(err, availability.ErrNotStarted) {
			notStarted++
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	if len(out) == 0 && notStarted > 0 {
		return nil, fmt.Errorf("%d-%02d: %w", year, month, availability.ErrNotStarted)
	}
	return out, nil
}

// compute reads what one component's report over w at now needs and makes it.
func (r *Reports) compute(ctx context.Context, c component.Component, windows []maintenance.Window, w calendar.Interval, now time.Time) (ComponentReport, error) {
	if now.Before(w.Start) {
		return ComponentReport{}, fmt.Errorf("availability of %s from %s: %w", c.ID, w.Start.Format(time.RFC3339), availability.ErrNotStarted)
	}
	end := earliest(w.End, now)
	from := earliest(w.Start, end.Add(-longestBurnWindow()))
	timeline, err := r.Store.StatusTimeline(ctx, c.ID, from, end)
	if err != nil {
		return ComponentReport{}, err
	}
	incs, err := r.Store.ListIncidents(ctx, store.IncidentQuery{ComponentID: c.ID, Until: end})
	if err != nil {
		return ComponentReport{}, err
	}
	return r.report(c, w, now, timeline, windows, incs, true)
}

// report is the one computation behind every figure about a period: availability.Compute over
// w at now, and (withBurn) the burn rates at the earlier of w's end and now. timeline must
// cover w up to now (and the longest burn window before that, withBurn); windows and incs may
// hold more than w.
func (r *Reports) report(c component.Component, w calendar.Interval, now time.Time, timeline []component.Change,
	windows []maintenance.Window, incs []incidents.Incident, withBurn bool) (ComponentReport, error) {
	obj := r.Objective(c.ID)
	end := earliest(w.End, now)
	var spans []availability.Incident
	for _, inc := range incs {
		if inc.StartedAt.After(end) || !inc.ResolvedAt.IsZero() && !inc.ResolvedAt.After(w.Start) {
			continue
		}
		spans = append(spans, availability.Incident{ID: inc.ID, Title: inc.Title, Span: calendar.Interval{Start: inc.StartedAt, End: inc.ResolvedAt}})
	}
	rep, err := availability.Compute(w, now, timeline, MaintenanceFor(windows, c.ID, w, obj.Notice), spans, obj.Objective)
	if err != nil {
		return ComponentReport{}, fmt.Errorf("availability of %s: %w", c.ID, err)
	}
	out := ComponentReport{ComponentID: c.ID, Name: c.Name, ObjectiveID: obj.ID, Location: obj.Location, Report: rep}
	if withBurn {
		recent := calendar.Interval{Start: end.Add(-longestBurnWindow()), End: end}
		out.BurnAt = end
		out.BurnRates = availability.BurnRates(end, timeline, MaintenanceFor(windows, c.ID, recent, obj.Notice), obj.Objective, availability.WorkbookWindows)
	}
	return out, nil
}

func longestBurnWindow() time.Duration {
	return slices.Max(availability.BurnWindows(availability.WorkbookWindows))
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// MaintenanceFor lists the maintenance of a component overlapping w, each marked announced or
// not by the notice rule: an occurrence is announced if its window was announced at least
// notice before it began; an extension only if it was made at least notice before the end it
// moved. Cancelled occurrences are not maintenance.
func MaintenanceFor(windows []maintenance.Window, componentID string, w calendar.Interval, notice time.Duration) []availability.Maintenance {
	var out []availability.Maintenance
	for i := range windows {
		win := &windows[i]
		if !slices.Contains(win.Components, componentID) {
			continue
		}
		for _, o := range win.Occurrences(w.Start, w.End) {
			if o.Cancelled {
				continue
			}
			announced := win.Announced(o, notice)
			end := o.End
			if o.End.After(o.ScheduledEnd) {
				end = o.ScheduledEnd
				out = append(out, availability.Maintenance{WindowID: win.ID, Announced: announced && !o.ChangedAt.After(o.ScheduledEnd.Add(-notice)),
					Span: calendar.Interval{Start: o.ScheduledEnd, End: o.End}})
			}
			out = append(out, availability.Maintenance{WindowID: win.ID, Announced: announced, Span: calendar.Interval{Start: o.Start, End: end}})
		}
	}
	return out
}

// Day is one of the page's daily bars.
type Day struct {
	Date      calendar.Date
	Report    availability.Report
	Incidents []string // titles of the incidents behind the day's downtime
}

// Bars are a component's daily availability over the last days days in loc (today's bar stops
// at now), the whole span, and this month so far against its objective.
type Bars struct {
	Days   []Day
	Span   availability.Report // the days together
	Target availability.Ratio
	// Month is this month so far in the objective's zone, with the whole month's budget: the
	// same computation, at the same now, as MonthOf, the API, the CLI and the gauges.
	Month ComponentReport
}

// Bars computes a component's daily bars and this month so far with one read of its timeline,
// windows and incidents.
func (r *Reports) Bars(ctx context.Context, componentID string, loc *time.Location, now time.Time, days int) (Bars, error) {
	obj := r.Objective(componentID)
	today := calendar.DateOf(now, loc)
	first := today.AddDays(-(days - 1))
	start := calendar.Local(first, 0, loc)
	month := monthOf(now, obj.Location)
	from := earliest(start, month.Start)
	timeline, err := r.Store.StatusTimeline(ctx, componentID, from, now)
	if err != nil {
		return Bars{}, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return Bars{}, err
	}
	maint := MaintenanceFor(windows, componentID, calendar.Interval{Start: from, End: now}, obj.Notice)
	incs, err := r.Store.ListIncidents(ctx, store.IncidentQuery{ComponentID: componentID, Until: now})
	if err != nil {
		return Bars{}, err
	}
	titles := map[string]string{}
	var spans []availability.Incident
	for _, inc := range incs {
		if !inc.ResolvedAt.IsZero() && inc.ResolvedAt.Before(from) {
			continue
		}
		titles[inc.ID] = inc.Title
		spans = append(spans, availability.Incident{ID: inc.ID, Title: inc.Title, Span: calendar.Interval{Start: inc.StartedAt, End: inc.ResolvedAt}})
	}
	out := Bars{Target: obj.Objective.Target}
	for d := range days {
		date := first.AddDays(d)
		w := calendar.Interval{Start: calendar.Local(date, 0, loc), End: calendar.Local(date.AddDays(1), 0, loc)}
		if !w.Start.Before(now) {
			continue
		}
		rep, err := availability.Compute(w, now, timeline, maint, spans, obj.Objective) // today's stops at now
		if err != nil {
			return Bars{}, err
		}
		day := Day{Date: date, Report: rep}
		for _, id := range rep.Incidents {
			day.Incidents = append(day.Incidents, titles[id])
		}
		out.Days = append(out.Days, day)
	}
	if out.Span, err = availability.Compute(calendar.Interval{Start: start, End: now}, now, timeline, maint, nil, obj.Objective); err != nil {
		return Bars{}, err
	}
	out.Month, err = r.report(component.Component{ID: componentID}, month, now, timeline, windows, nil, false)
	return out, err
}
