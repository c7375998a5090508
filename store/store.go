// Package store defines the storage the rest of Upstate needs, as domain-level interfaces.
//
// Two backends implement it and pass one conformance suite (store/storetest): store/sqlite, the
// embedded default, and store/redis for several instances. Nothing above this package sees a
// backend's own error types: backends translate them to ErrNotFound, ErrConflict and
// ErrUnavailable.
//
// Times are stored in UTC at millisecond precision; every value read back has location UTC.
// Slices returned are the caller's own.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
)

// Sentinel errors every backend maps its own errors to.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrUnavailable wraps a failure to reach the backend at all (connection refused or lost,
	// the server loading or read-only, the database closed, locked past its timeout or failing
	// its disk): the request may succeed later, unchanged. The HTTP surface answers 503.
	ErrUnavailable = errors.New("store unavailable")
)

// Store is everything a running Upstate keeps.
type Store interface {
	Components
	Timelines
	Transitions
	Rollups
	Keys
	Audit
	Maintenance
	Cursors
	Incidents
	PageReads
	Journal
	Outbox
	Leases
	Subscribers
	NotifyTargets
	Dump

	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend. It is called once, last, at shutdown.
	Close() error
}

// Components keeps the components and groups the page shows. Every mutation writes its audit
// entry in the same transaction; the backend fills the entry's ID and Before (the stored value
// before the change, as JSON) itself.
type Components interface {
	// ListComponents returns every component and group, ordered by position, then id, each with
	// its current status (the status of its latest timeline change, Unknown if it has none).
	ListComponents(ctx context.Context) ([]component.Component, error)
	// GetComponent returns one component, or ErrNotFound.
	GetComponent(ctx context.Context, id string) (component.Component, error)
	// CreateComponent stores a new component, or returns ErrConflict if its id exists.
	CreateComponent(ctx context.Context, c component.Component, a AuditEntry) error
	// UpdateComponent replaces a component's fields (not its status or CreatedAt), or returns
	// ErrNotFound.
	UpdateComponent(ctx context.Context, c component.Component, a AuditEntry) error
	// DeleteComponent removes a component, or returns ErrNotFound. Its timeline is kept.
	DeleteComponent(ctx context.Context, id string, a AuditEntry) error
}

// Timelines keeps each component's status timeline, forever (it is small).
type Timelines interface {
	// AppendStatus adds a change to a component's timeline. Appending an identical change again
	// is a no-op, so retries and several instances are safe. ErrNotFound if the component does
	// not exist.
	AppendStatus(ctx context.Context, ch component.Change) error
	// StatusTimeline returns the changes with At in [from, to), oldest first, preceded by the
	// last change before from (if any), so the status at from is known.
	StatusTimeline(ctx context.Context, componentID string, from, to time.Time) ([]component.Change, error)
}

// Transitions keeps each monitor's state transitions, forever.
type Transitions interface {
	// AppendTransition stores a transition; storing an identical one again is a no-op.
	AppendTransition(ctx context.Context, t probe.Transition) error
	// MonitorTransitions returns the transitions with At in [from, to), oldest first.
	MonitorTransitions(ctx context.Context, monitorID string, from, to time.Time) ([]probe.Transition, error)
	// LastTransition returns a monitor's latest transition, or ErrNotFound.
	LastTransition(ctx context.Context, monitorID string) (probe.Transition, error)
}

// Rollups keeps per-monitor summaries of results at several resolutions.
type Rollups interface {
	// AddRollups merges each rollup into the stored bucket of the same monitor, resolution and
	// start (adding counts), creating it if needed. The batch is applied per monitor atomically.
	AddRollups(ctx context.Context, rs []probe.Rollup) error
	// MonitorRollups returns a monitor's buckets of one resolution with Start in [from, to),
	// oldest first.
	MonitorRollups(ctx context.Context, monitorID string, res probe.Resolution, from, to time.Time) ([]probe.Rollup, error)
	// PruneRollups deletes every bucket of res that starts before cutoff.
	PruneRollups(ctx context.Context, res probe.Resolution, cutoff time.Time) error
}

// Maintenance keeps maintenance windows, overrides of single occurrences included. A window that
// has started is never deleted: a cancelled series keeps its past occurrences, which availability
// still counts (the service deletes only windows that never started).
// Windows read back are prepared (ready for Occurrences); every mutation is audited atomically.
type Maintenance interface {
	// ListWindows returns every window, ordered by id.
	ListWindows(ctx context.Context) ([]maintenance.Window, error)
	// GetWindow returns one window, or ErrNotFound.
	GetWindow(ctx context.Context, id string) (maintenance.Window, error)
	// CreateWindow stores a new window, or returns ErrConflict if its id exists.
	CreateWindow(ctx context.Context, w maintenance.Window, a AuditEntry) error
	// UpdateWindow replaces a window, or returns ErrNotFound.
	UpdateWindow(ctx context.Context, w maintenance.Window, a AuditEntry) error
	// DeleteWindow removes the window w as it was read, with its audit entry (Before: the stored
	// window), or returns ErrNotFound if no window has its id, or ErrConflict if the stored
	// window is no longer w (changed since it was read: the caller's rule saw another value).
	DeleteWindow(ctx context.Context, w maintenance.Window, a AuditEntry) error
}

// Incidents keeps incidents with their updates and clocks, as documents. Every mutation is
// audited atomically.
type Incidents interface {
	// CreateIncident stores a new incident (Version 1), or returns ErrConflict if its id exists.
	CreateIncident(ctx context.Context, inc incidents.Incident, a AuditEntry) error
	// GetIncident returns one incident, or ErrNotFound.
	GetIncident(ctx context.Context, id string) (incidents.Incident, error)
	// UpdateIncident stores inc, whose Version must be one more than the stored one: an update
	// made from a stale copy returns ErrConflict (read again and retry). ErrNotFound if missing.
	UpdateIncident(ctx context.Context, inc incidents.Incident, a AuditEntry) error
	// ListIncidents returns incidents matching q, newest opened first.
	ListIncidents(ctx context.Context, q IncidentQuery) ([]incidents.Incident, error)
}

// IncidentQuery filters incidents. Zero fields do not filter.
type IncidentQuery struct {
	OpenOnly     bool
	ResolvedOnly bool
	Severity     incidents.Severity
	ComponentID  string
	Since, Until time.Time // OpenedAt in [Since, Until)
	// StartedFrom and StartedBefore keep incidents whose problem began in [StartedFrom,
	// StartedBefore): a backfill belongs to when it happened, not when it was recorded.
	StartedFrom, StartedBefore time.Time
	// ActiveFrom and ActiveBefore keep incidents whose span, from StartedAt to ResolvedAt (to
	// any time while open), overlaps [ActiveFrom, ActiveBefore): what a day's bar shows.
	ActiveFrom, ActiveBefore time.Time
	Limit                    int // 0 or more than MaxIncidentLimit means MaxIncidentLimit
}

// MaxIncidentLimit bounds one list of incidents.
const MaxIncidentLimit = 500

// Matches reports whether inc passes q's filters.
func (q IncidentQuery) Matches(inc incidents.Incident) bool {
	if q.OpenOnly && !inc.Open() || q.ResolvedOnly && inc.Open() || q.Severity != "" && inc.Severity != q.Severity {
		return false
	}
	if !q.Since.IsZero() && inc.OpenedAt.Before(q.Since) || !q.Until.IsZero() && !inc.OpenedAt.Before(q.Until) {
		return false
	}
	if !q.StartedFrom.IsZero() && inc.StartedAt.Before(q.StartedFrom) || !q.StartedBefore.IsZero() && !inc.StartedAt.Before(q.StartedBefore) {
		return false
	}
	if !q.ActiveFrom.IsZero() && IncidentEnd(inc) <= Millis(q.ActiveFrom) || !q.ActiveBefore.IsZero() && !inc.StartedAt.Before(q.ActiveBefore) {
		return false
	}
	if q.ComponentID != "" {
		for _, a := range inc.Components {
			if a.ComponentID == q.ComponentID {
				return true
			}
		}
		return false
	}
	return true
}

// EffectiveLimit is q.Limit bounded to (0, MaxIncidentLimit].
func (q IncidentQuery) EffectiveLimit() int {
	if q.Limit <= 0 || q.Limit > MaxIncidentLimit {
		return MaxIncidentLimit
	}
	return q.Limit
}

// DecodeIncident reads a stored incident.
func DecodeIncident(b []byte) (incidents.Incident, error) {
	var inc incidents.Incident
	if err := json.Unmarshal(b, &inc); err != nil {
		return inc, fmt.Errorf("decode incident: %w", err)
	}
	return inc, nil
}

// Cursors keep how far a singleton job has got, so a restart or a new leader resumes there and
// neither misses nor repeats work.
type Cursors interface {
	// Cursor returns the time stored under name, or the zero time if none is.
	Cursor(ctx context.Context, name string) (time.Time, error)
	// SetCursor stores t under name.
	SetCursor(ctx context.Context, name string, t time.Time) error
}

// EncodeWindow is a window as both backends store it.
func EncodeWindow(w maintenance.Window) []byte { return MustJSON(w) }

// DecodeWindow reads a stored window and prepares it.
func DecodeWindow(b []byte) (maintenance.Window, error) {
	var w maintenance.Window
	if err := json.Unmarshal(b, &w); err != nil {
		return w, fmt.Errorf("decode maintenance window: %w", err)
	}
	if errs := w.PrepareStored(); len(errs) > 0 {
		return w, fmt.Errorf("stored maintenance window %s is invalid: %v", w.ID, errs[0])
	}
	return w, nil
}

// SameWindow checks that the stored window doc is still w as it was read (both backends'
// DeleteWindow): ErrConflict if it changed since. Both sides are compared as read back, so a
// doc an older version wrote compares by what it says, not by its spelling.
func SameWindow(doc string, w maintenance.Window) error {
	stored, err := DecodeWindow([]byte(doc))
	if err != nil {
		return err
	}
	if !bytes.Equal(EncodeWindow(stored), EncodeWindow(w)) {
		return fmt.Errorf("maintenance window %s changed since it was read: %w", w.ID, ErrConflict)
	}
	return nil
}

// Keys keeps API keys (bcrypt hashes only).
type Keys interface {
	// CreateKey stores a new key, or returns ErrConflict if its id exists.
	CreateKey(ctx context.Context, k apikey.Key, a AuditEntry) error
	// GetKey returns a key by id, or ErrNotFound.
	GetKey(ctx context.Context, id string) (apikey.Key, error)
	// ListKeys returns every key, revoked ones included, oldest first.
	ListKeys(ctx context.Context) ([]apikey.Key, error)
	// RevokeKey marks a key revoked at the given time; ErrNotFound if it does not exist,
	// ErrConflict if it is already revoked.
	RevokeKey(ctx context.Context, id string, at time.Time, a AuditEntry) error
}

// Audit is the append-only record of every change.
type Audit interface {
	// AppendAudit records a change that touched no stored entity (a reload, say).
	AppendAudit(ctx context.Context, a AuditEntry) error
	// ListAudit returns entries matching q, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// AuditEntry records one change: who, what, before and after, when, from where.
type AuditEntry struct {
	ID         int64           `json:"id"` // assigned by the store, increasing
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"`  // the API key's name, or "config", "cli", "system"
	Action     string          `json:"action"` // e.g. "component.create"
	Target     string          `json:"target"` // e.g. "component/api"
	Before     json.RawMessage `json:"before"` // null when nothing existed before
	After      json.RawMessage `json:"after"`  // null when nothing exists after
	RemoteAddr string          `json:"remote_addr"`
	RequestID  string          `json:"request_id"`
	// Event, when set, is appended to the journal in the same transaction as the change and
	// its entry (see Journal): the durable record of what notifications are owed. Not part of
	// the audit log itself.
	Event *JournalEntry `json:"-"`
}

// AuditQuery filters and pages the audit log. Zero fields do not filter.
type AuditQuery struct {
	Actor    string
	Action   string
	Target   string
	Since    time.Time // At >= Since
	Until    time.Time // At < Until
	BeforeID int64     // only entries with ID < BeforeID: the cursor for the next page
	Limit    int       // at most this many; 0 or more than MaxAuditLimit means MaxAuditLimit
}

// MaxAuditLimit bounds one page of the audit log.
const MaxAuditLimit = 500

// EffectiveLimit is q.Limit bounded to (0, MaxAuditLimit].
func (q AuditQuery) EffectiveLimit() int {
	if q.Limit <= 0 || q.Limit > MaxAuditLimit {
		return MaxAuditLimit
	}
	return q.Limit
}

// Matches reports whether e passes q's filters (not the cursor or limit).
func (q AuditQuery) Matches(e AuditEntry) bool {
	return (q.Actor == "" || e.Actor == q.Actor) &&
		(q.Action == "" || e.Action == q.Action) &&
		(q.Target == "" || e.Target == q.Target) &&
		(q.Since.IsZero() || !e.At.Before(q.Since)) &&
		(q.Until.IsZero() || e.At.Before(q.Until))
}

// Millis converts t to the stored form; FromMillis converts back (in UTC).
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis converts a stored millisecond time back to a time in UTC. Zero stays zero.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Null is the JSON the audit log uses for "nothing".
var Null = json.RawMessage("null")

// MustJSON encodes v for an audit entry. Values written to the audit log are plain structs, so
// an encoding failure is a programming error.
func MustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("store: audit value does not encode: " + err.Error())
	}
	return b
}

// Notifications: the journal of events, the outbox of notifications owed, and the lease that
// lets one instance dispatch them (docs/notifications.md).

// JournalEntry is one event as the journal keeps it: the encoded event (the store does not read
// Body), with what a reader needs to page through the journal and prune it.
type JournalEntry struct {
	Seq  int64           `json:"seq"` // assigned by the store, increasing in commit order
	ID   string          `json:"id"`  // the event's id: the journal keeps one entry per id
	Kind string          `json:"kind"`
	At   time.Time       `json:"at"`
	Body json.RawMessage `json:"body"`
}

// Journal is the durable log of the events notifications are made from. An audited change
// carries its event in its AuditEntry and the backend appends it in the change's own
// transaction, so a crash can never keep the change and lose the event. A reader (the
// notification router) pages through it by Seq behind a stored cursor.
type Journal interface {
	// AppendEvents appends each entry whose ID is not in the journal yet, with the next Seq;
	// an entry whose ID is there already is skipped, so appending again after a crash is safe.
	AppendEvents(ctx context.Context, es []JournalEntry) error
	// ReadJournal returns up to limit entries with Seq > after, in Seq order. Seq follows
	// commit order: a reader that has seen Seq n never later finds a new entry below n.
	ReadJournal(ctx context.Context, after int64, limit int) ([]JournalEntry, error)
	// JournalCursor returns the Seq the named reader has handled up to, 0 if none is stored.
	JournalCursor(ctx context.Context, name string) (int64, error)
	// SetJournalCursor stores the named reader's Seq.
	SetJournalCursor(ctx context.Context, name string, seq int64) error
	// PruneJournal deletes the entries with Seq <= upTo and At before cutoff, and returns how
	// many it deleted.
	PruneJournal(ctx context.Context, upTo int64, cutoff time.Time) (int, error)
}

// NotificationState is where a notification is in its delivery.
type NotificationState string

// The notification states.
const (
	NotificationPending   NotificationState = "pending"   // waiting for its first or next attempt, at NextAt
	NotificationSending   NotificationState = "sending"   // claimed by a dispatcher until NextAt; due again then if it died
	NotificationDelivered NotificationState = "delivered" // the receiver accepted it
	NotificationDead      NotificationState = "dead"      // given up (the dead letter); an operator may retry it
	NotificationCancelled NotificationState = "cancelled" // by an operator, or no longer wanted (an escalation after the acknowledgement)
)

// Valid reports whether s is a known state.
func (s NotificationState) Valid() bool {
	switch s {
	case NotificationPending, NotificationSending, NotificationDelivered, NotificationDead, NotificationCancelled:
		return true
	}
	return false
}

// Finished reports whether a notification in state s will not be attempted again on its own.
func (s NotificationState) Finished() bool {
	return s == NotificationDelivered || s == NotificationDead || s == NotificationCancelled
}

// Notification is one message owed to one target (one recipient, for email), kept until it
// is delivered, given up or cancelled.
type Notification struct {
	// ID is derived from what the message is about and where it goes (event and target, or
	// incident, escalation step and target), so making it twice stores it once. Receivers
	// see it as the idempotency key.
	ID          string          `json:"id"`
	Target      string          `json:"target"`              // the target's id
	Channel     string          `json:"channel"`             // email, webhook, chat, pagerduty
	Recipient   string          `json:"recipient,omitempty"` // the address, for email
	Kind        string          `json:"kind"`                // the event kind, or escalation, repeat, test
	EventID     string          `json:"event_id,omitempty"`
	IncidentID  string          `json:"incident_id,omitempty"`
	ComponentID string          `json:"component_id,omitempty"`
	DedupKey    string          `json:"dedup_key,omitempty"` // ties a page's trigger, acknowledge and resolve together
	Action      string          `json:"action,omitempty"`    // trigger, acknowledge, resolve; empty for a plain message
	Payload     json.RawMessage `json:"payload"`             // the message, as package notify encodes it

	State       NotificationState `json:"state"`
	Attempts    int               `json:"attempts"`
	CreatedAt   time.Time         `json:"created_at"`
	NextAt      time.Time         `json:"next_at"` // the next try (pending), or when a claim runs out (sending)
	UpdatedAt   time.Time         `json:"updated_at"`
	DeliveredAt time.Time         `json:"delivered_at,omitzero"`
	LastError   string            `json:"last_error,omitempty"`
	// Version counts stored changes; a change made from a stale copy is refused.
	Version int `json:"version"`
}

// NotificationQuery filters notifications. Zero fields do not filter.
type NotificationQuery struct {
	States     []NotificationState
	Target     string
	IncidentID string
	DedupKey   string
	Before     time.Time // CreatedAt < Before: the cursor for the next page
	Limit      int       // 0 or more than MaxNotificationLimit means MaxNotificationLimit
}

// MaxNotificationLimit bounds one list of notifications.
const MaxNotificationLimit = 500

// EffectiveLimit is q.Limit bounded to (0, MaxNotificationLimit].
func (q NotificationQuery) EffectiveLimit() int {
	if q.Limit <= 0 || q.Limit > MaxNotificationLimit {
		return MaxNotificationLimit
	}
	return q.Limit
}

// Matches reports whether n passes q's filters (not the limit).
func (q NotificationQuery) Matches(n Notification) bool {
	if len(q.States) > 0 && !slices.Contains(q.States, n.State) {
		return false
	}
	return (q.Target == "" || n.Target == q.Target) && (q.IncidentID == "" || n.IncidentID == q.IncidentID) &&
		(q.DedupKey == "" || n.DedupKey == q.DedupKey) && (q.Before.IsZero() || n.CreatedAt.Before(q.Before))
}

// OutboxStats summarise the outbox for the metrics.
type OutboxStats struct {
	ByState map[NotificationState]int
	// OldestWaiting is the CreatedAt of the oldest pending or sending notification (zero if none).
	OldestWaiting time.Time
}

// Outbox keeps every notification owed until it is delivered (at least once), given up or
// cancelled. One dispatcher at a time claims what is due (see Leases).
type Outbox interface {
	// EnqueueNotifications stores each notification whose ID is not stored yet, as given
	// (normally pending, Attempts 0, Version 1), and returns how many were new. One whose ID is
	// stored is left as it is, whatever its state.
	EnqueueNotifications(ctx context.Context, ns []Notification) (int, error)
	// ClaimNotifications takes up to limit notifications that are pending or sending with
	// NextAt at or before now, earliest NextAt first, and stores each as sending with
	// Attempts+1, NextAt until, UpdatedAt now and Version+1; it returns them as stored. Two
	// claims, even concurrent ones, never return the same notification for the same attempt.
	ClaimNotifications(ctx context.Context, now, until time.Time, limit int) ([]Notification, error)
	// FinishNotification stores n (the outcome of an attempt) if n.Version is one more than the
	// stored Version, else returns ErrConflict (an operator changed it meanwhile, and wins).
	// ErrNotFound if it does not exist.
	FinishNotification(ctx context.Context, n Notification) error
	// ChangeNotification is FinishNotification for an operator's change, audited atomically.
	ChangeNotification(ctx context.Context, n Notification, a AuditEntry) error
	// GetNotification returns one notification, or ErrNotFound.
	GetNotification(ctx context.Context, id string) (Notification, error)
	// ListNotifications returns notifications matching q, newest CreatedAt first, then by ID
	// descending. A query by DedupKey reads only that key's notifications.
	ListNotifications(ctx context.Context, q NotificationQuery) ([]Notification, error)
	// OutboxStats counts notifications by state and finds the oldest one still waiting.
	OutboxStats(ctx context.Context) (OutboxStats, error)
	// PruneNotifications deletes delivered, dead and cancelled notifications last changed
	// before cutoff, and returns how many it deleted.
	PruneNotifications(ctx context.Context, cutoff time.Time) (int, error)
}

// Lease is a named lease and who holds it.
type Lease struct {
	Name    string    `json:"name"`
	Holder  string    `json:"holder"`
	Token   int64     `json:"token"` // increases each time the lease changes hands (a fencing token)
	Expires time.Time `json:"expires"`
}

// Leases let one of several instances sharing a store do singleton work (the notification
// dispatcher). Expiry compares the instances' clocks: keep them in sync well within the TTL.
type Leases interface {
	// AcquireLease gives the named lease to holder until now+ttl if it is free, expired at now,
	// or already holder's (a renewal keeps the token), and reports whether holder now has it;
	// the Lease returned is the stored one either way.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (Lease, bool, error)
	// ReleaseLease ends holder's lease at once; it does nothing if someone else holds it.
	ReleaseLease(ctx context.Context, name, holder string) error
}
