package statuspage

import (
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// SLA gives the server the service-level policies incidents follow.
type SLA struct {
	Policies      map[string]*incidents.Policy
	DefaultPolicy string
}

func (s *Server) routesIncidents() {
	e := s.echo
	admin := e.Group("/api/admin/v1/incidents")
	read, write := s.require(apikey.ScopeRead), s.require(apikey.ScopeIncidents)
	admin.GET("", s.listIncidents(false), read)
	admin.POST("", s.declareIncident, write)
	admin.GET("/:id", s.getIncident(false), read)
	admin.POST("/:id/updates", s.changeIncident("update"), write)
	admin.POST("/:id/acknowledge", s.changeIncident("acknowledge"), write)
	admin.POST("/:id/resolve", s.changeIncident("resolve"), write)
	admin.POST("/:id/reopen", s.changeIncident("reopen"), write)
	e.GET("/api/v1/incidents", s.listIncidents(true), s.cache.middleware)
	e.GET("/api/v1/incidents/:id", s.getIncident(true), s.cache.middleware)
}

type affectedInput struct {
	ID     string           `json:"id"`
	Impact component.Status `json:"impact"`
}

func toAffected(in []affectedInput) []incidents.Affected {
	if in == nil {
		return nil
	}
	out := make([]incidents.Affected, len(in))
	for i, a := range in {
		out[i] = incidents.Affected{ComponentID: a.ID, Impact: a.Impact}
	}
	return out
}

type incidentInput struct {
	Title      string             `json:"title"`
	Message    string             `json:"message"`
	Severity   incidents.Severity `json:"severity"`
	Status     incidents.Status   `json:"status"`
	Components []affectedInput    `json:"components"`
	Policy     string             `json:"policy"`
	StartedAt  time.Time          `json:"started_at"`
	ResolvedAt time.Time          `json:"resolved_at"` // set: a backfill of a past incident
}

func (s *Server) declareIncident(c echo.Context) error {
	var in incidentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := s.md.check(in.Message); err != nil {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "message", "%v", err)
	}
	inc, err := s.svc.Incidents.Declare(c.Request().Context(), by(c), incidents.Declaration{Title: in.Title, Body: in.Message,
		Severity: in.Severity, Status: in.Status, Components: toAffected(in.Components), Policy: in.Policy,
		StartedAt: in.StartedAt, ResolvedAt: in.ResolvedAt})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.viewIncident(inc, s.clock.Now().UTC(), false))
}

type changeInput struct {
	Message    string             `json:"message"`
	Status     incidents.Status   `json:"status"`
	Severity   incidents.Severity `json:"severity"`
	Components []affectedInput    `json:"components"`
	Workaround bool               `json:"workaround"`
}

// changeIncident applies an update, acknowledgement, resolution or reopening through the
// service, which retries a change that raced another one on a fresh copy.
func (s *Server) changeIncident(op string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !component.ValidID(id) {
			return fieldError(http.StatusBadRequest, "invalid_id", "id", "not an incident id")
		}
		var in changeInput
		if c.Request().ContentLength != 0 || op == "update" {
			if err := decodeJSON(c, &in); err != nil {
				return err
			}
		}
		if err := s.md.check(in.Message); err != nil {
			return fieldError(http.StatusUnprocessableEntity, "validation_failed", "message", "%v", err)
		}
		ctx, who := c.Request().Context(), by(c)
		var inc incidents.Incident
		var err error
		switch op {
		case "update":
			inc, err = s.svc.Incidents.Update(ctx, who, id, incidents.Change{Body: in.Message, Status: in.Status, Severity: in.Severity,
				Components: toAffected(in.Components), Workaround: in.Workaround})
		case "acknowledge":
			inc, err = s.svc.Incidents.Acknowledge(ctx, who, id, in.Message)
		case "resolve":
			inc, err = s.svc.Incidents.Resolve(ctx, who, id, in.Message)
		case "reopen":
			inc, err = s.svc.Incidents.Reopen(ctx, who, id, in.Message)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.viewIncident(inc, s.clock.Now().UTC(), false))
	}
}

func (s *Server) listIncidents(public bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		q := store.IncidentQuery{Limit: 50}
		switch c.QueryParam("status") {
		case "", "all":
		case "open":
			q.OpenOnly = true
		case "resolved":
			q.ResolvedOnly = true
		default:
			return fieldError(http.StatusBadRequest, "invalid_query", "status", "must be open, resolved or all")
		}
		if sev := c.QueryParam("severity"); sev != "" {
			q.Severity = incidents.Severity(sev)
			if !q.Severity.Valid() {
				return fieldError(http.StatusBadRequest, "invalid_query", "severity", "must be P0, P1, P2 or P3")
			}
		}
		if comp := c.QueryParam("component"); comp != "" {
			if !component.ValidID(comp) {
				return fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
			}
			q.ComponentID = comp
		}
		if l := c.QueryParam("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > store.MaxIncidentLimit {
				return fieldError(http.StatusBadRequest, "invalid_query", "limit", "must be 1 to %d", store.MaxIncidentLimit)
			}
			q.Limit = n
		}
		list, err := s.store.ListIncidents(c.Request().Context(), q)
		if err != nil {
			return err
		}
		now := s.clock.Now().UTC()
		out := make([]incidentView, 0, len(list))
		for _, inc := range list {
			out = append(out, s.viewIncident(inc, now, public))
		}
		if public {
			c.Response().Header().Set("Access-Control-Allow-Origin", "*")
		}
		return c.JSON(http.StatusOK, map[string]any{"incidents": out})
	}
}

func (s *Server) getIncident(public bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		if !component.ValidID(id) {
			return fieldError(http.StatusBadRequest, "invalid_id", "id", "not an incident id")
		}
		inc, err := s.store.GetIncident(c.Request().Context(), id)
		if err != nil {
			return err
		}
		if public {
			c.Response().Header().Set("Access-Control-Allow-Origin", "*")
		}
		return c.JSON(http.StatusOK, s.viewIncident(inc, s.clock.Now().UTC(), public))
	}
}

type updateView struct {
	ID         string               `json:"id"`
	At         time.Time            `json:"at"`
	Author     string               `json:"author,omitempty"`
	Kind       string               `json:"kind"`
	Status     incidents.Status     `json:"status"`
	Body       string               `json:"body"`
	BodyHTML   template.HTML        `json:"body_html"`
	Severity   incidents.Severity   `json:"severity,omitempty"`
	Components []incidents.Affected `json:"components,omitempty"`
	Workaround bool                 `json:"workaround,omitempty"`
	Internal   bool                 `json:"internal,omitempty"` // admin only: the public never sees it
}

// clockView is a clock's state with durations in seconds, as every API duration is.
type clockView struct {
	Kind             incidents.ClockKind  `json:"kind"`
	Calendar         string               `json:"calendar"`
	State            incidents.ClockState `json:"state"`
	GoalSeconds      int64                `json:"goal_seconds"`
	UsedSeconds      int64                `json:"used_seconds"`
	RemainingSeconds int64                `json:"remaining_seconds"`
	DueAt            time.Time            `json:"due_at"`
	WarnAt           time.Time            `json:"warn_at"`
	Warned           bool                 `json:"warned"`
	MetAt            *time.Time           `json:"met_at"`
	StoppedAt        *time.Time           `json:"stopped_at,omitempty"` // only when it stopped unmet
}

func viewClock(st incidents.ClockStatus) clockView {
	return clockView{Kind: st.Kind, Calendar: st.Calendar, State: st.State, GoalSeconds: int64(st.Goal / time.Second),
		UsedSeconds: int64(st.Used / time.Second), RemainingSeconds: int64(st.Remaining / time.Second),
		DueAt: st.DueAt.UTC(), WarnAt: st.WarnAt.UTC(), Warned: st.Warned, MetAt: optTime(st.MetAt), StoppedAt: optTime(st.StoppedAt)}
}

type incidentView struct {
	ID             string               `json:"id"`
	Title          string               `json:"title"`
	Severity       incidents.Severity   `json:"severity"`
	Impact         string               `json:"impact"`
	Status         incidents.Status     `json:"status"`
	Components     []incidents.Affected `json:"components"`
	Policy         string               `json:"policy,omitempty"`
	StartedAt      time.Time            `json:"started_at"`
	OpenedAt       time.Time            `json:"opened_at"`
	ResolvedAt     *time.Time           `json:"resolved_at"`
	AcknowledgedAt *time.Time           `json:"acknowledged_at,omitempty"`
	WorkaroundAt   *time.Time           `json:"workaround_at,omitempty"`
	Automatic      bool                 `json:"automatic"`
	Backfilled     bool                 `json:"backfilled"`
	Updates        []updateView         `json:"updates"` // newest first
	Clocks         []clockView          `json:"clocks"`
	UpdatedAt      time.Time            `json:"updated_at"`
	Version        int                  `json:"version,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// viewIncident shows an incident at now: updates newest first with sanitised HTML, and its
// clocks' states. The public view leaves out authors and the version.
func (s *Server) viewIncident(inc incidents.Incident, now time.Time, public bool) incidentView {
	v := incidentView{ID: inc.ID, Title: inc.Title, Severity: inc.Severity, Impact: inc.Severity.Impact(), Status: inc.Status,
		Components: inc.Components, Policy: inc.Policy, StartedAt: inc.StartedAt, OpenedAt: inc.OpenedAt, ResolvedAt: optTime(inc.ResolvedAt),
		Automatic: inc.Automatic, Backfilled: inc.Backfilled, UpdatedAt: inc.UpdatedAt, Updates: []updateView{}, Clocks: []clockView{}}
	if !public {
		v.AcknowledgedAt, v.WorkaroundAt, v.Version = optTime(inc.AcknowledgedAt), optTime(inc.WorkaroundAt), inc.Version
	}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		if public && !u.Public() {
			continue // an acknowledgement without words is for the team
		}
		uv := updateView{ID: u.ID, At: u.At, Author: u.Author, Kind: u.Kind, Status: u.Status, Body: u.Body, BodyHTML: s.md.render(u.Body),
			Severity: u.Severity, Components: u.Components, Workaround: u.Workaround, Internal: !u.Public()}
		if public {
			uv.Author = ""
		}
		v.Updates = append(v.Updates, uv)
	}
	if p := s.sla.Policies[inc.Policy]; p != nil {
		for _, c := range inc.Clocks {
			t := p.Target(inc.Severity, c.Kind)
			if t == nil {
				continue
			}
			if st, err := c.At(t.Calendar, now); err == nil {
				v.Clocks = append(v.Clocks, viewClock(st))
			}
		}
	}
	return v
}
