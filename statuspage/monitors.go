package statuspage

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
)

// MonitorSource gives the running monitors' current state and recent results.
type MonitorSource interface {
	Monitors() []engine.MonitorSnapshot               // each with its last result
	Monitor(id string) (engine.MonitorSnapshot, bool) // with its recent results
}

// RollupReader reads result rollups.
type RollupReader interface {
	MonitorRollups(ctx context.Context, monitorID string, res probe.Resolution, from, to time.Time) ([]probe.Rollup, error)
	LastTransition(ctx context.Context, monitorID string) (probe.Transition, error)
}

func (s *Server) routesMonitors(public bool) {
	var mw []echo.MiddlewareFunc
	if !public {
		mw = append(mw, s.require(apikey.ScopeRead)) // targets can be internal addresses
	}
	s.echo.GET("/api/v1/monitors", s.listMonitors, mw...)
	s.echo.GET("/api/v1/monitors/:id", s.getMonitor, mw...)
}

type resultView struct {
	At              time.Time   `json:"at"`
	OK              bool        `json:"ok"`
	DurationSeconds float64     `json:"duration_seconds"`
	Phase           probe.Phase `json:"phase,omitempty"`
	Reason          string      `json:"reason,omitempty"`
	StatusCode      int         `json:"status_code,omitempty"`
	CertNotAfter    *time.Time  `json:"cert_not_after,omitempty"`
}

func viewResult(r probe.Result) resultView {
	return resultView{At: r.At, OK: r.OK, DurationSeconds: r.Duration.Seconds(), Phase: r.Phase, Reason: r.Reason,
		StatusCode: r.StatusCode, CertNotAfter: optTime(r.CertNotAfter)}
}

// statsView summarises a monitor's results over a window, from the rollups. Latency quantiles
// are upper bounds (the histogram bucket holding them); null when above the largest bucket.
type statsView struct {
	Runs        int64    `json:"runs"`
	Failures    int64    `json:"failures"`
	SuccessRate *float64 `json:"success_rate"`
	P50Seconds  *float64 `json:"latency_p50_seconds"`
	P95Seconds  *float64 `json:"latency_p95_seconds"`
	P99Seconds  *float64 `json:"latency_p99_seconds"`
	MeanSeconds *float64 `json:"latency_mean_seconds"`
}

type monitorView struct {
	ID              string               `json:"id"`
	Name            string               `json:"name"`
	Component       string               `json:"component"`
	Kind            probe.Kind           `json:"kind"`
	Target          string               `json:"target"`
	IntervalSeconds float64              `json:"interval_seconds"`
	State           probe.State          `json:"state"`
	Paused          bool                 `json:"paused"`
	Since           *time.Time           `json:"since"`
	Last            *resultView          `json:"last_result"`
	NextRun         *time.Time           `json:"next_run"`
	Recent          []resultView         `json:"recent_results,omitempty"`
	Stats           map[string]statsView `json:"stats,omitempty"`
	Locations       *locationsView       `json:"locations,omitempty"`
}

// locationsView is a monitor's locations, when it is checked from several (docs/deploy.md,
// "Locations"): how many it asked for, how many fresh ones its state was taken over, and each
// location's state since its last change.
type locationsView struct {
	Asked   int            `json:"asked"`
	Counted int            `json:"counted"`
	Results []locationView `json:"results"`
}

type locationView struct {
	Location string      `json:"location"`
	Instance string      `json:"instance"`
	State    probe.State `json:"state"`
	Since    *time.Time  `json:"since"`
	Reason   string      `json:"reason,omitempty"`
	Fresh    bool        `json:"fresh"`
}

func viewLocations(m probe.Monitor, rs []probe.LocationResult) *locationsView {
	if m.Locations <= 1 {
		return nil
	}
	v := &locationsView{Asked: m.Locations, Counted: probe.Quorum(m.Locations, rs).Counted, Results: []locationView{}}
	for _, r := range rs {
		v.Results = append(v.Results, locationView{Location: r.Location, Instance: r.Instance, State: r.State,
			Since: optTime(r.Since.UTC()), Reason: r.Reason, Fresh: r.Fresh})
	}
	return v
}

func (s *Server) viewMonitor(ctx context.Context, m engine.MonitorSnapshot, detail bool) (monitorView, error) {
	v := monitorView{ID: m.Monitor.ID, Name: m.Monitor.Name, Component: m.Monitor.ComponentID, Kind: m.Monitor.Kind, Target: probe.Target(m.Monitor),
		IntervalSeconds: m.Monitor.Interval.Seconds(), State: m.State, Paused: m.Paused, Locations: viewLocations(m.Monitor, m.Locations)}
	if tr, err := s.rollups.LastTransition(ctx, m.Monitor.ID); err == nil {
		v.Since = optTime(tr.At)
	}
	if !m.Last.At.IsZero() {
		last := viewResult(m.Last)
		v.Last = &last
	}
	v.NextRun = optTime(m.NextRun.UTC())
	if !detail {
		return v, nil
	}
	for i := len(m.Recent) - 1; i >= 0; i-- {
		v.Recent = append(v.Recent, viewResult(m.Recent[i]))
	}
	now := s.clock.Now()
	v.Stats = map[string]statsView{}
	for _, w := range []struct {
		name string
		span time.Duration
		res  probe.Resolution
	}{{"24h", 24 * time.Hour, probe.Minute}, {"7d", 7 * 24 * time.Hour, probe.Hour}, {"30d", 30 * 24 * time.Hour, probe.Hour}} {
		rs, err := s.rollups.MonitorRollups(ctx, m.Monitor.ID, w.res, w.res.Truncate(now.Add(-w.span)), now.Add(w.res.Width()))
		if err != nil {
			return v, err
		}
		var sum probe.Rollup
		for _, r := range rs {
			sum.Merge(r)
		}
		st := statsView{Runs: sum.Runs, Failures: sum.Failures}
		if sum.Runs > 0 {
			rate := 1 - float64(sum.Failures)/float64(sum.Runs)
			mean := (sum.LatencySum / time.Duration(sum.Runs)).Seconds()
			st.SuccessRate, st.MeanSeconds = &rate, &mean
			for q, dst := range map[float64]**float64{0.5: &st.P50Seconds, 0.95: &st.P95Seconds, 0.99: &st.P99Seconds} {
				if d, ok := sum.Quantile(q); ok {
					secs := d.Seconds()
					*dst = &secs
				}
			}
		}
		v.Stats[w.name] = st
	}
	return v, nil
}

func (s *Server) snapshots() ([]engine.MonitorSnapshot, error) {
	if s.monitors == nil {
		return nil, newError(http.StatusNotFound, "not_found", "no monitors run in this process")
	}
	ms := s.monitors.Monitors()
	slices.SortFunc(ms, func(a, b engine.MonitorSnapshot) int { return strings.Compare(a.Monitor.ID, b.Monitor.ID) })
	return ms, nil
}

func (s *Server) listMonitors(c echo.Context) error {
	ms, err := s.snapshots()
	if err != nil {
		return err
	}
	comp := c.QueryParam("component")
	if comp != "" && !component.ValidID(comp) {
		return fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
	}
	hidden, err := s.hiddenFor(c)
	if err != nil {
		return err
	}
	out := []monitorView{}
	for _, m := range ms {
		if comp != "" && m.Monitor.ComponentID != comp || hidden[m.Monitor.ComponentID] {
			continue
		}
		v, err := s.viewMonitor(c.Request().Context(), m, false)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"monitors": out})
}

func (s *Server) getMonitor(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if s.monitors == nil {
		return newError(http.StatusNotFound, "not_found", "no monitors run in this process")
	}
	m, ok := s.monitors.Monitor(id)
	hidden, err := s.hiddenFor(c)
	if err != nil {
		return err
	}
	if !ok || hidden[m.Monitor.ComponentID] {
		return newError(http.StatusNotFound, "not_found", "monitor %s not found", id)
	}
	v, err := s.viewMonitor(c.Request().Context(), m, true)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
