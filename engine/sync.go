package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// ComponentStore is what syncing declared components needs.
type ComponentStore interface {
	ListComponents(ctx context.Context) ([]component.Component, error)
	CreateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error
	UpdateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error
	DeleteComponent(ctx context.Context, id string, a store.AuditEntry) error
}

// SyncComponents makes the stored config-managed components match declared: it creates the
// missing, updates the changed and deletes those no longer declared (their timelines stay).
// Components created through the API are left alone, unless the config now declares the same
// id, in which case the config takes it over. Each change is audited with actor "config".
func SyncComponents(ctx context.Context, s ComponentStore, declared []component.Component, now time.Time) error {
	stored, err := s.ListComponents(ctx)
	if err != nil {
		return fmt.Errorf("sync components: %w", err)
	}
	byID := make(map[string]component.Component, len(stored))
	for _, c := range stored {
		byID[c.ID] = c
	}
	audit := func(action, id string, after any) store.AuditEntry {
		a := store.AuditEntry{At: now, Actor: "config", Action: action, Target: "component/" + id, After: store.Null}
		if after != nil {
			a.After = store.MustJSON(after)
		}
		return a
	}
	var errs []error
	want := map[string]bool{}
	for _, c := range declared {
		want[c.ID] = true
		old, exists := byID[c.ID]
		switch {
		case !exists:
			c.CreatedAt, c.UpdatedAt = now, now
			if err := s.CreateComponent(ctx, c, audit("component.create", c.ID, c)); err != nil {
				errs = append(errs, err)
			}
		case old.Name != c.Name || old.Description != c.Description || old.GroupID != c.GroupID ||
			old.IsGroup != c.IsGroup || old.Position != c.Position || old.Source != c.Source:
			c.CreatedAt, c.UpdatedAt = old.CreatedAt, now
			if err := s.UpdateComponent(ctx, c, audit("component.update", c.ID, c)); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range stored {
		if c.Source == component.SourceConfig && !want[c.ID] {
			if err := s.DeleteComponent(ctx, c.ID, audit("component.delete", c.ID, nil)); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync components: %w", err)
	}
	return nil
}
