package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Subscribers: people and systems following the page by email or webhook (docs/subscribers.md).

// SubscriberState is where a subscriber is: waiting for the confirmation link, receiving, or
// suspended (a webhook that kept failing). One who leaves is deleted, not kept in a state.
type SubscriberState string

// The subscriber states.
const (
	SubscriberPending   SubscriberState = "pending"   // asked; receives nothing but the confirmation mail
	SubscriberConfirmed SubscriberState = "confirmed" // receives what they chose
	SubscriberSuspended SubscriberState = "suspended" // a webhook that kept failing; its contact was mailed
)

// SubscriberStates lists the states in the order they are shown.
var SubscriberStates = []SubscriberState{SubscriberPending, SubscriberConfirmed, SubscriberSuspended}

// Valid reports whether s is a known state.
func (s SubscriberState) Valid() bool { return slices.Contains(SubscriberStates, s) }

// SubscriberChannel is how a subscriber is reached.
type SubscriberChannel string

// The subscriber channels.
const (
	SubscriberEmail   SubscriberChannel = "email"
	SubscriberWebhook SubscriberChannel = "webhook"
	// SubscriberChat posts to a chat room (Slack, Teams, Discord, Mattermost, Google Chat,
	// Telegram...) by a shoutrrr URL, which holds the room's token.
	SubscriberChat SubscriberChannel = "chat"
)

// SubscriberChannels lists the channels.
var SubscriberChannels = []SubscriberChannel{SubscriberEmail, SubscriberWebhook, SubscriberChat}

// Valid reports whether c is a known channel.
func (c SubscriberChannel) Valid() bool { return slices.Contains(SubscriberChannels, c) }

// HasURL reports whether the channel delivers to a URL (webhook, chat), its Address being the
// contact for failure notices.
func (c SubscriberChannel) HasURL() bool { return c == SubscriberWebhook || c == SubscriberChat }

// Subscriber is one subscription: an email address, or a webhook or chat URL with an address
// for its failure notices, following some components (all when Components is empty).
type Subscriber struct {
	ID      string            `json:"id"`
	Channel SubscriberChannel `json:"channel"`
	// Address is where mail goes: the subscriber's own (email), or the contact told when the
	// webhook or chat fails (webhook, chat).
	Address string `json:"address"`
	URL     string `json:"url,omitempty"` // webhook: where each notification is POSTed; chat: the shoutrrr URL (a secret)
	// Components are the component and group ids chosen (a group stands for its components);
	// empty: every public component, those added later too.
	Components []string `json:"components,omitempty"`
	// ComponentUpdates: also each status change of the chosen components (incidents and
	// maintenance always).
	ComponentUpdates bool            `json:"component_updates,omitempty"`
	Language         string          `json:"language,omitempty"` // a BCP 47 tag of the page's languages
	State            SubscriberState `json:"state"`
	// LinkKey signs this subscriber's links (confirm, manage, unsubscribe; hex): deleting the
	// subscriber voids them all. Secret signs the webhook's requests (shown to its owner).
	LinkKey string `json:"link_key"`
	Secret  string `json:"secret,omitempty"`
	Source  string `json:"source"` // page, admin, import

	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	// FailingSince is when a webhook's deliveries started failing (zero after a success);
	// SuspendedAt when it was suspended for it.
	FailingSince time.Time `json:"failing_since,omitzero"`
	SuspendedAt  time.Time `json:"suspended_at,omitzero"`
	// Version counts stored changes; a change made from a stale copy is refused.
	Version int `json:"version"`
}

// Target is where the subscriber's notifications go: the address, or the webhook's or chat's URL.
func (s Subscriber) Target() string {
	if s.Channel.HasURL() {
		return s.URL
	}
	return s.Address
}

// Lookup is the key that makes a subscription unique: one per address by email, one per URL by
// webhook or chat (the case of an address does not make another one). Backends index it.
func (s Subscriber) Lookup() string { return SubscriberLookup(s.Channel, s.Target()) }

// SubscriberLookup is the lookup key of a channel and target (Subscriber.Lookup).
func SubscriberLookup(ch SubscriberChannel, target string) string {
	t := strings.TrimSpace(target)
	if ch == SubscriberEmail {
		t = strings.ToLower(t)
	}
	sum := sha256.Sum256([]byte(string(ch) + "\x00" + t))
	return hex.EncodeToString(sum[:16])
}

// Follows reports whether the subscriber chose all components (Components empty) or one of ids.
func (s Subscriber) Follows(ids ...string) bool {
	if len(s.Components) == 0 {
		return true
	}
	for _, id := range ids {
		if slices.Contains(s.Components, id) {
			return true
		}
	}
	return false
}

// NormalizeSubscriber is s as a backend keeps it: times in UTC at millisecond precision,
// components sorted and each once.
func NormalizeSubscriber(s Subscriber) Subscriber {
	s.CreatedAt, s.UpdatedAt, s.ConfirmedAt = ms(s.CreatedAt), ms(s.UpdatedAt), ms(s.ConfirmedAt)
	s.FailingSince, s.SuspendedAt = ms(s.FailingSince), ms(s.SuspendedAt)
	if len(s.Components) == 0 {
		s.Components = nil
	} else {
		s.Components = slices.Compact(slices.Sorted(slices.Values(s.Components)))
	}
	return s
}

// EncodeSubscriber is a subscriber as both backends store it.
func EncodeSubscriber(s Subscriber) []byte { return MustJSON(NormalizeSubscriber(s)) }

// DecodeSubscriber reads a stored subscriber.
func DecodeSubscriber(b []byte) (Subscriber, error) {
	var s Subscriber
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode subscriber: %w", err)
	}
	return NormalizeSubscriber(s), nil
}

// SubscriberQuery filters and pages subscribers, in id order. Zero fields do not filter.
type SubscriberQuery struct {
	State   SubscriberState
	Channel SubscriberChannel
	// Components keeps the subscribers who follow any of these ids, those following every
	// component included (Subscriber.Follows).
	Components []string
	After      string // only ids after this one: the cursor for the next page
	Limit      int    // 0 or more than MaxSubscriberLimit means MaxSubscriberLimit
}

// MaxSubscriberLimit bounds one page of subscribers.
const MaxSubscriberLimit = 1000

// EffectiveLimit is q.Limit bounded to (0, MaxSubscriberLimit].
func (q SubscriberQuery) EffectiveLimit() int {
	if q.Limit <= 0 || q.Limit > MaxSubscriberLimit {
		return MaxSubscriberLimit
	}
	return q.Limit
}

// Matches reports whether s passes q's filters (not the cursor or limit).
func (q SubscriberQuery) Matches(s Subscriber) bool {
	return (q.State == "" || s.State == q.State) && (q.Channel == "" || s.Channel == q.Channel) &&
		(len(q.Components) == 0 || s.Follows(q.Components...)) && (q.After == "" || s.ID > q.After)
}

// SubscriberCounts are how many subscribers there are, by channel and state.
type SubscriberCounts map[SubscriberChannel]map[SubscriberState]int

// Subscribers keeps the subscriptions. Every change but a webhook's failure bookkeeping is
// audited atomically; the audit entry never holds an address (the service records a hash).
type Subscribers interface {
	// CreateSubscriber stores a new subscriber (Version 1), or returns ErrConflict if its id or
	// its Lookup is taken.
	CreateSubscriber(ctx context.Context, s Subscriber, a AuditEntry) error
	// GetSubscriber returns one subscriber, or ErrNotFound.
	GetSubscriber(ctx context.Context, id string) (Subscriber, error)
	// FindSubscriber returns the subscriber whose Lookup is lookup, or ErrNotFound.
	FindSubscriber(ctx context.Context, lookup string) (Subscriber, error)
	// UpdateSubscriber stores s, whose Version must be one more than the stored one (a change
	// from a stale copy returns ErrConflict), with its audit entry; an entry without an Action
	// records none (bookkeeping: a webhook failing since). Channel, Address and URL do not
	// change. ErrNotFound if it does not exist.
	UpdateSubscriber(ctx context.Context, s Subscriber, a AuditEntry) error
	// DeleteSubscriber removes a subscriber for real, with its audit entry; ErrNotFound if it
	// does not exist.
	DeleteSubscriber(ctx context.Context, id string, a AuditEntry) error
	// ListSubscribers returns the subscribers matching q, in id order.
	ListSubscribers(ctx context.Context, q SubscriberQuery) ([]Subscriber, error)
	// CountSubscribers counts subscribers by channel and state.
	CountSubscribers(ctx context.Context) (SubscriberCounts, error)
	// CountRate adds one to key's count in the window holding now (windows of length window,
	// from the Unix epoch) and returns the count with this one and when the window ends: the
	// subscription limits (per client, per recipient), shared by every instance on the store.
	// Keys are the caller's (hashes: no address is kept); a count is forgotten after its window.
	// Redis keeps it in the store; SQLite, single-instance, in the process's memory.
	CountRate(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error)
}

// RateWindow is the window of the fixed-window count that holds now, and its end.
func RateWindow(window time.Duration, now time.Time) (int64, time.Time) {
	if window <= 0 {
		window = time.Hour
	}
	idx := now.UnixMilli() / window.Milliseconds()
	return idx, time.UnixMilli((idx + 1) * window.Milliseconds()).UTC()
}
