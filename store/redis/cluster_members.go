package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// Live instances: a sorted set of member ids scored by when each one's time runs out (Unix ms
// by the Redis server's own clock, so the instances' clocks need not agree), and a hash of
// each member's description. Both under the {cluster} hash tag: one script touches both.

func (s *Store) membersKey() string    { return s.prefix + ":{cluster}:members" }
func (s *Store) memberInfoKey() string { return s.prefix + ":{cluster}:member-info" }

// beat: KEYS[1] members, KEYS[2] member-info; ARGV: id, description, ttl ms. Records the member,
// forgets the expired ones, returns the live ids and their descriptions.
var beat = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREM', KEYS[1], unpack(dead))
  redis.call('HDEL', KEYS[2], unpack(dead))
end
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
return {live, redis.call('HMGET', KEYS[2], unpack(live))}`)

// Beat records m as live for ttl and returns the live members, ordered by id.
func (s *Store) Beat(ctx context.Context, m store.Member, ttl time.Duration) ([]store.Member, error) {
	desc, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("redis: beat: %w", err)
	}
	res, err := beat.Run(ctx, s.rdb, []string{s.membersKey(), s.memberInfoKey()}, m.ID, desc, ttl.Milliseconds()).Slice()
	if err != nil {
		return nil, fmt.Errorf("redis: beat: %w", err)
	}
	if len(res) != 2 {
		return nil, fmt.Errorf("redis: beat: unexpected reply %v", res)
	}
	ids, _ := res[0].([]any)
	descs, _ := res[1].([]any)
	out := make([]store.Member, 0, len(ids))
	for i, id := range ids {
		mem := store.Member{ID: fmt.Sprint(id)}
		if i < len(descs) {
			if d, ok := descs[i].(string); ok {
				_ = json.Unmarshal([]byte(d), &mem) // a bad description still names a live member
				mem.ID = fmt.Sprint(id)
			}
		}
		out = append(out, mem)
	}
	slices.SortFunc(out, func(a, b store.Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Leave forgets the member at once.
func (s *Store) Leave(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZRem(ctx, s.membersKey(), id)
		p.HDel(ctx, s.memberInfoKey(), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis: leave: %w", err)
	}
	return nil
}
