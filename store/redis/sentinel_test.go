package redis_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/storetest"
)

// TestConformanceSentinel runs the suites through a real Sentinel set (three sentinels, a
// master and a replica): the client finds the master through the sentinels.
func TestConformanceSentinel(t *testing.T) {
	set := redistest.StartSentinel(t)
	var n atomic.Int64
	open := func(t *testing.T, prefix string) *redis.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: set.Sentinels, MasterName: redistest.MasterName, KeyPrefix: fmt.Sprintf("%s%d", prefix, n.Add(1))})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, "sentinel") })
	storetest.RunCoordination(t, func(t *testing.T) storetest.CoordinatedStore { return open(t, "scoord") })
}

// TestSentinelFailover kills the master with SIGKILL: the sentinels promote the replica, and
// the same store value goes on writing and reading through the new master; what was written
// (and had reached the replica) before is still there.
func TestSentinelFailover(t *testing.T) {
	set := redistest.StartSentinel(t)
	s, err := redis.Open(t.Context(), redis.Options{Addrs: set.Sentinels, MasterName: redistest.MasterName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := component.Component{ID: "api", Name: "API", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateComponent(ctx, c, store.AuditEntry{At: at, Actor: "test", Action: "component.create", Target: "component/api"}); err != nil {
		t.Fatal(err)
	}
	set.WaitReplicated()
	set.Master.Kill9()
	set.WaitFailover()
	// The client follows the sentinels to the new master (a bound on failure only).
	var got []component.Component
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := s.AppendStatus(ctx, component.Change{ComponentID: "api", At: at.Add(time.Minute), Status: component.Operational})
		if err == nil {
			if got, err = s.ListComponents(ctx); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write through the new master within 30s: %v", err)
		}
	}
	if len(got) != 1 || got[0].ID != "api" || got[0].Status != component.Operational {
		t.Fatalf("after the failover: %+v, want api, operational", got)
	}
	if m, err := s.Beat(ctx, store.Member{ID: "a"}, time.Minute); err != nil || len(m) != 1 {
		t.Fatalf("beat after the failover: %v %v", m, err)
	}
}
