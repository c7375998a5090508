package redis

import (
	"context"
	"fmt"
)

// Announcements between instances: Redis sharded pub/sub (SPUBLISH, SSUBSCRIBE; Redis 7) on one
// channel. Sharded, because in Cluster mode the channel then lives on the one node of its slot,
// and announcements arrive in the order they were made (classic PUBLISH, sent to any node and
// spread by the cluster bus, reordered them in TestCoordinationCluster). Fire and forget:
// nothing is stored.

func (s *Store) announceChannel() string { return s.prefix + ":{cluster}:announce" }

// Announce publishes msg to the instances listening now.
func (s *Store) Announce(ctx context.Context, msg []byte) error {
	if err := s.rdb.SPublish(ctx, s.announceChannel(), msg).Err(); err != nil {
		return fmt.Errorf("redis: announce: %w", err)
	}
	return nil
}

// ListenAnnouncements subscribes and calls fn with each announcement until ctx ends. go-redis
// subscribes again after a lost connection.
func (s *Store) ListenAnnouncements(ctx context.Context, ready func(), fn func(msg []byte)) error {
	ps := s.rdb.SSubscribe(ctx, s.announceChannel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("redis: listen for announcements: %w", err)
	}
	if ready != nil {
		ready()
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			fn([]byte(m.Payload))
		}
	}
}
