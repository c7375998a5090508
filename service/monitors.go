package service

import (
	"context"
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// MeasurementStore keeps what monitors measure.
type MeasurementStore interface {
	store.Timelines
	store.Transitions
	store.Rollups
	store.Cursors
}

// Monitors is the door for what monitors measure and the engine derives from it: transitions,
// component status changes, rollups and the singleton jobs' cursors. These are records, not
// anyone's edits, so they carry no audit entry: a transition is its own record (who: the
// monitor; when: At). State changes publish their event once stored, like every other change.
type Monitors struct {
	*deps
	store MeasurementStore
}

// RecordTransition stores a monitor's transition and publishes it. underMaintenance marks a
// change inside maintenance of its component (it opens no incident and pages no one).
func (s *Monitors) RecordTransition(ctx context.Context, tr probe.Transition, componentID string, underMaintenance bool) error {
	ev := events.Event{Kind: events.MonitorState, At: tr.At, Actor: Monitor(tr.MonitorID).Name, MonitorID: tr.MonitorID,
		ComponentID: componentID, From: string(tr.From), To: string(tr.To), Reason: tr.Reason, UnderMaintenance: underMaintenance}
	from := ev.From
	if tr.From == probe.StateUnknown && tr.Resumed != "" {
		ev.Resumed, from = string(tr.Resumed), string(tr.Resumed)
	}
	var err error
	if notifiable(from, ev.To, string(probe.StateUnknown), string(probe.StateUp)) {
		if ev, err = s.record(ctx, ev); err != nil {
			return fmt.Errorf("monitor %s transition: %w", tr.MonitorID, err)
		}
	}
	if err := s.store.AppendTransition(ctx, tr); err != nil {
		return fmt.Errorf("monitor %s transition: %w", tr.MonitorID, err)
	}
	s.publish(ev)
	return nil
}

// RecordStatus appends a component's measured status change to its timeline and publishes it.
func (s *Monitors) RecordStatus(ctx context.Context, ch component.Change, from component.Status, underMaintenance bool) error {
	ev := events.Event{Kind: events.ComponentStatus, At: ch.At, Actor: System.Name, ComponentID: ch.ComponentID,
		From: string(from), To: string(ch.Status), Reason: ch.Reason, UnderMaintenance: underMaintenance}
	var err error
	if notifiable(ev.From, ev.To, string(component.Unknown), string(component.Operational)) {
		if ev, err = s.record(ctx, ev); err != nil {
			return fmt.Errorf("component %s status: %w", ch.ComponentID, err)
		}
	}
	if err := s.store.AppendStatus(ctx, ch); err != nil {
		return fmt.Errorf("component %s status: %w", ch.ComponentID, err)
	}
	s.publish(ev)
	return nil
}

// notifiable reports whether a change of state or status can be notified, and so is journaled:
// one to or from a problem. Between no data and fine (every monitor's first result after a
// start, every monitor unknown at a clean stop) is not: ten thousand monitors starting would
// otherwise double the first interval's writes for events no route sends.
func notifiable(from, to, unknown, fine string) bool {
	quiet := func(s string) bool { return s == "" || s == unknown || s == fine }
	return !quiet(from) || !quiet(to)
}

// MergeRollups merges a batch of result summaries.
func (s *Monitors) MergeRollups(ctx context.Context, rs []probe.Rollup) error {
	return s.store.AddRollups(ctx, rs)
}

// ExpireRollups deletes the buckets of res older than cutoff.
func (s *Monitors) ExpireRollups(ctx context.Context, res probe.Resolution, cutoff time.Time) error {
	return s.store.PruneRollups(ctx, res, cutoff)
}

// AdvanceCursor stores how far a singleton job has got.
func (s *Monitors) AdvanceCursor(ctx context.Context, name string, t time.Time) error {
	return s.store.SetCursor(ctx, name, t)
}

// Publish journals and publishes an event the engine derives without a stored change of its own
// (a burn-rate alert): its state is what keeps it from repeating. An event that cannot be
// journaled is logged and still published. Jobs that keep a cursor use Record.
func (s *Monitors) Publish(e events.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.record(ctx, e)
	if err != nil {
		s.log.Error("event not journaled: no notification is owed for it", "kind", e.Kind, "err", err)
	}
	s.publish(e)
}

// Record journals and publishes an event the engine derives behind a stored cursor (a
// maintenance occurrence starting, a reminder): the event's derived id keeps the journal from
// holding it twice when the job resumes behind its cursor. An event that cannot be journaled
// is not published, and the error tells the job not to move its cursor past it.
func (s *Monitors) Record(ctx context.Context, e events.Event) error {
	e, err := s.record(ctx, e)
	if err != nil {
		return err
	}
	s.publish(e)
	return nil
}
