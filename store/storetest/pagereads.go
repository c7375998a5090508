package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// Reads for the page: incidents' heads and indexed lists, daily status aggregates.

// testIncidentIndexes writes a history of incidents (updates, resolutions, reopenings,
// components that change) and checks every indexed read against the whole set filtered by
// IncidentQuery.Matches: ListIncidents and ListIncidentHeads agree with it for each shape of
// query the surfaces make, and each head is HeadOf the stored incident.
func testIncidentIndexes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := rand.New(rand.NewPCG(14, 2))
	comps := []string{"api", "db", "web", "queue"}
	all := map[string]incidents.Incident{}
	for i := range 24 {
		opened := t0.Add(time.Duration(r.IntN(60*24)) * time.Minute)
		id := fmt.Sprintf("inc-%02d", i)
		inc := incidents.Incident{ID: id, Title: "Incident " + id, Severity: incidents.Severities[r.IntN(4)], Status: incidents.Investigating,
			OpenedAt: opened, StartedAt: opened.Add(-time.Duration(r.IntN(120)) * time.Minute), Clocks: []incidents.Clock{}, UpdatedAt: opened,
			Components: []incidents.Affected{{ComponentID: comps[r.IntN(4)], Impact: component.MajorOutage}}}
		if i%7 == 3 { // two incidents at one instant: ordered by id
			inc.OpenedAt = all["inc-00"].OpenedAt
		}
		inc.Updates = []incidents.Update{{ID: id + "-1", At: inc.OpenedAt, Status: incidents.Investigating, Body: "Looking."}}
		if err := s.CreateIncident(ctx, inc, audit("incident.declare", "incident/"+id)); err != nil {
			t.Fatal(err)
		}
		inc.Version = 1
		// A few updates (some incidents many more than a head keeps), perhaps new components,
		// perhaps resolved, perhaps reopened.
		n := r.IntN(4)
		if i%10 == 0 {
			n = store.HeadUpdates + 5
		}
		at := inc.OpenedAt
		for u := range n {
			at = at.Add(time.Duration(1+r.IntN(30)) * time.Minute)
			inc.Updates = append(inc.Updates, incidents.Update{ID: fmt.Sprintf("%s-%d", id, u+2), At: at, Status: incidents.Identified, Body: fmt.Sprintf("Update %d.", u+2)})
			if r.IntN(3) == 0 {
				inc.Components = []incidents.Affected{{ComponentID: comps[r.IntN(4)], Impact: component.PartialOutage}, {ComponentID: comps[r.IntN(4)], Impact: component.DegradedPerformance}}
			}
			inc.Version++
			if err := s.UpdateIncident(ctx, inc, audit("incident.update", "incident/"+id)); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(3) > 0 {
			inc.Status, inc.ResolvedAt, inc.Version = incidents.Resolved, at.Add(time.Duration(1+r.IntN(300))*time.Minute), inc.Version+1
			if err := s.UpdateIncident(ctx, inc, audit("incident.resolve", "incident/"+id)); err != nil {
				t.Fatal(err)
			}
			if r.IntN(4) == 0 {
				inc.Status, inc.ResolvedAt, inc.Version = incidents.Investigating, time.Time{}, inc.Version+1
				if err := s.UpdateIncident(ctx, inc, audit("incident.reopen", "incident/"+id)); err != nil {
					t.Fatal(err)
				}
			}
		}
		stored, err := s.GetIncident(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		all[id] = stored
	}
	want := func(q store.IncidentQuery) []string {
		var list []incidents.Incident
		for _, inc := range all {
			if q.Matches(inc) {
				list = append(list, inc)
			}
		}
		slices.SortFunc(list, func(a, b incidents.Incident) int {
			if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		var ids []string
		for _, inc := range list[:min(len(list), q.EffectiveLimit())] {
			ids = append(ids, inc.ID)
		}
		return ids
	}
	day := t0.Add(12 * time.Hour)
	queries := []store.IncidentQuery{
		{}, {Limit: 5}, {OpenOnly: true}, {OpenOnly: true, Limit: 3}, {ResolvedOnly: true}, {Severity: incidents.P1},
		{ComponentID: "api"}, {ComponentID: "db", Limit: 2}, {ComponentID: "web", Until: day}, {OpenOnly: true, ComponentID: "queue"},
		{Since: day, Until: day.Add(6 * time.Hour)},
		{ActiveFrom: day, ActiveBefore: day.Add(24 * time.Hour)}, {ActiveFrom: day, ActiveBefore: day.Add(24 * time.Hour), Until: day.Add(12 * time.Hour)},
		{ActiveFrom: day.Add(-90 * 24 * time.Hour), ActiveBefore: day.Add(2 * 24 * time.Hour), Limit: 4},
		{StartedFrom: day, StartedBefore: day.Add(12 * time.Hour)}, {StartedFrom: t0, StartedBefore: day},
	}
	for _, w := range [][2]time.Time{{day, day.Add(24 * time.Hour)}, {day.Add(-90 * 24 * time.Hour), day.Add(2 * 24 * time.Hour)}, {day.Add(30 * time.Hour), day.Add(31 * time.Hour)}} {
		checkSpans(t, s, all, w[0], w[1])
	}
	for _, q := range queries {
		wantIDs := want(q)
		list, err := s.ListIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		heads, err := s.ListIncidentHeads(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got, gotHeads []string
		for _, inc := range list {
			got = append(got, inc.ID)
			if !incidentsEqual(inc, all[inc.ID]) {
				t.Errorf("ListIncidents(%+v) returned %s unlike GetIncident", q, inc.ID)
			}
		}
		for _, h := range heads {
			gotHeads = append(gotHeads, h.ID)
			if w := store.HeadOf(all[h.ID]); !incidentsEqual(h.Incident, w.Incident) || h.UpdateCount != w.UpdateCount || len(h.Updates) > store.HeadUpdates {
				t.Errorf("head of %s = %d of %d updates, want HeadOf the stored incident (%d of %d)", h.ID, len(h.Updates), h.UpdateCount, len(w.Updates), w.UpdateCount)
			}
		}
		if !slices.Equal(got, wantIDs) || !slices.Equal(gotHeads, wantIDs) {
			t.Errorf("query %+v:\n ListIncidents     %v\n ListIncidentHeads %v\n want              %v", q, got, gotHeads, wantIDs)
		}
	}
}

// checkSpans compares IncidentSpans with every stored incident's span that overlaps.
func checkSpans(t *testing.T, s store.Store, all map[string]incidents.Incident, from, to time.Time) {
	t.Helper()
	var want []string
	for _, inc := range all {
		if sp := store.SpanOf(inc); sp.Overlaps(from, to) {
			want = append(want, string(store.MustJSON(sp)))
		}
	}
	spans, err := s.IncidentSpans(t.Context(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range spans {
		got = append(got, string(store.MustJSON(sp)))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("IncidentSpans(%s, %s):\n got  %v\n want %v", from, to, got, want)
	}
}

func incidentsEqual(a, b incidents.Incident) bool {
	return string(store.MustJSON(a)) == string(store.MustJSON(b))
}

// dayObjective is the one the daily aggregates are compared under.
var dayObjective = availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights}

// testStatusDays appends random timelines (backdated changes, several at one instant, changes on
// the zone's midnights, both nights of daylight-saving changes in Los Angeles), some before the
// store keeps the zone and some after, and checks that every day's status time read from the
// aggregates (StatusDays, spread over the days) is what availability.Compute gives for that day
// from the timeline, in the kept zone and in one not kept.
func testStatusDays(t *testing.T, s store.Store) {
	ctx := t.Context()
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Days around both of 2026's changes in Los Angeles (8 March, 1 November), Berlin's
	// (29 March, 25 October) inside them.
	q := store.DaysQuery{Location: la, First: calendar.Date{Year: 2026, Month: time.March, Day: 5}, Last: calendar.Date{Year: 2026, Month: time.November, Day: 3}}
	span := q.Span()
	now := span.End.Add(-7 * time.Hour) // the last day is under way
	r := rand.New(rand.NewPCG(6, 14))
	statuses := []component.Status{component.Operational, component.DegradedPerformance, component.PartialOutage, component.MajorOutage, component.Unknown, component.UnderMaintenance}
	var ids []string
	var changes []component.Change
	for c := range 6 {
		id := fmt.Sprintf("days-%d", c)
		ids = append(ids, id)
		mustCreate(t, s, newComponent(id, c))
		if c == 5 {
			continue // never a change: no data, every day
		}
		n := 40 + r.IntN(40)
		if c == 4 {
			n = 2 // a component that changed twice in eight months
		}
		for range n {
			var at time.Time
			switch r.IntN(5) {
			case 0: // a local midnight, around the changes of offset too
				d := calendar.Date{Year: 2026, Month: time.Month(3 + r.IntN(8)), Day: 1 + r.IntN(28)}
				if r.IntN(2) == 0 {
					d = []calendar.Date{{Year: 2026, Month: time.March, Day: 8}, {Year: 2026, Month: time.March, Day: 9}, {Year: 2026, Month: time.November, Day: 1}, {Year: 2026, Month: time.November, Day: 2}}[r.IntN(4)]
				}
				at = store.DayStart(d, la)
			case 1: // before the span
				at = span.Start.Add(-time.Duration(r.Int64N(int64(10 * 24 * time.Hour))))
			default:
				at = span.Start.Add(time.Duration(r.Int64N(int64(now.Sub(span.Start)))))
			}
			at = at.Truncate(time.Millisecond)
			ch := component.Change{ComponentID: id, At: at, Status: statuses[r.IntN(len(statuses))], Reason: fmt.Sprintf("r%d", r.IntN(3))}
			changes = append(changes, ch)
			if r.IntN(6) == 0 { // another at the same instant
				changes = append(changes, component.Change{ComponentID: id, At: at, Status: statuses[r.IntN(len(statuses))], Reason: "tie"})
			}
		}
	}
	// A change recorded ahead of time, later today: today is not exact for that component.
	future := component.Change{ComponentID: "days-0", At: now.Add(2 * time.Hour).Truncate(time.Millisecond), Status: component.MajorOutage, Reason: "ahead"}
	r.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
	half := len(changes) / 2
	for i, ch := range append(changes, future) {
		if i == half {
			// Keep the zone half way: the first half is built at once, the rest kept as it comes.
			if err := s.KeepStatusDays(ctx, la); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 { // an identical change again: nothing changes
			if err := s.AppendStatus(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.KeepStatusDays(ctx, la); err != nil { // the zone kept already: nothing to do
		t.Fatal(err)
	}
	// A component made after the zone was kept: its rows are made with its first change.
	ids = append(ids, "days-new")
	mustCreate(t, s, newComponent("days-new", 9))
	for i := range 30 {
		at := now.Add(-time.Duration(r.Int64N(int64(now.Sub(span.Start))))).Truncate(time.Millisecond)
		if err := s.AppendStatus(ctx, component.Change{ComponentID: "days-new", At: at, Status: statuses[i%len(statuses)]}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(q store.DaysQuery) {
		t.Helper()
		q.ComponentIDs = ids
		got, err := s.StatusDays(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) {
			t.Fatalf("StatusDays: %d components, want %d", len(got), len(ids))
		}
		span := q.Span()
		days := 0
		for i, cd := range got {
			if cd.ComponentID != ids[i] {
				t.Fatalf("StatusDays[%d] is %s, want %s", i, cd.ComponentID, ids[i])
			}
			timeline, err := s.StatusTimeline(ctx, cd.ComponentID, span.Start, span.End)
			if err != nil {
				t.Fatal(err)
			}
			spread := cd.Spread(q, now)
			var sumAll, sumSince store.StatusTime
			sumExact, from := true, q.First.AddDays(len(spread)/2)
			for _, dt := range spread {
				sumAll.Plus(dt.Time)
				if !dt.Date.Before(from) {
					sumSince.Plus(dt.Time)
				}
				sumExact = sumExact && dt.Exact
			}
			if all, since, exact := cd.SumSpread(q.Windows(), now, from); all != sumAll || since != sumSince || exact != sumExact {
				t.Errorf("%s in %s: SumSpread from %s gives %+v, %+v, %v; the sums of Spread %+v, %+v, %v", cd.ComponentID, q.Location, from, all, since, exact, sumAll, sumSince, sumExact)
			}
			for _, dt := range spread {
				days++
				wantExact := !(cd.ComponentID == future.ComponentID && dt.Window.Contains(future.At))
				if dt.Exact != wantExact {
					t.Errorf("%s %s in %s: Exact = %v, want %v", cd.ComponentID, dt.Date, q.Location, dt.Exact, wantExact)
				}
				if !dt.Exact {
					continue
				}
				rep, err := availability.Compute(dt.Window, now, timeline, nil, nil, dayObjective)
				if err != nil {
					t.Fatal(err)
				}
				up := rep.Elapsed - rep.Unknown - rep.MajorOutage - rep.PartialOut - rep.Degraded
				w := dayObjective.Weights
				down := time.Duration(math.Round(w.MajorOutage*float64(dt.Time.Major) + w.PartialOutage*float64(dt.Time.Partial) + w.DegradedPerformance*float64(dt.Time.Degraded)))
				if dt.Time.Unknown != rep.Unknown || dt.Time.Major != rep.MajorOutage || dt.Time.Partial != rep.PartialOut || dt.Time.Degraded != rep.Degraded ||
					dt.Time.Up != up || down != rep.Down || dt.Time.Total() != rep.Elapsed {
					t.Errorf("%s %s in %s (%s long): aggregate %+v (down %s), availability.Compute unknown %s major %s partial %s degraded %s up %s down %s",
						cd.ComponentID, dt.Date, q.Location, dt.Window.Duration(), dt.Time, down, rep.Unknown, rep.MajorOutage, rep.PartialOut, rep.Degraded, up, rep.Down)
				}
			}
		}
		if days == 0 {
			t.Fatal("no day compared")
		}
	}
	check(q)
	// Short spans (the first days and the last), and a zone not kept (from the timelines).
	check(store.DaysQuery{Location: la, First: q.First, Last: q.First.AddDays(3)})
	check(store.DaysQuery{Location: la, First: q.Last.AddDays(-2), Last: q.Last})
	check(store.DaysQuery{Location: berlin, First: calendar.Date{Year: 2026, Month: time.March, Day: 27}, Last: calendar.Date{Year: 2026, Month: time.October, Day: 27}})
	// The spring day is 23 hours long and the autumn one 25: both were compared above.
	for _, d := range []calendar.Date{{Year: 2026, Month: time.March, Day: 8}, {Year: 2026, Month: time.November, Day: 1}} {
		if l := store.DayStart(d.AddDays(1), la).Sub(store.DayStart(d, la)); l == 24*time.Hour {
			t.Errorf("%s in Los Angeles is %s long: not a change of offset", d, l)
		}
	}
	// Moving the aggregates to another zone builds them there; the old zone is then read from
	// the timelines, with the same figures.
	if err := s.KeepStatusDays(ctx, berlin); err != nil {
		t.Fatal(err)
	}
	check(store.DaysQuery{Location: berlin, First: calendar.Date{Year: 2026, Month: time.March, Day: 27}, Last: calendar.Date{Year: 2026, Month: time.October, Day: 27}})
	check(q)
}

// testStatusDaysImport imports timelines into a store that keeps a zone: their aggregates are
// built with them.
func testStatusDaysImport(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	la, _ := time.LoadLocation("America/Los_Angeles")
	mustCreate(t, from, newComponent("api", 1))
	for i, st := range []component.Status{component.Operational, component.MajorOutage, component.Operational, component.PartialOutage} {
		if err := from.AppendStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(time.Duration(i*7) * time.Hour), Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	var records []store.Record
	if err := from.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := to.KeepStatusDays(ctx, la); err != nil {
		t.Fatal(err)
	}
	if err := to.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	q := store.DaysQuery{Location: la, First: calendar.DateOf(t0, la).AddDays(-1), Last: calendar.DateOf(t0, la).AddDays(2), ComponentIDs: []string{"api"}}
	for _, s := range []store.Store{from, to} {
		got, err := s.StatusDays(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		tl, err := s.StatusTimeline(ctx, "api", q.Span().Start, q.Span().End)
		if err != nil {
			t.Fatal(err)
		}
		if want := store.DaysFromTimeline("api", tl, q); fmt.Sprint(got[0]) != fmt.Sprint(want) || len(want.Days) != 2 {
			t.Errorf("StatusDays after import = %+v, want %+v", got[0], want)
		}
	}
}
