package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
)

const maintenanceCursor = "maintenance-events"

// maintenanceTick publishes the maintenance events whose time fell in (cursor, now], then moves
// the stored cursor to now. Driven by stored state, so a restart resumes where the last run
// stopped: no start or end is missed or published twice.
func (e *Engine) maintenanceTick(ctx context.Context) {
	now := e.opts.Clock.Now().UTC()
	windows, err := e.opts.Store.ListWindows(ctx)
	if err != nil {
		e.log.Error("list maintenance windows", "err", err)
		return
	}
	e.mu.Lock()
	e.windows = windows
	e.mu.Unlock()

	from, err := e.opts.Store.Cursor(ctx, maintenanceCursor)
	if err != nil {
		e.log.Error("read maintenance cursor", "err", err)
		return
	}
	if from.IsZero() || now.Sub(from) > 30*24*time.Hour {
		from = now // first run, or a very long outage: do not replay ancient history
	}
	// Announcements, reschedules and cancellations are published by the service when they are
	// made; what happens on the clock (reminders, starts, ends) is published here.
	if now.After(from) {
		for _, ev := range maintenanceEvents(windows, from, now, e.opts.Reminders) {
			e.log.Info("maintenance", "event", ev.Kind, "window_id", ev.WindowID, "scheduled", ev.Scheduled)
			ev.Actor = service.System.Name
			if err := e.svc.Monitors.Record(ctx, ev); err != nil {
				// Its notifications are owed once it is journaled: keep the cursor, try again.
				e.log.Error("record maintenance event; the next run tries again", "event", ev.Kind, "window_id", ev.WindowID, "err", err)
				return
			}
		}
	}
	if err := e.svc.Monitors.AdvanceCursor(ctx, maintenanceCursor, now); err != nil {
		e.log.Error("store maintenance cursor", "err", err)
	}
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
		// Each event carries the window, as the service's announcements do: what the fan-out
		// needs to render a subscriber's mail (and to keep an internal window from the public).
		cp := w
		base := Event{WindowID: w.ID, Components: w.Components, Window: &cp}
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
			// An occurrence a person ended early had its end published by the service when it
			// was ended (the override's end is the moment it was made): not again here.
			endedEarly := !o.ChangedAt.IsZero() && o.ChangedAt.Equal(o.End) && o.End.Before(o.ScheduledEnd)
			if in(o.End) && !endedEarly {
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
