package engine

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/probe"
)

// Every field a result has comes back from the ring unchanged, the oldest results make way for
// the newest, and the order is kept across the wrap.
func TestRecentRing(t *testing.T) {
	at := time.Date(2026, 10, 25, 0, 59, 59, 123456789, time.UTC)
	result := func(i int) probe.Result {
		r := probe.Result{MonitorID: "m", At: at.Add(time.Duration(i) * 10 * time.Second), OK: i%3 != 0,
			Duration: time.Duration(i) * time.Millisecond, StatusCode: 200 + i%5}
		if !r.OK {
			r.Phase, r.Reason = phases[1+i%(len(phases)-1)], "reason "+string(rune('a'+i%26))
		}
		if i%2 == 0 {
			r.CertNotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // "no well-defined expiry" (RFC 5280)
		}
		return r
	}
	var rr recentRing
	if _, ok := rr.last("m"); ok || len(rr.all("m")) != 0 {
		t.Fatal("an empty ring has results")
	}
	for i := range 3 {
		rr.add(result(i))
	}
	if got := rr.all("m"); !reflect.DeepEqual(got, []probe.Result{result(0), result(1), result(2)}) {
		t.Errorf("before the wrap: %+v", got)
	}
	total := recentResults*2 + 7
	for i := 3; i < total; i++ {
		rr.add(result(i))
	}
	got := rr.all("m")
	if len(got) != recentResults {
		t.Fatalf("kept %d results, want %d", len(got), recentResults)
	}
	for i, r := range got {
		if want := result(total - recentResults + i); !reflect.DeepEqual(r, want) {
			t.Fatalf("result %d:\n got  %+v\n want %+v", i, r, want)
		}
	}
	if last, ok := rr.last("m"); !ok || !reflect.DeepEqual(last, result(total-1)) {
		t.Errorf("last = %+v, want %+v", last, result(total-1))
	}
	// A phase this file does not list is kept readable in the reason.
	rr.add(probe.Result{At: at, Phase: "quic", Reason: "handshake"})
	if last, _ := rr.last(""); last.Phase != probe.PhaseNone || last.Reason != "quic: handshake" {
		t.Errorf("unknown phase kept as %q / %q", last.Phase, last.Reason)
	}
	if size := reflect.TypeFor[keptResult]().Size(); size > 32 {
		t.Errorf("a kept result takes %d bytes; the memory budget assumes 32", size)
	}
	// The kept results hold no pointer, so the garbage collector does not scan them.
	if hasPointers(reflect.TypeFor[keptResult]()) {
		t.Error("a kept result holds a pointer")
	}
	// A ring that never saw a reason has no array of them; a reason past the wrap replaces the
	// one of the result it overwrites, and a result without one clears it.
	var healthy recentRing
	for i := range recentResults + 5 {
		healthy.add(probe.Result{At: at.Add(time.Duration(i) * time.Second), OK: true})
	}
	if healthy.reasons != nil {
		t.Error("a ring of successes allocated reasons")
	}
	healthy.add(probe.Result{At: at, Phase: probe.PhaseConnect, Reason: "connection refused"})
	healthy.add(probe.Result{At: at, OK: true})
	all := healthy.all("")
	if n := len(all); all[n-2].Reason != "connection refused" || all[n-1].Reason != "" || all[0].Reason != "" {
		t.Errorf("reasons after the first failure: %q, %q, %q", all[0].Reason, all[n-2].Reason, all[n-1].Reason)
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return true
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	case reflect.Array:
		return hasPointers(t.Elem())
	}
	return false
}

// rollupSink records the rollups an engine flushes.
type rollupSink struct {
	nopStore
	got []probe.Rollup
}

func (s *rollupSink) AddRollups(_ context.Context, rs []probe.Rollup) error {
	s.got = append(s.got, rs...)
	return nil
}

// Results counted through the runners' rollup cache land in the right buckets, across minute
// and hour boundaries and across flushes, exactly once each.
func TestRollupCache(t *testing.T) {
	if len(probe.Resolutions) != len(runner{}.rollups) {
		t.Fatalf("runner caches %d rollups, there are %d resolutions", len(runner{}.rollups), len(probe.Resolutions))
	}
	sink := &rollupSink{}
	mons := []probe.Monitor{{ID: "a", Kind: probe.KindHTTP, HTTP: &probe.HTTPSpec{URL: "http://127.0.0.1/"}},
		{ID: "b", Kind: probe.KindHTTP, HTTP: &probe.HTTPSpec{URL: "http://127.0.0.1/"}}}
	e, err := New(Options{Store: sink, Clock: clockwork.NewFakeClock(), Monitors: mons})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 31, 23, 58, 0, 0, time.UTC) // a month's last minutes
	want := map[rollupKey]int64{}
	for i := range 40 { // every 10 s for 400 s, flushing every 70 s
		at := start.Add(time.Duration(i) * 10 * time.Second)
		for _, id := range []string{"a", "b"} {
			if id == "b" && i%3 == 0 {
				continue
			}
			e.mu.Lock()
			e.addRollup(e.monitors[id], probe.Result{MonitorID: id, At: at, OK: true, Duration: time.Millisecond})
			e.mu.Unlock()
			for _, rs := range probe.Resolutions {
				want[rollupKey{id, rs, rs.Truncate(at).UnixMilli()}]++
			}
		}
		if i%7 == 6 {
			if err := e.FlushRollups(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.FlushRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := map[rollupKey]int64{}
	for _, r := range sink.got {
		got[rollupKey{r.MonitorID, r.Resolution, r.Start.UnixMilli()}] += r.Runs
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("runs per rollup:\n got  %v\n want %v", got, want)
	}
}
