package statuspage

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// by is who makes a change through this request: the key's name, from where, with which request
// id, for the audit log the service writes.
func by(c echo.Context) service.Actor {
	return service.Actor{Name: actor(c), RemoteAddr: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
}

func pathID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !component.ValidID(id) {
		return "", fieldError(http.StatusBadRequest, "invalid_id", "id", "invalid id %q: use 1-63 characters of a-z, 0-9, '-' and '_'", truncate(id, 80))
	}
	return id, nil
}

// truncate cuts s to at most n bytes, at a character's boundary, and marks the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Components.

// adminComponent is a component as the admin API answers (docs/api.md, "Components"): status
// is what it shows (component.Shown: the status /api/v1, the CLI and the pages show; a group's
// from its components, maintenance overlaid), status_since when that began (shownSince), and
// recorded_status and recorded_since the last change of its status timeline, which
// availability is computed from.
type adminComponent struct {
	component.Component
	Status         component.Status `json:"status"`
	StatusSince    *time.Time       `json:"status_since"`
	RecordedStatus component.Status `json:"recorded_status"`
	RecordedSince  *time.Time       `json:"recorded_since"`
}

type componentList struct {
	Components []adminComponent `json:"components"`
}

// shownComponents reads every component and the windows, and returns what each shows now,
// with since when.
func (s *Server) shownComponents(ctx context.Context) ([]component.Component, map[string]component.Status, map[string]*time.Time, error) {
	cs, err := s.store.ListComponents(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	now := s.clock.Now()
	shown := component.Shown(cs, maintenance.InProgress(windows, now))
	since := make(map[string]*time.Time, len(cs))
	for _, comp := range cs {
		since[comp.ID] = shownSince(comp, shown[comp.ID], windows, now)
	}
	return cs, shown, since, nil
}

// shownSince is when what a component shows began, where that is known without reading its
// timeline: under maintenance, the start of the occurrence in progress (the earliest, when
// several cover it); otherwise when its recorded status began. Nil for a group (the worst of
// its components has no one start) and for a component with no status recorded yet.
func shownSince(comp component.Component, shown component.Status, windows []maintenance.Window, now time.Time) *time.Time {
	if comp.IsGroup {
		return nil
	}
	if shown == component.UnderMaintenance && comp.Status != component.UnderMaintenance {
		var start time.Time
		for i := range windows {
			if !slices.Contains(windows[i].Components, comp.ID) {
				continue
			}
			for _, o := range windows[i].Occurrences(now, now.Add(time.Nanosecond)) {
				if o.State(now) == maintenance.StateInProgress && (start.IsZero() || o.Start.Before(start)) {
					start = o.Start
				}
			}
		}
		if !start.IsZero() {
			start = start.UTC()
			return &start
		}
	}
	if comp.StatusSince.IsZero() {
		return nil
	}
	t := comp.StatusSince
	return &t
}

// adminView is comp as the admin API answers it, from shownComponents' maps.
func adminView(comp component.Component, shown map[string]component.Status, since map[string]*time.Time) adminComponent {
	a := adminComponent{Component: comp, Status: shown[comp.ID], StatusSince: since[comp.ID], RecordedStatus: comp.Status}
	if a.Status == "" {
		a.Status = comp.Status
	}
	if !comp.StatusSince.IsZero() {
		t := comp.StatusSince
		a.RecordedSince = &t
	}
	return a
}

// adminComponentByID is one component as the admin API answers it.
func (s *Server) adminComponentByID(ctx context.Context, id string) (adminComponent, error) {
	cs, shown, since, err := s.shownComponents(ctx)
	if err != nil {
		return adminComponent{}, err
	}
	for _, comp := range cs {
		if comp.ID == id {
			return adminView(comp, shown, since), nil
		}
	}
	return adminComponent{}, fmt.Errorf("component %s: %w", id, store.ErrNotFound)
}

func (s *Server) listComponents(c echo.Context) error {
	cs, shown, since, err := s.shownComponents(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]adminComponent, 0, len(cs))
	for _, comp := range cs {
		out = append(out, adminView(comp, shown, since))
	}
	return c.JSON(http.StatusOK, componentList{out})
}

func (s *Server) getComponent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	comp, err := s.adminComponentByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, comp)
}

// componentInput is what a client sends to create a component.
type componentInput struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	GroupID     string `json:"group_id"`
	IsGroup     bool   `json:"group"`
	Position    int    `json:"position"`
	Visibility  string `json:"visibility"` // public (default) or internal
}

// componentPatch is what a client sends to change one; absent fields stay as they are.
type componentPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	GroupID     *string `json:"group_id"`
	Position    *int    `json:"position"`
	Visibility  *string `json:"visibility"`
}

func (s *Server) createComponent(c echo.Context) error {
	var in componentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	vis, err := component.ParseVisibility(in.Visibility)
	if err != nil {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "visibility", "must be public or internal")
	}
	comp, err := s.svc.Components.Create(c.Request().Context(), by(c), component.Component{ID: in.ID, Name: in.Name,
		Description: in.Description, GroupID: in.GroupID, IsGroup: in.IsGroup, Position: in.Position, Visibility: vis})
	if err != nil {
		return err
	}
	return s.answerComponent(c, http.StatusCreated, comp)
}

func (s *Server) updateComponent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var p componentPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	patch := service.ComponentPatch{Name: p.Name, Description: p.Description, GroupID: p.GroupID, Position: p.Position}
	if p.Visibility != nil {
		vis, err := component.ParseVisibility(*p.Visibility)
		if err != nil {
			return fieldError(http.StatusUnprocessableEntity, "validation_failed", "visibility", "must be public or internal")
		}
		patch.Visibility = &vis
	}
	comp, err := s.svc.Components.Update(c.Request().Context(), by(c), id, patch)
	if err != nil {
		return err
	}
	return s.answerComponent(c, http.StatusOK, comp)
}

// answerComponent answers a change with the component as the admin API shows it. The change is
// made: if what it shows cannot be read back, the answer carries the recorded status alone.
func (s *Server) answerComponent(c echo.Context, code int, comp component.Component) error {
	a, err := s.adminComponentByID(c.Request().Context(), comp.ID)
	if err != nil {
		s.log.Warn("read back a changed component", "component_id", comp.ID, "err", err)
		a = adminView(comp, map[string]component.Status{}, map[string]*time.Time{})
		if !comp.IsGroup {
			a.StatusSince = a.RecordedSince
		}
	}
	return c.JSON(code, a)
}

func (s *Server) deleteComponent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := s.svc.Components.Delete(c.Request().Context(), by(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// publicComponents is the unauthenticated list of components and their status.
func (s *Server) publicComponents(c echo.Context) error {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return err
	}
	type public struct {
		ID          string           `json:"id"`
		Name        string           `json:"name"`
		Description string           `json:"description"`
		GroupID     string           `json:"group_id,omitempty"`
		IsGroup     bool             `json:"group"`
		Status      component.Status `json:"status"`
		StatusSince *time.Time       `json:"status_since"`
	}
	windows, err := s.store.ListWindows(c.Request().Context())
	if err != nil {
		return err
	}
	now := s.clock.Now()
	shown := component.Shown(cs, maintenance.InProgress(windows, now))
	out := make([]public, 0, len(cs))
	for _, comp := range cs {
		out = append(out, public{ID: comp.ID, Name: comp.Name, Description: comp.Description, GroupID: comp.GroupID, IsGroup: comp.IsGroup,
			Status: shown[comp.ID], StatusSince: shownSince(comp, shown[comp.ID], windows, now)})
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, map[string]any{"components": out})
}

// Keys.

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.store.ListKeys(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]service.KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, service.ViewKey(k))
	}
	return c.JSON(http.StatusOK, map[string]any{"keys": out})
}

func (s *Server) createKey(c echo.Context) error {
	var in struct {
		Name   string         `json:"name"`
		Scopes []apikey.Scope `json:"scopes"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	key, token, err := s.svc.Keys.Create(c.Request().Context(), by(c), in.Name, in.Scopes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"key": service.ViewKey(key), "token": token,
		"note": "the token is shown once; store it now"})
}

func (s *Server) revokeKey(c echo.Context) error {
	id := c.Param("id")
	if len(id) != 16 {
		return fieldError(http.StatusBadRequest, "invalid_id", "id", "not a key id")
	}
	if err := s.svc.Keys.Revoke(c.Request().Context(), by(c), id); err != nil {
		return err
	}
	s.auth.forget(id)
	return c.NoContent(http.StatusNoContent)
}

// Audit.

func (s *Server) listAudit(c echo.Context) error {
	q := store.AuditQuery{Actor: c.QueryParam("actor"), Action: c.QueryParam("action"), Target: c.QueryParam("target")}
	var err error
	parseTime := func(name string) time.Time {
		v := c.QueryParam(name)
		if v == "" || err != nil {
			return time.Time{}
		}
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			err = fieldError(http.StatusBadRequest, "invalid_query", name, "must be an RFC 3339 time such as 2026-11-01T08:00:00Z")
		}
		return t
	}
	parseInt := func(name string) int64 {
		v := c.QueryParam(name)
		if v == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 {
			err = fieldError(http.StatusBadRequest, "invalid_query", name, "must be a non-negative integer")
		}
		return n
	}
	q.Since, q.Until = parseTime("since"), parseTime("until")
	q.BeforeID = parseInt("before")
	limit := parseInt("limit")
	if err != nil {
		return err
	}
	if limit > store.MaxAuditLimit {
		return fieldError(http.StatusBadRequest, "invalid_query", "limit", "must be at most %d", store.MaxAuditLimit)
	}
	q.Limit = int(limit)
	if q.Limit == 0 {
		q.Limit = 100
	}
	entries, err := s.store.ListAudit(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	resp := map[string]any{"entries": entries, "next_before": nil}
	if len(entries) == q.Limit {
		resp["next_before"] = entries[len(entries)-1].ID
	}
	return c.JSON(http.StatusOK, resp)
}
