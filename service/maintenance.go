package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// Maintenance is the door for maintenance windows: created, rescheduled, cancelled and (before
// they start) deleted through the API, single occurrences cancelled, ended early or extended, and the config's windows synced.
type Maintenance struct{ *deps }

// journaled is the audit entry of a change to w carrying its event, and the event.
func (s *Maintenance) journaled(kind events.Kind, a store.AuditEntry, w maintenance.Window, scheduled time.Time) (store.AuditEntry, events.Event) {
	cp := w
	return s.deps.journaled(a, events.Event{Kind: kind, At: a.At, Actor: a.Actor, WindowID: w.ID, Scheduled: scheduled, Components: w.Components, Window: &cp})
}

// checkComponents verifies that every component a window names exists.
func (s *Maintenance) checkComponents(ctx context.Context, ids []string) error {
	for i, id := range ids {
		if _, err := s.store.GetComponent(ctx, id); errors.Is(err, store.ErrNotFound) {
			return invalidField(fmt.Sprintf("components[%d]", i), "unknown component %q", id)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Create stores a new window made through the API, announced now. A one-off window that is
// already over is refused: backfilled maintenance would excuse downtime after the fact.
func (s *Maintenance) Create(ctx context.Context, by Actor, sp maintenance.Spec) (maintenance.Window, error) {
	now := s.now()
	sp.AnnouncedAt = time.Time{}
	w, errs := sp.Window(now)
	if err := invalid(errs); err != nil {
		return w, err
	}
	if err := s.checkComponents(ctx, w.Components); err != nil {
		return w, err
	}
	if !w.Recurring() && !w.End.After(now) {
		return w, invalidField("end", "the window is already over; backfilled maintenance is not accepted")
	}
	w.Source, w.CreatedAt, w.UpdatedAt = string(component.SourceAPI), now, now
	a, ev := s.journaled(events.MaintenanceScheduled, by.audit(now, "maintenance.create", "maintenance/"+w.ID, w), w, time.Time{})
	if err := s.store.CreateWindow(ctx, w, a); err != nil {
		return w, fmt.Errorf("maintenance window %s: %w", w.ID, err)
	}
	s.publish(ev)
	return w, nil
}

// editable reads a window the API may change: not one the config file declares.
func (s *Maintenance) editable(ctx context.Context, id, verb string) (maintenance.Window, error) {
	w, err := s.store.GetWindow(ctx, id)
	if err != nil {
		return w, fmt.Errorf("maintenance window %s: %w", id, err)
	}
	if w.Source == string(component.SourceConfig) {
		return w, fmt.Errorf("maintenance window %s is declared in the config file; %s it there: %w", id, verb, ErrManagedByConfig)
	}
	return w, nil
}

// WindowPatch changes a window: nil fields stay as they are. Schedule, when set, replaces the
// timing (its text and components fields are ignored; a new schedule is a new announcement).
type WindowPatch struct {
	Title       *string
	Description *string
	Components  []string
	Schedule    *maintenance.Spec
}

// Update changes a window made through the API, under maintenance.CanUpdate's rule.
func (s *Maintenance) Update(ctx context.Context, by Actor, id string, p WindowPatch) (maintenance.Window, error) {
	old, err := s.editable(ctx, id, "change")
	if err != nil {
		return old, err
	}
	now := s.now()
	w := old
	if p.Title != nil {
		w.Title = *p.Title
	}
	if p.Description != nil {
		w.Description = *p.Description
	}
	if p.Components != nil {
		if err := s.checkComponents(ctx, p.Components); err != nil {
			return old, err
		}
		w.Components = p.Components
	}
	if p.Schedule != nil {
		sp := *p.Schedule
		if sp.ID != "" && sp.ID != id {
			return old, invalidField("id", "a window's id cannot change")
		}
		sp.ID, sp.Title, sp.Description, sp.Components, sp.AnnouncedAt = w.ID, w.Title, w.Description, w.Components, time.Time{}
		if sp.TimeZone == "" {
			sp.TimeZone = w.TimeZone
		}
		nw, errs := sp.Window(now) // a new schedule is a new announcement
		if err := invalid(errs); err != nil {
			return old, err
		}
		nw.Source, nw.CreatedAt, nw.CancelledAt, nw.Overrides = w.Source, w.CreatedAt, w.CancelledAt, w.Overrides
		w = nw
	} else if err := invalid(w.Prepare()); err != nil {
		return old, err
	}
	if err := maintenance.CanUpdate(&old, &w, now); err != nil {
		return old, err
	}
	w.UpdatedAt = now
	a, ev := s.journaled(events.MaintenanceRescheduled, by.audit(now, "maintenance.update", "maintenance/"+id, w), w, time.Time{})
	if err := s.store.UpdateWindow(ctx, w, a); err != nil {
		return old, fmt.Errorf("maintenance window %s: %w", id, err)
	}
	s.publish(ev)
	return w, nil
}

// CancelSeries cancels every occurrence of a window from now on.
func (s *Maintenance) CancelSeries(ctx context.Context, by Actor, id string) (maintenance.Window, error) {
	w, err := s.editable(ctx, id, "remove")
	if err != nil {
		return w, err
	}
	now := s.now()
	if err := w.CancelSeries(now); err != nil {
		return w, err
	}
	w.UpdatedAt = now
	a, ev := s.journaled(events.MaintenanceCancelled, by.audit(now, "maintenance.cancel", "maintenance/"+id, w), w, time.Time{})
	if err := s.store.UpdateWindow(ctx, w, a); err != nil {
		return w, fmt.Errorf("maintenance window %s: %w", id, err)
	}
	s.publish(ev)
	return w, nil
}

// Delete removes a window made through the API that has not started (maintenance.CanDelete):
// one created by mistake leaves no trace on the page, the feeds or the calendar; the audit log
// keeps it. A window that has started is part of the record: cancel it instead. A window
// changed meanwhile is read again and the rule applied to what it is now.
func (s *Maintenance) Delete(ctx context.Context, by Actor, id string) error {
	now := s.now()
	for attempt := 1; ; attempt++ {
		w, err := s.editable(ctx, id, "remove")
		if err != nil {
			return err
		}
		if err := maintenance.CanDelete(&w, now); err != nil {
			return err
		}
		a, ev := s.journaled(events.MaintenanceDeleted, by.audit(now, "maintenance.delete", "maintenance/"+id, nil), w, time.Time{})
		err = s.store.DeleteWindow(ctx, w, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("maintenance window %s: %w", id, err)
		}
		s.publish(ev)
		return nil
	}
}

// Occurrence operations: the operational edits of one occurrence, named by its scheduled start.
// They apply to config-declared windows too (the config says what is planned; operators run it).
type occurrenceOp struct {
	name  string
	kind  events.Kind
	apply func(w *maintenance.Window, scheduled, now time.Time) error
}

func (s *Maintenance) occurrence(ctx context.Context, by Actor, id string, scheduled time.Time, op occurrenceOp) (maintenance.Window, maintenance.Occurrence, error) {
	w, err := s.store.GetWindow(ctx, id)
	if err != nil {
		return w, maintenance.Occurrence{}, fmt.Errorf("maintenance window %s: %w", id, err)
	}
	now := s.now()
	if err := op.apply(&w, scheduled, now); err != nil {
		return w, maintenance.Occurrence{}, err
	}
	w.UpdatedAt = now
	target := "maintenance/" + id + "/" + scheduled.UTC().Format(time.RFC3339)
	a, ev := s.journaled(op.kind, by.audit(now, "maintenance.occurrence."+op.name, target, w), w, scheduled.UTC())
	if err := s.store.UpdateWindow(ctx, w, a); err != nil {
		return w, maintenance.Occurrence{}, fmt.Errorf("maintenance window %s: %w", id, err)
	}
	s.publish(ev)
	o, err := w.Find(scheduled)
	return w, o, err
}

// CancelOccurrence cancels one occurrence that has not started.
func (s *Maintenance) CancelOccurrence(ctx context.Context, by Actor, id string, scheduled time.Time) (maintenance.Window, maintenance.Occurrence, error) {
	return s.occurrence(ctx, by, id, scheduled, occurrenceOp{"cancel", events.MaintenanceCancelled, func(w *maintenance.Window, sch, now time.Time) error {
		return w.CancelOccurrence(sch, now)
	}})
}

// EndOccurrence ends an occurrence in progress now.
func (s *Maintenance) EndOccurrence(ctx context.Context, by Actor, id string, scheduled time.Time) (maintenance.Window, maintenance.Occurrence, error) {
	return s.occurrence(ctx, by, id, scheduled, occurrenceOp{"end", events.MaintenanceEnded, func(w *maintenance.Window, sch, now time.Time) error {
		return w.EndOccurrence(sch, now)
	}})
}

// ExtendOccurrence moves a scheduled or running occurrence's end later, to end.
func (s *Maintenance) ExtendOccurrence(ctx context.Context, by Actor, id string, scheduled, end time.Time) (maintenance.Window, maintenance.Occurrence, error) {
	return s.occurrence(ctx, by, id, scheduled, occurrenceOp{"extend", events.MaintenanceRescheduled, func(w *maintenance.Window, sch, now time.Time) error {
		return w.ExtendOccurrence(sch, end, now)
	}})
}

// Sync makes the stored config-managed windows match the config's specs. A window keeps the
// announcement time Upstate first saw it at, unless its spec gives one.
//
// History is never rewritten: a change to what a window counts (its timing, zone, components or
// announcement) cancels the stored series from now on, keeps it under an archived id so past
// reports do not change, and stores the new definition as a fresh announcement. A window removed
// from the config is cancelled from now on and kept. Title and description change in place.
func (s *Maintenance) Sync(ctx context.Context, specs []maintenance.Spec) error {
	now := s.now()
	stored, err := s.store.ListWindows(ctx)
	if err != nil {
		return fmt.Errorf("sync maintenance: %w", err)
	}
	byID := map[string]maintenance.Window{}
	for _, w := range stored {
		byID[w.ID] = w
	}
	var errs []error
	// write stores one change of w with its audit entry and event, and publishes the event.
	write := func(kind events.Kind, action string, w maintenance.Window, put func(store.AuditEntry) error) {
		a, ev := s.journaled(kind, Config.audit(now, action, "maintenance/"+w.ID, w), w, time.Time{})
		if err := put(a); err != nil {
			errs = append(errs, err)
			return
		}
		s.publish(ev)
	}
	want := map[string]bool{}
	for _, sp := range specs {
		announced := now
		if old, ok := byID[sp.ID]; ok && old.Source == string(component.SourceConfig) {
			announced = old.AnnouncedAt
		}
		w, ferrs := sp.Window(announced)
		if err := invalid(ferrs); err != nil {
			errs = append(errs, fmt.Errorf("maintenance window %s: %w", sp.ID, err))
			continue
		}
		w.Source, w.CreatedAt, w.UpdatedAt = string(component.SourceConfig), now, now
		want[w.ID] = true
		old, exists := byID[w.ID]
		switch {
		case !exists:
			write(events.MaintenanceScheduled, "maintenance.create", w, func(a store.AuditEntry) error { return s.store.CreateWindow(ctx, w, a) })
		case old.Source == string(component.SourceConfig) && maintenance.SameAccounting(&old, &w):
			if old.Title != w.Title || old.Description != w.Description {
				old.Title, old.Description, old.UpdatedAt = w.Title, w.Description, now
				write(events.MaintenanceRescheduled, "maintenance.update", old, func(a store.AuditEntry) error { return s.store.UpdateWindow(ctx, old, a) })
			}
		default:
			archived := old
			archived.ID = archiveID(old.ID, now)
			if err := archived.CancelSeries(now); err != nil && !errors.Is(err, maintenance.ErrInvalidState) {
				errs = append(errs, err)
			}
			archived.UpdatedAt = now
			if err := s.store.CreateWindow(ctx, archived, Config.audit(now, "maintenance.archive", "maintenance/"+archived.ID, archived)); err != nil {
				errs = append(errs, err)
			}
			if w.AnnouncedAt.Equal(old.AnnouncedAt) {
				w.AnnouncedAt = now // a changed announcement is a new one
			}
			w.CreatedAt = old.CreatedAt
			write(events.MaintenanceRescheduled, "maintenance.update", w, func(a store.AuditEntry) error { return s.store.UpdateWindow(ctx, w, a) })
		}
	}
	for _, w := range stored {
		if w.Source != string(component.SourceConfig) || want[w.ID] || !w.CancelledAt.IsZero() {
			continue
		}
		if err := w.CancelSeries(now); err != nil {
			continue // a one-off that already ran: nothing to cancel
		}
		w.UpdatedAt = now
		write(events.MaintenanceCancelled, "maintenance.cancel", w, func(a store.AuditEntry) error { return s.store.UpdateWindow(ctx, w, a) })
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync maintenance: %w", err)
	}
	return nil
}

// archiveID names the kept copy of a window replaced at now.
func archiveID(id string, now time.Time) string {
	suffix := "-r" + strconv.FormatInt(now.Unix(), 36)
	if len(id)+len(suffix) > 63 {
		id = id[:63-len(suffix)]
	}
	return id + suffix
}
