package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

// probeLog records every probe run the target received: which monitor, from which instance
// (a header each instance's config adds), when.
type probeLog struct {
	mu   sync.Mutex
	runs map[string][]probeRun // by monitor
}

type probeRun struct {
	at       time.Time
	instance string
}

func (p *probeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/")
	p.mu.Lock()
	p.runs[id] = append(p.runs[id], probeRun{time.Now(), r.Header.Get("X-Instance")})
	p.mu.Unlock()
	if strings.HasPrefix(id, "broken") {
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// between returns each monitor's runs in [from, to).
func (p *probeLog) between(from, to time.Time) map[string][]probeRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]probeRun{}
	for id, runs := range p.runs {
		for _, r := range runs {
			if !r.at.Before(from) && r.at.Before(to) {
				out[id] = append(out[id], r)
			}
		}
	}
	return out
}

// The failover tests' timing (short, so the test is short; docs/deploy.md has the production
// defaults and the same arithmetic).
const (
	haInterval      = 2 * time.Second
	haLease         = 3 * time.Second
	haHeartbeat     = 300 * time.Millisecond
	haMemberTimeout = 1500 * time.Millisecond
	haMonitors      = 30
)

type haInstance struct {
	name, addr string
	p          *proc
}

func haConfig(t *testing.T, name, addr, redisAddr, target string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  listen: %s
  shutdown_timeout: 5s
storage:
  backend: redis
  redis:
    addrs: [%s]
    key_prefix: ha
cluster:
  instance: %s
  lease: %s
  heartbeat: %s
  member_timeout: %s
log:
  level: info
components:
  - id: broken
    name: Broken
`, addr, redisAddr, name, haLease, haHeartbeat, haMemberTimeout)
	for i := range haMonitors {
		fmt.Fprintf(&b, "  - id: c%02d\n    name: C%02d\n", i, i)
	}
	b.WriteString("monitors:\n")
	monitor := func(id, component string) {
		fmt.Fprintf(&b, `  - id: %s
    component: %s
    kind: http
    interval: %s
    timeout: 1s
    retries: 0
    failures: 2
    http:
      url: %s/%s
      headers:
        X-Instance: %s
`, id, component, haInterval, target, id, name)
	}
	monitor("broken", "broken")
	for i := range haMonitors {
		monitor(fmt.Sprintf("m%02d", i), fmt.Sprintf("c%02d", i))
	}
	return writeConfig(t, b.String())
}

var leadingLine = regexp.MustCompile(`time=(\S+) level=INFO msg="leading: singleton jobs run here"`)

// leaderSince returns when each instance's log says it began leading, latest term last.
func leaderSince(in haInstance) []time.Time {
	var out []time.Time
	for _, m := range leadingLine.FindAllStringSubmatch(in.p.out.String(), -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			out = append(out, at)
		}
	}
	return out
}

func leaderOf(ins []haInstance) (haInstance, bool) {
	for _, in := range ins {
		if code, body := get("http://" + in.addr + "/metrics"); code == 200 && strings.Contains(body, "\nupstate_cluster_leader 1\n") {
			return in, true
		}
	}
	return haInstance{}, false
}

// checkShare fails unless, in [from, to), every monitor ran on exactly one instance and not
// more often than its interval allows (no duplicate checks), and none of them on a dead one.
func checkShare(t *testing.T, log *probeLog, from, to time.Time, dead ...string) map[string]int {
	t.Helper()
	runs := log.between(from, to)
	share := map[string]int{}
	most := int(to.Sub(from)/haInterval) + 1
	for i := range haMonitors {
		id := fmt.Sprintf("m%02d", i)
		by := map[string]int{}
		for _, r := range runs[id] {
			by[r.instance]++
		}
		if len(by) != 1 {
			t.Errorf("%s ran on %v in %s, want one instance", id, by, to.Sub(from))
		}
		for inst, n := range by {
			share[inst]++
			if n > most {
				t.Errorf("%s ran %d times on %s in %s: duplicate checks", id, n, inst, to.Sub(from))
			}
			if slices.Contains(dead, inst) {
				t.Errorf("%s ran on %s, which was killed", id, inst)
			}
		}
	}
	return share
}

// TestThreeInstancesFailover runs three real `upstate serve` processes on one real redis-server.
// In steady state each monitor runs on one instance; kill -9 of the leader moves the singleton
// work within the lease and its monitors within the heartbeat timeout and a second; then kill
// -9 of another (a prober only) moves its monitors within the same bound. No monitor goes
// unchecked longer than that, none runs twice, and the one failing monitor's outage has one
// incident throughout.
func TestThreeInstancesFailover(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "everysec"})
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "ha"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := &probeLog{runs: map[string][]probeRun{}}
	target := httptest.NewServer(log)
	t.Cleanup(target.Close)
	var ins []haInstance
	for _, name := range []string{"a", "b", "c"} {
		addr := freeAddr(t)
		cfg := haConfig(t, name, addr, srv.Addr, target.URL)
		ins = append(ins, haInstance{name: name, addr: addr, p: startUpstate(t, "upstate "+name, "serve", "-config", cfg)})
	}
	for _, in := range ins {
		waitUntil(t, 60*time.Second, in.name+" sees three members", func() bool {
			code, body := get("http://" + in.addr + "/metrics")
			return code == 200 && strings.Contains(body, "\nupstate_cluster_members 3\n")
		})
	}
	// Let every monitor settle on its owner: a start spreads first runs over an interval.
	time.Sleep(haInterval + time.Second)
	from := time.Now()
	time.Sleep(2 * haInterval)
	share := checkShare(t, log, from, time.Now())
	t.Logf("steady share of %d monitors: %v", haMonitors, share)
	for _, in := range ins {
		if share[in.name] == 0 {
			t.Errorf("%s runs no monitor", in.name)
		}
	}
	waitUntil(t, 15*time.Second, "the broken component's incident opens", func() bool { return len(automaticIncidents(t, st)) == 1 })

	// kill -9 of the leader.
	leader, ok := leaderOf(ins)
	if !ok {
		t.Fatal("no instance leads")
	}
	killed := time.Now()
	leader.p.Kill9()
	rest := slices.DeleteFunc(slices.Clone(ins), func(in haInstance) bool { return in.name == leader.name })
	var next haInstance
	waitUntil(t, 3*haLease, "another instance leads", func() bool {
		var ok bool
		next, ok = leaderOf(rest)
		return ok
	})
	var since []time.Time
	waitUntil(t, 5*time.Second, next.name+" logs its term", func() bool { since = leaderSince(next); return len(since) > 0 })
	took := since[len(since)-1].Sub(killed)
	t.Logf("kill -9 of leader %s: %s leads %s later (lease %s)", leader.name, next.name, took.Round(time.Millisecond), haLease)
	// The lease was renewed at most a third of it before the kill: it runs out within the
	// lease, and a candidate tries again just after it does.
	if took > haLease+renewSlack {
		t.Errorf("leadership moved %s after the kill, want within the lease (%s) and %s", took, haLease, renewSlack)
	}
	checkTakeOver(t, log, leader.name, killed)

	// kill -9 of a prober that does not lead.
	var prober haInstance
	for _, in := range rest {
		if in.name != next.name {
			prober = in
		}
	}
	killed = time.Now()
	prober.p.Kill9()
	checkTakeOver(t, log, prober.name, killed)
	from = time.Now()
	time.Sleep(2 * haInterval)
	if share := checkShare(t, log, from, time.Now(), leader.name, prober.name); share[next.name] != haMonitors {
		t.Errorf("the survivor runs %d monitors, want all %d", share[next.name], haMonitors)
	}
	if inc := automaticIncidents(t, st); len(inc) != 1 {
		t.Errorf("automatic incidents after both kills: %v, want the broken component's one", inc)
	}
}

// renewSlack is the scheduling slack allowed on top of a bound: the test's processes run with
// the race detector on two shared cores.
const renewSlack = time.Second

// checkTakeOver waits until every monitor the killed instance ran has run elsewhere, and fails
// if that took longer than the member timeout, a heartbeat and the take-over spread (1s) after
// the kill, or longer than the bound of an interval and the heartbeat timeout.
func checkTakeOver(t *testing.T, log *probeLog, victim string, killed time.Time) {
	t.Helper()
	before := log.between(killed.Add(-2*haInterval), killed)
	var theirs []string
	for id, runs := range before {
		if strings.HasPrefix(id, "m") && runs[len(runs)-1].instance == victim {
			theirs = append(theirs, id)
		}
	}
	if len(theirs) == 0 {
		t.Fatalf("%s ran no monitor before it was killed", victim)
	}
	var worst time.Duration
	waitUntil(t, 4*(haInterval+haMemberTimeout), fmt.Sprintf("%d monitors of %s taken over", len(theirs), victim), func() bool {
		after := log.between(killed, time.Now().Add(time.Hour))
		worst = 0
		for _, id := range theirs {
			i := slices.IndexFunc(after[id], func(r probeRun) bool { return r.instance != victim })
			if i < 0 {
				return false
			}
			worst = max(worst, after[id][i].at.Sub(killed))
		}
		return true
	})
	t.Logf("kill -9 of %s: its %d monitors ran elsewhere at most %s later", victim, len(theirs), worst.Round(time.Millisecond))
	if bound := haInterval + haMemberTimeout; worst > bound {
		t.Errorf("take-over of %s's monitors took %s, want within an interval and the heartbeat timeout (%s)", victim, worst, bound)
	}
}

// automaticIncidents lists the ids of the incidents monitors opened, read from the store.
func automaticIncidents(t *testing.T, st store.Store) []string {
	t.Helper()
	list, err := st.ListIncidents(t.Context(), store.IncidentQuery{})
	if err != nil {
		t.Fatalf("incidents: %v", err)
	}
	var ids []string
	for _, inc := range list {
		if inc.Automatic {
			ids = append(ids, inc.ID)
		}
	}
	return ids
}
