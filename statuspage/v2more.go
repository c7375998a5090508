package statuspage

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/statuspage/spv2"
	"github.com/upstate-dev/upstate/store"
)

// v2State is everything the v2 endpoints show, read once per request.
type v2State struct {
	now        time.Time
	updated    time.Time // page.updated_at: the last change (lastChanged), not the render time
	components []component.Component
	shown      map[string]component.Status // with the maintenance overlay
	windows    []maintenance.Window
	unresolved []incidents.Incident
	// Indexes of components, made once per request (loadV2), not per incident or group.
	byID     map[string]component.Component
	children map[string][]string // spv2.GroupChildren
}

func (s *Server) loadV2(c echo.Context) (*v2State, error) {
	ctx := c.Request().Context()
	st := &v2State{now: s.clock.Now()}
	var err error
	if st.components, err = s.store.ListComponents(ctx); err != nil {
		return nil, err
	}
	if st.windows, err = s.store.ListWindows(ctx); err != nil {
		return nil, err
	}
	if st.unresolved, err = s.store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true}); err != nil {
		return nil, err
	}
	st.shown = component.Shown(st.components, maintenance.InProgress(st.windows, st.now))
	st.byID = make(map[string]component.Component, len(st.components))
	for _, comp := range st.components {
		st.byID[comp.ID] = comp
	}
	st.children = spv2.GroupChildren(st.components)
	st.updated = s.lastChanged(ctx, changedIn(st.now, st.components, st.windows, st.unresolved))
	return st, nil
}

func (s *Server) v2Components(st *v2State) []spv2.Component {
	out := make([]spv2.Component, 0, len(st.components))
	for _, comp := range st.components {
		out = append(out, s.sp.Component(comp, st.shown[comp.ID], st.children))
	}
	return out
}

// v2PageStatus is the page's indicator: the worse of the components' statuses and the
// unresolved incidents' impacts.
func v2PageStatus(st *v2State) spv2.Indicator {
	statuses := make([]component.Status, 0, len(st.components))
	for _, comp := range st.components {
		statuses = append(statuses, st.shown[comp.ID])
	}
	impacts := make([]string, 0, len(st.unresolved))
	for _, inc := range st.unresolved {
		impacts = append(impacts, inc.Severity.Impact())
	}
	return spv2.PageStatus(statuses, impacts)
}

// v2IncidentOf is inc with its components as the page shows them now.
func (s *Server) v2IncidentOf(inc incidents.Incident, st *v2State) spv2.Incident {
	var comps []spv2.Component
	for _, a := range inc.Components {
		if comp, ok := st.byID[a.ComponentID]; ok {
			comps = append(comps, s.sp.Component(comp, st.shown[comp.ID], st.children))
		}
	}
	return s.sp.Incident(inc, comps, func(id string) string { return st.byID[id].Name })
}

func (s *Server) routesV2More() {
	e := s.echo
	cached := s.cache.middleware
	e.GET("/api/v2/summary.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		unresolved := []spv2.Incident{}
		for _, inc := range st.unresolved {
			unresolved = append(unresolved, s.v2IncidentOf(inc, st))
		}
		maint := []spv2.ScheduledMaintenance{}
		for i := range st.windows {
			w := &st.windows[i]
			for _, o := range w.Occurrences(st.now, st.now.Add(s.maint.Horizon)) {
				if state := o.State(st.now); !o.Cancelled && (state == maintenance.StateScheduled || state == maintenance.StateInProgress) {
					maint = append(maint, s.v2Maintenance(w, o, st.byID, st.children, st.now))
				}
			}
		}
		return map[string]any{"page": s.v2Page(st.updated), "components": s.v2Components(st), "incidents": unresolved,
			"scheduled_maintenances": maint, "status": v2PageStatus(st)}, nil
	}), cached)
	e.GET("/api/v2/status.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		return map[string]any{"page": s.v2Page(st.updated), "status": v2PageStatus(st)}, nil
	}), cached)
	e.GET("/api/v2/components.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		return map[string]any{"page": s.v2Page(st.updated), "components": s.v2Components(st)}, nil
	}), cached)
	e.GET("/api/v2/incidents/unresolved.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		out := []spv2.Incident{}
		for _, inc := range st.unresolved {
			out = append(out, s.v2IncidentOf(inc, st))
		}
		return map[string]any{"page": s.v2Page(st.updated), "incidents": out}, nil
	}), cached)
	e.GET("/api/v2/incidents.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		recent, err := s.store.ListIncidents(c.Request().Context(), store.IncidentQuery{Limit: 50})
		if err != nil {
			return nil, err
		}
		st.updated = s.lastChanged(c.Request().Context(), changedIn(st.now, nil, nil, recent))
		out := []spv2.Incident{}
		for _, inc := range recent {
			out = append(out, s.v2IncidentOf(inc, st))
		}
		return map[string]any{"page": s.v2Page(st.updated), "incidents": out}, nil
	}), cached)
}

func (s *Server) v2Handler(fn func(echo.Context, *v2State) (any, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		st, err := s.loadV2(c)
		if err != nil {
			return err
		}
		body, err := fn(c, st)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Access-Control-Allow-Origin", "*") // Cache-Control: the cache's
		return c.JSON(http.StatusOK, body)
	}
}
