package store

import (
	"context"
	"errors"
	"time"
)

// Coordination of several instances sharing one store. This is not data: nothing here is
// audited, exported or shown, and none of it goes through the service. Only a backend that
// several instances share implements Coordinator (Redis); SQLite is served by one process,
// which its file lock guarantees (sqlite.OpenExclusive), so it has nothing to coordinate.

// Errors of coordination.
var (
	// ErrLeadershipHeld: another holder has the lease. The error is a *LeadershipHeldError.
	ErrLeadershipHeld = errors.New("lease held by another instance")
	// ErrLeadershipLost: the lease expired or was taken over; the holder is no longer leader.
	ErrLeadershipLost = errors.New("lease lost")
	// ErrFenced: a write carried a fencing token older than the lease's latest; a newer leader
	// exists, and the write was not made.
	ErrFenced = errors.New("fenced: a newer leader holds the lease")
)

// LeadershipHeldError says who holds a lease and for how much longer, so a candidate can try again
// when it expires rather than poll.
type LeadershipHeldError struct {
	Holder    string
	Remaining time.Duration // 0 if unknown
}

func (e *LeadershipHeldError) Error() string { return "lease held by " + e.Holder }

// Unwrap makes errors.Is(err, ErrLeadershipHeld) true.
func (e *LeadershipHeldError) Unwrap() error { return ErrLeadershipHeld }

// Leadership is a held leader lease: one tenure.
type Leadership interface {
	// Token is the fencing token of this tenure: it is larger than the token of every earlier
	// tenure of the same lease, whoever held it.
	Token() int64
	// Refresh extends the lease to ttl from now, or returns ErrLeadershipLost if it is no longer
	// held (expired, or taken over).
	Refresh(ctx context.Context, ttl time.Duration) error
	// Release gives the lease up at once, if still held.
	Release(ctx context.Context) error
}

// Member is one live instance.
type Member struct {
	ID       string `json:"id"`
	Location string `json:"location,omitempty"`
}

// Coordinator is what instances sharing a store use to agree on a leader and on who is alive,
// and to tell each other what one of them was asked (a heartbeat check-in, a pause). Every
// method but ListenAnnouncements is one round trip.
type Coordinator interface {
	// ObtainLeadership takes the lease called name for holder, for ttl, with a new fencing token, or
	// returns a *LeadershipHeldError (ErrLeadershipHeld) naming the current holder.
	ObtainLeadership(ctx context.Context, name, holder string, ttl time.Duration) (Leadership, error)
	// Beat records m as live for ttl from now (by the store's clock, so the instances' clocks
	// need not agree), forgets members whose time ran out, and returns the live members, m
	// included, ordered by id.
	Beat(ctx context.Context, m Member, ttl time.Duration) ([]Member, error)
	// Leave forgets the member at once (a clean stop), so the others take over its share at
	// their next beat rather than after its ttl.
	Leave(ctx context.Context, id string) error
	// Announce sends msg to every instance listening at that moment, this one included. At
	// most once: an instance that is not connected then never gets it.
	Announce(ctx context.Context, msg []byte) error
	// ListenAnnouncements calls fn with each announcement, in order, until ctx ends, and then
	// returns nil; an error if it cannot listen at all. ready, if not nil, is called once it
	// listens. After a lost connection it listens again; what was announced meanwhile is
	// missed. fn must not block for long.
	ListenAnnouncements(ctx context.Context, ready func(), fn func(msg []byte)) error
}

type fenceKey struct{}

// Fence is a fencing token with the lease it belongs to.
type Fence struct {
	Lease string
	Token int64
}

// WithFence returns ctx carrying a leader's fencing token. A backend with coordination refuses
// a singleton write made with it (SetCursor) with ErrFenced once a newer tenure of that lease
// began; SQLite, served by one process, ignores it.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceFrom returns the fencing token ctx carries, if any.
func FenceFrom(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}
