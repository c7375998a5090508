// Package pageseed makes the store of the page benchmarks (cmd pageload, and the statuspage
// package's BenchmarkPageAtScale): many components in groups with 90 days of status history,
// years of resolved incidents, a few with a thousand updates, open incidents and a nightly
// maintenance window.
package pageseed

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// Options size the store.
type Options struct {
	Components   int
	Groups       int // the components are spread over (0: one per ten components)
	Incidents    int // resolved incidents of history, spread over HistoryDays, each on one to three components
	HistoryDays  int // how far back the incident history goes (0: 1,000)
	BigIncidents int // incidents with BigUpdates updates each; the newest stays open
	BigUpdates   int // 0: 1,000
}

// Records makes the records of the benchmark's store: o.Components components in o.Groups
// groups, each operational for 100 days with about five outages, three open incidents, a
// nightly maintenance window on the first two components, o.Incidents resolved incidents over
// the last o.HistoryDays days (one to three components each, three updates), and
// o.BigIncidents incidents with o.BigUpdates updates each, the newest of them open. The caller
// writes them in batches (Import), not through the service: the benchmarks measure reads. The
// same options and now give the same records.
func Records(o Options, now time.Time, sh *time.Location) ([]store.Record, error) {
	if o.Groups <= 0 {
		o.Groups = (o.Components + 9) / 10
	}
	if o.HistoryDays <= 0 {
		o.HistoryDays = 1000
	}
	if o.BigUpdates <= 0 {
		o.BigUpdates = 1000
	}
	r := rand.New(rand.NewPCG(1, 2))
	var records []store.Record
	n, perGroup := o.Components, (o.Components+o.Groups-1)/o.Groups
	for g := 0; g*perGroup < n; g++ {
		gid := fmt.Sprintf("group-%d", g)
		grp := component.Component{ID: gid, Name: fmt.Sprintf("Service group %d", g), IsGroup: true, Position: g * (perGroup + 1), Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
		records = append(records, store.Record{Type: store.RecordComponent, Component: &grp})
		for i := 0; i < perGroup && g*perGroup+i < n; i++ {
			id := fmt.Sprintf("c-%d", g*perGroup+i)
			c := component.Component{ID: id, Name: fmt.Sprintf("Component %d", g*perGroup+i), Description: "A component of the benchmark.", GroupID: gid,
				Position: g*(perGroup+1) + i + 1, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
			records = append(records, store.Record{Type: store.RecordComponent, Component: &c})
			at := now.Add(-100 * 24 * time.Hour)
			records = append(records, store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: at, Status: component.Operational}})
			for range 5 {
				down := now.Add(-time.Duration(r.Int64N(int64(90 * 24 * time.Hour))))
				st := []component.Status{component.MajorOutage, component.PartialOutage, component.DegradedPerformance}[r.IntN(3)]
				records = append(records,
					store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: down, Status: st, Reason: "bench"}},
					store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: down.Add(time.Duration(5+r.IntN(120)) * time.Minute), Status: component.Operational, Reason: "bench"}})
			}
		}
	}
	w := maintenance.Window{ID: "nightly", Title: "Nightly releases", Components: []string{"c-0", "c-1"}, TimeZone: "Asia/Shanghai", Rule: "FREQ=DAILY",
		StartClock: 20 * 60, EndClock: 8 * 60, AnnouncedAt: now.Add(-120 * 24 * time.Hour), Source: "api", CreatedAt: now, UpdatedAt: now}
	w.FirstDate = calendar.DateOf(now.Add(-100*24*time.Hour), sh)
	if errs := w.Prepare(); len(errs) > 0 {
		return nil, fmt.Errorf("window: %v", errs[0])
	}
	records = append(records, store.Record{Type: store.RecordWindow, Window: &w})
	for i := range 3 {
		inc, errs := incidents.Declare(incidents.Declaration{ID: fmt.Sprintf("inc-%d", i), Title: fmt.Sprintf("Elevated errors %d", i), Body: "We are **investigating**.",
			Severity: incidents.P2, Components: []incidents.Affected{{ComponentID: fmt.Sprintf("c-%d", i*7%n), Impact: component.DegradedPerformance}}}, nil, now)
		if len(errs) > 0 {
			return nil, fmt.Errorf("incident: %v", errs[0])
		}
		inc.Version = 1
		records = append(records, store.Record{Type: store.RecordIncident, Incident: &inc})
	}
	impacts := []component.Status{component.DegradedPerformance, component.PartialOutage, component.MajorOutage}
	history := time.Duration(o.HistoryDays) * 24 * time.Hour
	for i := range o.Incidents + o.BigIncidents {
		big := i >= o.Incidents
		started := now.Add(-time.Hour - time.Duration(r.Int64N(int64(history))))
		if big { // the big ones are recent, the newest still open
			started = now.Add(-time.Duration(o.BigIncidents-(i-o.Incidents)) * 24 * time.Hour)
		}
		var affected []incidents.Affected
		for range 1 + r.IntN(3) {
			id := fmt.Sprintf("c-%d", r.IntN(n))
			if !slices.ContainsFunc(affected, func(a incidents.Affected) bool { return a.ComponentID == id }) {
				affected = append(affected, incidents.Affected{ComponentID: id, Impact: impacts[r.IntN(3)]})
			}
		}
		id := fmt.Sprintf("h-%d", i)
		if big {
			id = fmt.Sprintf("big-%d", i-o.Incidents)
		}
		inc, errs := incidents.Declare(incidents.Declaration{ID: id, Title: fmt.Sprintf("Elevated error rates on %d services", len(affected)),
			Body: "We are **investigating** reports of errors.", Severity: incidents.Severities[r.IntN(4)], Components: affected, Author: "sre"}, nil, started)
		if len(errs) > 0 {
			return nil, fmt.Errorf("incident %s: %v", id, errs[0])
		}
		updates := 1
		if big {
			updates = o.BigUpdates - 2
		}
		at := started
		for u := range updates {
			at = at.Add(time.Duration(1+r.IntN(10)) * time.Minute)
			status := incidents.Identified
			if u == updates-1 && !big {
				status = incidents.Monitoring
			}
			if errs := inc.Apply(incidents.Change{Author: "sre", Body: fmt.Sprintf("Update %d: we have **identified** the cause and are working on a fix.", u+1), Status: status}, nil, at); len(errs) > 0 {
				return nil, fmt.Errorf("incident %s update: %v", id, errs[0])
			}
		}
		if !big || i < o.Incidents+o.BigIncidents-1 {
			if err := inc.Resolve("sre", "", at.Add(time.Duration(5+r.IntN(240))*time.Minute)); err != nil {
				return nil, err
			}
		}
		inc.Version = len(inc.Updates)
		records = append(records, store.Record{Type: store.RecordIncident, Incident: &inc})
	}
	if len(records) == 0 {
		return nil, errors.New("nothing to seed")
	}
	return records, nil
}
