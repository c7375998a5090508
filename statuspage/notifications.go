package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// The outbox for operators (docs/notifications.md): what is owed, delivered, failing or dead,
// a retry or a cancel of one, and the targets with a test message to one.

// NotificationReader reads the outbox; a store that keeps one serves the notifications API.
type NotificationReader interface {
	GetNotification(ctx context.Context, id string) (store.Notification, error)
	ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error)
}

func (s *Server) routesNotifications() {
	outbox, ok := s.store.(NotificationReader)
	if !ok || s.svc.Notifications == nil {
		return
	}
	admin := s.echo.Group("/api/admin/v1")
	read, write := s.require(apikey.ScopeRead), s.require(apikey.ScopeAdmin)
	h := &notificationHandlers{outbox: outbox, door: s.svc.Notifications}
	admin.GET("/notifications", h.list, read)
	admin.GET("/notifications/:id", h.get, read)
	admin.POST("/notifications/:id/retry", h.change("retry"), write)
	admin.POST("/notifications/:id/cancel", h.change("cancel"), write)
	admin.POST("/targets/:id/test", h.test, write)
}

type notificationHandlers struct {
	outbox NotificationReader
	door   *service.Notifications
}

// notificationView is a notification as the API shows it.
type notificationView struct {
	ID          string    `json:"id"`
	State       string    `json:"state"`
	Target      string    `json:"target"`
	Channel     string    `json:"channel"`
	Recipient   string    `json:"recipient,omitempty"`
	Kind        string    `json:"kind"`
	Action      string    `json:"action,omitempty"`
	Subject     string    `json:"subject"`
	EventID     string    `json:"event_id,omitempty"`
	IncidentID  string    `json:"incident_id,omitempty"`
	ComponentID string    `json:"component_id,omitempty"`
	DedupKey    string    `json:"dedup_key,omitempty"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// NextAttemptAt is the next try of a pending one, or when the claim of one being sent runs
	// out; absent once it is finished.
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
	Message       json.RawMessage `json:"message,omitempty"` // the whole message, on a single read
}

func viewNotification(n store.Notification, full bool) notificationView {
	var msg struct {
		Subject string `json:"subject"`
	}
	_ = json.Unmarshal(n.Payload, &msg)
	v := notificationView{ID: n.ID, State: string(n.State), Target: n.Target, Channel: n.Channel, Recipient: n.Recipient, Kind: n.Kind,
		Action: n.Action, Subject: msg.Subject, EventID: n.EventID, IncidentID: n.IncidentID, ComponentID: n.ComponentID, DedupKey: n.DedupKey,
		Attempts: n.Attempts, LastError: n.LastError, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
	if !n.State.Finished() {
		next := n.NextAt
		v.NextAttemptAt = &next
	}
	if !n.DeliveredAt.IsZero() {
		at := n.DeliveredAt
		v.DeliveredAt = &at
	}
	if full {
		v.Message = n.Payload
	}
	return v
}

type notificationList struct {
	Notifications []notificationView `json:"notifications"`
	// Next is the before= of the next page (absent on the last).
	Next string `json:"next,omitempty"`
}

// list: GET /api/admin/v1/notifications?state=dead,pending&target=&incident=&before=&limit=
func (h *notificationHandlers) list(c echo.Context) error {
	q := store.NotificationQuery{}
	params := c.QueryParams()
	for name := range params {
		switch name {
		case "state", "target", "incident", "before", "limit":
		default:
			return fieldError(http.StatusBadRequest, "unknown_parameter", name, "unknown parameter %q (want state, target, incident, before or limit)", truncate(name, 40))
		}
	}
	if raw := c.QueryParam("state"); raw != "" {
		for _, st := range strings.Split(raw, ",") {
			state := store.NotificationState(strings.TrimSpace(st))
			if !state.Valid() {
				return fieldError(http.StatusBadRequest, "invalid_parameter", "state", "unknown state %q (want pending, sending, delivered, dead or cancelled)", truncate(string(state), 40))
			}
			q.States = append(q.States, state)
		}
	}
	if t := c.QueryParam("target"); t != "" {
		if len(t) > 63 {
			return fieldError(http.StatusBadRequest, "invalid_parameter", "target", "too long")
		}
		q.Target = t
	}
	if inc := c.QueryParam("incident"); inc != "" {
		if len(inc) > 100 {
			return fieldError(http.StatusBadRequest, "invalid_parameter", "incident", "too long")
		}
		q.IncidentID = inc
	}
	if b := c.QueryParam("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			return fieldError(http.StatusBadRequest, "invalid_parameter", "before", "invalid time %q: want RFC 3339, such as 2026-11-20T12:00:00Z", truncate(b, 40))
		}
		q.Before = t
	}
	q.Limit = 100
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxNotificationLimit {
			return fieldError(http.StatusBadRequest, "invalid_parameter", "limit", "must be an integer from 1 to %d", store.MaxNotificationLimit)
		}
		q.Limit = n
	}
	ns, err := h.outbox.ListNotifications(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := notificationList{Notifications: make([]notificationView, len(ns))}
	for i, n := range ns {
		out.Notifications[i] = viewNotification(n, false)
	}
	if len(ns) == q.Limit {
		out.Next = ns[len(ns)-1].CreatedAt.Format(time.RFC3339Nano)
	}
	return c.JSON(http.StatusOK, out)
}

func (h *notificationHandlers) get(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	n, err := h.outbox.GetNotification(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewNotification(n, true))
}

// change: POST /api/admin/v1/notifications/{id}/retry or /cancel.
func (h *notificationHandlers) change(op string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		var n store.Notification
		if op == "retry" {
			n, err = h.door.Retry(c.Request().Context(), by(c), id)
		} else {
			n, err = h.door.Cancel(c.Request().Context(), by(c), id)
		}
		if errors.Is(err, service.ErrNotificationState) {
			return newError(http.StatusConflict, "invalid_state", "%s", strings.TrimSuffix(err.Error(), ": "+service.ErrNotificationState.Error()))
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, viewNotification(n, false))
	}
}

type testResult struct {
	Target     string `json:"target"`
	Delivered  bool   `json:"delivered"`
	DurationMS int64  `json:"duration_ms"`
}

// test: POST /api/admin/v1/targets/{id}/test sends a test message now. A failed delivery is a
// 502 saying why: the receiver, not the request, is at fault.
func (h *notificationHandlers) test(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	start := time.Now()
	err = h.door.TestTarget(c.Request().Context(), by(c), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newError(http.StatusNotFound, "not_found", "no target %q is configured", id)
	case err != nil:
		return newError(http.StatusBadGateway, "delivery_failed", "target %s did not accept the test message: %s", id, truncate(err.Error(), 500))
	}
	return c.JSON(http.StatusOK, testResult{Target: id, Delivered: true, DurationMS: time.Since(start).Milliseconds()})
}
