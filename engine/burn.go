package engine

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/events"
)

// EventBurnRate is published when a component starts burning its error budget fast enough to
// fire one of the SRE Workbook's multiwindow alerts.
const EventBurnRate = events.BudgetBurn

type availabilityMetrics struct {
	ratio  *prometheus.GaugeVec
	budget *prometheus.GaugeVec
	burn   *prometheus.GaugeVec
}

func newAvailabilityMetrics(reg prometheus.Registerer) *availabilityMetrics {
	m := &availabilityMetrics{
		ratio: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_availability_ratio", Help: "Availability so far in the period (0..1); absent while there is no data.",
		}, []string{"component", "period"}),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_error_budget_remaining_seconds", Help: "Error budget left in the period (negative once overspent).",
		}, []string{"component", "period"}),
		burn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_error_budget_burn_rate", Help: "Error budget burn rate over the window (1 spends the budget exactly over the period).",
		}, []string{"component", "window"}),
	}
	reg.MustRegister(m.ratio, m.budget, m.burn)
	return m
}

// availabilityTick refreshes the availability gauges (month to date, in each objective's zone)
// and publishes a burn-rate event when a component starts firing an alert window. Which
// windows fire is kept in memory: after a restart an alert still firing is published once more.
func (e *Engine) availabilityTick(ctx context.Context) {
	if e.opts.Reports == nil {
		return
	}
	now := e.opts.Clock.Now()
	components, err := e.opts.Store.ListComponents(ctx)
	if err != nil {
		e.log.Error("list components", "err", err)
		return
	}
	windows, err := e.opts.Store.ListWindows(ctx)
	if err != nil {
		e.log.Error("list maintenance windows", "err", err)
		return
	}
	longest := time.Duration(0)
	for _, aw := range availability.WorkbookWindows {
		longest = max(longest, aw.Long)
	}
	firing := map[string]bool{}
	for _, c := range components {
		if c.IsGroup {
			continue
		}
		obj := e.opts.Reports.Objective(c.ID)
		local := now.In(obj.Location)
		month := availability.Month(local.Year(), local.Month(), obj.Location)
		soFar := calendar.Interval{Start: month.Start, End: now}
		if rep, err := e.opts.Reports.compute(ctx, c, windows, soFar); err == nil {
			if !math.IsNaN(float64(rep.Availability)) {
				e.avail.ratio.WithLabelValues(c.ID, "month").Set(float64(rep.Availability))
			}
			e.avail.budget.WithLabelValues(c.ID, "month").Set(rep.BudgetLeft.Seconds())
		}
		recent := calendar.Interval{Start: now.Add(-longest), End: now}
		timeline, err := e.opts.Reports.Store.StatusTimeline(ctx, c.ID, recent.Start, recent.End)
		if err != nil {
			continue
		}
		maint := MaintenanceFor(windows, c.ID, recent, obj.Notice)
		for _, aw := range availability.WorkbookWindows {
			if rate, ok := availability.BurnRate(calendar.Interval{Start: now.Add(-aw.Long), End: now}, timeline, maint, obj.Objective); ok {
				e.avail.burn.WithLabelValues(c.ID, aw.Long.String()).Set(rate)
			}
		}
		for _, aw := range availability.Firing(now, timeline, maint, obj.Objective, availability.WorkbookWindows) {
			key := c.ID + "/" + aw.Severity + "/" + aw.Long.String()
			firing[key] = true
			if !e.firing[key] {
				e.log.Warn("error budget burning", "component_id", c.ID, "severity", aw.Severity, "window", aw.Long, "rate", aw.Rate)
				e.svc.Monitors.Publish(Event{Kind: EventBurnRate, At: now, ComponentID: c.ID, Severity: aw.Severity,
					Reason: "burn rate above " + formatRate(aw.Rate) + " over " + aw.Long.String() + " and " + aw.Short.String()})
			}
		}
	}
	e.firing = firing
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
