package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/storetest"
)

func TestCoordination(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var n atomic.Int64
	storetest.RunCoordination(t, func(t *testing.T) storetest.CoordinatedStore {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: fmt.Sprintf("coord%d", n.Add(1))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestCoordinationCluster runs coordination on a real three-node Redis Cluster: the fenced
// write's script touches the fence and the cursors, which must share a slot.
func TestCoordinationCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	var n atomic.Int64
	storetest.RunCoordination(t, func(t *testing.T) storetest.CoordinatedStore {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: addrs, KeyPrefix: fmt.Sprintf("ccoord%d", n.Add(1))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
