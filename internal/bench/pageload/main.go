// Command pageload measures the public page under load: it builds a store with N components
// (90 days of history each, a few open incidents, nightly maintenance, and optionally a long
// history of resolved incidents, some with a thousand updates), serves Upstate's HTTP surface on
// loopback, and loads / and /api/v2/summary.json from in-process keep-alive clients that ask for
// gzip. A share of the clients can bust the cache, each request with a random query string, as
// anyone on the internet may. It prints the first (cold) render, requests per second, latency
// percentiles, response sizes, heap allocations per request (server and client together) and
// peak RSS.
//
//	go run ./internal/bench/pageload -components 200 -duration 10s
//	go run ./internal/bench/pageload -backend redis -components 10000 -groups 500 -incidents 100000 -big-incidents 5
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/internal/bench/pageseed"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// options are the command's flags.
type options struct {
	backend      string
	components   int
	groups       int
	incidents    int // resolved incidents of history
	historyDays  int
	bigIncidents int // incidents with bigUpdates updates each; the newest stays open
	bigUpdates   int
	duration     time.Duration
	conc         int
	bust         float64 // share of the clients that send random query strings
	renders      int     // uncached renders timed per path
	cpuprofile   string  // profile of the uncached renders
	paths        []string
}

func main() {
	var o options
	flag.StringVar(&o.backend, "backend", "sqlite", "store: sqlite, or redis (starts a redis-server from PATH on a free loopback port)")
	flag.IntVar(&o.components, "components", 200, "components on the page")
	flag.IntVar(&o.groups, "groups", 0, "groups the components are spread over (0: one per ten components)")
	flag.IntVar(&o.incidents, "incidents", 0, "resolved incidents of history, spread over -history-days, each on one to three components")
	flag.IntVar(&o.historyDays, "history-days", 1000, "how far back the incident history goes")
	flag.IntVar(&o.bigIncidents, "big-incidents", 0, "incidents with -big-updates updates each (the newest stays open)")
	flag.IntVar(&o.bigUpdates, "big-updates", 1000, "updates of each big incident")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "load per path")
	flag.IntVar(&o.conc, "concurrency", 32, "concurrent clients")
	flag.Float64Var(&o.bust, "bust", 0, "share of the clients (0 to 1) that add a random query string to every request")
	flag.IntVar(&o.renders, "renders", 3, "uncached renders timed per path, one after another, on a second server without the response cache")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the uncached renders to this file")
	paths := flag.String("paths", "/,/api/v2/summary.json", "comma-separated paths to load")
	flag.Parse()
	o.paths = strings.Split(*paths, ",")
	if o.groups <= 0 {
		o.groups = (o.components + 9) / 10
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "pageload:", err)
		os.Exit(1)
	}
}

// benchStore is what both backends offer.
type benchStore interface {
	store.Store
}

func run(o options) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pageload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var st benchStore
	var redisAddr string
	switch o.backend {
	case "sqlite":
		s, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
		if err != nil {
			return err
		}
		st = s
	case "redis":
		addr, stop, err := startRedis(dir)
		if err != nil {
			return err
		}
		defer stop()
		redisAddr = addr
		s, err := redis.Open(ctx, redis.Options{Addrs: []string{addr}})
		if err != nil {
			return err
		}
		st = s
	default:
		return fmt.Errorf("-backend %q: want sqlite or redis", o.backend)
	}
	defer st.Close()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	start := time.Now()
	records, err := pageseed.Records(pageseed.Options{Components: o.components, Groups: o.groups, Incidents: o.incidents,
		HistoryDays: o.historyDays, BigIncidents: o.bigIncidents, BigUpdates: o.bigUpdates}, now, loc)
	if err != nil {
		return err
	}
	if err := st.Import(ctx, records); err != nil {
		return err
	}
	if err := keepDays(ctx, st, loc); err != nil {
		return err
	}
	fmt.Printf("seeded %s with %d components in %d groups, 90 days of history each, %d resolved incidents over %d days and %d with %d updates, daily aggregates built, in %s\n",
		o.backend, o.components, o.groups, o.incidents, o.historyDays, o.bigIncidents, o.bigUpdates, time.Since(start).Round(time.Millisecond))
	records = nil
	if redisAddr != "" {
		fmt.Printf("redis used_memory after seeding: %s\n", redisMemory(redisAddr))
	}
	reports := &engine.Reports{Store: st, Now: time.Now, Objective: func(string) engine.Objective {
		return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
			Location: loc, Notice: 24 * time.Hour}
	}}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	serve := func(cacheTTL time.Duration) (string, error) {
		srv, err := statuspage.New(statuspage.Options{Store: st, Clock: clockwork.NewRealClock(), Registry: prometheus.NewRegistry(), Assets: assets.FS(),
			Logger: slog.New(slog.DiscardHandler), Reports: reports, CacheTTL: cacheTTL, Page: statuspage.Page{Title: "Bench", Location: loc, PublicURL: "http://127.0.0.1"}})
		if err != nil {
			return "", err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		go func() { _ = srv.Run(sctx, ln, 5*time.Second) }()
		return "http://" + ln.Addr().String(), nil
	}
	base, err := serve(0) // the default cache
	if err != nil {
		return err
	}
	uncached, err := serve(-1)
	if err != nil {
		return err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc, DisableCompression: true}}
	fmt.Printf("machine: %d CPUs, %s, GOMAXPROCS=%d\n", runtime.NumCPU(), runtime.Version(), runtime.GOMAXPROCS(0))
	busting := int(o.bust*float64(o.conc) + 0.5)
	for _, p := range o.paths {
		// Sizes: once plain, once gzipped; and the time of a cold render.
		coldStart := time.Now()
		plain, code, err := fetch(client, base+p, false)
		cold := time.Since(coldStart)
		fmt.Printf("\n%s  (%d components)\n", p, o.components)
		if err != nil {
			if code == 0 {
				return err
			}
			fmt.Printf("  first (cold) render failed after %s: %v\n", cold.Round(time.Millisecond), err)
		} else {
			gz, _, err := fetch(client, base+p, true)
			if err != nil {
				return err
			}
			fmt.Printf("  size: %d bytes, %d gzipped; first (cold) render and transfer %s\n", plain, gz, cold.Round(time.Millisecond))
		}
		res := load(client, base+p, o.duration, o.conc, busting)
		fmt.Printf("  %d requests in %s with %d clients: %.0f req/s, %d errors\n", res.all.n, o.duration, o.conc, float64(res.all.n)/o.duration.Seconds(), res.all.errors)
		fmt.Printf("  latency p50 %s, p90 %s, p99 %s, max %s\n", res.all.pct(50), res.all.pct(90), res.all.pct(99), res.all.max())
		fmt.Printf("  allocations per request (server and client): %.0f, %.1f KB\n", res.mallocs, res.kb)
		if busting > 0 {
			b, c := res.busting, res.cached
			fmt.Printf("  %d clients with random query strings: %d requests, %d errors, latency p50 %s, p99 %s, max %s\n", busting, b.n, b.errors, b.pct(50), b.pct(99), b.max())
			fmt.Printf("  %d clients with the plain path: %d requests, %d errors, latency p50 %s, p99 %s, max %s\n", o.conc-busting, c.n, c.errors, c.pct(50), c.pct(99), c.max())
		}
	}
	fmt.Println()
	if err := timeRenders(client, uncached, o); err != nil {
		return err
	}
	fmt.Printf("\npeak RSS: %s\n", peakRSS())
	return nil
}

// timeRenders times o.renders uncached renders of each path, one after another, with a CPU
// profile of them all if asked.
func timeRenders(client *http.Client, base string, o options) error {
	if o.renders <= 0 {
		return nil
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, p := range o.paths {
		var times []time.Duration
		cpu0 := cpuTime()
		for range o.renders {
			t := time.Now()
			if _, code, err := fetch(client, base+p, true); err != nil {
				if code == 0 {
					return err
				}
				fmt.Printf("uncached render of %s failed after %s: %v\n", p, time.Since(t).Round(time.Millisecond), err)
				break
			}
			times = append(times, time.Since(t))
		}
		if len(times) > 0 {
			cpu := (cpuTime() - cpu0) / time.Duration(len(times))
			slices.Sort(times)
			fmt.Printf("uncached renders of %s (%d components): %d, min %s, median %s, max %s; CPU %s a render\n", p, o.components, len(times),
				times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond), cpu.Round(time.Millisecond))
		}
	}
	return nil
}

// cpuTime is the CPU time the process has used (user and system), server and client together:
// unlike the wall time of a render, it does not grow with other processes' load.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// keepDays has the store keep daily status aggregates in the page's zone, as serve does.
func keepDays(ctx context.Context, st benchStore, loc *time.Location) error {
	return st.KeepStatusDays(ctx, loc)
}

// startRedis starts a redis-server from PATH on a free loopback port, without persistence (as
// internal/redistest does for tests), and returns its address and how to stop it.
func startRedis(dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("-backend redis needs redis-server on PATH (apt-get install redis-server): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning", "--maxmemory-policy", "noeviction",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ping(addr) {
			return addr, stop, nil
		}
	}
	stop()
	log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
	return "", nil, fmt.Errorf("redis-server on %s did not answer PING within 10s; its log:\n%s", addr, log)
}

func ping(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// redisMemory is the server's used_memory_human, from INFO memory.
func redisMemory(addr string) string {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "unknown"
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("INFO memory\r\n")); err != nil {
		return "unknown"
	}
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // the bulk string's length
		return "unknown"
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "unknown"
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory_human:"); ok {
			return v
		}
	}
}

// fetch gets url once; code is the status, 0 when there was no response.
func fetch(c *http.Client, url string, gzip bool) (int, int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, resp.StatusCode, fmt.Errorf("%s: %d %.200s", url, resp.StatusCode, b)
	}
	return len(b), resp.StatusCode, err
}

type latencies struct {
	n, errors int64
	latencies []time.Duration
}

func (r latencies) pct(p int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, len(r.latencies)*p/100)].Round(time.Microsecond)
}

func (r latencies) max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1].Round(time.Microsecond)
}

type result struct {
	all, busting, cached latencies
	mallocs, kb          float64
}

// load runs conc clients against url for d; the first busting of them add a random query
// string to each request.
func load(c *http.Client, url string, d time.Duration, conc, busting int) result {
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var mu sync.Mutex
	var byKind [2]latencies
	var n atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range conc {
		bust := i < busting
		wg.Go(func() {
			var mine latencies
			r := rand.New(rand.NewPCG(uint64(i), 7))
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			for time.Now().Before(deadline) {
				if bust {
					req, _ = http.NewRequest("GET", url+"?r="+strconv.FormatUint(r.Uint64(), 36), nil)
					req.Header.Set("Accept-Encoding", "gzip")
				}
				t := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					mine.errors++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					mine.errors++
				}
				mine.latencies = append(mine.latencies, time.Since(t))
				mine.n++
				n.Add(1)
			}
			k := 1
			if bust {
				k = 0
			}
			mu.Lock()
			byKind[k].n += mine.n
			byKind[k].errors += mine.errors
			byKind[k].latencies = append(byKind[k].latencies, mine.latencies...)
			mu.Unlock()
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	r := result{busting: byKind[0], cached: byKind[1]}
	r.all = latencies{n: byKind[0].n + byKind[1].n, errors: byKind[0].errors + byKind[1].errors,
		latencies: append(slices.Clone(byKind[0].latencies), byKind[1].latencies...)}
	for _, l := range []*latencies{&r.all, &r.busting, &r.cached} {
		slices.Sort(l.latencies)
	}
	if r.all.n > 0 {
		r.mallocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(r.all.n)
		r.kb = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(r.all.n) / 1024
	}
	return r
}

func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
