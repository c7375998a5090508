package engine_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
)

// TestLocationsAlone: an engine alone (SQLite) checks a monitor that asks for three locations
// from its one location, names it to the target, and takes the quorum over that one: the
// monitor goes down and comes back with it, and the reason says how many locations counted.
func TestLocationsAlone(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	var healthy atomic.Bool
	healthy.Store(true)
	var sawLocation atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawLocation.Store(r.Header.Get(probe.LocationHeader))
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	clock := clockwork.NewFakeClockAt(t0)
	syncAPI(t, s)
	mon := probe.Monitor{ID: "api-health", ComponentID: "api", Kind: probe.KindHTTP, Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: srv.URL}, Locations: 3}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Monitors: []probe.Monitor{mon}, FlushInterval: time.Minute, Location: "eu-west"})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)
	state := func() probe.State { return snapshot(e, "api-health").State }

	step(t, e, 15, func() bool { return state() == probe.StateUp })
	locs := snapshot(e, "api-health").Locations
	if len(locs) != 1 || locs[0].Location != "eu-west" || locs[0].State != probe.StateUp || !locs[0].Fresh {
		t.Fatalf("locations = %+v, want eu-west up and fresh alone", locs)
	}
	if got, _ := sawLocation.Load().(string); got != "eu-west" {
		t.Errorf("the target saw location %q, want eu-west", got)
	}
	healthy.Store(false)
	step(t, e, 30, func() bool { return state() == probe.StateDown })
	healthy.Store(true)
	step(t, e, 15, func() bool { return state() == probe.StateUp })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	trs, err := s.MonitorTransitions(t.Context(), "api-health", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range trs {
		got = append(got, string(tr.To))
		if tr.To == probe.StateDown && !strings.Contains(tr.Reason, "down from 1 of 1 locations: eu-west") ||
			tr.To == probe.StateDown && !strings.Contains(tr.Reason, "(1 of the 3 locations asked have a fresh result)") {
			t.Errorf("down reason %q does not say which locations counted", tr.Reason)
		}
	}
	if want := "up down up unknown"; strings.Join(got, " ") != want {
		t.Errorf("transitions %v, want %s", got, want)
	}
}
