package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
)

// newReports builds the availability report service for a store and config.
func newReports(st store.Store, cfg *configs.Config) *engine.Reports {
	return &engine.Reports{Store: st, Now: time.Now, Objective: func(id string) engine.Objective {
		o := cfg.ObjectiveFor(id)
		return engine.Objective{ID: o.ID, Objective: o.Objective, Location: o.Location, Notice: o.Notice}
	}}
}

// report prints availability reports for a month.
func report(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "report -config FILE -month YYYY-MM [-component ID] [-format json|csv]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store and objectives")
	month := fs.String("month", "", "the calendar `month`, YYYY-MM, in each objective's zone")
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
	reps := newReports(st, cfg)
	var list []engine.ComponentReport
	if *comp != "" {
		r, err := reps.Month(ctx, *comp, y, m)
		if err != nil {
			fmt.Fprintf(stderr, "upstate report: %v\n", err)
			return 1
		}
		list = append(list, r)
	} else if list, err = reps.AllMonth(ctx, y, m); err != nil {
		fmt.Fprintf(stderr, "upstate report: %v\n", err)
		return 1
	}
	views := make([]statuspage.ReportView, len(list))
	for i, r := range list {
		views[i] = statuspage.ViewReport(r)
	}
	if *format == "csv" {
		err = statuspage.WriteReportsCSV(stdout, views)
	} else {
		err = statuspage.WriteReportsJSON(stdout, views)
	}
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: %v\n", err)
		return 1
	}
	return 0
}
