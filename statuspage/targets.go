package statuspage

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
)

// Notification targets (docs/notifications.md): the config file's, read-only here (source:
// config), and those made through this API (source: api), created, changed and deleted without
// a restart. Responses never hold a secret: URLs show their scheme and host, secret fields
// "(redacted)" or their ${NAME} reference, headers their names.

func (s *Server) routesTargets() {
	door := s.svc.NotifyTargets
	if door == nil {
		return
	}
	admin := s.echo.Group("/api/admin/v1/targets")
	read, write := s.require(apikey.ScopeRead), s.require(apikey.ScopeAdmin)
	h := &targetHandlers{door: door}
	admin.GET("", h.list, read)
	admin.POST("", h.create, write)
	admin.GET("/:id", h.get, read)
	admin.PATCH("/:id", h.update, write)
	admin.DELETE("/:id", h.remove, write)
}

type targetHandlers struct{ door *service.NotifyTargets }

// targetInput is what a client sends to create a target; secret fields may be ${NAME}
// references, read from each instance's environment.
type targetInput struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	URL         string            `json:"url"`
	Secret      string            `json:"secret"`
	Headers     map[string]string `json:"headers"`
	To          []string          `json:"to"`
	RoutingKey  string            `json:"routing_key"`
	Timeout     string            `json:"timeout"` // a Go duration, such as 10s; default 30s
	MaxInFlight int               `json:"max_in_flight"`
}

// targetPatch changes a target; absent fields stay as they are, so a secret need not be sent
// again to change something else.
type targetPatch struct {
	Kind        *string            `json:"kind"`
	URL         *string            `json:"url"`
	Secret      *string            `json:"secret"`
	Headers     *map[string]string `json:"headers"`
	To          *[]string          `json:"to"`
	RoutingKey  *string            `json:"routing_key"`
	Timeout     *string            `json:"timeout"`
	MaxInFlight *int               `json:"max_in_flight"`
}

func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fieldError(http.StatusUnprocessableEntity, "validation_failed", "timeout", "invalid duration %q: want such as 10s", truncate(s, 40))
	}
	return d, nil
}

type targetList struct {
	Targets []service.TargetInfo `json:"targets"`
}

func (h *targetHandlers) list(c echo.Context) error {
	ts, err := h.door.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, targetList{ts})
}

func (h *targetHandlers) get(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	t, err := h.door.Get(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *targetHandlers) create(c echo.Context) error {
	var in targetInput
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	timeout, err := parseTimeout(in.Timeout)
	if err != nil {
		return err
	}
	t, err := h.door.Create(c.Request().Context(), by(c), service.TargetSpec{ID: in.ID, Kind: in.Kind, URL: in.URL, Secret: in.Secret,
		Headers: in.Headers, To: in.To, RoutingKey: in.RoutingKey, Timeout: timeout, MaxInFlight: in.MaxInFlight})
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/admin/v1/targets/"+t.ID)
	return c.JSON(http.StatusCreated, t)
}

func (h *targetHandlers) update(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in targetPatch
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	p := service.TargetPatch{Kind: in.Kind, URL: in.URL, Secret: in.Secret, Headers: in.Headers, To: in.To, RoutingKey: in.RoutingKey, MaxInFlight: in.MaxInFlight}
	if in.Timeout != nil {
		d, err := parseTimeout(*in.Timeout)
		if err != nil {
			return err
		}
		p.Timeout = &d
	}
	t, err := h.door.Update(c.Request().Context(), by(c), id, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *targetHandlers) remove(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.door.Delete(c.Request().Context(), by(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
