package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// The current status of every component, kept in one hash (<prefix>:{meta}:status-now, id ->
// "<unix ms> <status>") in step with the timelines, so that listing 10,000 components reads one
// hash instead of 10,000 sorted sets (a command each: at 10,000 components that was a fifth of
// a summary's render, on both sides of the connection; issue #14).
//
// The hash is written by the same script that adds the change to the timeline, which then copies
// the timeline's last member (by score, then member: what a read of the timeline would answer),
// so the hash never disagrees with the timeline whatever order changes arrive in. The script
// touches a {meta} key and a {c:<id>} key, which a Cluster refuses (CROSSSLOT): on a Cluster
// there is no hash, and each component's status is read from its timeline as before.

// statusNowKey is the current-status hash.
func (s *Store) statusNowKey() string { return s.metaKey("status-now") }

// addChangeSrc adds a change (ARGV[2] score, ARGV[3] member; an empty member adds nothing) to
// the timeline KEYS[1] and copies the timeline's last change into the hash KEYS[2] under the
// component id ARGV[1], or removes the id when the timeline is empty.
const addChangeSrc = `
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) end
local last = redis.call('ZRANGE', KEYS[1], -1, -1)
if #last == 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
local ch = cjson.decode(last[1])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', ch.at) .. ' ' .. ch.status)
return 1
`

// addChange queues (or, on a client, runs) adding z to a component's timeline and keeping the
// current-status hash in step.
func (s *Store) addChange(ctx context.Context, c goredis.Cmdable, id string, z goredis.Z) goredis.Cmder {
	if s.cluster {
		return c.ZAdd(ctx, s.timelineKey(id), z)
	}
	return c.Eval(ctx, addChangeSrc, []string{s.timelineKey(id), s.statusNowKey()}, id, z.Score, z.Member)
}

// copyStatus queues copying a component's last change from its timeline into the hash (none on
// a Cluster): for a component created again after a delete (its timeline stays), an import, and
// a store written before the hash existed.
func (s *Store) copyStatus(ctx context.Context, p goredis.Pipeliner, id string) {
	if !s.cluster {
		p.Eval(ctx, addChangeSrc, []string{s.timelineKey(id), s.statusNowKey()}, id, 0, "")
	}
}

// copyAllStatuses fills the hash from the timelines of all stored components, in batches.
func (s *Store) copyAllStatuses(ctx context.Context) error {
	if s.cluster {
		return nil
	}
	ids, err := s.rdb.HKeys(ctx, s.metaKey("components")).Result()
	if err != nil {
		return fmt.Errorf("current statuses: %w", err)
	}
	const batch = 500
	for i := 0; i < len(ids); i += batch {
		if _, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, id := range ids[i:min(i+batch, len(ids))] {
				s.copyStatus(ctx, p, id)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("current statuses: %w", err)
		}
	}
	return nil
}

// withStatus fills each component's current status, in one round trip: from the hash, or on a
// Cluster from each timeline's last member.
func (s *Store) withStatus(ctx context.Context, cs []component.Component) error {
	if len(cs) == 0 {
		return nil
	}
	if s.cluster {
		return s.withStatusByTimeline(ctx, cs)
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	vals, err := s.rdb.HMGet(ctx, s.statusNowKey(), ids...).Result()
	if err != nil {
		return err
	}
	for i, v := range vals {
		text, ok := v.(string)
		if !ok {
			continue // no change stored yet: unknown
		}
		ms, status, ok := strings.Cut(text, " ")
		at, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil {
			return fmt.Errorf("decode current status of %s: %q", cs[i].ID, text)
		}
		cs[i].Status, cs[i].StatusSince = component.Status(status), store.FromMillis(at)
	}
	return nil
}

// withStatusByTimeline reads each component's last change from its timeline. The last member by
// rank is the latest change (score, then member, as a range by score would order them); by rank
// it is the cheapest read on both sides.
func (s *Store) withStatusByTimeline(ctx context.Context, cs []component.Component) error {
	cmds := make([]*goredis.StringSliceCmd, len(cs))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, c := range cs {
			cmds[i] = p.ZRange(ctx, s.timelineKey(c.ID), -1, -1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, cmd := range cmds {
		zs := cmd.Val()
		if len(zs) == 0 {
			continue
		}
		ch, err := decodeChange(cs[i].ID, zs[0])
		if err != nil {
			return err
		}
		cs[i].Status, cs[i].StatusSince = ch.Status, ch.At
	}
	return nil
}
