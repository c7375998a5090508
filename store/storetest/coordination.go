package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// CoordinatedStore is a store several instances share: one that implements store.Coordinator.
type CoordinatedStore interface {
	store.Store
	store.Coordinator
}

// RunCoordination runs the conformance tests of coordination (leader lease with fencing,
// membership) against stores made by newStore, which must share nothing with earlier ones.
// Two stores from one newStore call stand for two instances: each test opens its instances
// on the same store value, as instances share a backend.
func RunCoordination(t *testing.T, newStore func(t *testing.T) CoordinatedStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s CoordinatedStore)
	}{
		{"Leadership", testLeadership},
		{"LeadershipExpires", testLeadershipExpires},
		{"FencedCursor", testFencedCursor},
		{"Members", testMembers},
		{"MembersExpire", testMembersExpire},
		{"Announcements", testAnnouncements},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func testLeadership(t *testing.T, s CoordinatedStore) {
	ctx := t.Context()
	a, err := s.ObtainLeadership(ctx, "leader", "instance-a", time.Minute)
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	if a.Token() < 1 {
		t.Errorf("token %d, want at least 1", a.Token())
	}
	_, err = s.ObtainLeadership(ctx, "leader", "instance-b", time.Minute)
	var held *store.LeadershipHeldError
	if !errors.As(err, &held) || !errors.Is(err, store.ErrLeadershipHeld) {
		t.Fatalf("second obtain: %v, want a LeadershipHeldError", err)
	}
	if held.Holder != "instance-a" || held.Remaining <= 0 || held.Remaining > time.Minute {
		t.Errorf("held by %q for %s, want instance-a for (0, 1m]", held.Holder, held.Remaining)
	}
	// Another lease name is another lease.
	other, err := s.ObtainLeadership(ctx, "other", "instance-b", time.Minute)
	if err != nil {
		t.Fatalf("obtain another lease: %v", err)
	}
	if err := a.Refresh(ctx, time.Minute); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := a.Refresh(ctx, time.Minute); !errors.Is(err, store.ErrLeadershipLost) {
		t.Errorf("refresh after release: %v, want ErrLeadershipLost", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("release twice: %v, want nil", err)
	}
	b, err := s.ObtainLeadership(ctx, "leader", "instance-b", time.Minute)
	if err != nil {
		t.Fatalf("obtain after release: %v", err)
	}
	if b.Token() <= a.Token() {
		t.Errorf("token of the next tenure %d, want more than %d", b.Token(), a.Token())
	}
	_ = other.Release(ctx)
	_ = b.Release(ctx)
}

func testLeadershipExpires(t *testing.T, s CoordinatedStore) {
	ctx := t.Context()
	a, err := s.ObtainLeadership(ctx, "leader", "instance-a", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// The lease is the store's: wait for it to run out there (a bound on failure only).
	var b store.Leadership
	for deadline := time.Now().Add(10 * time.Second); b == nil; time.Sleep(20 * time.Millisecond) {
		b, err = s.ObtainLeadership(ctx, "leader", "instance-b", time.Minute)
		if err != nil && !errors.Is(err, store.ErrLeadershipHeld) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease did not expire within 10s of its 300ms")
		}
	}
	if err := a.Refresh(ctx, time.Minute); !errors.Is(err, store.ErrLeadershipLost) {
		t.Errorf("refresh after another took over: %v, want ErrLeadershipLost", err)
	}
	// A late release of the old tenure does not free the new one.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ObtainLeadership(ctx, "leader", "instance-c", time.Minute); !errors.Is(err, store.ErrLeadershipHeld) {
		t.Errorf("obtain after the old holder's release: %v, want ErrLeadershipHeld", err)
	}
	if b.Token() <= a.Token() {
		t.Errorf("token %d after %d", b.Token(), a.Token())
	}
}

func testFencedCursor(t *testing.T, s CoordinatedStore) {
	ctx := t.Context()
	a, err := s.ObtainLeadership(ctx, "leader", "instance-a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fenceA := store.Fence{Lease: "leader", Token: a.Token()}
	if err := s.SetCursor(store.WithFence(ctx, fenceA), "maintenance", t0); err != nil {
		t.Fatalf("fenced write of the leader in office: %v", err)
	}
	_ = a.Release(ctx)
	b, err := s.ObtainLeadership(ctx, "leader", "instance-b", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The old leader, paused through the change of tenure, wakes up and writes: refused.
	err = s.SetCursor(store.WithFence(ctx, fenceA), "maintenance", t0.Add(time.Hour))
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write with the old token: %v, want ErrFenced", err)
	}
	if c, _ := s.Cursor(ctx, "maintenance"); !c.Equal(ms(t0)) {
		t.Errorf("cursor %v after a fenced write, want %v", c, ms(t0))
	}
	if err := s.SetCursor(store.WithFence(ctx, store.Fence{Lease: "leader", Token: b.Token()}), "maintenance", t0.Add(time.Minute)); err != nil {
		t.Fatalf("write with the new token: %v", err)
	}
	if c, _ := s.Cursor(ctx, "maintenance"); !c.Equal(ms(t0.Add(time.Minute))) {
		t.Errorf("cursor %v, want %v", c, ms(t0.Add(time.Minute)))
	}
	// A write without a token is not fenced (a single instance, a tool).
	if err := s.SetCursor(ctx, "maintenance", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	_ = b.Release(ctx)
}

func ids(ms []store.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testMembers(t *testing.T, s CoordinatedStore) {
	ctx := t.Context()
	if _, err := s.Beat(ctx, store.Member{ID: "b", Location: "eu-west"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.Beat(ctx, store.Member{ID: "a"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Member{{ID: "a"}, {ID: "b", Location: "eu-west"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("members %+v, want %+v (ordered by id, with their locations)", got, want)
	}
	// A beat with a new description replaces the old.
	if got, _ := s.Beat(ctx, store.Member{ID: "b", Location: "us-east"}, time.Minute); len(got) != 2 || got[1].Location != "us-east" {
		t.Errorf("after a new description: %+v", got)
	}
	if err := s.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Beat(ctx, store.Member{ID: "a"}, time.Minute); len(got) != 1 || got[0].ID != "a" {
		t.Errorf("after b left: %v, want [a]", ids(got))
	}
	if err := s.Leave(ctx, "nobody"); err != nil {
		t.Errorf("leave of an unknown member: %v", err)
	}
}

func testMembersExpire(t *testing.T, s CoordinatedStore) {
	ctx := t.Context()
	if _, err := s.Beat(ctx, store.Member{ID: "short"}, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got, err := s.Beat(ctx, store.Member{ID: "long"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("members %v, want both", ids(got))
	}
	// Gone once its time ran out by the store's clock (a bound on failure only).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err = s.Beat(ctx, store.Member{ID: "long"}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && got[0].ID == "long" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %v 10s after short's 300ms ran out", ids(got))
		}
	}
}

func testAnnouncements(t *testing.T, s CoordinatedStore) {
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan string, 10)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.ListenAnnouncements(ctx, func() { close(ready) }, func(msg []byte) { got <- string(msg) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("listen: %v", err)
	}
	for _, m := range []string{"one", "two", "three"} {
		if err := s.Announce(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"one", "two", "three"} {
		select {
		case m := <-got:
			if m != want {
				t.Errorf("heard %q, want %q (in order)", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%q not heard within 10s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("listen returned %v after its context ended, want nil", err)
	}
}
