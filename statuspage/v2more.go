package statuspage

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

type v2PageIndicator struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type v2Incident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       v2Time        `json:"created_at"`
	UpdatedAt       v2Time        `json:"updated_at"`
	MonitoringAt    *v2Time       `json:"monitoring_at"`
	ResolvedAt      *v2Time       `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       v2Time        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []v2Update    `json:"incident_updates"`
	Components      []v2Component `json:"components"`
}

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
	children map[string][]string // groupChildren
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
	st.children = groupChildren(st.components)
	st.updated = s.lastChanged(ctx, changedIn(st.now, st.components, st.windows, st.unresolved))
	return st, nil
}

func (s *Server) v2Components(st *v2State) []v2Component {
	out := make([]v2Component, 0, len(st.components))
	for _, comp := range st.components {
		out = append(out, s.v2Component(comp, st.children, st.shown[comp.ID]))
	}
	return out
}

// v2PageStatus is the page's indicator in Statuspage's words: the worse of the components'
// statuses and the unresolved incidents' impacts.
func v2PageStatus(st *v2State) v2PageIndicator {
	rank := map[string]int{"none": 0, "maintenance": 1, "minor": 2, "major": 3, "critical": 4}
	words := map[string]string{"none": "All Systems Operational", "maintenance": "Service Under Maintenance", "minor": "Minor Service Outage",
		"major": "Partial System Outage", "critical": "Major System Outage"}
	indicator, description := "none", words["none"]
	raise := func(ind, desc string) {
		if rank[ind] > rank[indicator] {
			indicator, description = ind, desc
		}
	}
	for _, comp := range st.components {
		switch st.shown[comp.ID] {
		case component.DegradedPerformance:
			raise("minor", "Partially Degraded Service")
		case component.PartialOutage:
			raise("major", words["major"])
		case component.MajorOutage:
			raise("critical", words["critical"])
		case component.UnderMaintenance:
			raise("maintenance", words["maintenance"])
		}
	}
	for _, inc := range st.unresolved {
		if imp := inc.Severity.Impact(); imp != "none" {
			raise(imp, words[imp])
		}
	}
	return v2PageIndicator{Indicator: indicator, Description: description}
}

func (s *Server) v2IncidentOf(inc incidents.Incident, st *v2State) v2Incident {
	byID := st.byID
	v := v2Incident{ID: inc.ID, Name: inc.Title, Status: string(inc.Status), CreatedAt: s.v2Time(inc.OpenedAt), UpdatedAt: s.v2Time(inc.UpdatedAt),
		Impact: inc.Severity.Impact(), Shortlink: s.page.PublicURL + "/incidents/" + inc.ID, StartedAt: s.v2Time(inc.StartedAt),
		PageID: s.pageID(), IncidentUpdates: []v2Update{}, Components: []v2Component{}}
	if !inc.ResolvedAt.IsZero() {
		r := s.v2Time(inc.ResolvedAt)
		v.ResolvedAt = &r
	}
	for _, a := range inc.Components {
		if comp, ok := byID[a.ComponentID]; ok {
			v.Components = append(v.Components, s.v2Component(comp, st.children, st.shown[comp.ID]))
		}
	}
	prev := map[string]component.Status{}
	for _, u := range inc.Updates {
		if !u.Public() {
			continue // an acknowledgement without words is for the team
		}
		if u.Status == incidents.Monitoring && v.MonitoringAt == nil {
			m := s.v2Time(u.At)
			v.MonitoringAt = &m
		}
		up := v2Update{ID: u.ID, Status: string(u.Status), Body: u.Body, IncidentID: inc.ID, CreatedAt: s.v2Time(u.At),
			UpdatedAt: s.v2Time(u.At), DisplayAt: s.v2Time(u.At), DeliverNotifications: true}
		if u.Components != nil {
			changes := []v2AffectedComponent{}
			for _, a := range u.Components {
				old := prev[a.ComponentID]
				if old == "" {
					old = component.Operational
				}
				changes = append(changes, v2AffectedComponent{Code: a.ComponentID, Name: byID[a.ComponentID].Name, OldStatus: string(old), NewStatus: string(a.Impact)})
				prev[a.ComponentID] = a.Impact
			}
			up.AffectedComponents = &changes
		}
		if up.Body == "" {
			up.Body = statusWord(string(u.Status)) + "."
		}
		v.IncidentUpdates = append(v.IncidentUpdates, up)
	}
	slices.Reverse(v.IncidentUpdates) // newest first
	return v
}

func (s *Server) routesV2More() {
	e := s.echo
	cached := s.cache.middleware
	e.GET("/api/v2/summary.json", s.v2Handler(func(c echo.Context, st *v2State) (any, error) {
		unresolved := []v2Incident{}
		for _, inc := range st.unresolved {
			unresolved = append(unresolved, s.v2IncidentOf(inc, st))
		}
		maint := []v2ScheduledMaintenance{}
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
		out := []v2Incident{}
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
		out := []v2Incident{}
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
