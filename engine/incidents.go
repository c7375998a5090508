package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// IncidentStore is what automatic incidents and SLA clocks need from storage.
type IncidentStore interface {
	CreateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error
	GetIncident(ctx context.Context, id string) (incidents.Incident, error)
	UpdateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error
	ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error)
}

// Recovery is what a monitor's recovery does to the incident it opened.
type Recovery string

// The recovery modes.
const (
	RecoveryResolve    Recovery = "resolve"    // resolve it (the default)
	RecoveryMonitoring Recovery = "monitoring" // move it to monitoring; a person resolves it
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
	return m
}

// automaticID names the incident a component's outage opens, the same on every instance, so
// two instances seeing the same failure open one incident.
func automaticID(componentID string, at time.Time) string {
	h := fnv.New32a()
	h.Write([]byte(componentID))
	return "auto-" + strconv.FormatInt(at.UnixMilli(), 36) + "-" + strconv.FormatUint(uint64(h.Sum32()), 36)
}

// onComponentChange opens an incident when a component goes down outside maintenance, and
// resolves (or moves to monitoring) the incidents its monitors opened when it is up again.
func (e *Engine) onComponentChange(ctx context.Context, componentID string, next component.Status, tr probe.Transition, underMaintenance bool) {
	if e.opts.Incidents == nil {
		return
	}
	switch {
	case next == component.MajorOutage && tr.To == probe.StateDown && !underMaintenance:
		e.openAutomatic(ctx, componentID, tr)
	case next == component.Operational || next == component.DegradedPerformance:
		e.recoverAutomatic(ctx, componentID, tr)
	}
}

func (e *Engine) openAutomatic(ctx context.Context, componentID string, tr probe.Transition) {
	open, err := e.opts.Incidents.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true, ComponentID: componentID})
	if err != nil {
		e.log.Error("list incidents", "component_id", componentID, "err", err)
		return
	}
	for _, inc := range open {
		if inc.Automatic {
			return // one incident per outage
		}
	}
	name := componentID
	if c, err := e.opts.Store.GetComponent(ctx, componentID); err == nil {
		name = c.Name
	}
	e.mu.Lock()
	sev := e.severity[tr.MonitorID]
	e.mu.Unlock()
	if !sev.Valid() {
		sev = incidents.P1
	}
	policy := e.opts.Policies[e.opts.DefaultPolicy]
	now := e.opts.Clock.Now().UTC()
	inc, errs := incidents.Declare(incidents.Declaration{
		ID: automaticID(componentID, tr.At), Title: name + " is down", Severity: sev, Automatic: true, MonitorID: tr.MonitorID,
		Body:       fmt.Sprintf("Automatic: monitor %s failed (%s). We are investigating.", tr.MonitorID, tr.Reason),
		Components: []incidents.Affected{{ComponentID: componentID, Impact: component.MajorOutage}},
		Policy:     e.opts.DefaultPolicy, Author: "monitor:" + tr.MonitorID, StartedAt: tr.At,
	}, policy, now)
	if len(errs) > 0 {
		e.log.Error("open automatic incident", "component_id", componentID, "err", errs[0])
		return
	}
	a := store.AuditEntry{At: now, Actor: "monitor:" + tr.MonitorID, Action: "incident.open_automatic", Target: "incident/" + inc.ID, After: store.MustJSON(inc)}
	if err := e.opts.Incidents.CreateIncident(ctx, inc, a); errors.Is(err, store.ErrConflict) {
		return // another instance opened it
	} else if err != nil {
		e.log.Error("store automatic incident", "component_id", componentID, "err", err)
		return
	}
	e.log.Warn("incident opened", "incident_id", inc.ID, "component_id", componentID, "severity", sev)
	e.opts.Bus.Publish(Event{Kind: EventIncidentOpened, At: now, ComponentID: componentID, MonitorID: tr.MonitorID, IncidentID: inc.ID, Severity: string(sev)})
	e.slaTick(ctx)
}

func (e *Engine) recoverAutomatic(ctx context.Context, componentID string, tr probe.Transition) {
	open, err := e.opts.Incidents.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true, ComponentID: componentID})
	if err != nil {
		e.log.Error("list incidents", "component_id", componentID, "err", err)
		return
	}
	for _, inc := range open {
		if !inc.Automatic || inc.Status == incidents.Monitoring && e.opts.Recovery == RecoveryMonitoring {
			continue
		}
		for range 3 { // a concurrent human update is a conflict: read again and retry
			if e.recoverOne(ctx, inc, tr) {
				break
			}
			if inc, err = e.opts.Incidents.GetIncident(ctx, inc.ID); err != nil || !inc.Open() {
				break
			}
		}
	}
}

func (e *Engine) recoverOne(ctx context.Context, inc incidents.Incident, tr probe.Transition) bool {
	now := e.opts.Clock.Now().UTC()
	author := "monitor:" + tr.MonitorID
	body := fmt.Sprintf("Automatic: checks have passed again since %s.", tr.At.Format(time.RFC3339))
	p := e.opts.Policies[inc.Policy]
	action := "incident.resolve_automatic"
	if e.opts.Recovery == RecoveryMonitoring {
		action = "incident.monitoring_automatic"
		if errs := inc.Apply(incidents.Change{Author: author, Body: body + " Monitoring.", Status: incidents.Monitoring}, p, now); len(errs) > 0 {
			return true
		}
	} else if err := inc.Resolve(author, body+" Resolved automatically.", now); err != nil {
		return true
	}
	inc.Version++
	a := store.AuditEntry{At: now, Actor: author, Action: action, Target: "incident/" + inc.ID, After: store.MustJSON(inc)}
	if err := e.opts.Incidents.UpdateIncident(ctx, inc, a); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			e.log.Error("update automatic incident", "incident_id", inc.ID, "err", err)
			return true
		}
		return false
	}
	e.log.Info("incident recovered", "incident_id", inc.ID, "status", inc.Status)
	if !inc.Open() {
		e.opts.Bus.Publish(Event{Kind: EventIncidentResolved, At: now, IncidentID: inc.ID, MonitorID: tr.MonitorID, Severity: string(inc.Severity)})
	}
	return true
}

// slaTick publishes each clock's warning and breach once, with the instant they happened, and
// refreshes the SLA metrics. Deadlines are computed from the stored incidents every time, so a
// restart or a new leader loses none; alerts already published are recorded in the incident.
func (e *Engine) slaTick(ctx context.Context) {
	if e.opts.Incidents == nil {
		return
	}
	now := e.opts.Clock.Now().UTC()
	open, err := e.opts.Incidents.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
	if err != nil {
		e.log.Error("list open incidents", "err", err)
		return
	}
	e.applyImpacts(ctx, open, now)
	e.sla.remaining.Reset()
	e.sla.open.Reset()
	for _, sev := range incidents.Severities {
		e.sla.open.WithLabelValues(string(sev)).Set(0)
	}
	for _, inc := range open {
		e.sla.open.WithLabelValues(string(inc.Severity)).Inc()
		p := e.opts.Policies[inc.Policy]
		if p == nil {
			continue
		}
		var events []Event
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
			if warn := string(c.Kind) + ".warning"; st.Warned && st.State != incidents.Met && !slices.Contains(inc.Alerts, warn) {
				ev := base
				ev.Kind, ev.At = EventSLAWarning, st.WarnAt
				events = append(events, ev)
				inc.Alerts = append(inc.Alerts, warn)
			}
			if breach := string(c.Kind) + ".breach"; st.State == incidents.Breached && !slices.Contains(inc.Alerts, breach) {
				ev := base
				ev.Kind, ev.At = EventSLABreach, st.DueAt
				events = append(events, ev)
				inc.Alerts = append(inc.Alerts, breach)
				e.sla.breaches.WithLabelValues(string(inc.Severity), string(c.Kind)).Inc()
			}
		}
		if len(events) == 0 {
			continue
		}
		inc.Version++
		a := store.AuditEntry{At: now, Actor: "system", Action: "incident.sla_alert", Target: "incident/" + inc.ID, After: store.MustJSON(inc.Alerts)}
		if err := e.opts.Incidents.UpdateIncident(ctx, inc, a); err != nil {
			// Not recorded (a concurrent change): the next tick publishes them, once.
			if !errors.Is(err, store.ErrConflict) {
				e.log.Error("record SLA alerts", "incident_id", inc.ID, "err", err)
			}
			continue
		}
		for _, ev := range events {
			e.log.Warn("sla", "event", ev.Kind, "incident_id", inc.ID, "clock", ev.Clock, "at", ev.At)
			e.opts.Bus.Publish(ev)
		}
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
