package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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

// TestRatesShared: two instances on one Redis (two clients, one prefix) count into one
// window, so a subscription limit holds across instances behind a balancer.
func TestRatesShared(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	open := func() *redis.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "shared"})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i, s := range []*redis.Store{a, b, a, b} {
		n, _, err := s.CountRate(t.Context(), "client:sha256:dd", time.Hour, at)
		if err != nil || n != int64(i+1) {
			t.Fatalf("count %d: %d, %v; want %d", i+1, n, err, i+1)
		}
	}
}
