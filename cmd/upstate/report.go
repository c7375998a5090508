package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
)

// newReports builds the availability report service for a store and config, on the real clock.
func newReports(st store.Store, cfg *configs.Config) *engine.Reports {
	return newReportsOn(st, cfg, clockwork.NewRealClock())
}

// newReportsOn builds it on a given clock.
func newReportsOn(st store.Store, cfg *configs.Config, clock clockwork.Clock) *engine.Reports {
	return &engine.Reports{Store: st, Now: clock.Now, Objective: func(id string) engine.Objective {
		o := cfg.ObjectiveFor(id)
		return engine.Objective{ID: o.ID, Objective: o.Objective, Location: o.Location, Notice: o.Notice}
	}}
}

// report prints availability reports for a month.
func report(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "report -config FILE -month YYYY-MM [-component ID] [-format json|csv]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store and objectives")
	month := fs.String("month", "", "the calendar `month`, YYYY-MM, in each objective's zone (this month: so far)")
	comp := fs.String("component", "", "only this component's `id`")
	format := fs.String("format", "json", "json or csv")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	y, m, err := statuspage.ParseMonth(*month)
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: -month: %v\n", err)
		return 2
	}
	if *format != "json" && *format != "csv" {
		fmt.Fprintf(stderr, "upstate report: -format must be json or csv\n")
		return 2
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	clock := clockwork.NewRealClock()
	if err := writeReports(ctx, stdout, newReportsOn(st, cfg, clock), clock.Now(), y, m, *comp, *format); err != nil {
		if errors.Is(err, availability.ErrNotStarted) {
			err = fmt.Errorf("-month %s has not started: it has no figures yet", *month)
		}
		fmt.Fprintf(stderr, "upstate report: %v\n", err)
		return 1
	}
	return 0
}

// writeReports writes the month's reports (of one component, or of all) as they stand at now:
// the same figures as the API's and the page's at that instant.
func writeReports(ctx context.Context, w io.Writer, reps *engine.Reports, now time.Time, y int, m time.Month, componentID, format string) error {
	var list []engine.ComponentReport
	if componentID != "" {
		r, err := reps.Month(ctx, componentID, y, m, now)
		if err != nil {
			return err
		}
		list = append(list, r)
	} else {
		var err error
		if list, err = reps.AllMonth(ctx, y, m, now); err != nil {
			return err
		}
	}
	views := make([]statuspage.ReportView, len(list))
	for i, r := range list {
		views[i] = statuspage.ViewReport(r)
	}
	if format == "csv" {
		return statuspage.WriteReportsCSV(w, views)
	}
	return statuspage.WriteReportsJSON(w, views)
}
