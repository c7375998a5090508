package engine

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store/redis"
)

// hits counts the runs each instance made of each monitor, read from a header its transport
// adds.
type hits struct {
	mu sync.Mutex
	by map[string]map[string]int // monitor -> instance -> runs
}

func (h *hits) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	id := strings.TrimPrefix(r.URL.Path, "/")
	if h.by[id] == nil {
		h.by[id] = map[string]int{}
	}
	h.by[id][r.Header.Get("X-Instance")]++
	h.mu.Unlock()
	w.Write([]byte("ok"))
}

// take returns the counts so far and starts again.
func (h *hits) take() map[string]map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.by
	h.by = map[string]map[string]int{}
	return out
}

type tagged struct {
	instance string
	base     http.RoundTripper
}

func (t tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Instance", t.instance)
	return t.base.RoundTrip(r)
}

// TestClusterSharesTheWork runs two engines on one real Redis, as two instances would: each
// monitor is run by exactly one of them, exactly one leads, and when one stops the other takes
// over every monitor and the lead.
func TestClusterSharesTheWork(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	h := &hits{by: map[string]map[string]int{}}
	target := httptest.NewServer(h)
	t.Cleanup(target.Close)

	var monitors []probe.Monitor
	var comps []component.Component
	for i := range 20 {
		id := fmt.Sprintf("c%02d", i)
		comps = append(comps, component.Component{ID: id, Name: id, Source: component.SourceConfig})
		monitors = append(monitors, probe.Monitor{ID: "m-" + id, ComponentID: id, Kind: probe.KindHTTP, Interval: time.Second,
			Timeout: 500 * time.Millisecond, Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: target.URL + "/m-" + id}})
	}
	open := func() *redis.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "cluster"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	SyncForTest(t, open(), time.Now(), comps...)
	start := func(name string) (*Engine, func() error) {
		st := open()
		e, err := New(Options{Store: st, Clock: clockwork.NewRealClock(), Registerer: prometheus.NewRegistry(), Monitors: monitors,
			Transport: tagged{name, probe.NewTransport(false, "")},
			Cluster:   &Cluster{Coordinator: st, Instance: name, Lease: 2 * time.Second, Heartbeat: 200 * time.Millisecond, MemberTimeout: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		return e, StartForTest(t, e)
	}
	a, stopA := start("a")
	b, _ := start("b")
	WaitFor(t, func() bool { return len(a.memberList()) == 2 && len(b.memberList()) == 2 && a.leads() != b.leads() })

	// Two seconds of runs after both have seen each other (and one hand-over delay): every
	// monitor ran, each on one instance only.
	time.Sleep(300 * time.Millisecond)
	h.take()
	time.Sleep(2 * time.Second)
	got := h.take()
	share := map[string]int{}
	for _, m := range monitors {
		by := got[m.ID]
		if len(by) != 1 {
			t.Errorf("monitor %s ran on %v, want exactly one instance", m.ID, by)
		}
		for inst := range by {
			share[inst]++
			if want := Owner(m.ComponentID, []string{"a", "b"}); inst != want {
				t.Errorf("monitor %s ran on %s, its owner is %s", m.ID, inst, want)
			}
		}
	}
	if share["a"] == 0 || share["b"] == 0 {
		t.Errorf("shares %v: both instances should run some", share)
	}

	// a stops cleanly: it leaves, b takes every monitor and the lead.
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return len(b.memberList()) == 1 && b.leads() })
	time.Sleep(1500 * time.Millisecond) // a monitor gained starts within its interval
	h.take()
	time.Sleep(2 * time.Second)
	got = h.take()
	for _, m := range monitors {
		if by := got[m.ID]; len(by) != 1 || by["b"] == 0 {
			t.Errorf("after a stopped, monitor %s ran on %v, want b only", m.ID, by)
		}
	}
	// The state a recorded before it left is where b started from: no monitor is down.
	for _, m := range monitors {
		if s, ok := b.Monitor(m.ID); !ok || s.State != probe.StateUp {
			t.Errorf("monitor %s on b: %s, want up", m.ID, s.State)
		}
	}
}

// TestClusterAnnouncements: behind a load balancer a check-in, a pause or a resume lands on
// any instance. Made on the instance that does not own the monitor, each takes effect on the
// owner, and the other instance shows the owner's state.
func TestClusterAnnouncements(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	h := &hits{by: map[string]map[string]int{}}
	target := httptest.NewServer(h)
	t.Cleanup(target.Close)
	const token = "announce-heartbeat-token-abcdefgh"
	monitors := []probe.Monitor{
		{ID: "job", ComponentID: "jobs", Kind: probe.KindHeartbeat, Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond,
			Thresholds: probe.Thresholds{Failures: 1, Successes: 1}, Heartbeat: &probe.HeartbeatSpec{Token: token, Period: time.Hour, Grace: time.Minute}},
		{ID: "web", ComponentID: "site", Kind: probe.KindHTTP, Interval: 300 * time.Millisecond, Timeout: 200 * time.Millisecond,
			Thresholds: probe.Thresholds{Failures: 2, Successes: 1}, HTTP: &probe.HTTPSpec{URL: target.URL + "/web"}},
	}
	open := func() *redis.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "announce"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	SyncForTest(t, open(), time.Now(), component.Component{ID: "jobs", Name: "Jobs", Source: component.SourceConfig},
		component.Component{ID: "site", Name: "Site", Source: component.SourceConfig})
	engines := map[string]*Engine{}
	stops := map[*Engine]func() error{}
	for _, name := range []string{"a", "b"} {
		st := open()
		e, err := New(Options{Store: st, Clock: clockwork.NewRealClock(), Registerer: prometheus.NewRegistry(), Monitors: monitors,
			Transport: tagged{name, probe.NewTransport(false, "")},
			Cluster:   &Cluster{Coordinator: st, Instance: name, Lease: 2 * time.Second, Heartbeat: 200 * time.Millisecond, MemberTimeout: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		engines[name] = e
		stops[e] = StartForTest(t, e)
	}
	WaitFor(t, func() bool { return len(engines["a"].memberList()) == 2 && len(engines["b"].memberList()) == 2 })
	// other returns the instance that does not own component.
	other := func(component string) (owner, notOwner *Engine) {
		if Owner(component, []string{"a", "b"}) == "a" {
			return engines["a"], engines["b"]
		}
		return engines["b"], engines["a"]
	}
	state := func(e *Engine, id string) probe.State { s, _ := e.Monitor(id); return s.State }

	// A check-in on the instance that does not own the heartbeat: the owner judges it.
	owner, elsewhere := other("jobs")
	if _, err := elsewhere.Ping(token, probe.PingFail, 3); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return state(owner, "job") == probe.StateDown })
	WaitFor(t, func() bool { return state(elsewhere, "job") == probe.StateDown }) // the owner's state, announced
	if _, err := elsewhere.Ping(token, probe.PingSuccess, 0); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return state(owner, "job") == probe.StateUp && state(elsewhere, "job") == probe.StateUp })

	// A pause on the instance that does not own the monitor stops its runs on the owner.
	owner, elsewhere = other("site")
	WaitFor(t, func() bool { return state(owner, "web") == probe.StateUp })
	if err := elsewhere.Pause(t.Context(), "web", "test"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { s, _ := owner.Monitor("web"); return s.Paused && s.State == probe.StateUnknown })
	time.Sleep(100 * time.Millisecond)
	h.take()
	time.Sleep(time.Second)
	if got := h.take()["web"]; len(got) != 0 {
		t.Errorf("runs while paused: %v", got)
	}
	// The owner stops: the other takes the monitor over, and keeps it paused.
	if err := stops[owner](); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return len(elsewhere.memberList()) == 1 })
	time.Sleep(time.Second)
	if s, _ := elsewhere.Monitor("web"); !s.Paused || len(h.take()["web"]) != 0 {
		t.Errorf("after the hand-over: paused %t, runs %v; want it still paused", s.Paused, h.take()["web"])
	}
	if err := elsewhere.Resume("web"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return state(elsewhere, "web") == probe.StateUp })
}

// TestClusterRelaysTargetChanges: a notification target changed through one instance's admin
// API reaches the other instances' buses (their notifiers load the targets again), named with
// the instance it came from, and is not relayed back.
func TestClusterRelaysTargetChanges(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	open := func() *redis.Store {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "relay"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	engines := map[string]*Engine{}
	buses := map[string]*events.Bus{}
	for _, name := range []string{"a", "b"} {
		st := open()
		buses[name] = events.NewBus(nil)
		e, err := New(Options{Store: st, Clock: clockwork.NewRealClock(), Registerer: prometheus.NewRegistry(), Bus: buses[name],
			Cluster: &Cluster{Coordinator: st, Instance: name, Lease: 2 * time.Second, Heartbeat: 200 * time.Millisecond, MemberTimeout: time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		engines[name] = e
		StartForTest(t, e)
	}
	WaitFor(t, func() bool { return len(engines["a"].memberList()) == 2 && len(engines["b"].memberList()) == 2 })
	atA, stopA := buses["a"].Subscribe(16)
	defer stopA()
	atB, stopB := buses["b"].Subscribe(16)
	defer stopB()
	buses["a"].Publish(events.Event{Kind: events.TargetChanged, At: time.Now(), Reason: "team-hook", To: "created"})
	select {
	case ev := <-atB:
		if ev.Kind != events.TargetChanged || ev.Reason != "team-hook" || ev.To != "created" || ev.From != "a" {
			t.Errorf("b heard %+v, want team-hook created, from a", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never heard of the change")
	}
	if ev := <-atA; ev.From != "" { // a's own event
		t.Errorf("a's own event: %+v", ev)
	}
	// b's relayed copy is not announced again: a marker sent after it by b arrives at a alone.
	buses["b"].Publish(events.Event{Kind: events.TargetChanged, At: time.Now(), Reason: "marker", To: "deleted"})
	select {
	case ev := <-atA:
		if ev.Reason != "marker" {
			t.Errorf("a heard %+v before b's marker: the relayed change came back", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a never heard b's marker")
	}
}
