package redis_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

var rollupAt = time.Date(2026, 11, 27, 10, 0, 10, 0, time.UTC)

// rollup is a rollup of monitor id at resolution res holding one result per duration.
func rollup(id string, res probe.Resolution, ds ...time.Duration) probe.Rollup {
	r := probe.Rollup{MonitorID: id, Resolution: res, Start: res.Truncate(rollupAt)}
	for i, d := range ds {
		r.Add(probe.Result{OK: i%2 == 0, Duration: d})
	}
	return r
}

func sum(rs ...probe.Rollup) probe.Rollup {
	out := probe.Rollup{MonitorID: rs[0].MonitorID, Resolution: rs[0].Resolution, Start: rs[0].Start}
	for _, r := range rs {
		out.Merge(r)
	}
	return out
}

func wantRollups(t *testing.T, s *redis.Store, id string, res probe.Resolution, want ...probe.Rollup) {
	t.Helper()
	got, err := s.MonitorRollups(t.Context(), id, res, res.Truncate(rollupAt).Add(-time.Hour), rollupAt.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("MonitorRollups(%s, %s) =\n %+v\nwant\n %+v", id, res, got, want)
	}
}

// faultHook fails pipelines on demand: before sending them (the write never reached Redis) or
// after Redis answered (the write was applied but its reply was lost), and counts the commands
// of the pipelines it lets through.
type faultHook struct {
	mode     atomic.Int32 // faultNone, faultBefore, faultAfter
	commands atomic.Int64
}

const (
	faultNone = iota
	faultBefore
	faultAfter
)

var errFault = errors.New("injected fault")

func (h *faultHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *faultHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return next
}
func (h *faultHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		switch h.mode.Load() {
		case faultBefore:
			for _, c := range cmds {
				c.SetErr(errFault)
			}
			return errFault
		case faultAfter:
			if err := next(ctx, cmds); err != nil {
				return err
			}
			cmds[0].SetErr(errFault)
			return errFault
		}
		for _, c := range cmds {
			if n := c.Name(); n != "hello" && n != "client" { // a new connection's handshake
				h.commands.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

func openHooked(t *testing.T, addr, prefix string) (*redis.Store, *faultHook) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: addr})
	h := &faultHook{}
	rdb.AddHook(h)
	s, err := redis.New(t.Context(), rdb, prefix)
	if err != nil {
		rdb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h
}

func openPlain(t *testing.T, addr, prefix string) *redis.Store {
	t.Helper()
	s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{addr}, KeyPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRollupsTwoStores: two instances (two stores, one prefix) write into the same bucket, each
// its own totals (as after a take-over, or a restart: a new store never overwrites the fields of
// another); the bucket reads as their sum from either.
func TestRollupsTwoStores(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, b := openPlain(t, srv.Addr, "two"), openPlain(t, srv.Addr, "two")
	ctx := t.Context()
	x := rollup("m1", probe.Hour, time.Millisecond, 30*time.Millisecond)
	y := rollup("m1", probe.Hour, 2*time.Second)
	z := rollup("m1", probe.Hour, 20*time.Second, time.Millisecond, time.Millisecond)
	for i, step := range []struct {
		s *redis.Store
		r probe.Rollup
	}{{a, x}, {b, y}, {a, z}, {b, y}} {
		if err := step.s.AddRollups(ctx, []probe.Rollup{step.r}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := sum(x, y, z, y)
	wantRollups(t, a, "m1", probe.Hour, want)
	wantRollups(t, b, "m1", probe.Hour, want)
	// A third store (a restarted process) adds to the bucket too.
	c := openPlain(t, srv.Addr, "two")
	if err := c.AddRollups(ctx, []probe.Rollup{x}); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, a, "m1", probe.Hour, sum(want, x))
}

// TestRollupsRetryAfterFault: a flush that fails, whether its write never reached Redis or was
// applied and only its reply lost, is retried the way the engine retries it (the same deltas
// merged into the next flush's) and counts nothing twice nor loses anything.
func TestRollupsRetryAfterFault(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	for _, mode := range []int32{faultBefore, faultAfter} {
		t.Run(strconv.Itoa(int(mode)), func(t *testing.T) {
			prefix := "fault" + strconv.Itoa(int(mode))
			s, h := openHooked(t, srv.Addr, prefix)
			ctx := t.Context()
			first := []probe.Rollup{rollup("m1", probe.Minute, time.Millisecond), rollup("m1", probe.Hour, time.Millisecond)}
			if err := s.AddRollups(ctx, first); err != nil {
				t.Fatal(err)
			}
			failed := []probe.Rollup{rollup("m1", probe.Minute, 2*time.Second, 3*time.Millisecond), rollup("m1", probe.Hour, 2*time.Second, 3*time.Millisecond),
				rollup("m2", probe.Hour, time.Second)}
			h.mode.Store(mode)
			if err := s.AddRollups(ctx, failed); !errors.Is(err, errFault) {
				t.Fatalf("AddRollups with a fault: %v, want the fault", err)
			}
			h.mode.Store(faultNone)
			next := []probe.Rollup{rollup("m1", probe.Minute, 40*time.Millisecond), rollup("m1", probe.Hour, 40*time.Millisecond)}
			retry := []probe.Rollup{sum(failed[0], next[0]), sum(failed[1], next[1]), failed[2]}
			if err := s.AddRollups(ctx, retry); err != nil {
				t.Fatal(err)
			}
			// Read through another store: what Redis holds, not what this one remembers.
			r := openPlain(t, srv.Addr, prefix)
			wantRollups(t, r, "m1", probe.Minute, sum(first[0], failed[0], next[0]))
			wantRollups(t, r, "m1", probe.Hour, sum(first[1], failed[1], next[1]))
			wantRollups(t, r, "m2", probe.Hour, failed[2])
			// The flush after the retry still adds.
			if err := s.AddRollups(ctx, next); err != nil {
				t.Fatal(err)
			}
			wantRollups(t, r, "m1", probe.Hour, sum(first[1], failed[1], next[1], next[1]))
		})
	}
}

// TestRollupsRetryAfterRedisDown: Redis is killed, a flush fails, Redis restarts from its
// append-only file, and the retried flush counts each delta once.
func TestRollupsRetryAfterRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	s := openPlain(t, srv.Addr, "down")
	ctx := t.Context()
	x := rollup("m1", probe.Day, time.Millisecond)
	if err := s.AddRollups(ctx, []probe.Rollup{x}); err != nil {
		t.Fatal(err)
	}
	srv.Kill9()
	y := rollup("m1", probe.Day, time.Second, time.Second)
	if err := s.AddRollups(ctx, []probe.Rollup{y}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("AddRollups with Redis down: %v, want ErrUnavailable", err)
	}
	srv.Restart()
	z := rollup("m1", probe.Day, 5*time.Millisecond)
	if err := s.AddRollups(ctx, []probe.Rollup{sum(y, z)}); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, openPlain(t, srv.Addr, "down"), "m1", probe.Day, sum(x, y, z))
}

// TestRollupsLegacyFields: buckets written by earlier versions (HINCRBY of runs, failures,
// latency_ns and h<i>) still read, alone and summed with the fields this version writes.
func TestRollupsLegacyFields(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := t.Context()
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	old := rollup("m1", probe.Hour, 3*time.Millisecond, 700*time.Millisecond, 20*time.Second)
	start := store.Millis(old.Start)
	key := "legacy:{m:m1}:rollup:hour:" + strconv.FormatInt(start, 10)
	p := rdb.TxPipeline()
	p.HIncrBy(ctx, key, "runs", old.Runs)
	p.HIncrBy(ctx, key, "failures", old.Failures)
	p.HIncrBy(ctx, key, "latency_ns", int64(old.LatencySum))
	for i, n := range old.Histogram {
		if n != 0 {
			p.HIncrBy(ctx, key, "h"+strconv.Itoa(i), int64(n))
		}
	}
	p.ZAdd(ctx, "legacy:{m:m1}:rollups:hour", goredis.Z{Score: float64(start), Member: start})
	p.SAdd(ctx, "legacy:{meta}:rollup-monitors", "m1")
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	s := openPlain(t, srv.Addr, "legacy")
	wantRollups(t, s, "m1", probe.Hour, old)
	x := rollup("m1", probe.Hour, 40*time.Millisecond)
	if err := s.AddRollups(ctx, []probe.Rollup{x}); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, s, "m1", probe.Hour, sum(old, x))
	if n := rdb.HLen(ctx, key).Val(); n != 7 { // 3 counters, 3 histogram buckets, 1 packed field
		t.Errorf("bucket hash has %d fields, want 7 (the legacy ones left alone, one packed)", n)
	}
}

// TestRollupsCommands: a flush costs one command per bucket it touches; the index entries (and
// the set of monitors with rollups) are added at a bucket's first flush, not at every one.
func TestRollupsCommands(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, h := openHooked(t, srv.Addr, "cmds")
	ctx := t.Context()
	var batch []probe.Rollup
	for i := range 100 {
		for _, res := range probe.Resolutions {
			batch = append(batch, rollup("m"+strconv.Itoa(i), res, time.Millisecond, time.Second, 3*time.Second))
		}
	}
	h.commands.Store(0) // what New sent
	if err := s.AddRollups(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, want := h.commands.Swap(0), int64(300+300+1); got != want {
		t.Errorf("first flush: %d commands, want %d (an HSET and a ZADD per bucket, one SADD)", got, want)
	}
	if err := s.AddRollups(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if got, want := h.commands.Swap(0), int64(300); got != want {
		t.Errorf("second flush: %d commands, want %d (an HSET per bucket)", got, want)
	}
	twice := sum(batch[0], batch[0])
	wantRollups(t, s, "m0", probe.Minute, twice)
}
