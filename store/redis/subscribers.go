package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// Subscribers (docs/storage.md has the keys). They live under the {meta} hash tag: a change
// commits with its audit entry (and its event, in the journal) in one MULTI/EXEC, and the
// uniqueness of an address is checked under WATCH of the same slot. On a Cluster they are on
// the {meta} node: 100,000 subscribers are some 40 MB there.

var _ store.Subscribers = (*Store)(nil)

func (s *Store) subscribersKey() string      { return s.metaKey("subscribers") }
func (s *Store) subscriberLookupKey() string { return s.metaKey("subscribers:lookup") }
func (s *Store) subscriberIDsKey() string    { return s.metaKey("subscribers:ids") }
func (s *Store) subscriberCountsKey() string { return s.metaKey("subscribers:counts") }
func (s *Store) subscriberStateKey(st store.SubscriberState) string {
	return s.metaKey("subscribers:state:" + string(st))
}

func countField(sub store.Subscriber) string { return string(sub.Channel) + ":" + string(sub.State) }

// indexSubscriber queues the writes that store sub (new or changed from old, nil if new).
func (s *Store) indexSubscriber(ctx context.Context, p goredis.Pipeliner, sub store.Subscriber, old *store.Subscriber) {
	p.HSet(ctx, s.subscribersKey(), sub.ID, string(store.EncodeSubscriber(sub)))
	if old == nil {
		p.HSet(ctx, s.subscriberLookupKey(), sub.Lookup(), sub.ID)
		p.ZAdd(ctx, s.subscriberIDsKey(), goredis.Z{Member: sub.ID})
	} else {
		p.ZRem(ctx, s.subscriberStateKey(old.State), sub.ID)
		p.HIncrBy(ctx, s.subscriberCountsKey(), countField(*old), -1)
	}
	p.ZAdd(ctx, s.subscriberStateKey(sub.State), goredis.Z{Member: sub.ID})
	p.HIncrBy(ctx, s.subscriberCountsKey(), countField(sub), 1)
}

// mutateSubscribers runs a read-check-write under WATCH of the subscribers and their lookup:
// check reads through tx and returns what to queue in the MULTI/EXEC, which also carries the
// audit entry (unless it has no Action) with its event.
func (s *Store) mutateSubscribers(ctx context.Context, a store.AuditEntry, check func(tx *goredis.Tx) (func(p goredis.Pipeliner), error)) error {
	const retries = 50
	for range retries {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			queue, err := check(tx)
			if err != nil {
				return err
			}
			var entry string
			var id int64
			if a.Action != "" {
				if id, err = tx.Incr(ctx, s.metaKey("audit:seq")).Result(); err != nil {
					return err
				}
				a.ID = id
				if entry, err = encodeAudit(a); err != nil {
					return err
				}
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				queue(p)
				if a.Action != "" {
					p.ZAdd(ctx, s.metaKey("audit"), goredis.Z{Score: float64(id), Member: entry})
					if a.Event != nil {
						s.journalInTx(ctx, p, *a.Event)
					}
				}
				return nil
			})
			return err
		}, s.subscribersKey(), s.subscriberLookupKey())
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		return markUnavailable(err)
	}
	return errors.New("redis: subscribers: too much contention")
}

func (s *Store) readSubscriber(ctx context.Context, c goredis.Cmdable, id string) (store.Subscriber, error) {
	raw, err := c.HGet(ctx, s.subscribersKey(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Subscriber{}, fmt.Errorf("subscriber %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("get subscriber %s: %w", id, err)
	}
	return store.DecodeSubscriber([]byte(raw))
}

// CreateSubscriber stores a new subscriber with its audit entry.
func (s *Store) CreateSubscriber(ctx context.Context, sub store.Subscriber, a store.AuditEntry) error {
	sub = store.NormalizeSubscriber(sub)
	a.Before = store.Null
	return s.mutateSubscribers(ctx, a, func(tx *goredis.Tx) (func(goredis.Pipeliner), error) {
		taken, err := tx.HExists(ctx, s.subscribersKey(), sub.ID).Result()
		if err != nil {
			return nil, err
		}
		if !taken {
			taken, err = tx.HExists(ctx, s.subscriberLookupKey(), sub.Lookup()).Result()
			if err != nil {
				return nil, err
			}
		}
		if taken {
			return nil, fmt.Errorf("subscriber %s, or its address: %w", sub.ID, store.ErrConflict)
		}
		return func(p goredis.Pipeliner) { s.indexSubscriber(ctx, p, sub, nil) }, nil
	})
}

// GetSubscriber returns one subscriber.
func (s *Store) GetSubscriber(ctx context.Context, id string) (store.Subscriber, error) {
	return s.readSubscriber(ctx, s.rdb, id)
}

// FindSubscriber returns the subscriber with this lookup key.
func (s *Store) FindSubscriber(ctx context.Context, lookup string) (store.Subscriber, error) {
	id, err := s.rdb.HGet(ctx, s.subscriberLookupKey(), lookup).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("find subscriber: %w", err)
	}
	sub, err := s.readSubscriber(ctx, s.rdb, id)
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("subscriber: %w", store.ErrNotFound)
	}
	return sub, err
}

// UpdateSubscriber stores a subscriber's new version with its audit entry (if it has one).
func (s *Store) UpdateSubscriber(ctx context.Context, sub store.Subscriber, a store.AuditEntry) error {
	sub = store.NormalizeSubscriber(sub)
	return s.mutateSubscribers(ctx, a, func(tx *goredis.Tx) (func(goredis.Pipeliner), error) {
		old, err := s.readSubscriber(ctx, tx, sub.ID)
		if err != nil {
			return nil, err
		}
		if old.Version != sub.Version-1 {
			return nil, fmt.Errorf("subscriber %s changed since it was read: %w", sub.ID, store.ErrConflict)
		}
		sub.Channel, sub.Address, sub.URL = old.Channel, old.Address, old.URL
		return func(p goredis.Pipeliner) { s.indexSubscriber(ctx, p, sub, &old) }, nil
	})
}

// DeleteSubscriber removes a subscriber and its indexes, with its audit entry.
func (s *Store) DeleteSubscriber(ctx context.Context, id string, a store.AuditEntry) error {
	return s.mutateSubscribers(ctx, a, func(tx *goredis.Tx) (func(goredis.Pipeliner), error) {
		old, err := s.readSubscriber(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		return func(p goredis.Pipeliner) {
			p.HDel(ctx, s.subscribersKey(), id)
			p.HDel(ctx, s.subscriberLookupKey(), old.Lookup())
			p.ZRem(ctx, s.subscriberIDsKey(), id)
			p.ZRem(ctx, s.subscriberStateKey(old.State), id)
			p.HIncrBy(ctx, s.subscriberCountsKey(), countField(old), -1)
		}, nil
	})
}

// ListSubscribers pages through the id index (of q's state, if it has one) and keeps what q
// matches: a filter by channel or component reads past what it leaves out.
func (s *Store) ListSubscribers(ctx context.Context, q store.SubscriberQuery) ([]store.Subscriber, error) {
	index := s.subscriberIDsKey()
	if q.State != "" {
		index = s.subscriberStateKey(q.State)
	}
	limit := q.EffectiveLimit()
	chunk := int64(max(limit, 200))
	after := q.After
	var out []store.Subscriber
	for len(out) < limit {
		min := "-"
		if after != "" {
			min = "(" + after
		}
		ids, err := s.rdb.ZRangeByLex(ctx, index, &goredis.ZRangeBy{Min: min, Max: "+", Count: chunk}).Result()
		if err != nil {
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		raws, err := s.rdb.HMGet(ctx, s.subscribersKey(), ids...).Result()
		if err != nil {
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		for _, raw := range raws {
			str, ok := raw.(string)
			if !ok {
				continue // deleted between the two reads
			}
			sub, err := store.DecodeSubscriber([]byte(str))
			if err != nil {
				return nil, err
			}
			if q.Matches(sub) && len(out) < limit {
				out = append(out, sub)
			}
		}
		after = ids[len(ids)-1]
		if int64(len(ids)) < chunk {
			break
		}
	}
	return out, nil
}

// CountSubscribers reads the counts kept with every change.
func (s *Store) CountSubscribers(ctx context.Context) (store.SubscriberCounts, error) {
	all, err := s.rdb.HGetAll(ctx, s.subscriberCountsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("count subscribers: %w", err)
	}
	out := store.SubscriberCounts{}
	for _, ch := range store.SubscriberChannels {
		for _, st := range store.SubscriberStates {
			n, _ := strconv.Atoi(all[string(ch)+":"+string(st)])
			if n == 0 {
				continue
			}
			if out[ch] == nil {
				out[ch] = map[store.SubscriberState]int{}
			}
			out[ch][st] = n
		}
	}
	return out, nil
}

// exportSubscribers emits every subscriber, in id order (export.go).
func (s *Store) exportSubscribers(ctx context.Context, emit func(store.Record) error) error {
	after := ""
	for {
		page, err := s.ListSubscribers(ctx, store.SubscriberQuery{After: after})
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for i := range page {
			if err := emit(store.Record{Type: store.RecordSubscriber, Subscriber: &page[i]}); err != nil {
				return err
			}
		}
		if len(page) < store.MaxSubscriberLimit {
			return nil
		}
		after = page[len(page)-1].ID
	}
}
