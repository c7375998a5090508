package engine

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/probe"
)

// First runs fall on the run grid, within the first interval, at the same point for the same
// monitor, and spread over the whole first 90 % of the interval rather than in a few cells.
// Two engines started at different moments (a restart, a reload) put their monitors on the
// same grid, aligned to the clock.
func TestFirstRunOnGrid(t *testing.T) {
	tests := []struct {
		interval, grid time.Duration
		cells          int // grid cells in 90 % of the interval, capped at 10 s
	}{
		{10 * time.Second, 250 * time.Millisecond, 36},
		{time.Minute, 250 * time.Millisecond, 36},
		{2 * time.Second, 200 * time.Millisecond, 9},
		{time.Second, 100 * time.Millisecond, 9},
	}
	starts := []time.Time{
		time.Date(2026, 3, 29, 0, 59, 59, 999_999_999, time.UTC), // a second before Europe's DST change
		time.Date(2026, 11, 22, 13, 7, 3, 137_000_000, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC),
	}
	for _, tc := range tests {
		if got := runGrid(tc.interval); got != tc.grid {
			t.Errorf("runGrid(%s) = %s, want %s", tc.interval, got, tc.grid)
		}
		for _, now := range starts {
			used := map[time.Time]int{}
			for i := range 2000 {
				id := fmt.Sprintf("monitor-%d", i)
				at := firstRun(id, tc.interval, now)
				if at.Before(now) || at.Sub(now) > tc.interval {
					t.Fatalf("interval %s, now %s: %s first runs at %s, not within one interval", tc.interval, now, id, at)
				}
				if !at.Truncate(tc.grid).Equal(at) {
					t.Fatalf("interval %s: %s first runs at %s, off the %s grid", tc.interval, id, at, tc.grid)
				}
				if again := firstRun(id, tc.interval, now); !again.Equal(at) {
					t.Fatalf("%s first runs at %s, then at %s", id, at, again)
				}
				used[at]++
			}
			// The offsets cover the cells of the spread (the first one may be partial).
			if len(used) < tc.cells {
				t.Errorf("interval %s, now %s: 2,000 monitors use %d cells, want at least %d", tc.interval, now, len(used), tc.cells)
			}
			for at, n := range used {
				if n > 2000*4/tc.cells {
					t.Errorf("interval %s: %d of 2,000 monitors start at %s: not spread", tc.interval, n, at)
				}
			}
		}
	}
}

func TestGridCeil(t *testing.T) {
	base := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	grid := 250 * time.Millisecond
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 0},
		{time.Nanosecond, grid},
		{249 * time.Millisecond, grid},
		{grid, grid},
		{grid + 1, 2 * grid},
		{time.Second - 1, time.Second},
	} {
		if got := gridCeil(base.Add(tc.in), grid); !got.Equal(base.Add(tc.want)) {
			t.Errorf("gridCeil(+%s) = +%s, want +%s", tc.in, got.Sub(base), tc.want)
		}
	}
}

// The lag of a run is measured against gocron's schedule, not against the previous run's start:
// a late run does not make the next one look early or on time, and runs gocron skipped (it never
// starts a run that is more than an interval late) are skipped here too.
func TestNextScheduled(t *testing.T) {
	due := time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)
	iv := 10 * time.Second
	for _, tc := range []struct {
		name       string
		expected   time.Time
		now        time.Time
		wantOffset time.Duration // from due
	}{
		{"on time", due, due, iv},
		{"late by 300ms", due, due.Add(300 * time.Millisecond), iv},
		{"late by almost an interval", due, due.Add(iv - 1), iv},
		{"late by exactly an interval", due, due.Add(iv), iv},
		{"late by an interval and a bit", due, due.Add(iv + 1), 2 * iv},
		{"late by three and a half", due, due.Add(35 * time.Second), 4 * iv},
		{"early (a clock step)", due, due.Add(-time.Second), iv},
	} {
		if got := nextScheduled(tc.expected, iv, tc.now); !got.Equal(due.Add(tc.wantOffset)) {
			t.Errorf("%s: next at +%s, want +%s", tc.name, got.Sub(due), tc.wantOffset)
		}
	}
	now := due.Add(3 * time.Second)
	if got := nextScheduled(time.Time{}, iv, now); !got.Equal(now.Add(iv)) {
		t.Errorf("unknown due time: next at %s, want %s", got, now.Add(iv))
	}
}

// A monitor started off the grid runs first at its grid point and then exactly an interval
// apart, through gocron: the clock is advanced to each expected time and no further, and the
// run must happen then.
func TestRunsStayOnGrid(t *testing.T) {
	s := OpenStoreForTest(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	start := time.Date(2026, 10, 25, 0, 59, 58, 137_000_000, time.UTC) // off the grid, before Europe's DST change
	SyncForTest(t, s, start, component.Component{ID: "api", Name: "API", Source: component.SourceConfig})
	clock := clockwork.NewFakeClockAt(start)
	mon := probe.Monitor{ID: "api-health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}}
	e, err := New(Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}, SLAEvery: time.Hour, MaintenanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	StartForTest(t, e)

	at := firstRun(mon.ID, mon.Interval, start)
	if !at.After(start) || !at.Truncate(maxRunGrid).Equal(at) {
		t.Fatalf("first run at %s: want a point of the 250ms grid after %s", at, start)
	}
	last := func() time.Time { m, _ := e.Monitor(mon.ID); return m.Last.At }
	// A millisecond short of the first run, every job due has run: a run now would be early.
	AdvanceForTest(t, e, at.Sub(start)-time.Millisecond)
	if got := last(); !got.IsZero() {
		t.Fatalf("ran at %s, before its first run at %s", got, at)
	}
	for range 3 {
		// AdvanceForTest waits, before and after moving the clock, for what takes real time:
		// gocron setting its timer for the next run (advancing the fake clock before then would
		// leave that timer in the past, never to fire), and the last run returning (a run due
		// while one is in progress is skipped).
		SettleForTest(t, e)
		e.mu.Lock()
		job := e.monitors[mon.ID].job
		e.mu.Unlock()
		if next, err := job.NextRun(); err != nil || !next.Equal(at) {
			t.Fatalf("gocron's next run is %s (%v), want %s", next, err, at)
		}
		if m, _ := e.Monitor(mon.ID); !m.NextRun.Equal(at) {
			t.Fatalf("the snapshot's next run is %s, want %s", m.NextRun, at)
		}
		AdvanceForTest(t, e, at.Sub(clock.Now()))
		if got := last(); !got.Equal(at) {
			t.Fatalf("last run at %s, want %s", got, at)
		}
		at = at.Add(mon.Interval)
	}
}
