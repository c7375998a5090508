package probe_test

import (
	"testing"
	"time"

	"github.com/upstate-dev/upstate/probe"
)

var t0 = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func ok(s int) probe.Result {
	return probe.Result{At: at(s), OK: true, Duration: 10 * time.Millisecond}
}
func slow(s int) probe.Result {
	return probe.Result{At: at(s), OK: true, Duration: 900 * time.Millisecond}
}
func fail(s int) probe.Result {
	return probe.Result{At: at(s), Phase: probe.PhaseConnect, Reason: "connection refused"}
}

func TestDetector(t *testing.T) {
	type step struct {
		r    probe.Result
		want *probe.Transition // nil: no transition
	}
	tr := func(s int, from, to probe.State) *probe.Transition {
		return &probe.Transition{MonitorID: "m", At: at(s), From: from, To: to}
	}
	const (
		up, down, degraded, unknown = probe.StateUp, probe.StateDown, probe.StateDegraded, probe.StateUnknown
	)
	tests := []struct {
		name  string
		th    probe.Thresholds
		steps []step
	}{
		{"first good result is up", probe.Thresholds{Failures: 2}, []step{
			{ok(0), tr(0, unknown, up)}, {ok(10), nil},
		}},
		{"down after N failures, back-dated to the first", probe.Thresholds{Failures: 3}, []step{
			{ok(0), tr(0, unknown, up)}, {fail(10), nil}, {fail(11), nil}, {fail(12), tr(10, up, down)}, {fail(22), nil},
		}},
		{"a success resets the failure streak", probe.Thresholds{Failures: 2}, []step{
			{ok(0), tr(0, unknown, up)}, {fail(10), nil}, {ok(20), nil}, {fail(30), nil}, {fail(40), tr(30, up, down)},
		}},
		{"recovery needs M successes, back-dated to the first", probe.Thresholds{Failures: 1, Successes: 3}, []step{
			{fail(0), tr(0, unknown, down)}, {ok(10), nil}, {ok(20), nil}, {ok(30), tr(10, down, up)},
		}},
		{"an interrupted recovery starts again", probe.Thresholds{Failures: 1, Successes: 2}, []step{
			{fail(0), tr(0, unknown, down)}, {ok(10), nil}, {fail(20), nil}, {ok(30), nil}, {ok(40), tr(30, down, up)},
		}},
		{"slow is degraded and fast is up again", probe.Thresholds{Failures: 2, LatencyThreshold: 500 * time.Millisecond}, []step{
			{ok(0), tr(0, unknown, up)}, {slow(10), tr(10, up, degraded)}, {slow(20), nil}, {ok(30), tr(30, degraded, up)},
		}},
		{"recovering slowly lands on degraded", probe.Thresholds{Failures: 1, LatencyThreshold: 500 * time.Millisecond}, []step{
			{fail(0), tr(0, unknown, down)}, {slow(10), tr(10, down, degraded)},
		}},
		{"thresholds below one act as one", probe.Thresholds{}, []step{
			{fail(0), tr(0, unknown, down)}, {ok(5), tr(5, down, up)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := probe.NewDetector(probe.Monitor{ID: "m", Interval: 10 * time.Second, Thresholds: tt.th}, probe.StateUnknown)
			for i, s := range tt.steps {
				got, changed := d.Observe(s.r)
				switch {
				case s.want == nil && changed:
					t.Fatalf("step %d: got transition %+v, want none", i, got)
				case s.want != nil && !changed:
					t.Fatalf("step %d: got no transition, want %+v", i, *s.want)
				case s.want != nil && (got.At != s.want.At || got.From != s.want.From || got.To != s.want.To || got.MonitorID != "m"):
					t.Fatalf("step %d: got %+v, want %+v", i, got, *s.want)
				}
			}
		})
	}
}

func TestDetectorExpire(t *testing.T) {
	d := probe.NewDetector(probe.Monitor{ID: "m", Interval: 10 * time.Second, Thresholds: probe.Thresholds{Failures: 1}}, probe.StateUnknown)
	if _, changed := d.Expire(at(100)); changed {
		t.Fatal("a monitor that never ran cannot expire")
	}
	d.Observe(ok(0))
	if _, changed := d.Expire(at(19)); changed {
		t.Fatal("expired before two intervals")
	}
	got, changed := d.Expire(at(35))
	if !changed || got.To != probe.StateUnknown || got.From != probe.StateUp || !got.At.Equal(at(20)) {
		t.Fatalf("Expire = %+v, %v; want up->unknown dated at 20s (when the result went stale)", got, changed)
	}
	if _, changed := d.Expire(at(60)); changed {
		t.Fatal("expired twice")
	}
	if got, _ := d.Observe(ok(61)); got.From != probe.StateUnknown || got.To != probe.StateUp {
		t.Fatalf("after expiry, a result moves unknown->up, got %+v", got)
	}
}

func TestDetectorRestoredState(t *testing.T) {
	d := probe.NewDetector(probe.Monitor{ID: "m", Thresholds: probe.Thresholds{Failures: 2}}, probe.StateDown)
	if _, changed := d.Observe(fail(0)); changed {
		t.Fatal("a restored down monitor must not transition on a failure")
	}
	if got, changed := d.Observe(ok(10)); !changed || got.From != probe.StateDown || got.To != probe.StateUp {
		t.Fatalf("got %+v", got)
	}
}

func TestRollupQuantile(t *testing.T) {
	r := probe.Rollup{}
	if _, ok := r.Quantile(0.5); ok {
		t.Error("an empty rollup has no quantile")
	}
	for range 90 {
		r.Add(probe.Result{OK: true, Duration: 3 * time.Millisecond}) // bucket <= 5ms
	}
	for range 9 {
		r.Add(probe.Result{OK: true, Duration: 80 * time.Millisecond}) // <= 100ms
	}
	r.Add(probe.Result{OK: false, Duration: 30 * time.Second}) // overflow
	for q, want := range map[float64]time.Duration{0.5: 5 * time.Millisecond, 0.9: 5 * time.Millisecond, 0.95: 100 * time.Millisecond, 0.99: 100 * time.Millisecond} {
		if got, ok := r.Quantile(q); !ok || got != want {
			t.Errorf("Quantile(%v) = %v, %v; want %v", q, got, ok, want)
		}
	}
	if _, ok := r.Quantile(1); ok {
		t.Error("the maximum is in the overflow bucket: no bound")
	}
}
