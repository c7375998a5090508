package statuspage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// auditEntry starts the audit record of a change made by this request.
func (s *Server) auditEntry(c echo.Context, now time.Time, action, target string, after any) store.AuditEntry {
	a := store.AuditEntry{At: now, Actor: actor(c), Action: action, Target: target, After: store.Null,
		RemoteAddr: c.RealIP(), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)}
	if after != nil {
		a.After = store.MustJSON(after)
	}
	return a
}

func pathID(c echo.Context) (string, error) {
	id := c.Param("id")
	if !component.ValidID(id) {
		return "", fieldError(http.StatusBadRequest, "invalid_id", "id", "invalid id %q: use 1-63 characters of a-z, 0-9, '-' and '_'", truncate(id, 80))
	}
	return id, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Components.

type componentList struct {
	Components []component.Component `json:"components"`
}

func (s *Server) listComponents(c echo.Context) error {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []component.Component{}
	}
	return c.JSON(http.StatusOK, componentList{cs})
}

func (s *Server) getComponent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	comp, err := s.store.GetComponent(c.Request().Context(), id)
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
}

// componentPatch is what a client sends to change one; absent fields stay as they are.
type componentPatch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	GroupID     *string `json:"group_id"`
	Position    *int    `json:"position"`
}

// checkGroup verifies that a component's group exists and is a group.
func (s *Server) checkGroup(c echo.Context, comp component.Component) error {
	if comp.GroupID == "" {
		return nil
	}
	g, err := s.store.GetComponent(c.Request().Context(), comp.GroupID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !g.IsGroup {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "group_id", "%q is not a group", comp.GroupID)
	}
	return err
}

func (s *Server) createComponent(c echo.Context) error {
	var in componentInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	comp := component.Component{ID: in.ID, Name: in.Name, Description: in.Description, GroupID: in.GroupID, IsGroup: in.IsGroup,
		Position: in.Position, Source: component.SourceAPI, Status: component.Unknown, CreatedAt: now, UpdatedAt: now}
	if errs := comp.Validate(); len(errs) > 0 {
		return validationError(errs)
	}
	if err := s.checkGroup(c, comp); err != nil {
		return err
	}
	if err := s.store.CreateComponent(c.Request().Context(), comp, s.auditEntry(c, now, "component.create", "component/"+comp.ID, comp)); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, comp)
}

// editableComponent is the stored component id, unless the config file declares it: such a
// component changes only there, and the error says so.
func (s *Server) editableComponent(ctx context.Context, id string) (component.Component, error) {
	comp, err := s.store.GetComponent(ctx, id)
	if err != nil {
		return comp, err
	}
	if comp.Source == component.SourceConfig {
		return comp, newError(http.StatusConflict, "managed_by_config", "component %s is declared in the config file; change it there", id)
	}
	return comp, nil
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
	ctx := c.Request().Context()
	comp, err := s.editableComponent(ctx, id)
	if err != nil {
		return err
	}
	if p.Name != nil {
		comp.Name = *p.Name
	}
	if p.Description != nil {
		comp.Description = *p.Description
	}
	if p.GroupID != nil {
		comp.GroupID = *p.GroupID
	}
	if p.Position != nil {
		comp.Position = *p.Position
	}
	if errs := comp.Validate(); len(errs) > 0 {
		return validationError(errs)
	}
	if err := s.checkGroup(c, comp); err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	comp.UpdatedAt = now
	if err := s.store.UpdateComponent(ctx, comp, s.auditEntry(c, now, "component.update", "component/"+id, comp)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, comp)
}

func (s *Server) deleteComponent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	comp, err := s.editableComponent(ctx, id)
	if err != nil {
		return err
	}
	if comp.IsGroup {
		all, err := s.store.ListComponents(ctx)
		if err != nil {
			return err
		}
		for _, other := range all {
			if other.GroupID == id {
				return newError(http.StatusConflict, "group_not_empty", "group %s still holds component %s; move or delete it first", id, other.ID)
			}
		}
	}
	if err := s.store.DeleteComponent(ctx, id, s.auditEntry(c, s.clock.Now().UTC(), "component.delete", "component/"+id, nil)); err != nil {
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
	inMaintenance := activeMaintenance(windows, s.clock.Now())
	out := make([]public, 0, len(cs))
	for _, comp := range cs {
		p := public{ID: comp.ID, Name: comp.Name, Description: comp.Description, GroupID: comp.GroupID, IsGroup: comp.IsGroup, Status: comp.Status}
		if inMaintenance[comp.ID] && !comp.IsGroup {
			p.Status = component.UnderMaintenance
		}
		if !comp.StatusSince.IsZero() {
			since := comp.StatusSince
			p.StatusSince = &since
		}
		out = append(out, p)
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.JSON(http.StatusOK, map[string]any{"components": out})
}

// Keys.

type keyView struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Scopes    []apikey.Scope `json:"scopes"`
	CreatedAt time.Time      `json:"created_at"`
	RevokedAt *time.Time     `json:"revoked_at"`
}

func viewKey(k apikey.Key) keyView {
	v := keyView{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt}
	if k.Revoked() {
		r := k.RevokedAt
		v.RevokedAt = &r
	}
	return v
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.store.ListKeys(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]keyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, viewKey(k))
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
	if in.Name == "" || len(in.Name) > apikey.MaxNameLength {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "name", "must be 1-%d bytes", apikey.MaxNameLength)
	}
	if len(in.Scopes) == 0 {
		return fieldError(http.StatusUnprocessableEntity, "validation_failed", "scopes", "at least one scope is required (read, incidents, maintenance, admin)")
	}
	for i, sc := range in.Scopes {
		if !sc.Valid() {
			return fieldError(http.StatusUnprocessableEntity, "validation_failed", fmt.Sprintf("scopes[%d]", i), "unknown scope %q (want read, incidents, maintenance or admin)", truncate(string(sc), 40))
		}
	}
	now := s.clock.Now().UTC()
	key, token, err := apikey.Generate(nil, in.Name, in.Scopes, now)
	if err != nil {
		return err
	}
	if err := s.store.CreateKey(c.Request().Context(), key, s.auditEntry(c, now, "key.create", "key/"+key.ID, viewKey(key))); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"key": viewKey(key), "token": token,
		"note": "the token is shown once; store it now"})
}

func (s *Server) revokeKey(c echo.Context) error {
	id := c.Param("id")
	if len(id) != 16 {
		return fieldError(http.StatusBadRequest, "invalid_id", "id", "not a key id")
	}
	now := s.clock.Now().UTC()
	if err := s.store.RevokeKey(c.Request().Context(), id, now, s.auditEntry(c, now, "key.revoke", "key/"+id, map[string]any{"revoked_at": now})); err != nil {
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
