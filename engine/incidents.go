package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Recovery is what a monitor's recovery does to the incident it opened.
type Recovery = service.Recovery

// The recovery modes.
const (
	RecoveryResolve    = service.RecoveryResolve    // resolve it (the default)
	RecoveryMonitoring = service.RecoveryMonitoring // move it to monitoring; a person resolves it
)

type slaMetrics struct {
	breaches  *prometheus.CounterVec
	remaining *prometheus.GaugeVec
	open      *prometheus.GaugeVec
}

func newSLAMetrics(reg prometheus.Registerer) *slaMetrics {
	m := &slaMetrics{
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "upstate_sla_breaches_total", Help: "Service-level clocks that passed their deadline unmet.",
		}, []string{"severity", "clock"}),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_sla_clock_remaining_seconds", Help: "Working time left on each running clock of an open incident (negative once breached).",
		}, []string{"incident", "severity", "clock"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "upstate_incidents_open", Help: "Open incidents by severity.",
		}, []string{"severity"}),
	}
	reg.MustRegister(m.breaches, m.remaining, m.open)
	// Every series an alert rule may name exists from the first scrape, at zero.
	for _, sev := range incidents.Severities {
		m.open.WithLabelValues(string(sev))
		for _, kind := range []incidents.ClockKind{incidents.FirstResponse, incidents.Resolution} {
			m.breaches.WithLabelValues(string(sev), string(kind))
		}
	}
	return m
}

// onComponentChange opens an incident when a component goes down outside maintenance, and
// resolves (or moves to monitoring) the incidents its monitors opened when it is up again. An
// error means the store did not take it; both are idempotent, so it may be retried (pending.go).
func (e *Engine) onComponentChange(ctx context.Context, componentID string, next component.Status, tr probe.Transition, underMaintenance bool) error {
	switch {
	case next == component.MajorOutage && tr.To == probe.StateDown && !underMaintenance:
		return e.openAutomatic(ctx, componentID, tr)
	case next == component.Operational || next == component.DegradedPerformance:
		if _, err := e.svc.Incidents.RecoverAutomatic(ctx, componentID, tr.MonitorID, tr.At, e.opts.Recovery); err != nil {
			return fmt.Errorf("recover automatic incidents of %s: %w", componentID, err)
		}
	}
	return nil
}

func (e *Engine) openAutomatic(ctx context.Context, componentID string, tr probe.Transition) error {
	name := componentID
	if c, err := e.opts.Store.GetComponent(ctx, componentID); err == nil {
		name = c.Name
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("open automatic incident of %s: %w", componentID, err)
	}
	e.mu.Lock()
	sev := e.severity[tr.MonitorID]
	e.mu.Unlock()
	// The incident's id is the component's and the outage's first failure (service.AutomaticID):
	// opening it again, after a retry or on another instance, finds it there.
	inc, opened, err := e.svc.Incidents.OpenAutomatic(ctx, service.Outage{ComponentID: componentID, Name: name, MonitorID: tr.MonitorID,
		Severity: sev, Since: tr.At, Reason: tr.Reason})
	if err != nil {
		return fmt.Errorf("open automatic incident of %s: %w", componentID, err)
	}
	if opened {
		e.log.Warn("incident opened", "incident_id", inc.ID, "component_id", componentID, "severity", inc.Severity)
		if e.leads() {
			e.slaTick(ctx)
		}
	}
	return nil
}

// slaTick publishes each clock's warning and breach once, with the instant they happened, and
// refreshes the SLA metrics. Deadlines are computed from the stored incidents every time, so a
// restart or a new leader loses none; alerts already published are recorded in the incident.
func (e *Engine) slaTick(ctx context.Context) {
	now := e.opts.Clock.Now().UTC()
	open, err := e.opts.Store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
	if err != nil {
		e.log.Error("list open incidents", "err", err)
		return
	}
	e.applyImpacts(ctx, open, now)
	e.sla.remaining.Reset()
	e.setOpen(open)
	for _, inc := range open {
		p := e.opts.Policies[inc.Policy]
		if p == nil {
			continue
		}
		var events []Event
		var alerts []string
		for _, c := range inc.Clocks {
			t := p.Target(inc.Severity, c.Kind)
			if t == nil {
				continue
			}
			st, err := c.At(t.Calendar, now)
			if err != nil {
				continue
			}
			if st.State == incidents.Running {
				e.sla.remaining.WithLabelValues(inc.ID, string(inc.Severity), string(c.Kind)).Set(st.Remaining.Seconds())
			}
			base := Event{IncidentID: inc.ID, Severity: string(inc.Severity), Clock: string(c.Kind)}
			if warn := string(c.Kind) + ".warning"; st.Warned && (st.State == incidents.Running || st.State == incidents.Breached) && !slices.Contains(inc.Alerts, warn) {
				ev := base
				ev.Kind, ev.At = EventSLAWarning, st.WarnAt
				events, alerts = append(events, ev), append(alerts, warn)
			}
			if breach := string(c.Kind) + ".breach"; st.State == incidents.Breached && !slices.Contains(inc.Alerts, breach) {
				ev := base
				ev.Kind, ev.At = EventSLABreach, st.DueAt
				events, alerts = append(events, ev), append(alerts, breach)
			}
		}
		for i, ev := range events {
			recorded, err := e.svc.Incidents.RecordSLAAlert(ctx, inc.ID, alerts[i], ev)
			if err != nil {
				// Not recorded: the next tick tries again, and publishes it once.
				e.log.Error("record SLA alert", "incident_id", inc.ID, "alert", alerts[i], "err", err)
				continue
			}
			if recorded {
				e.log.Warn("sla", "event", ev.Kind, "incident_id", inc.ID, "clock", ev.Clock, "at", ev.At)
				if ev.Kind == EventSLABreach {
					e.sla.breaches.WithLabelValues(string(inc.Severity), ev.Clock).Inc()
				}
			}
		}
	}
}

// setOpen sets upstate_incidents_open to the open incidents by severity: from the SLA tick (the
// safety net, every SLAEvery) and from followIncidents at once when an incident is declared,
// updated, resolved or reopened through this instance. Only the instance that runs the SLA
// tick sets it (the leader when the store is shared), so the instances never disagree on whose
// count is exported.
func (e *Engine) setOpen(open []incidents.Incident) {
	counts := make(map[incidents.Severity]int, len(incidents.Severities))
	for _, inc := range open {
		counts[inc.Severity]++
	}
	for _, sev := range incidents.Severities {
		e.sla.open.WithLabelValues(string(sev)).Set(float64(counts[sev]))
	}
}

// applyImpacts folds the impacts of open incidents into component statuses: a component's status
// is the worst of its monitors and its open incidents' impacts (DESIGN section 3). A change is
// recorded at the tick that sees it, within SLAEvery of the incident's update. An automatic
// incident's impact on the component its monitor watches is not counted twice: the monitor's
// state already is that component's measured status (and so its recovery is recorded on time).
func (e *Engine) applyImpacts(ctx context.Context, open []incidents.Incident, now time.Time) {
	next := map[string]component.Status{}
	why := map[string]string{}
	e.mu.Lock()
	watched := map[string]string{} // monitor -> component, for the automatic incidents' monitors
	for _, inc := range open {
		if r, ok := e.monitors[inc.MonitorID]; ok && inc.Automatic {
			watched[inc.MonitorID] = r.m.ComponentID
		}
	}
	e.mu.Unlock()
	for _, inc := range open {
		for _, a := range inc.Components {
			if inc.Automatic && watched[inc.MonitorID] == a.ComponentID {
				continue // the monitor itself speaks for the component it watches
			}
			if cur, ok := next[a.ComponentID]; !ok || a.Impact.Severity() > cur.Severity() {
				next[a.ComponentID], why[a.ComponentID] = a.Impact, "incident "+inc.ID+": "+inc.Title
			}
		}
	}
	e.mu.Lock()
	var changed []string
	for id, st := range next {
		if e.impacts[id] != st {
			changed = append(changed, id)
		}
	}
	for id := range e.impacts {
		if _, ok := next[id]; !ok {
			changed = append(changed, id)
			why[id] = "incident resolved"
		}
	}
	e.impacts = next
	e.mu.Unlock()
	slices.Sort(changed)
	for _, id := range changed {
		e.updateComponent(ctx, id, now, why[id])
	}
}
