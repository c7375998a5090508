package statuspage

import (
	"context"
	"sync"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// lastChange is the instant of the last change the public output shows: what page.updated_at
// in the v2 JSON, the feeds' pubDate, lastBuildDate and updated, and Last-Modified say. It only
// moves forward: loaded once from the store (the newest audit entry, component edits and status
// changes, window edits and the starts and ends of occurrences so far), then advanced by each
// event and by the data a render reads (so a change made through another instance shows here too
// once a render sees it).
type lastChange struct {
	mu     sync.Mutex
	at     time.Time
	loaded bool
	tried  time.Time // the last failed load: tried again a second later at the earliest
}

func (l *lastChange) advance(t time.Time) {
	l.mu.Lock()
	if t.After(l.at) {
		l.at = t
	}
	l.mu.Unlock()
}

// lastChanged returns the last change, taking into account what the caller has just read
// (changedIn), never later than now. Before the first load from the store succeeds, it is the
// newest of what it has seen, or now.
func (s *Server) lastChanged(ctx context.Context, seen ...time.Time) time.Time {
	s.changes.mu.Lock()
	if now := s.clock.Now(); !s.changes.loaded && !now.Before(s.changes.tried.Add(time.Second)) {
		if t, err := s.changedInStore(ctx); err != nil {
			s.changes.tried = now
			s.log.Debug("last change not loaded from the store yet", "err", err)
		} else {
			s.changes.loaded = true
			if t.After(s.changes.at) {
				s.changes.at = t
			}
		}
	}
	for _, t := range seen {
		if t.After(s.changes.at) {
			s.changes.at = t
		}
	}
	at := s.changes.at
	s.changes.mu.Unlock()
	now := s.clock.Now()
	if at.IsZero() || at.After(now) {
		return now
	}
	return at
}

// changedInStore reads the newest change the store holds: three list reads, once per process.
func (s *Server) changedInStore(ctx context.Context) (time.Time, error) {
	newest, err := s.store.ListAudit(ctx, store.AuditQuery{Limit: 1})
	if err != nil {
		return time.Time{}, err
	}
	cs, err := s.store.ListComponents(ctx)
	if err != nil {
		return time.Time{}, err
	}
	ws, err := s.store.ListWindows(ctx)
	if err != nil {
		return time.Time{}, err
	}
	t := changedIn(s.clock.Now(), cs, ws, nil)
	if len(newest) > 0 && newest[0].At.After(t) {
		t = newest[0].At
	}
	return t, nil
}

// changedIn is the newest change data shows up to now: component edits and status changes,
// window edits and the starts, ends and changes of their occurrences (time moves a window along
// without a stored change), incident updates.
func changedIn(now time.Time, cs []component.Component, ws []maintenance.Window, incs []incidents.Incident) time.Time {
	var t time.Time
	see := func(at time.Time) {
		if at.After(t) && !at.After(now) {
			t = at
		}
	}
	for _, c := range cs {
		see(c.UpdatedAt)
		see(c.StatusSince)
	}
	for i := range ws {
		see(ws[i].UpdatedAt)
		for _, o := range ws[i].Occurrences(now.Add(-feedPast), now) {
			see(o.Start)
			see(o.End)
			see(o.ChangedAt)
		}
	}
	for _, inc := range incs {
		see(inc.UpdatedAt)
	}
	return t
}

// publicChange reports whether an event can change what the public surface shows. Key events,
// a monitor's own state (the component's status has its own event), reminders and burn-rate
// alerts change nothing public.
func publicChange(k events.Kind) bool {
	if k.AboutSubscriber() { // nothing public: a subscription never invalidates the page
		return false
	}
	switch k {
	case events.KeyCreated, events.KeyRevoked, events.MonitorState, events.MaintenanceReminder, events.BudgetBurn, events.TargetChanged:
		return false
	}
	return true
}

// followEvents subscribes to the bus (nil: nothing to follow) and applies each event until stop
// is called: a public change invalidates the response cache and advances the last change; a
// revoked key is forgotten at once. The subscription is tracked, so a test can wait until every
// event published so far has been applied (eventsPending).
func (s *Server) followEvents() (stop func()) {
	if s.bus == nil {
		return func() {}
	}
	sub := s.bus.SubscribeTracked(1024)
	s.sub.Store(sub)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range sub.C {
			s.apply(ev)
			sub.Done()
		}
	}()
	return func() {
		sub.Close()
		<-done
	}
}

func (s *Server) apply(ev events.Event) {
	if ev.Kind == events.KeyRevoked {
		s.auth.forget(ev.Reason)
	}
	if !publicChange(ev.Kind) {
		return
	}
	at := ev.At
	if at.IsZero() {
		at = s.clock.Now()
	}
	s.changes.advance(at)
	s.cache.invalidate()
}

// eventsPending is how many published events the server has not applied yet (tests).
func (s *Server) eventsPending() int64 {
	if sub := s.sub.Load(); sub != nil {
		return sub.Pending()
	}
	return 0
}
