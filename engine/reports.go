package engine

import (
	"context"
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
// to the pure availability engine.
type Reports struct {
	Store     ReportStore
	Objective func(componentID string) Objective
	// Now is the current time (the injected clock's). Burn rates are measured over windows
	// ending at the report's end or now, whichever is earlier. Nil: burn rates are left out.
	Now func() time.Time
}

// ComponentReport is a report with what it was computed for.
type ComponentReport struct {
	ComponentID string
	Name        string
	ObjectiveID string
	Location    *time.Location
	availability.Report
	// BurnRates over the SRE Workbook's windows (1h, 5m, 6h, 30m, 3d, 6h), ending at the
	// report's end or now, whichever is earlier; a window with no eligible time is left out.
	BurnRates map[string]float64
	BurnAt    time.Time
}

// Month reports a component's availability over a calendar month in its objective's zone.
func (r *Reports) Month(ctx context.Context, componentID string, year int, month time.Month) (ComponentReport, error) {
	obj := r.Objective(componentID)
	return r.Window(ctx, componentID, availability.Month(year, month, obj.Location))
}

// Window reports a component's availability over any window.
func (r *Reports) Window(ctx context.Context, componentID string, w calendar.Interval) (ComponentReport, error) {
	c, err := r.Store.GetComponent(ctx, componentID)
	if err != nil {
		return ComponentReport{}, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return ComponentReport{}, err
	}
	return r.compute(ctx, c, windows, w)
}

// AllMonth reports every component (groups excluded) for one month.
func (r *Reports) AllMonth(ctx context.Context, year int, month time.Month) ([]ComponentReport, error) {
	cs, err := r.Store.ListComponents(ctx)
	if err != nil {
		return nil, err
	}
	windows, err := r.Store.ListWindows(ctx)
	if err != nil {
		return nil, err
	}
	var out []ComponentReport
	for _, c := range cs {
		if c.IsGroup {
			continue
		}
		rep, err := r.compute(ctx, c, windows, availability.Month(year, month, r.Objective(c.ID).Location))
		if err != nil {
			return nil, err
		}
		out = append(out, rep)
	}
	return out, nil
}

func (r *Reports) compute(ctx context.Context, c component.Component, windows []maintenance.Window, w calendar.Interval) (ComponentReport, error) {
	obj := r.Objective(c.ID)
	from := w.Start
	var burnEnd time.Time
	if r.Now != nil {
		burnEnd = w.End
		if now := r.Now(); now.Before(burnEnd) {
			burnEnd = now
		}
		from = min64(from, burnEnd.Add(-longestBurnWindow()))
	}
	timeline, err := r.Store.StatusTimeline(ctx, c.ID, from, w.End)
	if err != nil {
		return ComponentReport{}, err
	}
	maint := MaintenanceFor(windows, c.ID, w, obj.Notice)
	incs, err := r.Store.ListIncidents(ctx, store.IncidentQuery{ComponentID: c.ID, Until: w.End})
	if err != nil {
		return ComponentReport{}, err
	}
	var spans []availability.Incident
	for _, inc := range incs {
		end := inc.ResolvedAt
		if !end.IsZero() && !end.After(w.Start) {
			continue
		}
		spans = append(spans, availability.Incident{ID: inc.ID, Title: inc.Title, Span: calendar.Interval{Start: inc.StartedAt, End: end}})
	}
	rep, err := availability.Compute(w, timeline, maint, spans, obj.Objective)
	if err != nil {
		return ComponentReport{}, fmt.Errorf("availability of %s: %w", c.ID, err)
	}
	out := ComponentReport{ComponentID: c.ID, Name: c.Name, ObjectiveID: obj.ID, Location: obj.Location, Report: rep}
	if !burnEnd.IsZero() {
		out.BurnAt, out.BurnRates = burnEnd, map[string]float64{}
		bm := MaintenanceFor(windows, c.ID, calendar.Interval{Start: from, End: burnEnd}, obj.Notice)
		for _, aw := range availability.WorkbookWindows {
			for _, d := range []time.Duration{aw.Long, aw.Short} {
				if rate, ok := availability.BurnRate(calendar.Interval{Start: burnEnd.Add(-d), End: burnEnd}, timeline, bm, obj.Objective); ok {
					out.BurnRates[d.String()] = rate
				}
			}
		}
	}
	return out, nil
}

func longestBurnWindow() time.Duration {
	var d time.Duration
	for _, aw := range availability.WorkbookWindows {
		d = max(d, aw.Long)
	}
	return d
}

func min64(a, b time.Time) time.Time {
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

// Bars are a component's daily availability over the last days days (today included, so far)
// in loc, plus the whole span and the month so far against its objective.
type Bars struct {
	Days   []Day
	Span   availability.Report // the days together
	Month  availability.Report // this month so far, in the objective's zone
	Target availability.Ratio
	// MonthBudgetLeft is the whole month's error budget less the downtime so far: the budget
	// of the full month (less the time so far without data, and the announced maintenance so
	// far on the eligible basis) minus D so far.
	MonthBudgetLeft time.Duration
}

// Bars computes a component's daily bars with one read of its timeline, windows and incidents.
func (r *Reports) Bars(ctx context.Context, componentID string, loc *time.Location, now time.Time, days int) (Bars, error) {
	obj := r.Objective(componentID)
	today := calendar.DateOf(now, loc)
	first := today.AddDays(-(days - 1))
	start := calendar.Local(first, 0, loc)
	local := now.In(obj.Location)
	month := calendar.Interval{Start: availability.Month(local.Year(), local.Month(), obj.Location).Start, End: now}
	from := min64(start, month.Start)
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
		if w.End.After(now) {
			w.End = now
		}
		if w.Empty() {
			continue
		}
		rep, err := availability.Compute(w, timeline, maint, spans, obj.Objective)
		if err != nil {
			return Bars{}, err
		}
		day := Day{Date: date, Report: rep}
		for _, id := range rep.Incidents {
			day.Incidents = append(day.Incidents, titles[id])
		}
		out.Days = append(out.Days, day)
	}
	if out.Span, err = availability.Compute(calendar.Interval{Start: start, End: now}, timeline, maint, nil, obj.Objective); err != nil {
		return Bars{}, err
	}
	if !month.Empty() {
		if out.Month, err = availability.Compute(month, timeline, maint, nil, obj.Objective); err != nil {
			return Bars{}, err
		}
		full := availability.Month(local.Year(), local.Month(), obj.Location).Duration() - out.Month.Unknown
		if obj.Objective.Basis == availability.BasisEligible {
			full -= out.Month.Maintenance
		}
		out.MonthBudgetLeft = time.Duration(float64(1-obj.Objective.Target)*float64(full)) - out.Month.Down
	}
	return out, nil
}
