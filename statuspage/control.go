package statuspage

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
)

// MonitorControl acts on running monitors: the admin controls and heartbeat check-ins.
type MonitorControl interface {
	Pause(ctx context.Context, id, by string) error
	Resume(id string) error
	RunNow(id string) error
	Ping(token string, kind probe.PingKind, exitCode int) (string, error)
}

// Reloader re-reads the configuration and applies it; on error the running one is kept.
type Reloader func(ctx context.Context) (any, error)

func (s *Server) routesControl(ctl MonitorControl) {
	s.control = ctl
	write := s.require(apikey.ScopeAdmin)
	admin := s.echo.Group("/api/admin/v1")
	admin.POST("/monitors/:id/pause", s.pauseMonitor, write)
	admin.POST("/monitors/:id/resume", s.resumeMonitor, write)
	admin.POST("/monitors/:id/run", s.runMonitor, write)
	// Check-ins: the token is the credential, so no key is asked. GET too, for curl one-liners
	// and jobs that can only fetch a URL.
	for _, path := range []string{"/ping/:token", "/ping/:token/:what"} {
		s.echo.GET(path, s.ping)
		s.echo.POST(path, s.ping)
		s.echo.HEAD(path, s.ping)
	}
}

func (s *Server) routesReload(reload Reloader) {
	s.reload = reload
	s.echo.POST("/api/admin/v1/reload", s.reloadConfig, s.require(apikey.ScopeAdmin))
}

func controlError(err error, id string) error {
	switch {
	case errors.Is(err, engine.ErrUnknownMonitor):
		return newError(http.StatusNotFound, "not_found", "no monitor %q", id)
	case errors.Is(err, engine.ErrPaused):
		return newError(http.StatusConflict, "paused", "monitor %q is paused", id)
	case errors.Is(err, engine.ErrNotPaused):
		return newError(http.StatusConflict, "not_paused", "monitor %q is not paused", id)
	case errors.Is(err, engine.ErrNotRunning):
		return newError(http.StatusServiceUnavailable, "not_running", "the engine is not running")
	}
	return err
}

// monitorAction runs a control and records it in the audit log.
func (s *Server) monitorAction(c echo.Context, action string, fn func(id string) error) error {
	id := c.Param("id")
	if err := fn(id); err != nil {
		return controlError(err, id)
	}
	now := s.clock.Now().UTC()
	if err := s.svc.Audit.Record(c.Request().Context(), by(c), action, "monitor/"+id, map[string]any{"at": now}); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
	return c.JSON(http.StatusAccepted, map[string]string{"monitor": id, "action": action})
}

func (s *Server) pauseMonitor(c echo.Context) error {
	return s.monitorAction(c, "monitor.pause", func(id string) error { return s.control.Pause(c.Request().Context(), id, actor(c)) })
}

func (s *Server) resumeMonitor(c echo.Context) error {
	return s.monitorAction(c, "monitor.resume", s.control.Resume)
}

func (s *Server) runMonitor(c echo.Context) error {
	return s.monitorAction(c, "monitor.run", s.control.RunNow)
}

// ping records a heartbeat check-in: /ping/{token} (success), /start, /fail, or /{exit code}.
func (s *Server) ping(c echo.Context) error {
	kind, code := probe.PingSuccess, 0
	switch what := c.Param("what"); what {
	case "":
	case "start":
		kind = probe.PingStart
	case "fail":
		kind = probe.PingFail
	default:
		n, err := strconv.Atoi(what)
		if err != nil || n < 0 || n > 255 {
			return newError(http.StatusNotFound, "not_found", "want /ping/{token}, /start, /fail or /{exit code 0-255}")
		}
		if n != 0 {
			kind, code = probe.PingFail, n
		}
	}
	if _, err := s.control.Ping(c.Param("token"), kind, code); err != nil {
		if errors.Is(err, probe.ErrUnknownToken) {
			return newError(http.StatusNotFound, "not_found", "unknown heartbeat token")
		}
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "OK\n")
}

func (s *Server) reloadConfig(c echo.Context) error {
	summary, err := s.reload(c.Request().Context())
	if err != nil {
		return newError(http.StatusUnprocessableEntity, "invalid_config", "the configuration was not reloaded, the running one is kept: %v", err)
	}
	if aerr := s.svc.Audit.Record(c.Request().Context(), by(c), "config.reload", "config", summary); aerr != nil {
		s.log.Error("audit", "action", "config.reload", "err", aerr)
	}
	return c.JSON(http.StatusOK, summary)
}
