package statuspage

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/statuspage/spv2"
)

// Statuspage's public API v2 (the shapes and their rules are in spv2, shared with the webhooks).

type v2Page struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	TimeZone  string    `json:"time_zone"`
	UpdatedAt spv2.Time `json:"updated_at"`
}

// v2Page is the page object; updated is the last change it shows (lastChanged), so the document
// stays the same, and its ETag with it, until something changes.
func (s *Server) v2Page(updated time.Time) v2Page {
	return v2Page{ID: s.sp.ID, Name: s.page.Title, URL: s.page.PublicURL, TimeZone: s.page.Location.String(), UpdatedAt: s.sp.Time(updated)}
}

// occurrenceID names an occurrence stably: its window and scheduled start.
func occurrenceID(w *maintenance.Window, o maintenance.Occurrence) string {
	return w.ID + "-" + strconv.FormatInt(o.Scheduled.Unix(), 36)
}

func (s *Server) v2Maintenance(w *maintenance.Window, o maintenance.Occurrence, comps map[string]component.Component, children map[string][]string, now time.Time) spv2.ScheduledMaintenance {
	id := occurrenceID(w, o)
	state := o.State(now)
	var affected []spv2.Component
	var codes []spv2.AffectedComponent
	for _, cid := range w.Components {
		c, ok := comps[cid]
		if !ok {
			continue
		}
		shown := c.Status
		if state == maintenance.StateInProgress {
			shown = component.UnderMaintenance
		}
		affected = append(affected, s.sp.Component(c, shown, children))
		codes = append(codes, spv2.AffectedComponent{Code: c.ID, Name: c.Name, OldStatus: spv2.Status(c.Status), NewStatus: string(component.UnderMaintenance)})
	}
	if affected == nil {
		affected = []spv2.Component{}
	}
	update := func(status string, at time.Time, body string, changes []spv2.AffectedComponent) spv2.Update {
		u := spv2.Update{ID: id + "-" + status, Status: status, Body: body, IncidentID: id, CreatedAt: s.sp.Time(at), UpdatedAt: s.sp.Time(at),
			DisplayAt: s.sp.Time(at), DeliverNotifications: true}
		if changes != nil {
			u.AffectedComponents = &changes
		}
		return u
	}
	body := w.Description
	if body == "" {
		body = w.Title + " is scheduled."
	}
	announced := w.AnnouncedAt
	if announced.After(o.Start) {
		announced = o.Start
	}
	updates := []spv2.Update{update("scheduled", announced, body, codes)}
	updatedAt := announced
	v := spv2.ScheduledMaintenance{Incident: spv2.Incident{ID: id, Name: w.Title, Status: string(maintenance.StateScheduled),
		CreatedAt: s.sp.Time(announced), Impact: "maintenance", Shortlink: s.page.PublicURL + "/", StartedAt: s.sp.Time(o.Start),
		PageID: s.sp.ID, Components: affected}, ScheduledFor: s.sp.Time(o.Start), ScheduledUntil: s.sp.Time(o.End)}
	if state == maintenance.StateInProgress || state == maintenance.StateCompleted {
		updates = append(updates, update("in_progress", o.Start, "Maintenance is in progress.", nil))
		v.Status, updatedAt = string(maintenance.StateInProgress), o.Start
	}
	if state == maintenance.StateCompleted {
		back := make([]spv2.AffectedComponent, len(codes))
		for i, c := range codes {
			back[i] = spv2.AffectedComponent{Code: c.Code, Name: c.Name, OldStatus: string(component.UnderMaintenance), NewStatus: c.OldStatus}
		}
		updates = append(updates, update("completed", o.End, "Maintenance has been completed.", back))
		v.Status, updatedAt = string(maintenance.StateCompleted), o.End
		v.ResolvedAt = s.sp.OptionalTime(o.End)
	}
	slices.Reverse(updates) // newest first
	v.IncidentUpdates, v.UpdatedAt = updates, s.sp.Time(updatedAt)
	return v
}

// v2Maintenances lists occurrences, newest first: which ones depends on the endpoint.
func (s *Server) v2Maintenances(c echo.Context, keep func(maintenance.State) bool, limit int) error {
	ctx := c.Request().Context()
	now := s.clock.Now()
	all, err := s.store.ListComponents(ctx)
	if err != nil {
		return err
	}
	comps := map[string]component.Component{}
	for _, comp := range all {
		comps[comp.ID] = comp
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return err
	}
	children := spv2.GroupChildren(all)
	out := []spv2.ScheduledMaintenance{}
	var starts []time.Time
	for i := range windows {
		w := &windows[i]
		for _, o := range w.Occurrences(now.Add(-90*24*time.Hour), now.Add(s.maint.Horizon)) {
			if o.Cancelled || !keep(o.State(now)) {
				continue
			}
			out = append(out, s.v2Maintenance(w, o, comps, children, now))
			starts = append(starts, o.Start)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return starts[b].Compare(starts[a]) })
	sorted := make([]spv2.ScheduledMaintenance, 0, len(out))
	for _, i := range idx {
		sorted = append(sorted, out[i])
	}
	if len(sorted) > limit {
		sorted = sorted[:limit]
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*") // Cache-Control: the cache's
	updated := s.lastChanged(ctx, changedIn(now, all, windows, nil))
	return c.JSON(http.StatusOK, map[string]any{"page": s.v2Page(updated), "scheduled_maintenances": sorted})
}

func (s *Server) routesV2() {
	any := func(maintenance.State) bool { return true }
	s.echo.GET("/api/v2/scheduled-maintenances.json", func(c echo.Context) error { return s.v2Maintenances(c, any, 50) }, s.cache.middleware)
	s.echo.GET("/api/v2/scheduled-maintenances/upcoming.json", func(c echo.Context) error {
		return s.v2Maintenances(c, func(st maintenance.State) bool { return st == maintenance.StateScheduled }, 1000)
	}, s.cache.middleware)
	s.echo.GET("/api/v2/scheduled-maintenances/active.json", func(c echo.Context) error {
		return s.v2Maintenances(c, func(st maintenance.State) bool { return st == maintenance.StateInProgress }, 1000)
	}, s.cache.middleware)
}
