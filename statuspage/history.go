package statuspage

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/store"
)

func (s *Server) routesHistory() {
	s.echo.GET("/incidents/:id", s.incidentPage, s.cache.middleware)
	s.echo.GET("/maintenance/:id", s.maintenancePage, s.cache.middleware)
	s.echo.GET("/history", s.historyPage, s.cache.middleware)
}

func (s *Server) componentNames(c echo.Context) (map[string]string, error) {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, comp := range cs {
		names[comp.ID] = comp.Name
	}
	return names, nil
}

type incidentPageData struct {
	pageView
	Incident incidentPageView
}

func (s *Server) incidentPage(c echo.Context) error {
	id := c.Param("id")
	if !component.ValidID(id) {
		return newError(http.StatusNotFound, "not_found", "no such incident")
	}
	inc, err := s.store.GetIncident(c.Request().Context(), id)
	if err != nil {
		return err
	}
	names, err := s.componentNames(c)
	if err != nil {
		return err
	}
	l := s.locale(c)
	v := incidentPageData{pageView: s.basePage(c, s.clock.Now()), Incident: s.viewIncidentPage(l, inc, names)}
	v.Title = inc.Title + " – " + s.page.Title
	return s.render(c, http.StatusOK, "incident.html", v)
}

type historyIncident struct{ ID, Title, Status, When, Components string }

type historyData struct {
	pageView
	MonthLabel, Prev, PrevLabel, Next, NextLabel string
	Incidents                                    []historyIncident
	Maintenance                                  []maintenanceView
}

// historyPage lists a month's incidents and maintenance, in the page's zone.
func (s *Server) historyPage(c echo.Context) error {
	now := s.clock.Now().In(s.page.Location)
	y, m := now.Year(), now.Month()
	if q := c.QueryParam("month"); q != "" {
		var err error
		if y, m, err = ParseMonth(q); err != nil {
			return fieldError(http.StatusBadRequest, "invalid_query", "month", "%v", err)
		}
	}
	month := availability.Month(y, m, s.page.Location)
	if month.Start.After(now) {
		return fieldError(http.StatusNotFound, "not_started", "month", "the month has not begun: it has no history yet")
	}
	ctx := c.Request().Context()
	names, err := s.componentNames(c)
	if err != nil {
		return err
	}
	l := s.locale(c)
	v := historyData{pageView: s.basePage(c, s.clock.Now())}
	v.Title = l.T("history.title", "Title", s.page.Title)
	label := func(t time.Time) string { return l.Date(t, locale.Month) }
	v.MonthLabel = label(month.Start.In(s.page.Location))
	prev := month.Start.In(s.page.Location).AddDate(0, -1, 0)
	v.Prev, v.PrevLabel = prev.Format("2006-01"), label(prev)
	if next := month.End.In(s.page.Location); !next.After(now) { // the next month has begun
		v.Next, v.NextLabel = next.Format("2006-01"), label(next)
	}
	// Heads only: the list shows no updates, and an incident with a thousand of them costs no
	// more than one with three.
	heads, err := s.incidentHeads(c, store.IncidentQuery{StartedFrom: month.Start, StartedBefore: month.End})
	if err != nil {
		return err
	}
	for _, h := range heads {
		inc := h.Incident
		var comps []string
		for _, a := range inc.Components {
			comps = append(comps, names[a.ComponentID])
		}
		when := l.Date(inc.StartedAt.In(s.page.Location), locale.DayTimeShort)
		if !inc.ResolvedAt.IsZero() {
			when = l.T("format.range", "From", when, "To", l.Date(inc.ResolvedAt.In(s.page.Location), locale.DayTime))
		}
		v.Incidents = append(v.Incidents, historyIncident{ID: inc.ID, Title: inc.Title, Status: l.T("incident_status." + string(inc.Status)),
			When: when, Components: strings.Join(comps, l.T("list.separator"))})
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return err
	}
	for i := range windows {
		for _, o := range windows[i].Occurrences(month.Start, month.End) {
			if !o.Cancelled && o.Start.Before(s.clock.Now()) {
				v.Maintenance = append(v.Maintenance, s.viewMaintenance(l, &windows[i], o, names))
			}
		}
	}
	slices.SortFunc(v.Maintenance, func(a, b maintenanceView) int { return strings.Compare(b.StartISO, a.StartISO) })
	return s.render(c, http.StatusOK, "history.html", v)
}
