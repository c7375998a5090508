package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

// PageReads are the reads the public page, its history and Statuspage's JSON make, indexed so
// that their cost follows what is shown, never how much history is kept: incidents' heads by
// state, time and component, without their full lists of updates, and each component's status
// time per day, kept up to date as its timeline changes (docs/storage.md, "Reads for the page").
type PageReads interface {
	// ListIncidentHeads returns the heads of the incidents matching q, newest opened first:
	// each incident with only its latest HeadUpdates updates and the count of all of them.
	ListIncidentHeads(ctx context.Context, q IncidentQuery) ([]IncidentHead, error)
	// IncidentSpans returns every incident opened before to whose span, from StartedAt to
	// ResolvedAt (to any time while open), overlaps [from, to), in no particular order and
	// without a limit: what a span of days' bars show of incidents. Its cost follows the
	// incidents of that time, not all of history.
	IncidentSpans(ctx context.Context, from, to time.Time) ([]IncidentSpan, error)
	// StatusDays returns each of q's components' status time per day of q's span, in q's
	// zone. When the store keeps daily aggregates in that zone (KeepStatusDays), it reads them:
	// a few rows per component, whatever the length of its timeline. In any other zone it
	// computes the same figures from the timelines.
	StatusDays(ctx context.Context, q DaysQuery) ([]ComponentDays, error)
	// KeepStatusDays makes the store keep daily aggregates in loc: it builds them from every
	// timeline at once, and from then on AppendStatus updates them in the same transaction as
	// the change. One zone is kept at a time; keeping the zone already kept does nothing.
	KeepStatusDays(ctx context.Context, loc *time.Location) error
}

// HeadUpdates is how many of an incident's latest updates its head carries.
const HeadUpdates = 10

// IncidentHead is an incident without most of its updates: what a list of incidents shows.
type IncidentHead struct {
	incidents.Incident     // Updates holds the latest HeadUpdates of them, oldest first
	UpdateCount        int `json:"update_count"` // how many updates the incident has in all
}

// HeadOf is inc's head.
func HeadOf(inc incidents.Incident) IncidentHead {
	h := IncidentHead{Incident: inc, UpdateCount: len(inc.Updates)}
	if n := len(inc.Updates); n > HeadUpdates {
		h.Updates = inc.Updates[n-HeadUpdates:]
	}
	h.Updates = slices.Clone(h.Updates)
	return h
}

// EncodeHead is a head as both backends store it, next to the whole incident: nothing (nil) for
// an incident of HeadUpdates updates or fewer, whose head is the incident itself (a reader then
// reads the document), so most incidents are not kept twice.
func EncodeHead(inc incidents.Incident) []byte {
	if len(inc.Updates) <= HeadUpdates {
		return nil
	}
	return MustJSON(HeadOf(inc))
}

// DecodeHead reads a stored head.
func DecodeHead(b []byte) (IncidentHead, error) {
	var h IncidentHead
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("decode incident head: %w", err)
	}
	return h, nil
}

// IncidentSpan is what a day's bar shows of an incident: when it ran, and what it affected.
type IncidentSpan struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	OpenedAt     time.Time `json:"opened_at"`
	StartedAt    time.Time `json:"started_at"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"` // zero while open
	ComponentIDs []string  `json:"components"`
}

// SpanOf is inc's span.
func SpanOf(inc incidents.Incident) IncidentSpan {
	sp := IncidentSpan{ID: inc.ID, Title: inc.Title, OpenedAt: inc.OpenedAt, StartedAt: inc.StartedAt, ComponentIDs: AffectedIDs(inc)}
	if !inc.Open() {
		sp.ResolvedAt = inc.ResolvedAt
	}
	return sp
}

// EncodeSpan is a span as both backends store it beside the incident.
func EncodeSpan(inc incidents.Incident) []byte { return MustJSON(SpanOf(inc)) }

// DecodeSpan reads a stored span.
func DecodeSpan(b []byte) (IncidentSpan, error) {
	var sp IncidentSpan
	if err := json.Unmarshal(b, &sp); err != nil {
		return sp, fmt.Errorf("decode incident span: %w", err)
	}
	return sp, nil
}

// Overlaps reports whether the span is one IncidentSpans(from, to) returns.
func (sp IncidentSpan) Overlaps(from, to time.Time) bool {
	return sp.OpenedAt.Before(to) && sp.StartedAt.Before(to) && (sp.ResolvedAt.IsZero() || sp.ResolvedAt.After(from))
}

// OpenEnd is the end both backends index an open incident under: after any time.
const OpenEnd = math.MaxInt64

// IncidentEnd is the end of an incident's span as the indexes keep it, in Unix ms: when it was
// resolved, or OpenEnd while it is open.
func IncidentEnd(inc incidents.Incident) int64 {
	if inc.Open() || inc.ResolvedAt.IsZero() {
		return OpenEnd
	}
	return Millis(inc.ResolvedAt)
}

// AffectedIDs are the distinct components an incident affects, in order.
func AffectedIDs(inc incidents.Incident) []string {
	var ids []string
	for _, a := range inc.Components {
		if !slices.Contains(ids, a.ComponentID) {
			ids = append(ids, a.ComponentID)
		}
	}
	return ids
}

// Daily status aggregates.
//
// A component's day (in a zone) has a row when one of its status changes falls in it: its
// status time over the whole day, as if the status after the day's last change lasted to the
// day's end. A day without a row is wholly in the status the previous row ended in. So a row
// depends only on the changes in its day and the status before it: appending a change rewrites
// the row of its day, and the next row (whose first status may have changed), nothing else.

// DaysQuery asks for components' status time per day.
type DaysQuery struct {
	Location     *time.Location
	First, Last  calendar.Date // inclusive
	ComponentIDs []string
}

// Span is the real time the query's days cover.
func (q DaysQuery) Span() calendar.Interval {
	return calendar.Interval{Start: DayStart(q.First, q.Location), End: DayStart(q.Last.AddDays(1), q.Location)}
}

// ComponentDays is one component's status over a span of days.
type ComponentDays struct {
	ComponentID string
	// Before is the status as the span begins: its latest change before the first day's start
	// (Unknown when there is none: no data).
	Before component.Status
	// Days are the span's days that hold a change, oldest first.
	Days []StatusDay
}

// StatusDay is a component's status time over one day that holds a change.
type StatusDay struct {
	Date   calendar.Date
	End    component.Status // the status after the day's last change
	LastAt time.Time        // the day's last change
	Time   StatusTime       // over the whole day, End lasting from LastAt to the day's end
}

// StatusTime is time spent in each status, as availability counts it: Unknown holds time
// without data too; Up is every status that counts as up (operational, under maintenance).
type StatusTime struct {
	Up, Degraded, Partial, Major, Unknown time.Duration
}

func (t *StatusTime) add(s component.Status, d time.Duration) {
	switch s {
	case component.Unknown:
		t.Unknown += d
	case component.MajorOutage:
		t.Major += d
	case component.PartialOutage:
		t.Partial += d
	case component.DegradedPerformance:
		t.Degraded += d
	default:
		t.Up += d
	}
}

// Total is the time counted.
func (t StatusTime) Total() time.Duration { return t.Up + t.Degraded + t.Partial + t.Major + t.Unknown }

// DayNumber is a date as the stores key it: days since 1970-01-01.
func DayNumber(d calendar.Date) int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DateOfNumber is the date of a day number.
func DateOfNumber(n int64) calendar.Date { return calendar.DateOf(time.Unix(n*86400, 0), time.UTC) }

// DayStart is when date begins in loc, as the page's bars count it (calendar.Local at 00:00).
func DayStart(d calendar.Date, loc *time.Location) time.Time { return calendar.Local(d, 0, loc) }

// DayOf is the day in loc whose [DayStart, next DayStart) holds t.
func DayOf(t time.Time, loc *time.Location) calendar.Date {
	d := calendar.DateOf(t, loc)
	for t.Before(DayStart(d, loc)) {
		d = d.AddDays(-1)
	}
	for !t.Before(DayStart(d.AddDays(1), loc)) {
		d = d.AddDays(1)
	}
	return d
}

// DaysOf makes the rows of every day holding a change of timeline, a component's changes in
// the order its store returns them (by time), starting in status before (Unknown: no data).
// Changes at one instant follow each other in that order, as availability reads them.
func DaysOf(timeline []component.Change, before component.Status, loc *time.Location) []StatusDay {
	var out []StatusDay
	cur := before
	for i := 0; i < len(timeline); {
		d := DayOf(timeline[i].At, loc)
		start, end := DayStart(d, loc), DayStart(d.AddDays(1), loc)
		k := i
		for k < len(timeline) && timeline[k].At.Before(end) {
			k++
		}
		row := dayOf(d, cur, timeline[i:k], start, end)
		out = append(out, row)
		cur, i = row.End, k
	}
	return out
}

// dayOf is the row of day d over [start, end), entered in status cur, with its changes in.
func dayOf(d calendar.Date, cur component.Status, in []component.Change, start, end time.Time) StatusDay {
	row := StatusDay{Date: d}
	from := start
	for _, ch := range in {
		if !ch.At.After(start) { // at the day's first instant: the status it starts in
			cur = ch.Status
			continue
		}
		if ch.At.After(from) {
			row.Time.add(cur, ch.At.Sub(from))
		}
		cur, from = ch.Status, ch.At
	}
	row.Time.add(cur, end.Sub(from))
	row.End = cur
	if len(in) > 0 {
		row.LastAt = in[len(in)-1].At
	}
	return row
}

// DaysFromTimeline answers a DaysQuery for one component from its timeline: what
// StatusTimeline returns for q.Span() (the changes inside, preceded by the last one before).
func DaysFromTimeline(componentID string, timeline []component.Change, q DaysQuery) ComponentDays {
	out := ComponentDays{ComponentID: componentID, Before: component.Unknown}
	start := q.Span().Start
	i := 0
	for i < len(timeline) && timeline[i].At.Before(start) {
		out.Before = timeline[i].Status
		i++
	}
	out.Days = DaysOf(timeline[i:], out.Before, q.Location)
	return out
}

// DayTime is one day's status time as it stands at a given now.
type DayTime struct {
	Date calendar.Date
	// Window is the day; its figures measure [Window.Start, min(Window.End, now)).
	Window calendar.Interval
	Time   StatusTime
	// Exact is false when the day holds a change after now (a change recorded ahead of time):
	// its figures then need the timeline itself.
	Exact bool
}

// DayWindow is one day of a span, in real time.
type DayWindow struct {
	Date calendar.Date
	calendar.Interval
}

// Windows are the days of q's span, oldest first.
func (q DaysQuery) Windows() []DayWindow {
	var out []DayWindow
	start := DayStart(q.First, q.Location)
	for d := q.First; !q.Last.Before(d); d = d.AddDays(1) {
		end := DayStart(d.AddDays(1), q.Location)
		out = append(out, DayWindow{Date: d, Interval: calendar.Interval{Start: start, End: end}})
		start = end
	}
	return out
}

// Spread is cd's status time for each day of q that has begun by now, oldest first: from the
// rows, and for a day without one, the whole day (up to now) in the status the previous row
// ended in. availability.Compute over the day (up to now) with this component's timeline and
// no maintenance counts the same time in each status (storetest checks it).
func (cd ComponentDays) Spread(q DaysQuery, now time.Time) []DayTime {
	return cd.SpreadOver(q.Windows(), now)
}

// SpreadOver is Spread over q.Windows(), computed once for many components.
func (cd ComponentDays) SpreadOver(days []DayWindow, now time.Time) []DayTime {
	return cd.AppendSpread(make([]DayTime, 0, len(days)), days, now)
}

// SumSpread is the sum of SpreadOver(days, now)'s status time, over all its days and over those
// from a date on, without making the days: a page without bars needs only the sums. exact is
// false when one of the days is not Exact.
func (cd ComponentDays) SumSpread(days []DayWindow, now time.Time, from calendar.Date) (all, since StatusTime, exact bool) {
	exact = true
	cur, rows := cd.Before, cd.Days
	for _, day := range days {
		d, w := day.Date, day.Interval
		if !w.Start.Before(now) {
			break
		}
		for len(rows) > 0 && rows[0].Date.Before(d) {
			cur, rows = rows[0].End, rows[1:]
		}
		var t StatusTime
		cut := max(w.End.Sub(now), 0)
		if len(rows) > 0 && rows[0].Date == d {
			row := rows[0]
			t = row.Time
			if cut > 0 {
				exact = exact && !row.LastAt.After(now)
				t.add(row.End, -cut)
			}
		} else {
			t.add(cur, w.Duration()-cut)
		}
		all.Plus(t)
		if !d.Before(from) {
			since.Plus(t)
		}
	}
	return all, since, exact
}

// Plus adds u's time to t's.
func (t *StatusTime) Plus(u StatusTime) {
	t.Up += u.Up
	t.Degraded += u.Degraded
	t.Partial += u.Partial
	t.Major += u.Major
	t.Unknown += u.Unknown
}

// AppendSpread is SpreadOver appending to out, so one buffer serves many components.
func (cd ComponentDays) AppendSpread(out []DayTime, days []DayWindow, now time.Time) []DayTime {
	cur, rows := cd.Before, cd.Days
	for _, day := range days {
		d, w := day.Date, day.Interval
		if !w.Start.Before(now) {
			break
		}
		for len(rows) > 0 && rows[0].Date.Before(d) {
			cur, rows = rows[0].End, rows[1:]
		}
		dt := DayTime{Date: d, Window: w, Exact: true}
		cut := max(w.End.Sub(now), 0) // the part of the day still to come
		if len(rows) > 0 && rows[0].Date == d {
			row := rows[0]
			dt.Time = row.Time
			if cut > 0 {
				dt.Exact = !row.LastAt.After(now)
				dt.Time.add(row.End, -cut)
			}
		} else {
			dt.Time.add(cur, w.Duration()-cut)
		}
		out = append(out, dt)
	}
	return out
}
