package maintenance

import (
	"fmt"
	"slices"
	"time"
)

// SameAccounting reports whether two windows count the same time as maintenance for the same
// components: the same timing, zone, components and announcement. Only their text may differ.
func SameAccounting(a, b *Window) bool {
	return a.TimeZone == b.TimeZone && a.Rule == b.Rule && a.FirstDate == b.FirstDate && a.StartClock == b.StartClock &&
		a.EndClock == b.EndClock && a.Duration == b.Duration && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		a.Until.Equal(b.Until) && slices.Equal(a.Components, b.Components) && a.AnnouncedAt.Equal(b.AnnouncedAt)
}

// CanUpdate is the rule for editing a window in place, a function of the old value, the new one
// and now (alertmanager's canUpdate): its title and description may change at any time; its
// timing, zone and components only while none of its occurrences has started, since a schedule
// that has run is history (availability reports count it): cancel the window and create a new
// one instead. A cancelled series stays cancelled, and the id never changes.
func CanUpdate(old, next *Window, now time.Time) error {
	switch {
	case old.ID != next.ID:
		return fmt.Errorf("a window's id cannot change (%s to %s): %w", old.ID, next.ID, ErrInvalidState)
	case !old.CancelledAt.IsZero() && !old.CancelledAt.Equal(next.CancelledAt):
		return fmt.Errorf("window %s was cancelled at %s; create a new window: %w", old.ID, old.CancelledAt.Format(time.RFC3339), ErrInvalidState)
	}
	retimed := old.TimeZone != next.TimeZone || old.Rule != next.Rule || old.FirstDate != next.FirstDate ||
		old.StartClock != next.StartClock || old.EndClock != next.EndClock || old.Duration != next.Duration ||
		!old.Start.Equal(next.Start) || !old.End.Equal(next.End) || !old.Until.Equal(next.Until) ||
		!slices.Equal(old.Components, next.Components)
	if retimed && old.Started(now) {
		return fmt.Errorf("window %s has already started; its schedule and components are history now (cancel it and create a new window): %w", old.ID, ErrInvalidState)
	}
	return nil
}

// InProgress returns the components inside an occurrence in progress at now: what
// component.Shown overlays as under_maintenance.
func InProgress(windows []Window, now time.Time) map[string]bool {
	out := map[string]bool{}
	for i := range windows {
		for _, o := range windows[i].Occurrences(now, now.Add(time.Nanosecond)) {
			if o.State(now) == StateInProgress {
				for _, id := range windows[i].Components {
					out[id] = true
				}
			}
		}
	}
	return out
}

// CanDelete is the rule for deleting a window, a function of the window and now: only while
// none of its occurrences has started. A window that has run is part of the record (availability
// excludes its announced time, reports list it), so it stays; cancelling it stops what is left.
// Whether the window may be deleted by the caller at all (the config file's windows change only
// there) is not this rule's concern.
func CanDelete(w *Window, now time.Time) error {
	if w.Started(now) {
		return fmt.Errorf("window %s has already started; a window that has run stays on the record (availability and reports count it): cancel it instead: %w", w.ID, ErrInvalidState)
	}
	return nil
}
