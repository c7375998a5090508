package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

func newTestLeader(t *testing.T, st store.Coordinator, holder string, clock clockwork.Clock, gained func()) (*leader, func()) {
	t.Helper()
	l := &leader{coord: st, holder: holder, ttl: 3 * time.Second, clock: clock, log: slog.New(slog.DiscardHandler),
		m: newClusterMetrics(prometheus.NewRegistry()), gained: gained}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return l, stop
}

// TestLeaderStopsWhenRedisHangs: a leader whose store stops answering (SIGSTOP: nothing is
// refused, nothing answers) ends its term, cancelling its singleton work, by the local clock
// alone, at the latest nine tenths of the lease after the last renewal it sent: before the
// lease can run out in the store and another instance obtain it.
func TestLeaderStopsWhenRedisHangs(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	gained := make(chan struct{}, 1)
	l, _ := newTestLeader(t, st, "a", clock, func() { gained <- struct{}{} })
	<-gained // the first step obtains the free lease
	if !l.leading() {
		t.Fatal("not leading after the term began")
	}
	ctx, cancel, ok := l.termContext(context.Background())
	if !ok {
		t.Fatal("no term context while leading")
	}
	defer cancel()
	if f, ok := store.FenceFrom(ctx); !ok || f.Token < 1 || f.Lease != leaderLease {
		t.Errorf("the term's context carries %+v, %t; want the lease's fencing token", f, ok)
	}
	l.mu.Lock()
	until := l.until
	l.mu.Unlock()
	if want := clock.Now().Add(3 * time.Second * 9 / 10); until.After(want) {
		t.Errorf("the term counts until %s, later than %s", until, want)
	}

	srv.Pause()
	defer srv.Resume()
	clock.Advance(until.Sub(clock.Now()))
	// The clock decides at once; the cancellation follows from the clock's timer.
	if l.leading() {
		t.Error("still leading at the end of the term while the store does not answer")
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the singleton work's context was not cancelled at the end of the term")
	}
	if _, _, ok := l.termContext(context.Background()); ok {
		t.Error("a singleton job could still start")
	}
}

// TestLeaderHandsOver: of two candidates one leads; when it stops, it gives the lease up and
// the other leads at its next try, with a larger fencing token.
func TestLeaderHandsOver(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewRealClock()
	a, stopA := newTestLeader(t, st, "a", clock, func() {})
	WaitFor(t, a.leading)
	b, _ := newTestLeader(t, st, "b", clock, func() {})
	time.Sleep(100 * time.Millisecond)
	if b.leading() {
		t.Fatal("two leaders")
	}
	a.mu.Lock()
	tokenA := a.term.Token()
	a.mu.Unlock()
	stopA()
	if a.leading() {
		t.Error("a leads after it stopped")
	}
	WaitFor(t, b.leading) // within a renewal period (1s), not the lease (3s): a released it
	b.mu.Lock()
	tokenB := b.term.Token()
	b.mu.Unlock()
	if tokenB <= tokenA {
		t.Errorf("b's token %d after a's %d", tokenB, tokenA)
	}
}
