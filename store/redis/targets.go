package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

var _ store.NotifyTargets = (*Store)(nil)

// Notification targets made through the admin API: the hash notify-targets under {meta}, id to
// the target's JSON, written with its audit entry and event in one MULTI/EXEC (mutateMeta).

const targetsHash = "notify-targets"

// CreateNotifyTarget stores a new target with its audit entry.
func (s *Store) CreateNotifyTarget(ctx context.Context, t store.NotifyTarget, a store.AuditEntry) error {
	t.Version = 1
	return s.mutateMeta(ctx, targetsHash, t.ID, a, func(_ string, exists bool) (string, json.RawMessage, error) {
		if exists {
			return "", nil, fmt.Errorf("target %s exists: %w", t.ID, store.ErrConflict)
		}
		return string(store.EncodeNotifyTarget(t)), a.Before, nil
	})
}

// UpdateNotifyTarget replaces a target read at Version-1, with its audit entry.
func (s *Store) UpdateNotifyTarget(ctx context.Context, t store.NotifyTarget, a store.AuditEntry) error {
	return s.mutateMeta(ctx, targetsHash, t.ID, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if err := sameVersion(t.ID, old, exists, t.Version-1); err != nil {
			return "", nil, err
		}
		return string(store.EncodeNotifyTarget(t)), a.Before, nil
	})
}

// DeleteNotifyTarget deletes a target read at version, with its audit entry.
func (s *Store) DeleteNotifyTarget(ctx context.Context, id string, version int, a store.AuditEntry) error {
	return s.mutateMeta(ctx, targetsHash, id, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if err := sameVersion(id, old, exists, version); err != nil {
			return "", nil, err
		}
		return "", a.Before, nil
	})
}

func sameVersion(id, old string, exists bool, version int) error {
	if !exists {
		return fmt.Errorf("target %s: %w", id, store.ErrNotFound)
	}
	t, err := store.DecodeNotifyTarget([]byte(old))
	if err != nil {
		return err
	}
	if t.Version != version {
		return fmt.Errorf("target %s changed since it was read: %w", id, store.ErrConflict)
	}
	return nil
}

// GetNotifyTarget returns a target by id.
func (s *Store) GetNotifyTarget(ctx context.Context, id string) (store.NotifyTarget, error) {
	raw, err := s.rdb.HGet(ctx, s.metaKey(targetsHash), id).Result()
	if errors.Is(err, goredis.Nil) {
		return store.NotifyTarget{}, fmt.Errorf("target %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.NotifyTarget{}, fmt.Errorf("get target %s: %w", id, err)
	}
	return store.DecodeNotifyTarget([]byte(raw))
}

// ListNotifyTargets returns every target, by id.
func (s *Store) ListNotifyTargets(ctx context.Context) ([]store.NotifyTarget, error) {
	all, err := s.rdb.HGetAll(ctx, s.metaKey(targetsHash)).Result()
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	out := make([]store.NotifyTarget, 0, len(all))
	for _, raw := range all {
		t, err := store.DecodeNotifyTarget([]byte(raw))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b store.NotifyTarget) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
