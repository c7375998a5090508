package engine

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/store"
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
// and publishes a burn-rate event when a component starts firing an alert of the table. Each
// component's gauges, burn rates and alerts come from one Reports computation at one now, the
// one the API, the CLI and the page make.
//
// An alert firing is an episode: it begins at the tick it starts firing (the event's time, and
// so its id) and ends at the first tick it does not. The episode's start is kept in the store
// (a cursor per component, severity and alert), so a restart, or another instance taking over
// as leader, carries on an episode already notified and publishes nothing for it.
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
	if term, _ := store.FenceFrom(ctx); e.firing == nil || term != e.burnTerm {
		// A new leadership: another leader may have begun or ended episodes meanwhile.
		e.firing, e.burnLoaded, e.burnTerm = map[string]time.Time{}, map[string]bool{}, term
	}
	seen := map[string]bool{}
	for _, c := range components {
		if c.IsGroup {
			continue
		}
		seen[c.ID] = true
		rep, err := e.opts.Reports.compute(ctx, c, windows, monthOf(now, e.opts.Reports.Objective(c.ID).Location), now)
		if err != nil {
			e.log.Error("availability", "component_id", c.ID, "err", err)
			continue // its episodes stay as they were
		}
		e.avail.set(rep)
		firing := availability.Firing(rep.BurnRates, availability.WorkbookWindows)
		for _, aw := range availability.WorkbookWindows {
			e.burnEpisode(ctx, c.ID, e.opts.Reports.Objective(c.ID).ID, aw, slices.Contains(firing, aw), now)
		}
	}
	e.avail.forget(seen)
}

// burnEpisode moves one alert of one component on at now: it publishes the alert when an
// episode begins, and stores the episode's start and end.
func (e *Engine) burnEpisode(ctx context.Context, componentID, objectiveID string, aw availability.AlertWindow, firing bool, now time.Time) {
	long, short := availability.WindowLabel(aw.Long), availability.WindowLabel(aw.Short)
	alert := objectiveID + "/" + long + "/" + short
	key := componentID + "/" + aw.Severity + "/" + alert
	cursor := burnCursor + key
	if !e.burnLoaded[key] { // once a leadership: what the store says of this alert
		since, err := e.opts.Store.Cursor(ctx, cursor)
		if err != nil {
			e.log.Error("burn-rate alert state", "component_id", componentID, "alert", alert, "err", err)
			return // the next tick reads it again
		}
		if since.IsZero() {
			delete(e.firing, key)
		} else {
			e.firing[key] = since
		}
		e.burnLoaded[key] = true
	}
	_, was := e.firing[key]
	switch {
	case firing && !was:
		e.log.Warn("error budget burning", "component_id", componentID, "severity", aw.Severity, "window", long, "rate", aw.Rate)
		ev := Event{Kind: EventBurnRate, At: now, ComponentID: componentID, Severity: aw.Severity, Alert: alert,
			Reason: "burn rate above " + formatRate(aw.Rate) + " over " + long + " and " + short}
		if err := e.svc.Monitors.Record(ctx, ev); err != nil {
			e.log.Error("burn-rate alert not journaled: the next tick tries again", "component_id", componentID, "alert", alert, "err", err)
			return
		}
		e.firing[key] = now
		// Journaled first: a crash in between sends the alert again at the next start (a
		// second message), never loses it.
		if err := e.svc.Monitors.AdvanceCursor(ctx, cursor, now); err != nil {
			e.log.Error("burn-rate alert state not stored", "component_id", componentID, "alert", alert, "err", err)
		}
	case !firing && was:
		delete(e.firing, key)
		if err := e.svc.Monitors.AdvanceCursor(ctx, cursor, time.Unix(0, 0)); err != nil { // stored as 0: no episode
			e.log.Error("burn-rate alert state not stored", "component_id", componentID, "alert", alert, "err", err)
			e.burnLoaded[key] = false // read again, and ended again, at the next tick
		}
	}
}

// burnCursor prefixes the cursors holding when each firing burn-rate alert began.
const burnCursor = "burn/"

func formatRate(r float64) string { return strconv.FormatFloat(r, 'g', -1, 64) }
