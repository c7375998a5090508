package statuspage

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

// maintenancePageData is one maintenance occurrence's own page, where the feeds' items and the
// calendar link.
type maintenancePageData struct {
	pageView
	Maintenance maintenanceView
	Status      string
	StatusClass string
	Cancelled   bool
}

// parseOccurrenceID reads what occurrenceID wrote: "<window id>-<scheduled start in base-36 Unix
// seconds>".
func parseOccurrenceID(id string) (windowID string, scheduled time.Time, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", time.Time{}, false
	}
	secs, err := strconv.ParseInt(id[i+1:], 36, 64)
	if err != nil || secs < 0 || secs > 1<<40 || !component.ValidID(id[:i]) {
		return "", time.Time{}, false
	}
	return id[:i], time.Unix(secs, 0).UTC(), true
}

// maintenancePage shows one occurrence: when (in the page's zone and UTC), what it affects, its
// state now, how the window repeats.
func (s *Server) maintenancePage(c echo.Context) error {
	windowID, scheduled, ok := parseOccurrenceID(c.Param("id"))
	if !ok {
		return newError(http.StatusNotFound, "not_found", "no such maintenance")
	}
	ctx := c.Request().Context()
	w, err := s.store.GetWindow(ctx, windowID)
	if err != nil {
		return err
	}
	o, err := w.Find(scheduled)
	if err != nil {
		return err
	}
	names, err := s.componentNames(c)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	state := o.State(now)
	class := map[maintenance.State]string{maintenance.StateInProgress: "maint", maintenance.StateCancelled: "unknown"}[state]
	if class == "" {
		class = "ok"
	}
	l := s.locale(c)
	v := maintenancePageData{pageView: s.basePage(c, now), Maintenance: s.viewMaintenance(l, &w, o, names),
		Status: l.T("maintenance_state." + string(state)), StatusClass: class, Cancelled: state == maintenance.StateCancelled}
	v.Title = l.T("maintenance.title", "Title", w.Title) + " – " + s.page.Title
	return s.render(c, http.StatusOK, "maintenance.html", v)
}
