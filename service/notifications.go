package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/store"
)

// OutboxStore keeps what notifications need: the journal of events, the outbox and the lease.
type OutboxStore interface {
	store.Journal
	store.Outbox
	store.Leases
}

// Targets are the notification channels, as the service needs them: the config file's targets
// to list, and a test message to any target (package notify's Channels).
type Targets interface {
	// TargetIDs lists the ids of the targets the config file declares.
	TargetIDs() []string
	// Describe tells what a config file's target is without its secrets.
	Describe(id string) TargetInfo
	// SendTest sends a test message to target id (the file's or the API's) now, naming who
	// asked for it.
	SendTest(ctx context.Context, id, requestedBy string) error
}

// TargetInfo describes a target for operators: never its secrets. A URL shows its scheme and
// host only, a secret field "(redacted)" (or its ${NAME} reference, which is not a secret),
// headers their names only.
type TargetInfo struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Source      string            `json:"source"`      // config (read-only through the API) or api
	Destination string            `json:"destination"` // the URL's scheme and host, the mail recipients
	URL         string            `json:"url,omitempty"`
	Secret      string            `json:"secret,omitempty"`
	RoutingKey  string            `json:"routing_key,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	To          []string          `json:"to,omitempty"`
	Timeout     time.Duration     `json:"-"`
	TimeoutText string            `json:"timeout"`
	MaxInFlight int               `json:"max_in_flight"`
	// UsedBy names the config's routes and escalations that send to the target.
	UsedBy    []string   `json:"used_by"`
	Version   int        `json:"version,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// ErrNotificationState: the change does not apply to a notification in its state (retrying a
// delivered one, cancelling a dead one).
var ErrNotificationState = errors.New("invalid state")

// Notifications is the door for the outbox: what the notification router and dispatcher record
// (notifications owed, claims, outcomes, their place in the journal, the dispatcher's lease) and
// what operators change (retry, cancel, test a target). The records are not anyone's edits and
// carry no audit entry, like a monitor's transitions; an operator's change is audited and
// publishes one event.
type Notifications struct {
	*deps
	store      OutboxStore
	targets    Targets
	apiTargets store.NotifyTargets // nil: the store keeps none
}

// Enqueue stores the notifications not stored yet (by id) and returns how many were new.
func (s *Notifications) Enqueue(ctx context.Context, ns []store.Notification) (int, error) {
	added, err := s.store.EnqueueNotifications(ctx, ns)
	if err != nil {
		return added, fmt.Errorf("enqueue notifications: %w", err)
	}
	return added, nil
}

// Claim takes up to limit notifications due at now for a dispatcher, until until.
func (s *Notifications) Claim(ctx context.Context, now, until time.Time, limit int) ([]store.Notification, error) {
	return s.store.ClaimNotifications(ctx, now, until, limit)
}

// Finish records the outcome of an attempt (n as it is now, its Version one more than claimed).
func (s *Notifications) Finish(ctx context.Context, n store.Notification) error {
	return s.store.FinishNotification(ctx, n)
}

// AdvanceJournal stores how far the named reader of the journal has got.
func (s *Notifications) AdvanceJournal(ctx context.Context, name string, seq int64) error {
	return s.store.SetJournalCursor(ctx, name, seq)
}

// Prune deletes journal entries older than cutoff that the reader has passed (seq <= upTo), and
// finished notifications last changed before cutoff.
func (s *Notifications) Prune(ctx context.Context, upTo int64, cutoff time.Time) (journal, outbox int, err error) {
	if journal, err = s.store.PruneJournal(ctx, upTo, cutoff); err != nil {
		return journal, 0, err
	}
	outbox, err = s.store.PruneNotifications(ctx, cutoff)
	return journal, outbox, err
}

// TakeLease takes or renews the named lease for holder (see store.Leases).
func (s *Notifications) TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, bool, error) {
	return s.store.AcquireLease(ctx, name, holder, now, ttl)
}

// GiveUpLease gives holder's lease up.
func (s *Notifications) GiveUpLease(ctx context.Context, name, holder string) error {
	return s.store.ReleaseLease(ctx, name, holder)
}

// change applies an operator's change to a stored notification, retrying on a fresh copy if the
// dispatcher changed it meanwhile, audited as action and published as one event.
func (s *Notifications) change(ctx context.Context, by Actor, id, action string, apply func(n *store.Notification, now time.Time) error) (store.Notification, error) {
	now := s.now()
	for attempt := 1; ; attempt++ {
		n, err := s.store.GetNotification(ctx, id)
		if err != nil {
			return n, fmt.Errorf("notification %s: %w", id, err)
		}
		if err := apply(&n, now); err != nil {
			return n, err
		}
		n.UpdatedAt, n.Version = now, n.Version+1
		a, ev := s.journaled(by.audit(now, action, "notification/"+id, n),
			events.Event{Kind: events.NotificationChanged, At: now, Actor: by.Name, Reason: id, To: string(n.State), IncidentID: n.IncidentID})
		err = s.store.ChangeNotification(ctx, n, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("notification %s: %w", id, err)
		}
		s.publish(ev)
		return store.NormalizeNotification(n), nil
	}
}

// Retry makes a dead, cancelled or failing notification due now, its attempts kept. A delivered
// one is not sent again this way (ErrNotificationState).
func (s *Notifications) Retry(ctx context.Context, by Actor, id string) (store.Notification, error) {
	return s.change(ctx, by, id, "notification.retry", func(n *store.Notification, now time.Time) error {
		if n.State == store.NotificationDelivered || n.State == store.NotificationSending {
			return fmt.Errorf("notification %s is %s; only pending, dead and cancelled ones are retried: %w", id, n.State, ErrNotificationState)
		}
		n.State, n.NextAt = store.NotificationPending, now
		return nil
	})
}

// Cancel stops a pending or sending notification from being attempted again. One being sent
// right now may still arrive; its outcome is then not recorded.
func (s *Notifications) Cancel(ctx context.Context, by Actor, id string) (store.Notification, error) {
	return s.change(ctx, by, id, "notification.cancel", func(n *store.Notification, now time.Time) error {
		if n.State.Finished() {
			return fmt.Errorf("notification %s is %s already: %w", id, n.State, ErrNotificationState)
		}
		n.State, n.LastError = store.NotificationCancelled, "cancelled by "+by.Name
		return nil
	})
}

// TestTarget sends a test message to a target now, and records who asked and what happened.
// An unknown target is store.ErrNotFound; a failed delivery is the error it returns.
func (s *Notifications) TestTarget(ctx context.Context, by Actor, id string) error {
	known := false
	if s.targets != nil {
		for _, t := range s.targets.TargetIDs() {
			known = known || t == id
		}
	}
	if !known && s.apiTargets != nil {
		if _, err := s.apiTargets.GetNotifyTarget(ctx, id); err == nil {
			known = true
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if !known || s.targets == nil {
		return fmt.Errorf("target %s: %w", id, store.ErrNotFound)
	}
	start := s.clock.Now()
	sendErr := s.targets.SendTest(ctx, id, by.Name)
	result := map[string]any{"target": id, "delivered": sendErr == nil, "duration_ms": s.clock.Since(start).Milliseconds()}
	if sendErr != nil {
		result["error"] = sendErr.Error()
	}
	if err := s.deps.store.AppendAudit(ctx, by.audit(s.now(), "notification.test", "target/"+id, result)); err != nil {
		return errors.Join(sendErr, fmt.Errorf("audit target test: %w", err))
	}
	return sendErr
}
