package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store/redis"
)

// failFrom is a target that fails the checks sent from some locations (it tells them apart by
// the X-Upstate-Location header every check carries).
type failFrom struct {
	mu      sync.Mutex
	failing []string
	seen    map[string]bool
}

func (f *failFrom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	loc := r.Header.Get(probe.LocationHeader)
	f.mu.Lock()
	f.seen[loc] = true
	fail := slices.Contains(f.failing, loc)
	f.mu.Unlock()
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (f *failFrom) set(locs ...string) {
	f.mu.Lock()
	f.failing = locs
	f.mu.Unlock()
}

func locationConfig(t *testing.T, name, location, addr, redisAddr, target string) string {
	return writeConfig(t, fmt.Sprintf(`server:
  listen: %s
  shutdown_timeout: 5s
  public_monitors: true
storage:
  backend: redis
  redis:
    addrs: [%s]
    key_prefix: loc
cluster:
  instance: %s
  location: %s
  lease: %s
  heartbeat: %s
  member_timeout: %s
log:
  level: info
components:
  - id: edge
    name: Edge
monitors:
  - id: edge
    component: edge
    kind: http
    interval: 1s
    timeout: 900ms
    retries: 0
    failures: 1
    locations: 3
    http:
      url: %s/edge
`, addr, redisAddr, name, location, haLease, haHeartbeat, locMemberTimeout, target))
}

// locMemberTimeout is longer than the other cluster tests' 1.5 s: with three processes under
// the race detector on a loaded machine, a heartbeat can be late by more than that, and an
// instance that flaps out of the live set makes its location stale for a moment: the quorum is
// then (rightly) taken over two, and the reason the test waits for never comes. The kill -9 step
// waits this long once.
const locMemberTimeout = 5 * time.Second

// monitorLocations is what an instance's monitors API says of a located monitor.
type monitorLocations struct {
	State     probe.State `json:"state"`
	Locations struct {
		Asked   int `json:"asked"`
		Counted int `json:"counted"`
		Results []struct {
			Location string      `json:"location"`
			Instance string      `json:"instance"`
			State    probe.State `json:"state"`
			Fresh    bool        `json:"fresh"`
		} `json:"results"`
	} `json:"locations"`
}

// TestLocationsQuorum runs three real `upstate serve` on one real redis-server, each in its own
// location, and a monitor asking for three locations. The target fails the checks from one
// location: the monitor is degraded, never down; from two: down; from none: up. Then the
// instance of the one failing location is killed with SIGKILL: its result goes stale, and the
// quorum is taken over the two live locations (up), and says so.
func TestLocationsQuorum(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "loc"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tgt := &failFrom{seen: map[string]bool{}}
	target := httptest.NewServer(tgt)
	t.Cleanup(target.Close)
	locations := map[string]string{"a": "eu-west", "b": "us-east", "c": "ap-south"}
	var ins []haInstance
	for _, name := range []string{"a", "b", "c"} {
		addr := freeAddr(t)
		cfg := locationConfig(t, name, locations[name], addr, srv.Addr, target.URL)
		ins = append(ins, haInstance{name: name, addr: addr, p: startUpstate(t, "upstate "+name, "serve", "-config", cfg)})
	}
	view := func(in haInstance) (monitorLocations, bool) {
		var m monitorLocations
		code, body := get("http://" + in.addr + "/api/v1/monitors/edge")
		return m, code == 200 && json.Unmarshal([]byte(body), &m) == nil
	}
	// The recorded state is the store's: the last transition the arbiter wrote.
	recorded := func() probe.Transition {
		tr, err := st.LastTransition(t.Context(), "edge")
		if err != nil {
			return probe.Transition{}
		}
		return tr
	}
	waitFor := func(what string, to probe.State, reason string) probe.Transition {
		t.Helper()
		var tr probe.Transition
		waitUntil(t, 60*time.Second, what, func() bool {
			tr = recorded()
			return tr.To == to && strings.Contains(tr.Reason, reason)
		})
		t.Logf("%s: %s at %s: %s", what, tr.To, tr.At.Format("15:04:05.000"), tr.Reason)
		return tr
	}

	// The first location to report makes it up; the others keep it so.
	waitFor("up", probe.StateUp, "check passed from")
	waitUntil(t, 30*time.Second, "the target sees checks from the three locations", func() bool {
		tgt.mu.Lock()
		defer tgt.mu.Unlock()
		return len(tgt.seen) == 3 && !tgt.seen[""]
	})
	for _, in := range ins {
		waitUntil(t, 30*time.Second, in.name+" shows three fresh locations", func() bool {
			m, ok := view(in)
			return ok && m.Locations.Asked == 3 && m.Locations.Counted == 3 && len(m.Locations.Results) == 3
		})
	}

	// One location fails: degraded, not down.
	tgt.set("us-east")
	degradedAt := waitFor("failing from us-east", probe.StateDegraded, "failing from 1 of 3 locations: us-east")
	// Two fail: down.
	tgt.set("us-east", "ap-south")
	downAt := waitFor("failing from us-east and ap-south", probe.StateDown, "down from 2 of 3 locations: ap-south")
	trs, err := st.MonitorTransitions(t.Context(), "edge", degradedAt.At.Add(-time.Second), downAt.At)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		if tr.To == probe.StateDown && tr.At.Before(downAt.At) {
			t.Errorf("down before two locations failed: %+v", tr)
		}
	}
	tgt.set()
	waitFor("back up", probe.StateUp, "check passed from ")
	for _, in := range ins {
		waitUntil(t, 30*time.Second, in.name+" shows three fresh locations up", func() bool {
			m, ok := view(in)
			return ok && m.State == probe.StateUp && m.Locations.Counted == 3
		})
	}

	// One location fails, then its instance is killed: its result goes stale, and the quorum
	// is taken over the two live locations. The instance killed is the monitor's arbiter (its
	// component's owner), so the record moves too: another instance reads the state back and
	// takes the quorum.
	arbiter := engine.Owner("edge", []string{"a", "b", "c"})
	i := slices.IndexFunc(ins, func(in haInstance) bool { return in.name == arbiter })
	victim, where := ins[i], locations[arbiter]
	rest := slices.Delete(slices.Clone(ins), i, i+1)
	tgt.set(where)
	waitFor("failing from "+where, probe.StateDegraded, "failing from 1 of 3 locations: "+where)
	victim.p.Kill9()
	waitFor(where+"'s result stale after kill -9 of the arbiter "+victim.name, probe.StateUp,
		"check passed from 2 of 2 locations (2 of the 3 locations asked have a fresh result)")
	for _, in := range rest {
		waitUntil(t, 30*time.Second, in.name+" shows "+where+" stale", func() bool {
			m, ok := view(in)
			if !ok || m.Locations.Counted != 2 || m.State != probe.StateUp {
				return false
			}
			for _, r := range m.Locations.Results {
				if r.Location == where && r.Fresh {
					return false
				}
			}
			return true
		})
	}
	// Of the two left, one fails: a minority still, degraded.
	other := locations[rest[0].name]
	tgt.set(other)
	waitFor("failing from "+other+" of two", probe.StateDegraded, "failing from 1 of 2 locations: "+other)
	// Every transition has its own millisecond, in the order they happened: two locations
	// recovering together are recorded down, degraded, up, and the last one is the last.
	all, err := st.MonitorTransitions(t.Context(), "edge", time.Unix(0, 0), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		if !all[i].At.After(all[i-1].At) {
			t.Errorf("transitions %d and %d share or reverse their instant: %+v, %+v", i-1, i, all[i-1], all[i])
		}
	}
	if out := rest[0].p.out.String() + rest[1].p.out.String(); !strings.Contains(out, "checked from fewer locations than they ask") {
		t.Error("no instance logged that the monitor is checked from fewer locations than it asks")
	}
}
