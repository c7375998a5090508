package engine

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/events"
)

// EventBurnRate is published when a component starts burning its error budget fast enough to
// fire one of the SRE Workbook's multiwindow alerts.
const EventBurnRate = events.BudgetBurn

type availabilityMetrics struct {
	ratio     *prometheus.GaugeVec
	eligible  *prometheus.GaugeVec
	budget    *prometheus.GaugeVec
	remaining *prometheus.GaugeVec
	burn      *prometheus.GaugeVec
	shown     map[string]bool // components with series, to remove those of deleted ones
}

func newAvailabilityMetrics(reg prometheus.Registerer) *availabilityMetrics {
	m := &availabilityMetrics{
		ratio: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_availability_ratio",
			Help: "Availability of the period so far (0..1); absent while the period has no eligible time so far (upstate_availability_eligible_seconds is 0).",
		}, []string{"component", "period"}),
		eligible: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_availability_eligible_seconds", Help: "The period's time so far that counts (B): its elapsed time less unknown time (and announced maintenance on the eligible basis).",
		}, []string{"component", "period"}),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_error_budget_seconds", Help: "The whole period's error budget: (1 - target) x (eligible time so far + the time still to come).",
		}, []string{"component", "period"}),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_error_budget_remaining_seconds", Help: "The whole period's error budget less the weighted downtime so far (negative once overspent).",
		}, []string{"component", "period"}),
		burn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_error_budget_burn_rate", Help: "Error budget burn rate over the window ending now (1 spends the budget exactly over the period; 0 where nothing was eligible).",
		}, []string{"component", "window"}),
		shown: map[string]bool{},
	}
	reg.MustRegister(m.ratio, m.eligible, m.budget, m.remaining, m.burn)
	return m
}

// set shows one component's month so far.
func (m *availabilityMetrics) set(rep ComponentReport) {
	id := rep.ComponentID
	m.shown[id] = true
	if a := float64(rep.Availability); math.IsNaN(a) {
		m.ratio.DeleteLabelValues(id, "month") // no data so far: no figure, not a made-up one
	} else {
		m.ratio.WithLabelValues(id, "month").Set(a)
	}
	m.eligible.WithLabelValues(id, "month").Set(rep.Basis.Seconds())
	m.budget.WithLabelValues(id, "month").Set(rep.Budget.Seconds())
	m.remaining.WithLabelValues(id, "month").Set(rep.BudgetLeft.Seconds())
	for window, rate := range rep.BurnRates {
		m.burn.WithLabelValues(id, window).Set(rate)
	}
}

// forget removes the series of components no longer in seen.
func (m *availabilityMetrics) forget(seen map[string]bool) {
	for id := range m.shown {
		if !seen[id] {
			for _, v := range []*prometheus.GaugeVec{m.ratio, m.eligible, m.budget, m.remaining, m.burn} {
				v.DeletePartialMatch(prometheus.Labels{"component": id})
			}
			delete(m.shown, id)
		}
	}
}

// availabilityTick refreshes the availability gauges (month to date, in each objective's zone)
// and publishes a burn-rate event when a component starts firing an alert window. Each
// component's gauges, burn rates and alerts come from one Reports computation at one now, the
// one the API, the CLI and the page make. Which windows fire is kept in memory: after a
// restart an alert still firing is published once more.
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
	firing := map[string]bool{}
	seen := map[string]bool{}
	for _, c := range components {
		if c.IsGroup {
			continue
		}
		seen[c.ID] = true
		rep, err := e.opts.Reports.compute(ctx, c, windows, monthOf(now, e.opts.Reports.Objective(c.ID).Location), now)
		if err != nil {
			e.log.Error("availability", "component_id", c.ID, "err", err)
			firing = keepFiring(firing, e.firing, c.ID)
			continue
		}
		e.avail.set(rep)
		for _, aw := range availability.Firing(rep.BurnRates, availability.WorkbookWindows) {
			long, short := availability.WindowLabel(aw.Long), availability.WindowLabel(aw.Short)
			alert := e.opts.Reports.Objective(c.ID).ID + "/" + long + "/" + short
			key := c.ID + "/" + aw.Severity + "/" + alert
			firing[key] = true
			if !e.firing[key] {
				e.log.Warn("error budget burning", "component_id", c.ID, "severity", aw.Severity, "window", long, "rate", aw.Rate)
				e.svc.Monitors.Publish(Event{Kind: EventBurnRate, At: now, ComponentID: c.ID, Severity: aw.Severity, Alert: alert,
					Reason: "burn rate above " + formatRate(aw.Rate) + " over " + long + " and " + short})
			}
		}
	}
	e.avail.forget(seen)
	e.firing = firing
}

// keepFiring carries a component's firing windows over a tick that could not measure it, so a
// failed read does not publish them again.
func keepFiring(next, prev map[string]bool, componentID string) map[string]bool {
	for k := range prev {
		if strings.HasPrefix(k, componentID+"/") {
			next[k] = true
		}
	}
	return next
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
