package statuspage

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// /metrics (docs/page.md, "Private components"; docs/api.md) has two audiences:
//
//   - Prometheus with a read key (Authorization: Bearer up_…): every series, gathered for the
//     request, as the OpenMetrics or text format it asks for.
//   - Anyone else: the public view, like every other public route. Series that name an internal
//     component or group, an internal maintenance window or incident are left out; so are the
//     monitors' series unless server.public_monitors is set (as /api/v1/monitors: a monitor's
//     name can say what it watches), and always those of monitors of internal components.
//     Counts over things (open incidents by severity) are recounted from what the public sees,
//     and what components and groups show is computed again from the public ones (a group's
//     status from its public components alone, as the page does),
//     or left out (SLA breaches). The
//     rule fails closed: a value the public view does not know is left out. The response is
//     cached like the page, for at most metricsMaxAge, so that a crowd of anonymous scrapes
//     costs one gather a second, whatever the number of series.
//
// Each label that names something is listed here: a new metric naming a thing by a label of
// another name must add it (TestPublicMetricsHideInternal gathers the engine's metrics).
var (
	// thingLabels are label names that name the same kind of thing in every metric.
	thingLabels = map[string]thingKind{"component": thingComponent, "monitor": thingMonitor, "incident": thingIncident}
	// familyThingLabels are labels whose meaning depends on the metric: "window" is a
	// maintenance window's id in upstate_maintenance_active, a burn-rate window ("1h") elsewhere.
	familyThingLabels = map[string]map[string]thingKind{"upstate_maintenance_active": {"window": thingWindow}}
)

// Aggregate families count things of every visibility without naming them. The public view
// recounts the open incidents from what it shows (the figure /api/v2 and the page give), and
// leaves out the counts it cannot recount: SLA breaches are the team's.
var (
	recountedFamilies = map[string]bool{"upstate_incidents_open": true}
	teamOnlyFamilies  = map[string]bool{"upstate_sla_breaches_total": true}
)

// shownFamily is the engine's component.Shown of every component and group. The public view
// computes it again from the public components alone, as the page does (component.Hidden), so
// an internal component's outage never shows through its public group.
const shownFamily = "upstate_component_status"

// metricsMaxAge bounds the age of the public /metrics: a scrape is at most this late.
const metricsMaxAge = time.Second

type thingKind int

const (
	thingComponent thingKind = iota + 1
	thingMonitor
	thingIncident
	thingWindow
)

// metrics serves /metrics: everything to a read key, the cached public view to the rest. A
// cache render has no headers, so it always takes the public branch.
func (s *Server) metrics(c echo.Context) error {
	if c.Request().Header.Get(echo.HeaderAuthorization) != "" {
		return s.require(apikey.ScopeRead)(s.allMetrics)(c)
	}
	c.Response().Header().Set(echo.HeaderVary, echo.HeaderAuthorization)
	return s.cache.middleware(s.publicMetrics)(c)
}

func (s *Server) allMetrics(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "private, no-store")
	h := promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
	h.ServeHTTP(c.Response(), c.Request())
	return nil
}

// publicMetrics gathers every series and keeps the public ones. When the store cannot say what
// is public (it is down), everything naming a component, window or incident is left out, and
// the rest (the process's, the cluster's, the queue's) still answers: an outage is when an
// operator needs those.
func (s *Server) publicMetrics(c echo.Context) error {
	fams, gatherErr := s.gatherer.Gather()
	pub := s.publicThings(c.Request().Context(), fams)
	out := fams[:0]
	for _, f := range fams {
		if teamOnlyFamilies[f.GetName()] || (recountedFamilies[f.GetName()] && pub.openBySeverity == nil) ||
			(f.GetName() == shownFamily && pub.shown == nil) {
			continue
		}
		ms := f.Metric[:0]
		for _, m := range f.Metric {
			if !pub.shows(f.GetName(), m.GetLabel()) {
				continue
			}
			if recountedFamilies[f.GetName()] {
				if !pub.recount(m) {
					continue
				}
			}
			if f.GetName() == shownFamily && !pub.reshow(m) {
				continue
			}
			ms = append(ms, m)
		}
		if len(ms) > 0 {
			f.Metric = ms
			out = append(out, f)
		}
	}
	gathered := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return out, gatherErr })
	// One format for everyone (the text format, which every Prometheus reads): the cache keeps
	// one body per key, and a render has no Accept header anyway.
	req := c.Request().Clone(c.Request().Context())
	req.Header.Del(echo.HeaderAccept)
	promhttp.HandlerFor(gathered, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(c.Response(), req)
	return nil
}

// publicSet is what the public view may name in /metrics.
type publicSet struct {
	components, monitors, incidents, windows map[string]bool
	// openBySeverity counts the open incidents the public sees (nil: unknown, the store is down).
	openBySeverity map[string]float64
	// shown is what each public component and group shows on the public page (nil: unknown).
	shown map[string]component.Status
}

// reshow sets a series of upstate_component_status{component,status} to what the public page
// shows; false when it is not a series it knows.
func (p publicSet) reshow(m *dto.Metric) bool {
	var id, status string
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "component":
			id = l.GetValue()
		case "status":
			status = l.GetValue()
		}
	}
	shown, ok := p.shown[id]
	if !ok || m.Gauge == nil {
		return false
	}
	v := 0.0
	if string(shown) == status {
		v = 1
	}
	m.Gauge.Value = &v
	return true
}

// recount sets a series of upstate_incidents_open{severity} to the public count; false when it
// is not a series it knows how to recount.
func (p publicSet) recount(m *dto.Metric) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == "severity" && m.Gauge != nil {
			v := p.openBySeverity[l.GetValue()]
			m.Gauge.Value = &v
			return true
		}
	}
	return false
}

// publicThings reads what the public may see, through the request's public view of the store:
// components, windows, the incidents fams name (open ones: few), and the monitors of public
// components when monitors are public.
func (s *Server) publicThings(ctx context.Context, fams []*dto.MetricFamily) publicSet {
	pub := publicSet{components: map[string]bool{}, monitors: map[string]bool{}, incidents: map[string]bool{}, windows: map[string]bool{}}
	cs, err := s.store.ListComponents(ctx)
	if err != nil {
		s.log.Warn("public metrics: components unreadable: leaving out every series that names a thing", "err", err)
		return pub
	}
	for _, comp := range cs {
		pub.components[comp.ID] = true
	}
	if ws, err := s.store.ListWindows(ctx); err == nil {
		for _, w := range ws {
			pub.windows[w.ID] = true
		}
		pub.shown = component.Shown(cs, maintenance.InProgress(ws, s.clock.Now()))
	}
	if s.monitors != nil && s.publicMonitors {
		for _, m := range s.monitors.Monitors() {
			if m.Monitor.ComponentID == "" || pub.components[m.Monitor.ComponentID] {
				pub.monitors[m.Monitor.ID] = true
			}
		}
	}
	if open, err := s.store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true}); err == nil {
		pub.openBySeverity = map[string]float64{}
		for _, inc := range open {
			pub.openBySeverity[string(inc.Severity)]++
		}
	}
	asked := map[string]bool{}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.GetLabel() {
				if id := l.GetValue(); l.GetName() == "incident" && !asked[id] {
					asked[id] = true
					if _, err := s.store.GetIncident(ctx, id); err == nil {
						pub.incidents[id] = true
					}
				}
			}
		}
	}
	return pub
}

// shows reports whether a series of family may be public: every label naming a thing names a
// public one.
func (p publicSet) shows(family string, labels []*dto.LabelPair) bool {
	for _, l := range labels {
		kind, ok := familyThingLabels[family][l.GetName()]
		if !ok {
			kind = thingLabels[l.GetName()]
		}
		var known map[string]bool
		switch kind {
		case thingComponent:
			known = p.components
		case thingMonitor:
			known = p.monitors
		case thingIncident:
			known = p.incidents
		case thingWindow:
			known = p.windows
		default:
			continue
		}
		if !known[l.GetValue()] {
			return false
		}
	}
	return true
}
