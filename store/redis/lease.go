package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/bsm/redislock"
	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// The leader lease: bsm/redislock's SET NX PX with a random token, renewed by a compare-and-
// PEXPIRE script, plus a fencing counter INCRed at every acquisition. Both keys, and the
// cursors a fenced write touches, share the {meta} hash tag, so the fenced script runs on one
// Cluster slot.

var _ store.Coordinator = (*Store)(nil)

const leaseTokenLen = 32 // hex of 16 random bytes; the holder's name follows it in the value

func (s *Store) leaseKey(name string) string { return s.metaKey("lease:" + name) }
func (s *Store) fenceKey(name string) string { return s.metaKey("lease:" + name + ":fence") }

// ObtainLeadership takes the lease called name for holder, for ttl, and gives it a fencing token
// larger than every earlier one; a *store.LeadershipHeldError if another holder has it.
func (s *Store) ObtainLeadership(ctx context.Context, name, holder string, ttl time.Duration) (store.Leadership, error) {
	var b [leaseTokenLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("redis: lease token: %w", err)
	}
	lock, err := redislock.New(s.rdb).Obtain(ctx, s.leaseKey(name), ttl, &redislock.Options{Token: hex.EncodeToString(b[:]), Metadata: holder})
	if errors.Is(err, redislock.ErrNotObtained) {
		return nil, s.leaseHeld(ctx, name)
	}
	if err != nil {
		return nil, fmt.Errorf("redis: obtain lease %s: %w", name, err)
	}
	// After the lease is ours, never before: a token drawn by a candidate that then failed to
	// obtain the lease would fence out the leader in office.
	token, err := s.rdb.Incr(ctx, s.fenceKey(name)).Result()
	if err != nil {
		_ = lock.Release(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("redis: fence lease %s: %w", name, err)
	}
	return &lease{lock: lock, name: name, token: token}, nil
}

// leaseHeld reads who holds the lease and for how long.
func (s *Store) leaseHeld(ctx context.Context, name string) error {
	var get *goredis.StringCmd
	var pttl *goredis.DurationCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, s.leaseKey(name))
		pttl = p.PTTL(ctx, s.leaseKey(name))
		return nil
	})
	held := &store.LeadershipHeldError{Holder: "another instance"}
	if err != nil {
		return held // expired meanwhile, or unreachable: either way, not obtained
	}
	if v := get.Val(); len(v) > leaseTokenLen {
		held.Holder = v[leaseTokenLen:]
	}
	if d := pttl.Val(); d > 0 {
		held.Remaining = d
	}
	return held
}

type lease struct {
	lock  *redislock.Lock
	name  string
	token int64
}

func (l *lease) Token() int64 { return l.token }

func (l *lease) Refresh(ctx context.Context, ttl time.Duration) error {
	err := l.lock.Refresh(ctx, ttl, nil)
	if errors.Is(err, redislock.ErrNotObtained) {
		return fmt.Errorf("redis: lease %s: %w", l.name, store.ErrLeadershipLost)
	}
	if err != nil {
		return fmt.Errorf("redis: refresh lease %s: %w", l.name, err)
	}
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	if err := l.lock.Release(ctx); err != nil && !errors.Is(err, redislock.ErrLockNotHeld) {
		return fmt.Errorf("redis: release lease %s: %w", l.name, err)
	}
	return nil
}

// setCursorFenced stores a cursor only if the fencing token is the lease's latest.
var setCursorFenced = goredis.NewScript(`
local latest = tonumber(redis.call('GET', KEYS[1]) or '0')
if latest > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1`)

func (s *Store) setCursorFenced(ctx context.Context, f store.Fence, name string, t time.Time) error {
	ok, err := setCursorFenced.Run(ctx, s.rdb, []string{s.fenceKey(f.Lease), s.metaKey("cursors")},
		strconv.FormatInt(f.Token, 10), name, store.Millis(t)).Int()
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	if ok == 0 {
		return fmt.Errorf("set cursor %s with token %d of lease %s: %w", name, f.Token, f.Lease, store.ErrFenced)
	}
	return nil
}
