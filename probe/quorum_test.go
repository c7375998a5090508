package probe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/probe"
)

func TestQuorum(t *testing.T) {
	q0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return q0.Add(time.Duration(s) * time.Second) }
	loc := func(name string, st probe.State, since int, fresh bool) probe.LocationResult {
		return probe.LocationResult{Location: name, Instance: name + "-1", State: st, Since: at(since), Reason: "http: status 503", Fresh: fresh}
	}
	up, down, degraded, unknown := probe.StateUp, probe.StateDown, probe.StateDegraded, probe.StateUnknown
	tests := []struct {
		name    string
		asked   int
		results []probe.LocationResult
		state   probe.State
		at      time.Time
		counted int
		reason  string // a part of the reason
	}{
		{"all ok", 3, []probe.LocationResult{loc("a", up, 1, true), loc("b", up, 3, true), loc("c", up, 2, true)},
			up, at(3), 3, "check passed from 3 of 3 locations"},
		{"a minority fails: degraded", 3, []probe.LocationResult{loc("a", up, 1, true), loc("b", down, 5, true), loc("c", up, 2, true)},
			degraded, at(5), 3, "failing from 1 of 3 locations: b (http: status 503)"},
		{"a quorum fails: down, from when the second went down", 3, []probe.LocationResult{loc("a", down, 9, true), loc("b", down, 5, true), loc("c", up, 2, true)},
			down, at(9), 3, "down from 2 of 3 locations: a (http: status 503), b (http: status 503)"},
		{"all fail: down from the quorum-th", 3, []probe.LocationResult{loc("a", down, 9, true), loc("b", down, 5, true), loc("c", down, 7, true)},
			down, at(7), 3, "down from 3 of 3 locations"},
		{"a stale location is ignored", 3, []probe.LocationResult{loc("a", down, 9, false), loc("b", down, 5, true), loc("c", up, 2, true)},
			degraded, at(5), 2, "failing from 1 of 2 locations: b (http: status 503) (2 of the 3 locations asked have a fresh result)"},
		{"a stale failure does not make it degraded", 3, []probe.LocationResult{loc("a", down, 9, false), loc("b", up, 5, true), loc("c", up, 2, true)},
			up, at(5), 2, "check passed from 2 of 2 locations (2 of the 3 locations asked"},
		{"an unknown location does not count", 3, []probe.LocationResult{loc("a", unknown, 9, true), loc("b", down, 5, true), loc("c", up, 2, true)},
			degraded, at(5), 2, "failing from 1 of 2"},
		{"fewer live locations than asked: the quorum over those live", 3, []probe.LocationResult{loc("a", down, 4, true)},
			down, at(4), 1, "down from 1 of 1 locations: a (http: status 503) (1 of the 3 locations asked have a fresh result)"},
		{"two live of five, one fails: degraded", 5, []probe.LocationResult{loc("a", down, 4, true), loc("b", up, 1, true)},
			degraded, at(4), 2, "failing from 1 of 2"},
		{"two of four: no majority, degraded", 4, []probe.LocationResult{loc("a", down, 4, true), loc("b", down, 6, true), loc("c", up, 1, true), loc("d", up, 1, true)},
			degraded, at(6), 4, "failing from 2 of 4"},
		{"slow from one: degraded", 3, []probe.LocationResult{loc("a", degraded, 4, true), loc("b", up, 1, true), loc("c", up, 1, true)},
			degraded, at(4), 3, "slow from 1 of 3"},
		{"nothing fresh: unknown", 3, []probe.LocationResult{loc("a", down, 4, false), loc("b", up, 1, false)},
			unknown, time.Time{}, 0, "no fresh result"},
		{"no results: unknown", 2, nil, unknown, time.Time{}, 0, "no fresh result"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := probe.Quorum(tt.asked, tt.results)
			if v.State != tt.state || !v.At.Equal(tt.at) || v.Counted != tt.counted || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("Quorum = %s at %s, %d counted, %q; want %s at %s, %d counted, reason containing %q",
					v.State, v.At, v.Counted, v.Reason, tt.state, tt.at, tt.counted, tt.reason)
			}
		})
	}
}

func TestHTTPSendsItsLocation(t *testing.T) {
	// The location reaches the target in a header and the User-Agent (kinds.go builds the
	// prober with the engine's Env); a monitor's own User-Agent wins.
	got := make(chan [2]string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- [2]string{r.Header.Get(probe.LocationHeader), r.UserAgent()}
	}))
	defer srv.Close()
	transport := probe.NewTransport(false, "")
	defer transport.CloseIdleConnections()
	for _, tt := range []struct {
		headers map[string]string
		want    [2]string
	}{
		{nil, [2]string{"eu-west", "Upstate/1 (+status monitor; location eu-west)"}},
		{map[string]string{"User-Agent": "mine"}, [2]string{"eu-west", "mine"}},
	} {
		m := probe.Monitor{ID: "m", Kind: probe.KindHTTP, Interval: time.Minute, Timeout: 5 * time.Second,
			HTTP: &probe.HTTPSpec{URL: srv.URL, Headers: tt.headers}}
		p, err := probe.NewProber(m, probe.Env{Location: "eu-west", Transport: func(bool, string) http.RoundTripper { return transport }})
		if err != nil {
			t.Fatal(err)
		}
		if res := p.Probe(t.Context(), time.Now()); !res.OK {
			t.Fatalf("probe failed: %s", res.Reason)
		}
		if h := <-got; h != tt.want {
			t.Errorf("target saw %q, want %q", h, tt.want)
		}
	}
}
