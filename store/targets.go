package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// NotifyTarget is a notification target made through the admin API (docs/notifications.md).
// Targets declared in the config file are not stored. Secret fields (URL, Secret, RoutingKey)
// are kept as the operator gave them: a ${NAME} reference stays unexpanded and is read from
// each instance's environment when the target is built, a literal secret is kept as it is (the
// store holds it, as it holds a webhook subscriber's signing key).
type NotifyTarget struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"` // email, webhook, chat, pagerduty
	URL         string            `json:"url,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	To          []string          `json:"to,omitempty"`
	RoutingKey  string            `json:"routing_key,omitempty"`
	Timeout     time.Duration     `json:"timeout"` // nanoseconds
	MaxInFlight int               `json:"max_in_flight"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	// Version counts stored changes; a change made from a stale copy is refused.
	Version int `json:"version"`
}

// NormalizeNotifyTarget is t as a backend keeps it: times in UTC at millisecond precision,
// empty collections absent, so what is read back equals what was stored.
func NormalizeNotifyTarget(t NotifyTarget) NotifyTarget {
	t.CreatedAt, t.UpdatedAt = ms(t.CreatedAt), ms(t.UpdatedAt)
	if len(t.Headers) == 0 {
		t.Headers = nil
	} else {
		t.Headers = maps.Clone(t.Headers)
	}
	if len(t.To) == 0 {
		t.To = nil
	} else {
		t.To = slices.Clone(t.To)
	}
	return t
}

// EncodeNotifyTarget is a target as both backends store it.
func EncodeNotifyTarget(t NotifyTarget) []byte { return MustJSON(NormalizeNotifyTarget(t)) }

// DecodeNotifyTarget reads a stored target.
func DecodeNotifyTarget(b []byte) (NotifyTarget, error) {
	var t NotifyTarget
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("decode notify target: %w", err)
	}
	return NormalizeNotifyTarget(t), nil
}

// NotifyTargets keeps the notification targets made through the admin API. Each change
// writes its audit entry as given (the service fills Before and After without the secrets)
// and the event the entry carries, in the change's own transaction.
type NotifyTargets interface {
	// CreateNotifyTarget stores a new target (Version 1), or returns ErrConflict if its id
	// exists.
	CreateNotifyTarget(ctx context.Context, t NotifyTarget, a AuditEntry) error
	// UpdateNotifyTarget replaces a stored target whose Version is t.Version-1; ErrNotFound if
	// there is none, ErrConflict if it changed since it was read.
	UpdateNotifyTarget(ctx context.Context, t NotifyTarget, a AuditEntry) error
	// DeleteNotifyTarget deletes a target whose Version is version; ErrNotFound, ErrConflict.
	DeleteNotifyTarget(ctx context.Context, id string, version int, a AuditEntry) error
	// GetNotifyTarget returns a target by id, or ErrNotFound.
	GetNotifyTarget(ctx context.Context, id string) (NotifyTarget, error)
	// ListNotifyTargets returns every stored target, by id.
	ListNotifyTargets(ctx context.Context) ([]NotifyTarget, error)
}
