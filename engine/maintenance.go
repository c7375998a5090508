package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// WindowStore is what maintenance needs from storage.
type WindowStore interface {
	ListWindows(ctx context.Context) ([]maintenance.Window, error)
	CreateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error
	UpdateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error
	Cursor(ctx context.Context, name string) (time.Time, error)
	SetCursor(ctx context.Context, name string, t time.Time) error
}

// sameAccounting reports whether two windows count the same time as maintenance for the same
// components: their timing, zone and components.
func sameAccounting(a, b maintenance.Window) bool {
	return a.TimeZone == b.TimeZone && a.Rule == b.Rule && a.FirstDate == b.FirstDate && a.StartClock == b.StartClock &&
		a.EndClock == b.EndClock && a.Duration == b.Duration && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.Until.Equal(b.Until) && slices.Equal(a.Components, b.Components) && a.AnnouncedAt.Equal(b.AnnouncedAt)
}

// SyncWindows makes the stored config-managed windows match the config. build returns the
// declared windows given, for each id, when Upstate first saw it (the default announcement time).
//
// History is never rewritten: a change to what a window counts (its timing, zone, components or
// announcement) cancels the stored series from now on, keeps it under an archived id so past
// reports do not change, and stores the new definition as a fresh announcement. A window removed
// from the config is cancelled from now on and kept. Title and description change in place.
func SyncWindows(ctx context.Context, s WindowStore, build func(firstSeen func(id string) time.Time) []maintenance.Window, now time.Time) error {
	stored, err := s.ListWindows(ctx)
	if err != nil {
		return fmt.Errorf("sync maintenance: %w", err)
	}
	byID := map[string]maintenance.Window{}
	for _, w := range stored {
		byID[w.ID] = w
	}
	declared := build(func(id string) time.Time {
		if w, ok := byID[id]; ok && w.Source == string(component.SourceConfig) {
			return w.AnnouncedAt
		}
		return now
	})
	audit := func(action string, w maintenance.Window) store.AuditEntry {
		return store.AuditEntry{At: now, Actor: "config", Action: action, Target: "maintenance/" + w.ID, After: store.MustJSON(w)}
	}
	var errs []error
	want := map[string]bool{}
	for _, w := range declared {
		want[w.ID] = true
		w.CreatedAt, w.UpdatedAt = now, now
		old, exists := byID[w.ID]
		switch {
		case !exists:
			errs = append(errs, s.CreateWindow(ctx, w, audit("maintenance.create", w)))
		case old.Source == string(component.SourceConfig) && sameAccounting(old, w):
			if old.Title != w.Title || old.Description != w.Description {
				old.Title, old.Description, old.UpdatedAt = w.Title, w.Description, now
				errs = append(errs, s.UpdateWindow(ctx, old, audit("maintenance.update", old)))
			}
		default:
			archived := old
			archived.ID = archiveID(old.ID, now)
			if err := archived.CancelSeries(now); err != nil && !errors.Is(err, maintenance.ErrInvalidState) {
				errs = append(errs, err)
			}
			archived.UpdatedAt = now
			errs = append(errs, s.CreateWindow(ctx, archived, audit("maintenance.archive", archived)))
			if w.AnnouncedAt.Equal(old.AnnouncedAt) {
				w.AnnouncedAt = now // a changed announcement is a new one
			}
			w.CreatedAt = old.CreatedAt
			errs = append(errs, s.UpdateWindow(ctx, w, audit("maintenance.update", w)))
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
		errs = append(errs, s.UpdateWindow(ctx, w, audit("maintenance.cancel", w)))
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

const maintenanceCursor = "maintenance-events"

// maintenanceTick publishes the maintenance events whose time fell in (cursor, now], then moves
// the stored cursor to now. Driven by stored state, so a restart resumes where the last run
// stopped: no start or end is missed or published twice.
func (e *Engine) maintenanceTick(ctx context.Context) {
	now := e.opts.Clock.Now().UTC()
	windows, err := e.opts.Windows.ListWindows(ctx)
	if err != nil {
		e.log.Error("list maintenance windows", "err", err)
		return
	}
	e.mu.Lock()
	e.windows = windows
	e.mu.Unlock()

	from, err := e.opts.Windows.Cursor(ctx, maintenanceCursor)
	if err != nil {
		e.log.Error("read maintenance cursor", "err", err)
		return
	}
	if from.IsZero() || now.Sub(from) > 30*24*time.Hour {
		from = now // first run, or a very long outage: do not replay ancient history
	}
	events := e.windowChanges(windows, from)
	if now.After(from) {
		events = append(events, maintenanceEvents(windows, from, now, e.opts.Reminders)...)
	}
	slices.SortStableFunc(events, func(a, b Event) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	for _, ev := range events {
		e.log.Info("maintenance", "event", ev.Kind, "window_id", ev.WindowID, "scheduled", ev.Scheduled)
		e.opts.Bus.Publish(ev)
	}
	if err := e.opts.Windows.SetCursor(ctx, maintenanceCursor, now); err != nil {
		e.log.Error("store maintenance cursor", "err", err)
	}
}

// windowChanges returns announcements of windows not seen before and updates of windows whose
// UpdatedAt changed. It compares versions, not times against the cursor: a window stored just
// after a tick read the list may carry a time before that tick, and must still be announced. On
// the first tick after a start, only windows changed since the stored cursor are published
// (delivery is at least once across restarts).
func (e *Engine) windowChanges(windows []maintenance.Window, cursor time.Time) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	first := e.seenWindows == nil
	if first {
		e.seenWindows = map[string]time.Time{}
	}
	var out []Event
	for _, w := range windows {
		prev, known := e.seenWindows[w.ID]
		e.seenWindows[w.ID] = w.UpdatedAt
		if known && prev.Equal(w.UpdatedAt) || first && !w.UpdatedAt.After(cursor) {
			continue
		}
		ev := Event{Kind: EventMaintenanceUpdated, At: w.UpdatedAt, WindowID: w.ID, Components: w.Components}
		if !known && (first && w.CreatedAt.After(cursor) || !first) && w.CreatedAt.Equal(w.UpdatedAt) {
			ev.Kind, ev.At = EventMaintenanceAnnounced, w.CreatedAt
		}
		out = append(out, ev)
	}
	return out
}

// maintenanceEvents lists, in time order, the events that fall in (from, to].
func maintenanceEvents(windows []maintenance.Window, from, to time.Time, reminders []time.Duration) []Event {
	in := func(t time.Time) bool { return t.After(from) && !t.After(to) }
	longest := time.Duration(0)
	for _, r := range reminders {
		longest = max(longest, r)
	}
	var out []Event
	for _, w := range windows {
		base := Event{WindowID: w.ID, Components: w.Components}
		for _, o := range w.Occurrences(from.Add(-maintenance.MaxDuration), to.Add(longest+time.Second)) {
			if o.Cancelled {
				continue
			}
			ev := base
			ev.Scheduled = o.Scheduled
			for _, r := range reminders {
				if at := o.Start.Add(-r); in(at) && at.After(w.AnnouncedAt) {
					rem := ev
					rem.Kind, rem.At, rem.Before = EventMaintenanceReminder, at, r
					out = append(out, rem)
				}
			}
			if in(o.Start) {
				st := ev
				st.Kind, st.At = EventMaintenanceStarted, o.Start
				out = append(out, st)
			}
			if in(o.End) {
				end := ev
				end.Kind, end.At = EventMaintenanceCompleted, o.End
				out = append(out, end)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	return out
}

// UnderMaintenance reports whether an occurrence covering the component is in progress at t.
func UnderMaintenance(windows []maintenance.Window, componentID string, t time.Time) bool {
	for _, w := range windows {
		if !slices.Contains(w.Components, componentID) {
			continue
		}
		for _, o := range w.Occurrences(t, t.Add(time.Nanosecond)) {
			if o.State(t) == maintenance.StateInProgress {
				return true
			}
		}
	}
	return false
}

func (e *Engine) underMaintenance(componentID string, t time.Time) bool {
	e.mu.Lock()
	windows := e.windows
	e.mu.Unlock()
	return UnderMaintenance(windows, componentID, t)
}
