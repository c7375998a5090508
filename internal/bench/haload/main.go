// Command haload measures several Upstate instances sharing one Redis: three real `upstate serve`
// processes, N HTTP monitors at one interval against a local target, one redis-server.
//
// The target runs in a child process (this binary with -target) on 64 loopback addresses and
// records every run it receives: which monitor, from which instance (each instance's config adds
// a header naming it), when. The tool prints, for a steady window: checks done against checks
// expected, duplicate checks (two runs of one monitor less than half an interval apart), CPU per
// check of each instance (user plus system time from /proc, over the checks that instance did),
// and Redis commands per check (INFO commandstats before and after, by command). Then it kills
// the leader with SIGKILL and measures how long until another instance leads and until every
// monitor the leader ran has run elsewhere (and the longest any of them went unchecked), and
// does the same for a prober that does not lead.
//
//	go build -o bin/upstate ./cmd/upstate && go run ./internal/bench/haload -monitors 10000 -duration 60s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const targetHosts = 64

type options struct {
	upstate, redisServer                string
	monitors, perComponent              int
	locations                           int
	interval, duration                  time.Duration
	lease, heartbeat, memberTimeout     time.Duration
	keep                                bool
	instances                           []string
	takeOverLimit, startLimit, readyFor time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.upstate, "upstate", "bin/upstate", "the upstate `binary` to run (go build -o bin/upstate ./cmd/upstate)")
	flag.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server `binary`")
	flag.IntVar(&o.monitors, "monitors", 10000, "HTTP monitors")
	flag.IntVar(&o.perComponent, "per-component", 10, "monitors per component (instances share components)")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "monitor interval")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "the steady window measured")
	flag.DurationVar(&o.lease, "lease", 15*time.Second, "cluster.lease")
	flag.DurationVar(&o.heartbeat, "heartbeat", 2*time.Second, "cluster.heartbeat")
	flag.DurationVar(&o.memberTimeout, "member-timeout", 10*time.Second, "cluster.member_timeout")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (configs, logs) and print it")
	flag.IntVar(&o.locations, "locations", 0, "put each instance in a location of its own and check every monitor from this many (monitors[].locations); the steady window only, no kills")
	targetMode := flag.Bool("target", false, "internal: serve the target (child process)")
	flag.Parse()
	if *targetMode {
		serveTarget()
		return
	}
	o.instances = []string{"a", "b", "c"}
	o.takeOverLimit = o.lease + o.memberTimeout + 2*o.interval + 30*time.Second
	o.startLimit = 5*time.Minute + time.Duration(o.monitors)*10*time.Millisecond
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "haload:", err)
		os.Exit(1)
	}
}

// The target.

// runLog is every run the target received, per monitor.
type runLog struct {
	mu   sync.Mutex
	runs map[int][]probeRun // by monitor number
}

type probeRun struct {
	at       int64 // Unix ms
	instance string
}

// serveTarget answers 200 on every target address, records each run, prints its port, and
// serves until stdin closes. GET /_summary and /_takeover on the first address report on the
// runs (see summary and takeOver).
func serveTarget() {
	log := &runLog{runs: map[int][]probeRun{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/m/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/m/"))
		// A monitor checked from several locations is counted once per location: its runs
		// from one location are a schedule of their own.
		n = n*8 + locationIndex(r.Header.Get("X-Upstate-Location"))
		if err == nil {
			now := time.Now().UnixMilli()
			log.mu.Lock()
			log.runs[n] = append(log.runs[n], probeRun{now, r.Header.Get("X-Instance")})
			log.mu.Unlock()
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/_summary", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, _ := strconv.ParseInt(q.Get("from"), 10, 64)
		to, _ := strconv.ParseInt(q.Get("to"), 10, 64)
		interval, _ := strconv.ParseInt(q.Get("interval"), 10, 64)
		json.NewEncoder(w).Encode(log.summary(from, to, interval))
	})
	mux.HandleFunc("/_takeover", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		killed, _ := strconv.ParseInt(q.Get("killed"), 10, 64)
		interval, _ := strconv.ParseInt(q.Get("interval"), 10, 64)
		json.NewEncoder(w).Encode(log.takeOver(q.Get("victim"), killed, interval))
	})
	srv := &http.Server{Handler: mux}
	first, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	port := first.Addr().(*net.TCPAddr).Port
	go srv.Serve(first)
	for i := 1; i < targetHosts; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i+2, port))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go srv.Serve(ln)
	}
	fmt.Println(port)
	bufio.NewReader(os.Stdin).ReadString('\n')
}

// locationIndex numbers the locations haload gives its instances (loc-a, loc-b, ...; 0 for none).
func locationIndex(loc string) int {
	if name, ok := strings.CutPrefix(loc, "loc-"); ok && len(name) == 1 && name[0] >= 'a' && name[0] < 'h' {
		return int(name[0]-'a') + 1
	}
	return 0
}

// summary is what the target saw in [from, to) (Unix ms).
type summary struct {
	Monitors   int            `json:"monitors"`    // monitors run at least once
	Runs       int            `json:"runs"`        // runs in all
	ByInstance map[string]int `json:"by_instance"` // runs per instance
	// Duplicates counts runs of a monitor less than half an interval after its previous run
	// (by any instance); Shared counts monitors run by more than one instance.
	Duplicates int `json:"duplicates"`
	Shared     int `json:"shared"`
}

func (l *runLog) summary(from, to, interval int64) summary {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := summary{ByInstance: map[string]int{}}
	for _, runs := range l.runs {
		seen := map[string]bool{}
		var prev int64
		counted := false
		for _, r := range runs {
			if r.at < from || r.at >= to {
				if r.at < from {
					prev = r.at
				}
				continue
			}
			if !counted {
				s.Monitors++
				counted = true
			}
			s.Runs++
			s.ByInstance[r.instance]++
			seen[r.instance] = true
			if prev != 0 && r.at-prev < interval/2 {
				s.Duplicates++
			}
			prev = r.at
		}
		if len(seen) > 1 {
			s.Shared++
		}
	}
	return s
}

// takeOverReport is how the monitors a killed instance ran came to run elsewhere.
type takeOverReport struct {
	Monitors int `json:"monitors"` // whose last run before the kill was the victim's
	Done     int `json:"done"`     // of those, run since by another instance
	// Delay is from the kill to each monitor's first run elsewhere (ms): the largest, the
	// median; Gap the longest any of them went unchecked (from its last run before the kill).
	DelayMax, DelayP50, GapMax int64
	Duplicates                 int `json:"duplicates"` // runs closer than half an interval since the kill
}

func (l *runLog) takeOver(victim string, killed, interval int64) takeOverReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rep takeOverReport
	var delays []int64
	for _, runs := range l.runs {
		last := -1
		for i, r := range runs {
			if r.at < killed {
				last = i
			}
		}
		for i := max(last, 0) + 1; i < len(runs); i++ {
			if last >= 0 && runs[i].at-runs[i-1].at < interval/2 {
				rep.Duplicates++
			}
		}
		if last < 0 || runs[last].instance != victim {
			continue
		}
		rep.Monitors++
		for _, r := range runs[last+1:] {
			if r.instance != victim {
				rep.Done++
				d := r.at - killed
				delays = append(delays, d)
				rep.GapMax = max(rep.GapMax, r.at-runs[last].at)
				break
			}
		}
	}
	if len(delays) > 0 {
		slices.Sort(delays)
		rep.DelayMax, rep.DelayP50 = delays[len(delays)-1], delays[len(delays)/2]
	}
	return rep
}

// The run.

type instance struct {
	name, addr string
	cmd        *exec.Cmd
	log        *os.File
	done       chan struct{}
}

func run(o options) error {
	dir, err := os.MkdirTemp("", "haload-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("working directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin, err := filepath.Abs(o.upstate)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the upstate binary: %w (go build -o bin/upstate ./cmd/upstate)", err)
	}

	redisAddr, stopRedis, err := startRedis(o.redisServer, dir)
	if err != nil {
		return err
	}
	defer stopRedis()
	port, stopTarget, err := startTarget()
	if err != nil {
		return err
	}
	defer stopTarget()
	control := fmt.Sprintf("http://127.0.0.2:%d", port)

	var ins []*instance
	defer func() {
		for _, in := range ins {
			in.kill()
		}
	}()
	for _, name := range o.instances {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		cfg := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfg, config(o, name, addr, redisAddr, port), 0o600); err != nil {
			return err
		}
		in, err := startInstance(bin, name, addr, cfg, dir)
		if err != nil {
			return err
		}
		ins = append(ins, in)
		// One after another, as a rolling start: each waits until it serves and runs its share.
		if err := waitFor(o.startLimit, "instance "+name+" ready", func() bool {
			select {
			case <-in.done:
				return true // reported below
			default:
			}
			return metric(in.addr, "upstate_cluster_members") == float64(len(ins))
		}); err != nil {
			return fmt.Errorf("%w (log: %s)", err, in.log.Name())
		}
		select {
		case <-in.done:
			b, _ := os.ReadFile(in.log.Name())
			return fmt.Errorf("instance %s exited:\n%s", name, b[:min(len(b), 2000)])
		default:
		}
		if err != nil {
			return fmt.Errorf("%w (log: %s)", err, in.log.Name())
		}
	}
	fmt.Printf("instances %d on one redis-server, monitors %d (%d per component) every %s, lease %s, heartbeat %s, member timeout %s\n",
		len(ins), o.monitors, o.perComponent, o.interval, o.lease, o.heartbeat, o.memberTimeout)
	// Every monitor has run, and the hand-overs of the rolling start are two intervals behind.
	if err := waitFor(o.startLimit, "every monitor run", func() bool {
		var s summary
		getJSON(fmt.Sprintf("%s/_summary?from=0&to=%d&interval=%d", control, time.Now().Add(time.Hour).UnixMilli(), o.interval.Milliseconds()), &s)
		return s.Monitors == o.monitors*max(o.locations, 1)
	}); err != nil {
		return err
	}
	time.Sleep(2 * o.interval)

	// The steady window.
	cpu0 := cpuTimes(ins)
	redis0, err := commandStats(redisAddr)
	if err != nil {
		return err
	}
	from := time.Now()
	time.Sleep(o.duration)
	to := time.Now()
	cpu1 := cpuTimes(ins)
	redis1, err := commandStats(redisAddr)
	if err != nil {
		return err
	}
	var s summary
	if err := getJSON(fmt.Sprintf("%s/_summary?from=%d&to=%d&interval=%d", control, from.UnixMilli(), to.UnixMilli(), o.interval.Milliseconds()), &s); err != nil {
		return err
	}
	expected := float64(o.monitors*max(o.locations, 1)) * to.Sub(from).Seconds() / o.interval.Seconds()
	fmt.Printf("steady window %s\n", to.Sub(from).Round(time.Millisecond))
	fmt.Printf("  checks done / expected             %d / %.0f (%.2f%%), monitors run %d of %d\n", s.Runs, expected, 100*float64(s.Runs)/expected, s.Monitors, o.monitors*max(o.locations, 1))
	fmt.Printf("  duplicate checks                   %d (runs of one monitor under half an interval apart); monitors run by two instances %d\n", s.Duplicates, s.Shared)
	for i, in := range ins {
		n := s.ByInstance[in.name]
		used := cpu1[i] - cpu0[i]
		per := 0.0
		if n > 0 {
			per = float64(used.Microseconds()) / 1000 / float64(n)
		}
		fmt.Printf("  instance %s                         %d checks, CPU %.2f s, %.3f ms per check\n", in.name, n, used.Seconds(), per)
	}
	calls := diffStats(redis0, redis1)
	total := 0
	for _, c := range calls {
		total += c.calls
	}
	fmt.Printf("  redis commands per check           %.2f (%d commands, %.0f a second)\n", float64(total)/float64(max(s.Runs, 1)), total, float64(total)/to.Sub(from).Seconds())
	for _, c := range calls[:min(len(calls), 8)] {
		fmt.Printf("    %-12s %8d  %.3f per check\n", c.name, c.calls, float64(c.calls)/float64(max(s.Runs, 1)))
	}

	if o.locations > 1 {
		// A location's instance killed is a location gone, not a share to take over.
		return nil
	}
	// kill -9 of the leader, then of a prober that does not lead.
	leader := leaderOf(ins)
	if leader == nil {
		return errors.New("no instance leads")
	}
	rest := slices.DeleteFunc(slices.Clone(ins), func(in *instance) bool { return in == leader })
	next, err := killAndMeasure(o, control, leader, rest, true)
	if err != nil {
		return err
	}
	var prober *instance
	for _, in := range rest {
		if in != next {
			prober = in
		}
	}
	rest = slices.DeleteFunc(rest, func(in *instance) bool { return in == prober })
	if _, err := killAndMeasure(o, control, prober, rest, false); err != nil {
		return err
	}
	// The survivor runs everything.
	time.Sleep(o.interval)
	from = time.Now()
	time.Sleep(2 * o.interval)
	to = time.Now()
	getJSON(fmt.Sprintf("%s/_summary?from=%d&to=%d&interval=%d", control, from.UnixMilli(), to.UnixMilli(), o.interval.Milliseconds()), &s)
	fmt.Printf("after both kills, %s alone over %s: %d monitors run, %d checks, %d duplicates\n", rest[0].name, to.Sub(from).Round(time.Millisecond), s.Monitors, s.Runs, s.Duplicates)
	start := time.Now()
	rest[0].stop(30 * time.Second)
	fmt.Printf("clean stop of %s took %s\n", rest[0].name, time.Since(start).Round(time.Millisecond))
	return nil
}

// killAndMeasure kills victim with SIGKILL and reports how the others take over. With lead,
// it also waits for another instance to lead and returns it.
func killAndMeasure(o options, control string, victim *instance, rest []*instance, lead bool) (*instance, error) {
	killed := time.Now()
	victim.kill()
	role := "prober"
	if lead {
		role = "leader"
	}
	var next *instance
	if lead {
		if err := waitFor(o.takeOverLimit, "another leader", func() bool { next = leaderOf(rest); return next != nil }); err != nil {
			return nil, err
		}
		fmt.Printf("kill -9 of leader %s: %s leads %s later (polled every 100 ms; lease %s)\n", victim.name, next.name, time.Since(killed).Round(100*time.Millisecond), o.lease)
	}
	var rep takeOverReport
	url := fmt.Sprintf("%s/_takeover?victim=%s&killed=%d&interval=%d", control, victim.name, killed.UnixMilli(), o.interval.Milliseconds())
	err := waitFor(o.takeOverLimit, "take-over of "+victim.name+"'s monitors", func() bool {
		if getJSON(url, &rep) != nil {
			return false
		}
		// An instance that ran nothing (a share of no component) has nothing to hand over.
		return rep.Done == rep.Monitors && (rep.Monitors > 0 || time.Since(killed) > o.memberTimeout+2*o.interval)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %d of %d", err, rep.Done, rep.Monitors)
	}
	time.Sleep(o.interval) // duplicates would show in the interval after
	getJSON(url, &rep)
	fmt.Printf("kill -9 of %s %s: its %d monitors ran elsewhere within %.2f s of the kill (median %.2f s); longest unchecked %.2f s; duplicate checks since %d\n",
		role, victim.name, rep.Monitors, float64(rep.DelayMax)/1000, float64(rep.DelayP50)/1000, float64(rep.GapMax)/1000, rep.Duplicates)
	return next, nil
}

func config(o options, name, addr, redisAddr string, port int) []byte {
	var b strings.Builder
	location, locations := "", ""
	if o.locations > 1 {
		location, locations = "loc-"+name, fmt.Sprintf(", locations: %d", o.locations)
	}
	fmt.Fprintf(&b, `server:
  listen: %s
  shutdown_timeout: 30s
storage:
  backend: redis
  redis:
    addrs: [%s]
cluster:
  instance: %s
  location: %s
  lease: %s
  heartbeat: %s
  member_timeout: %s
log:
  level: warn
probes:
  max_concurrent: 512
components:
`, addr, redisAddr, name, location, o.lease, o.heartbeat, o.memberTimeout)
	components := (o.monitors + o.perComponent - 1) / o.perComponent
	for c := range components {
		fmt.Fprintf(&b, "  - {id: c%d, name: C%d}\n", c, c)
	}
	b.WriteString("monitors:\n")
	for m := range o.monitors {
		host := 2 + m%targetHosts
		fmt.Fprintf(&b, "  - {id: m%d, component: c%d, kind: http, interval: %s, timeout: %s%s, http: {url: \"http://127.0.0.%d:%d/m/%d\", headers: {X-Instance: %s}}}\n",
			m, m/o.perComponent, o.interval, min(5*time.Second, o.interval/2), locations, host, port, m, name)
	}
	return []byte(b.String())
}

func startInstance(bin, name, addr, cfg, dir string) (*instance, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	in := &instance{name: name, addr: addr, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() { cmd.Wait(); close(in.done) }()
	return in, nil
}

func (in *instance) kill() {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Kill()
	<-in.done
}

func (in *instance) stop(limit time.Duration) {
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(limit):
		in.kill()
	}
}

func leaderOf(ins []*instance) *instance {
	for _, in := range ins {
		if metric(in.addr, "upstate_cluster_leader") == 1 {
			return in
		}
	}
	return nil
}

// metric reads one unlabelled series from an instance's /metrics (-1 if absent).
func metric(addr, name string) float64 {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// cpuTimes is each instance's user plus system CPU time so far, from /proc/<pid>/stat.
func cpuTimes(ins []*instance) []time.Duration {
	out := make([]time.Duration, len(ins))
	for i, in := range ins {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", in.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and may hold spaces.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) < 13 {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[i] = time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return out
}

// Redis, spoken in RESP without a client library (only store/redis imports go-redis).

func startRedis(bin, dir string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", rdir, "--save", "", "--appendonly", "yes",
		"--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--logfile", filepath.Join(rdir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	if err := waitFor(10*time.Second, "redis-server", func() bool { _, err := redisCommand(addr, "PING"); return err == nil }); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

func redisCommand(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch line[0] {
	case '+':
		return strings.TrimSpace(line[1:]), nil
	case '$':
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("redis: %s", strings.TrimSpace(line))
}

type commandCalls struct {
	name  string
	calls int
}

// commandStats is INFO commandstats: calls per command.
func commandStats(addr string) (map[string]int, error) {
	out, err := redisCommand(addr, "INFO", "commandstats")
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	stats := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		stats[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return stats, nil
}

// diffStats is the calls made between two snapshots, most first, without the INFO calls.
func diffStats(before, after map[string]int) []commandCalls {
	var out []commandCalls
	for name, n := range after {
		if d := n - before[name]; d > 0 && name != "info" {
			out = append(out, commandCalls{name, d})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].calls > out[j].calls })
	return out
}

// Helpers.

func startTarget() (int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command(self, "-target")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return 0, nil, fmt.Errorf("target: %w", err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, nil, fmt.Errorf("target port %q: %w", line, err)
	}
	return port, func() { stdin.Close(); _ = cmd.Wait() }, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func getJSON(url string, v any) error {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func waitFor(limit time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s", what, limit)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
