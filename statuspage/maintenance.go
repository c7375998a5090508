package statuspage

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
)

// Maintenance configures how the page announces windows.
type Maintenance struct {
	NoticePeriod time.Duration // announced at least this long ahead: excluded from availability
	Horizon      time.Duration // occurrences starting within this appear as upcoming
}

func (s *Server) routesMaintenance() {
	e := s.echo
	admin := e.Group("/api/admin/v1/maintenance")
	read, write := s.require(apikey.ScopeRead), s.require(apikey.ScopeMaintenance)
	admin.GET("", s.listWindows, read)
	admin.POST("", s.createWindow, write)
	admin.GET("/:id", s.getWindow, read)
	admin.PATCH("/:id", s.updateWindow, write)
	admin.DELETE("/:id", s.deleteWindow, write)
	admin.POST("/:id/cancel", s.cancelSeries, write)
	admin.POST("/:id/occurrences/:start/cancel", s.editOccurrence("cancel"), write)
	admin.POST("/:id/occurrences/:start/end", s.editOccurrence("end"), write)
	admin.POST("/:id/occurrences/:start/extend", s.editOccurrence("extend"), write)
	e.GET("/api/v1/maintenance/occurrences", s.publicOccurrences, s.cache.middleware)
	e.GET("/maintenance.ics", s.maintenanceICS, s.cache.middleware)
}

// windowInput is a window as an API client writes it (the same form as the config file).
type windowInput struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Components  []string  `json:"components"`
	TimeZone    string    `json:"time_zone"`
	Days        []string  `json:"days"`
	Daily       bool      `json:"daily"`
	RRule       string    `json:"rrule"`
	StartTime   string    `json:"start_time"`
	EndTime     string    `json:"end_time"`
	Duration    string    `json:"duration"`
	FirstDate   string    `json:"first_date"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
}

func (in windowInput) spec() (maintenance.Spec, error) {
	sp := maintenance.Spec{ID: in.ID, Title: in.Title, Description: in.Description, Components: in.Components, TimeZone: in.TimeZone,
		Days: in.Days, Daily: in.Daily, RRule: in.RRule, StartTime: in.StartTime, EndTime: in.EndTime, FirstDate: in.FirstDate,
		Start: in.Start, End: in.End}
	if in.Duration != "" {
		d, err := time.ParseDuration(in.Duration)
		if err != nil {
			return sp, fieldError(http.StatusUnprocessableEntity, "validation_failed", "duration", "invalid duration %q (use a number and a unit, such as 2h or 90m)", truncate(in.Duration, 40))
		}
		sp.Duration = d
	}
	return sp, nil
}

// occurrenceView is one occurrence as the APIs show it.
type occurrenceView struct {
	WindowID     string            `json:"window_id"`
	Title        string            `json:"title"`
	Components   []string          `json:"components"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	ScheduledEnd time.Time         `json:"scheduled_end"`
	LocalStart   string            `json:"local_start"`
	LocalEnd     string            `json:"local_end"`
	TimeZone     string            `json:"time_zone"`
	Status       maintenance.State `json:"status"`
	AnnouncedAt  time.Time         `json:"announced_at"`
	Announced    bool              `json:"announced"`
}

func (s *Server) viewOccurrence(w *maintenance.Window, o maintenance.Occurrence, now time.Time) occurrenceView {
	loc := w.Location()
	return occurrenceView{WindowID: w.ID, Title: w.Title, Components: w.Components, Start: o.Start, End: o.End, ScheduledEnd: o.ScheduledEnd,
		LocalStart: o.Start.In(loc).Format(time.RFC3339), LocalEnd: o.End.In(loc).Format(time.RFC3339), TimeZone: w.TimeZone,
		Status: o.State(now), AnnouncedAt: w.AnnouncedAt, Announced: w.Announced(o, s.maint.NoticePeriod)}
}

type windowView struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Components  []string         `json:"components"`
	TimeZone    string           `json:"time_zone"`
	RRule       string           `json:"rrule,omitempty"`
	FirstDate   string           `json:"first_date,omitempty"`
	StartTime   string           `json:"start_time,omitempty"`
	EndTime     string           `json:"end_time,omitempty"`
	Duration    string           `json:"duration,omitempty"`
	Start       *time.Time       `json:"start,omitempty"`
	End         *time.Time       `json:"end,omitempty"`
	AnnouncedAt time.Time        `json:"announced_at"`
	CancelledAt *time.Time       `json:"cancelled_at"`
	Source      string           `json:"source"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	Next        []occurrenceView `json:"next_occurrences"`
}

func (s *Server) viewWindow(w *maintenance.Window, now time.Time) windowView {
	v := windowView{ID: w.ID, Title: w.Title, Description: w.Description, Components: w.Components, TimeZone: w.TimeZone,
		AnnouncedAt: w.AnnouncedAt, Source: w.Source, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Next: []occurrenceView{}}
	if w.Recurring() {
		v.RRule, v.FirstDate, v.StartTime = w.Rule, w.FirstDate.String(), w.StartClock.String()
		if w.Duration > 0 {
			v.Duration = w.Duration.String()
		} else {
			v.EndTime = w.EndClock.String()
		}
	} else {
		start, end := w.Start, w.End
		v.Start, v.End = &start, &end
	}
	if !w.CancelledAt.IsZero() {
		c := w.CancelledAt
		v.CancelledAt = &c
	}
	for _, o := range w.Occurrences(now, now.Add(366*24*time.Hour)) {
		if len(v.Next) == 5 {
			break
		}
		v.Next = append(v.Next, s.viewOccurrence(w, o, now))
	}
	return v
}

func (s *Server) listWindows(c echo.Context) error {
	ws, err := s.store.ListWindows(c.Request().Context())
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	out := make([]windowView, 0, len(ws))
	for i := range ws {
		out = append(out, s.viewWindow(&ws[i], now))
	}
	return c.JSON(http.StatusOK, map[string]any{"windows": out})
}

func (s *Server) getWindow(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	w, err := s.store.GetWindow(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewWindow(&w, s.clock.Now().UTC()))
}

func (s *Server) createWindow(c echo.Context) error {
	var in windowInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.TimeZone == "" && !in.Start.IsZero() {
		// A one-off window's instants need no zone; it is shown in the page's.
		in.TimeZone = s.page.Location.String()
	}
	sp, err := in.spec()
	if err != nil {
		return err
	}
	w, err := s.svc.Maintenance.Create(c.Request().Context(), by(c), sp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.viewWindow(&w, s.clock.Now().UTC()))
}

// windowPatch changes a window: the text at any time; the timing and components only before
// any occurrence has started (a running or past schedule is history: create a new window). The
// outer fields shadow the embedded input's fields of the same JSON name.
type windowPatch struct {
	Title       *string  `json:"title"`
	Description *string  `json:"description"`
	Components  []string `json:"components"`
	windowInput
}

// retimes reports whether the patch changes the schedule.
func (p windowPatch) retimes() bool {
	in := p.windowInput
	return in.TimeZone != "" || len(in.Days) > 0 || in.Daily || in.RRule != "" || in.StartTime != "" || in.EndTime != "" ||
		in.Duration != "" || in.FirstDate != "" || !in.Start.IsZero() || !in.End.IsZero()
}

func (s *Server) updateWindow(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p windowPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	patch := service.WindowPatch{Title: p.Title, Description: p.Description, Components: p.Components}
	if p.ID != "" && p.ID != id {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "id", "a window's id cannot change")
	}
	if p.retimes() {
		sp, err := p.windowInput.spec()
		if err != nil {
			return err
		}
		patch.Schedule = &sp
	}
	w, err := s.svc.Maintenance.Update(c.Request().Context(), by(c), id, patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewWindow(&w, s.clock.Now().UTC()))
}

func (s *Server) cancelSeries(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	w, err := s.svc.Maintenance.CancelSeries(c.Request().Context(), by(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.viewWindow(&w, s.clock.Now().UTC()))
}

// deleteWindow deletes a window made through the API that has not started yet (one created
// by mistake); a window that has started is history: 409, cancel it instead.
func (s *Server) deleteWindow(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.Maintenance.Delete(c.Request().Context(), by(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// editOccurrence cancels, ends early or extends one occurrence, named by its scheduled start.
// These are operational changes and apply to config-managed windows too.
func (s *Server) editOccurrence(op string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		raw, _ := url.PathUnescape(c.Param("start"))
		scheduled, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return fieldError(http.StatusBadRequest, "invalid_time", "start", "the occurrence is named by its scheduled start, an RFC 3339 time such as 2026-11-25T05:00:00Z")
		}
		var body struct {
			End time.Time `json:"end"`
		}
		if op == "extend" {
			if err := decodeJSON(c, &body); err != nil {
				return err
			}
			if body.End.IsZero() {
				return fieldError(http.StatusUnprocessableEntity, "validation_failed", "end", "is required: the new end, an RFC 3339 time")
			}
		}
		ctx, who := c.Request().Context(), by(c)
		var w maintenance.Window
		var o maintenance.Occurrence
		switch op {
		case "cancel":
			w, o, err = s.svc.Maintenance.CancelOccurrence(ctx, who, id, scheduled)
		case "end":
			w, o, err = s.svc.Maintenance.EndOccurrence(ctx, who, id, scheduled)
		case "extend":
			w, o, err = s.svc.Maintenance.ExtendOccurrence(ctx, who, id, scheduled, body.End)
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s.viewOccurrence(&w, o, s.clock.Now().UTC()))
	}
}

// maxOccurrenceRange bounds one occurrences query.
const maxOccurrenceRange = 400 * 24 * time.Hour

// publicOccurrences lists every occurrence overlapping [from, to), optionally of one component.
func (s *Server) publicOccurrences(c echo.Context) error {
	from, err := queryTime(c, "from")
	if err != nil {
		return err
	}
	to, err := queryTime(c, "to")
	if err != nil {
		return err
	}
	if !to.After(from) {
		return fieldError(http.StatusBadRequest, "invalid_query", "to", "must be after from")
	}
	if to.Sub(from) > maxOccurrenceRange {
		return fieldError(http.StatusBadRequest, "invalid_query", "to", "the range may span at most 400 days")
	}
	comp := c.QueryParam("component")
	if comp != "" && !component.ValidID(comp) {
		return fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
	}
	occ, err := s.occurrences(c, from, to, comp)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, map[string]any{"occurrences": occ})
}

func (s *Server) occurrences(c echo.Context, from, to time.Time, comp string) ([]occurrenceView, error) {
	ws, err := s.store.ListWindows(c.Request().Context())
	if err != nil {
		return nil, err
	}
	now := s.clock.Now().UTC()
	out := []occurrenceView{}
	for i := range ws {
		w := &ws[i]
		if comp != "" && !slices.Contains(w.Components, comp) {
			continue
		}
		for _, o := range w.Occurrences(from, to) {
			out = append(out, s.viewOccurrence(w, o, now))
		}
	}
	slices.SortStableFunc(out, func(a, b occurrenceView) int { return a.Start.Compare(b.Start) })
	return out, nil
}

func queryTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, fieldError(http.StatusBadRequest, "invalid_query", name, "is required: an RFC 3339 time such as 2026-11-01T00:00:00Z")
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fieldError(http.StatusBadRequest, "invalid_query", name, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
	}
	return t.UTC(), nil
}
