package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/store"
)

// Components is the door for components and groups.
type Components struct{ *deps }

// ComponentPatch changes a component; nil fields stay as they are.
type ComponentPatch struct {
	Name        *string
	Description *string
	GroupID     *string
	Position    *int
	Visibility  *component.Visibility
}

func (s *Components) changed(now time.Time, by Actor, c component.Component, what string) {
	cc := c
	s.publish(events.Event{Kind: events.ComponentChanged, At: now, Actor: by.Name, ComponentID: c.ID, Reason: what, Component: &cc})
}

// checkGroup verifies that a component's group exists and is a group.
func (s *Components) checkGroup(ctx context.Context, c component.Component) error {
	if c.GroupID == "" {
		return nil
	}
	g, err := s.store.GetComponent(ctx, c.GroupID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !g.IsGroup {
		return invalidField("group_id", "%q is not a group", c.GroupID)
	}
	return err
}

// Create stores a new component made through the API.
func (s *Components) Create(ctx context.Context, by Actor, c component.Component) (component.Component, error) {
	now := s.now()
	c.Source, c.Status, c.StatusSince, c.CreatedAt, c.UpdatedAt = component.SourceAPI, component.Unknown, time.Time{}, now, now
	if err := invalid(c.Validate()); err != nil {
		return c, err
	}
	if err := s.checkGroup(ctx, c); err != nil {
		return c, err
	}
	if err := s.store.CreateComponent(ctx, c, by.audit(now, "component.create", "component/"+c.ID, c)); err != nil {
		return c, fmt.Errorf("component %s: %w", c.ID, err)
	}
	s.changed(now, by, c, "created")
	return c, nil
}

// editable reads a component the API may change: not one the config file declares.
func (s *Components) editable(ctx context.Context, id string) (component.Component, error) {
	c, err := s.store.GetComponent(ctx, id)
	if err != nil {
		return c, fmt.Errorf("component %s: %w", id, err)
	}
	if c.Source == component.SourceConfig {
		return c, fmt.Errorf("component %s is declared in the config file; change it there: %w", id, ErrManagedByConfig)
	}
	return c, nil
}

// Update changes a component made through the API.
func (s *Components) Update(ctx context.Context, by Actor, id string, p ComponentPatch) (component.Component, error) {
	c, err := s.editable(ctx, id)
	if err != nil {
		return c, err
	}
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.GroupID != nil {
		c.GroupID = *p.GroupID
	}
	if p.Position != nil {
		c.Position = *p.Position
	}
	if p.Visibility != nil {
		c.Visibility = *p.Visibility
	}
	if err := invalid(c.Validate()); err != nil {
		return c, err
	}
	if err := s.checkGroup(ctx, c); err != nil {
		return c, err
	}
	now := s.now()
	c.UpdatedAt = now
	if err := s.store.UpdateComponent(ctx, c, by.audit(now, "component.update", "component/"+id, c)); err != nil {
		return c, fmt.Errorf("component %s: %w", id, err)
	}
	s.changed(now, by, c, "updated")
	return c, nil
}

// Delete removes a component made through the API (its timeline stays); a group must be empty.
func (s *Components) Delete(ctx context.Context, by Actor, id string) error {
	c, err := s.editable(ctx, id)
	if err != nil {
		return err
	}
	if c.IsGroup {
		all, err := s.store.ListComponents(ctx)
		if err != nil {
			return err
		}
		for _, other := range all {
			if other.GroupID == id {
				return fmt.Errorf("group %s still holds component %s; move or delete it first: %w", id, other.ID, ErrGroupNotEmpty)
			}
		}
	}
	now := s.now()
	if err := s.store.DeleteComponent(ctx, id, by.audit(now, "component.delete", "component/"+id, nil)); err != nil {
		return fmt.Errorf("component %s: %w", id, err)
	}
	s.changed(now, by, c, "deleted")
	return nil
}

// Sync makes the stored config-managed components match declared: it creates the missing,
// updates the changed and deletes those no longer declared (their timelines stay). Components
// created through the API are left alone, unless the config now declares the same id, in which
// case the config takes it over. Each change is audited with actor "config" and published.
func (s *Components) Sync(ctx context.Context, declared []component.Component) error {
	now := s.now()
	stored, err := s.store.ListComponents(ctx)
	if err != nil {
		return fmt.Errorf("sync components: %w", err)
	}
	byID := make(map[string]component.Component, len(stored))
	for _, c := range stored {
		byID[c.ID] = c
	}
	var errs []error
	want := map[string]bool{}
	for _, c := range declared {
		want[c.ID] = true
		c.Source = component.SourceConfig
		old, exists := byID[c.ID]
		switch {
		case !exists:
			c.CreatedAt, c.UpdatedAt = now, now
			if err := s.store.CreateComponent(ctx, c, Config.audit(now, "component.create", "component/"+c.ID, c)); err != nil {
				errs = append(errs, err)
				continue
			}
			s.changed(now, Config, c, "created")
		case old.Name != c.Name || old.Description != c.Description || old.GroupID != c.GroupID ||
			old.IsGroup != c.IsGroup || old.Position != c.Position || old.Source != c.Source || old.Visibility != c.Visibility:
			c.CreatedAt, c.UpdatedAt = old.CreatedAt, now
			if err := s.store.UpdateComponent(ctx, c, Config.audit(now, "component.update", "component/"+c.ID, c)); err != nil {
				errs = append(errs, err)
				continue
			}
			s.changed(now, Config, c, "updated")
		}
	}
	for _, c := range stored {
		if c.Source == component.SourceConfig && !want[c.ID] {
			err := s.store.DeleteComponent(ctx, c.ID, Config.audit(now, "component.delete", "component/"+c.ID, nil))
			switch {
			case err == nil:
				s.changed(now, Config, c, "deleted")
			case !errors.Is(err, store.ErrNotFound):
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync components: %w", err)
	}
	return nil
}
