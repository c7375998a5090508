package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/statuspage"
)

// TestOneFigureEverywhere drives every surface that shows availability from one store at one
// instant of a fake clock: the API (this month, and the month by name), the CLI's report, the
// metrics registry after the engine's tick, and the page's "this month" and today's bar. They
// must agree with each other to the second, and with an independent count, second by second,
// over March 2027 in America/Los_Angeles (743 h: the clocks spring forward on the 14th) with
// nightly maintenance announced in time (one night an hour short), a window announced too late,
// unknown time, outages of each weight, a change stored for a date still to come, and now in
// the middle of the month while the component is down.
func TestOneFigureEverywhere(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	lt := func(day, h, m, s int) time.Time { return time.Date(2027, time.March, day, h, m, s, 0, la) }
	now := lt(20, 15, 4, 5) // PDT
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "upstate.yaml")
	mustOK(t, os.WriteFile(cfgPath, []byte(`server:
  time_zone: America/Los_Angeles
storage:
  backend: sqlite
  sqlite:
    path: upstate.db
components:
  - id: api
    name: API
objectives:
  - id: la
    target: 99.5
    time_zone: America/Los_Angeles
    notice_period: 24h
`), 0o600))
	cfg, err := configs.Load(cfgPath)
	mustOK(t, err)
	ctx := t.Context()
	st, err := openStore(ctx, cfg)
	mustOK(t, err)
	t.Cleanup(func() { st.Close() })

	// The nightly window 01:00-03:00 is announced on Feb 25, in time; the 14:00-16:00 window on
	// March 10 only that morning, too late to count as maintenance.
	clock := clockwork.NewFakeClockAt(time.Date(2027, 2, 25, 0, 0, 0, 0, time.UTC))
	svc := service.New(service.Options{Store: st, Clock: clock})
	mustOK(t, svc.Components.Sync(ctx, cfg.ComponentList(clock.Now())))
	_, err = svc.Maintenance.Create(ctx, service.Actor{Name: "test"}, maintenance.Spec{ID: "nightly", Title: "Nightly", Components: []string{"api"},
		TimeZone: "America/Los_Angeles", Daily: true, StartTime: "01:00", EndTime: "03:00", FirstDate: "2027-03-01"})
	mustOK(t, err)
	clock.Advance(lt(10, 10, 0, 0).Sub(clock.Now()))
	_, err = svc.Maintenance.Create(ctx, service.Actor{Name: "test"}, maintenance.Spec{ID: "late", Title: "Late", Components: []string{"api"},
		TimeZone: "America/Los_Angeles", Start: lt(10, 14, 0, 0), End: lt(10, 16, 0, 0)})
	mustOK(t, err)
	clock.Advance(now.Sub(clock.Now()))

	timeline := []component.Change{
		{At: time.Date(2027, 2, 20, 0, 0, 0, 0, la), Status: component.Operational},
		{At: lt(2, 10, 0, 0), Status: component.MajorOutage}, {At: lt(2, 10, 45, 0), Status: component.Operational}, // 45 min
		{At: lt(5, 3, 0, 0), Status: component.Unknown}, {At: lt(5, 5, 0, 0), Status: component.Operational}, // 2 h without data
		{At: lt(9, 22, 0, 0), Status: component.PartialOutage}, {At: lt(10, 0, 0, 0), Status: component.Operational}, // 2 h x 0.3
		{At: lt(10, 14, 30, 0), Status: component.MajorOutage}, {At: lt(10, 15, 30, 0), Status: component.Operational}, // inside the late window: counts
		{At: lt(14, 1, 30, 0), Status: component.MajorOutage}, {At: lt(14, 3, 30, 0), Status: component.Operational}, // the short night: 30 min of it count
		{At: lt(20, 14, 0, 0), Status: component.DegradedPerformance}, // weight 0
		{At: lt(20, 15, 1, 0), Status: component.MajorOutage},         // down since 3 min 5 s before now
		{At: lt(22, 0, 0, 0), Status: component.Operational},          // stored for a day still to come: not counted
	}
	for _, ch := range timeline {
		ch.ComponentID = "api"
		mustOK(t, st.AppendStatus(ctx, ch))
	}

	// The independent count: each second's status from the list above, its maintenance from
	// time.Date in the zone (not the maintenance package).
	nightly := func(at time.Time) bool {
		l := at.In(la)
		return !at.Before(time.Date(l.Year(), l.Month(), l.Day(), 1, 0, 0, 0, la)) && at.Before(time.Date(l.Year(), l.Month(), l.Day(), 3, 0, 0, 0, la))
	}
	lateFrom, lateTo := lt(10, 14, 0, 0), lt(10, 16, 0, 0)
	type tally struct{ m, u, late, major, partial, degraded, down float64 }
	count := func(from, to time.Time) (c tally) {
		i, status := 0, component.Unknown
		for at := from; at.Before(to); at = at.Add(time.Second) {
			for i < len(timeline) && !timeline[i].At.After(at) {
				status = timeline[i].Status
				i++
			}
			switch {
			case nightly(at):
				c.m++
				continue
			case status == component.Unknown:
				c.u++
			case status == component.MajorOutage:
				c.major++
			case status == component.PartialOutage:
				c.partial++
			case status == component.DegradedPerformance:
				c.degraded++
			}
			if !at.Before(lateFrom) && at.Before(lateTo) {
				c.late++
			}
		}
		c.down = c.major + 0.3*c.partial
		return c
	}
	monthStart, monthEnd := time.Date(2027, 3, 1, 0, 0, 0, 0, la), time.Date(2027, 4, 1, 0, 0, 0, 0, la)
	total, elapsed := monthEnd.Sub(monthStart).Seconds(), now.Sub(monthStart).Seconds()
	c := count(monthStart, now)
	basis := elapsed - c.u
	budget := 0.005 * (total - c.u) // the whole month's: what is still to come counts in full
	burn := map[string]any{}
	for label, d := range map[string]time.Duration{"5m": 5 * time.Minute, "30m": 30 * time.Minute, "1h": time.Hour, "6h": 6 * time.Hour, "3d": 72 * time.Hour} {
		w := count(now.Add(-d), now)
		burn[label] = w.down / (d.Seconds() - w.m - w.u) / 0.005
	}
	// The report as JSON (numbers to float rounding: the written form rounds to the millisecond,
	// and every figure here is whole seconds or a ratio).
	want := map[string]any{"component_id": "api", "name": "API", "objective": "la", "start": "2027-03-01T00:00:00-08:00", "end": "2027-04-01T00:00:00-07:00",
		"time_zone": "America/Los_Angeles", "target": 0.995, "availability": 1 - c.down/basis, "complete": false, "met": nil, "on_track": c.down <= 0.005*basis,
		"total_seconds": total, "elapsed_seconds": elapsed, "eligible_seconds": basis, "down_seconds": c.down, "major_outage_seconds": c.major,
		"partial_outage_seconds": c.partial, "degraded_seconds": c.degraded, "maintenance_seconds": c.m, "unannounced_maintenance_seconds": c.late,
		"unknown_seconds": c.u, "budget_seconds": budget, "budget_remaining_seconds": budget - c.down, "incidents": []any{}, "burn_rates": burn,
		"burn_rates_at": now.UTC().Format(time.RFC3339)}
	// The figures this fixture was built to show (docs/availability.md quotes them).
	if total != 743*3600 || elapsed != 1692245 || c.m != 39*3600 || c.u != 7200 || c.late != 7200 || c.down != 10445 || budget != 13338 || want["on_track"] != false {
		t.Fatalf("the fixture moved: %+v, budget %v", c, budget)
	}

	// The API, the CLI, the engine and the page, on one store and one clock that does not move.
	reg := prometheus.NewRegistry()
	srv, err := statuspage.New(statuspage.Options{Store: st, Service: svc, Clock: clock, Registry: reg, Assets: assets.FS(), Version: "test",
		Page: statuspage.Page{Title: "Test", Location: cfg.Location}, Reports: newReportsOn(st, cfg, clock)})
	mustOK(t, err)
	get := func(path string) []byte {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	views := map[string]map[string]any{}
	for _, path := range []string{"/api/v1/components/api/availability", "/api/v1/components/api/availability?month=2027-03"} {
		var v map[string]any
		mustOK(t, json.Unmarshal(get(path), &v))
		views["API "+path] = v
	}
	var monthly struct{ Reports []map[string]any }
	mustOK(t, json.Unmarshal(get("/api/v1/reports/monthly?month=2027-03"), &monthly))
	views["API /api/v1/reports/monthly"] = monthly.Reports[0]
	var out bytes.Buffer
	mustOK(t, writeReports(ctx, &out, newReportsOn(st, cfg, clock), clock.Now(), 2027, time.March, "", "json"))
	var cli struct{ Reports []map[string]any }
	mustOK(t, json.Unmarshal(out.Bytes(), &cli))
	views["CLI report"] = cli.Reports[0]
	for name, got := range views {
		for _, d := range diffJSON("", got, want) {
			t.Errorf("%s: %s", name, d)
		}
	}

	eng, err := engine.New(engine.Options{Store: st, Clock: clock, Registerer: reg, Reports: newReportsOn(st, cfg, clock)})
	mustOK(t, err)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	var gauges map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) { // the first tick runs as the engine starts
		if gauges = gather(t, reg); len(gauges) == 9 || time.Now().After(deadline) {
			break
		}
	}
	wantGauges := map[string]float64{
		`upstate_availability_ratio{component="api",period="month"}`:             1 - c.down/basis,
		`upstate_availability_eligible_seconds{component="api",period="month"}`:  basis,
		`upstate_error_budget_seconds{component="api",period="month"}`:           budget,
		`upstate_error_budget_remaining_seconds{component="api",period="month"}`: budget - c.down,
	}
	for label, rate := range burn {
		wantGauges[`upstate_error_budget_burn_rate{component="api",window="`+label+`"}`] = rate.(float64)
	}
	if len(gauges) != len(wantGauges) {
		t.Errorf("gauges %v, want %v", gauges, wantGauges)
	}
	for k, w := range wantGauges {
		if g, ok := gauges[k]; !ok || !near(g, w) {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}

	// The page: this month (percent floored to 0.01 %, never rounded up; budget left to the
	// minute) and today's bar, which stops at now.
	page := string(get("/"))
	today := count(lt(20, 0, 0, 0), now)
	todayAvail := 1 - today.down/(now.Sub(lt(20, 0, 0, 0)).Seconds()-today.u)
	for _, s := range []string{
		fmt.Sprintf("This month %s (target 99.5%%), %d min of budget left", floorPercent(1-c.down/basis), int(math.Round((budget-c.down)/60))),
		fmt.Sprintf(`title="20 Mar: %s up, 3 min down, 2 h maintenance"`, floorPercent(todayAvail)),
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if strings.Contains(page, `title="21 Mar:`) {
		t.Error("the page shows a bar for tomorrow")
	}

	// On the eligible basis the maintenance so far leaves the budget, that still to come not
	// yet: 12,636 s now, 12,240 s once the month's 61 h of maintenance have happened.
	el := newReportsOn(st, cfg, clock)
	objective := el.Objective
	el.Objective = func(id string) engine.Objective {
		o := objective(id)
		o.Objective.Basis = availability.BasisEligible
		return o
	}
	r, err := el.MonthOf(ctx, "api", now)
	mustOK(t, err)
	if r.Basis != time.Duration(basis-c.m)*time.Second || r.Budget != 12636*time.Second {
		t.Errorf("eligible basis now: B %s, budget %s", r.Basis, r.Budget)
	}
	if r, err = el.Month(ctx, "api", 2027, time.March, monthEnd); err != nil || r.Maintenance != 61*time.Hour || r.Budget != 12240*time.Second {
		t.Errorf("eligible basis at the month's end: M %s, budget %s (%v)", r.Maintenance, r.Budget, err)
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// diffJSON lists where got differs from want, numbers compared to float rounding.
func diffJSON(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s = %v, want an object", path, got)}
		}
		var out []string
		for k := range g {
			if _, ok := w[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s = %v, not wanted", path, k, g[k]))
			}
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s missing, want %v", path, k, v))
				continue
			}
			out = append(out, diffJSON(path+"."+k, gv, v)...)
		}
		slices.Sort(out)
		return out
	case float64:
		if g, ok := got.(float64); !ok || !near(g, w) {
			return []string{fmt.Sprintf("%s = %v, want %v", path, got, w)}
		}
		return nil
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s = %v, want %v", path, got, want)}
	}
	return nil
}

// floorPercent writes a ratio as the page does: floored to 0.01 %, trailing zeros dropped.
func floorPercent(r float64) string {
	p := math.Floor(r*10000) / 100
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".") + "%"
}

// gather reads the availability, budget and burn-rate series of a registry.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	mustOK(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "upstate_availability_") && !strings.HasPrefix(mf.GetName(), "upstate_error_budget_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			slices.Sort(labels)
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}
