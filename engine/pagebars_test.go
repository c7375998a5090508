package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// TestPageBarsAreBars holds PageBars, which reads the daily aggregates, equal to Bars, which
// reads each component's timeline, field by field, for random timelines over 90 days that hold
// the spring change in Los Angeles (the page's zone): with nightly maintenance announced in
// time and a window announced too late, open and resolved incidents, objectives in the page's
// zone and in another (Shanghai), on the eligible basis, with other weights, a component
// without data, and a change recorded ahead of now; with the aggregates kept in the page's zone
// and not kept (read from the timelines).
func TestPageBarsAreBars(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 34, 56, 789_000_000, la)
	st := OpenStoreForTest(t)
	r := rand.New(rand.NewPCG(14, 90))
	statuses := []component.Status{component.Operational, component.Operational, component.DegradedPerformance, component.PartialOutage,
		component.MajorOutage, component.Unknown, component.UnderMaintenance}
	var records []store.Record
	var ids []string
	for c := range 8 {
		id := fmt.Sprintf("c%d", c)
		ids = append(ids, id)
		comp := component.Component{ID: id, Name: "Component " + id, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
		records = append(records, store.Record{Type: store.RecordComponent, Component: &comp})
		if c == 7 {
			continue // no data at all
		}
		for range 70 {
			at := now.Add(-time.Duration(r.Int64N(int64(100 * 24 * time.Hour)))).Truncate(time.Millisecond)
			if r.IntN(6) == 0 { // on a local midnight
				at = calendar.Local(calendar.DateOf(at, la), 0, la)
			}
			ch := component.Change{ComponentID: id, At: at, Status: statuses[r.IntN(len(statuses))], Reason: fmt.Sprint(r.IntN(2))}
			records = append(records, store.Record{Type: store.RecordStatus, Status: &ch})
		}
	}
	ahead := component.Change{ComponentID: "c1", At: now.Add(time.Hour), Status: component.MajorOutage, Reason: "ahead"}
	records = append(records, store.Record{Type: store.RecordStatus, Status: &ahead})
	window := func(w maintenance.Window) *maintenance.Window {
		w.Source, w.CreatedAt, w.UpdatedAt = "api", w.AnnouncedAt, w.AnnouncedAt
		if errs := w.Prepare(); len(errs) > 0 {
			t.Fatalf("window %s: %v", w.ID, errs[0])
		}
		return &w
	}
	for _, w := range []*maintenance.Window{
		window(maintenance.Window{ID: "nightly", Title: "Nightly", Components: []string{"c0", "c5"}, TimeZone: "America/Los_Angeles", Rule: "FREQ=DAILY",
			FirstDate: calendar.DateOf(now.Add(-120*24*time.Hour), la), StartClock: 22 * 60, EndClock: 2 * 60, AnnouncedAt: now.Add(-200 * 24 * time.Hour)}),
		window(maintenance.Window{ID: "late", Title: "Late", Components: []string{"c1", "c6", "c0"}, TimeZone: "America/Los_Angeles",
			Start: now.Add(-20 * 24 * time.Hour), End: now.Add(-18 * 24 * time.Hour), AnnouncedAt: now.Add(-20*24*time.Hour - time.Hour)}),
		window(maintenance.Window{ID: "shanghai", Title: "Shanghai", Components: []string{"c4"}, TimeZone: "Asia/Shanghai", Rule: "FREQ=WEEKLY;BYDAY=MO",
			FirstDate: calendar.DateOf(now.Add(-120*24*time.Hour), sh), StartClock: 2 * 60, Duration: 90 * time.Minute, AnnouncedAt: now.Add(-200 * 24 * time.Hour)}),
	} {
		records = append(records, store.Record{Type: store.RecordWindow, Window: w})
	}
	for i := range 40 {
		started := now.Add(-time.Duration(r.Int64N(int64(95 * 24 * time.Hour)))).Truncate(time.Millisecond)
		affected := []incidents.Affected{{ComponentID: ids[r.IntN(7)], Impact: component.MajorOutage}}
		if r.IntN(3) == 0 {
			affected = append(affected, incidents.Affected{ComponentID: ids[r.IntN(7)], Impact: component.PartialOutage})
			if affected[1].ComponentID == affected[0].ComponentID {
				affected = affected[:1]
			}
		}
		inc, errs := incidents.Declare(incidents.Declaration{ID: fmt.Sprintf("inc-%02d", i), Title: fmt.Sprintf("Incident %d", i), Severity: incidents.P2,
			Components: affected}, nil, started)
		if len(errs) > 0 {
			t.Fatal(errs[0])
		}
		if i%5 != 0 { // most resolved, within hours or days
			if err := inc.Resolve("sre", "", started.Add(time.Duration(1+r.Int64N(int64(72*time.Hour))))); err != nil {
				t.Fatal(err)
			}
		}
		inc.Version = len(inc.Updates)
		records = append(records, store.Record{Type: store.RecordIncident, Incident: &inc})
	}
	if err := st.Import(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	objectives := map[string]Objective{}
	for _, id := range ids {
		o := availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights}
		loc := la
		switch id {
		case "c4":
			loc = sh
		case "c5":
			o.Basis, o.Target = availability.BasisEligible, 0.999
		case "c6":
			o.Weights = availability.Weights{MajorOutage: 1, PartialOutage: 0.5, DegradedPerformance: 0.1}
		}
		objectives[id] = Objective{ID: "o-" + id, Objective: o, Location: loc, Notice: 24 * time.Hour}
	}
	reports := &Reports{Store: st, Now: func() time.Time { return now }, Objective: func(id string) Objective { return objectives[id] }}
	compare := func(label string) {
		t.Helper()
		for _, withDays := range []bool{true, false} {
			page, err := reports.PageBars(t.Context(), ids, la, now, 90, withDays)
			if err != nil {
				t.Fatal(err)
			}
			captions := 0
			for _, id := range ids {
				want, err := reports.Bars(t.Context(), id, la, now, 90)
				if err != nil {
					t.Fatal(err)
				}
				if !withDays {
					want.Days = nil
				}
				got := page[id]
				if len(got.Days) != len(want.Days) {
					t.Fatalf("%s, %s: %d days, want %d", label, id, len(got.Days), len(want.Days))
				}
				for i := range want.Days {
					if g, w := fmt.Sprintf("%+v", got.Days[i]), fmt.Sprintf("%+v", want.Days[i]); g != w {
						t.Errorf("%s, %s, %s:\n PageBars %s\n Bars     %s", label, id, want.Days[i].Date, g, w)
					}
					captions += len(want.Days[i].Incidents)
				}
				got.Days, want.Days = nil, nil
				if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
					t.Errorf("%s, %s, span and month:\n PageBars %s\n Bars     %s", label, id, g, w)
				}
			}
			if withDays && captions == 0 {
				t.Errorf("%s: no day lists an incident: the test does not test captions", label)
			}
		}
	}
	compare("not kept")
	if err := st.KeepStatusDays(t.Context(), la); err != nil {
		t.Fatal(err)
	}
	compare("kept in the page's zone")
}
