package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/storetest"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		// Each test gets its own key prefix on the shared server.
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: fmt.Sprintf("test%d", n.Add(1))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceCluster runs the same suite on a real three-node Redis Cluster: a key that one
// transaction touches without a shared hash tag would fail here with CROSSSLOT.
func TestConformanceCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: addrs, KeyPrefix: fmt.Sprintf("cluster%d", n.Add(1))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
