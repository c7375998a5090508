// Command pageload measures the public page under load: it builds a store with N components
// (90 days of history each, a few open incidents, nightly maintenance), serves Upstate's HTTP
// surface on loopback, and loads / and /api/v2/summary.json from in-process keep-alive clients
// that ask for gzip. It prints requests per second, latency percentiles, response sizes, heap
// allocations per request (server and client together) and peak RSS.
//
//	go run ./internal/bench/pageload -components 200 -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

func main() {
	n := flag.Int("components", 200, "components on the page")
	duration := flag.Duration("duration", 10*time.Second, "load per path")
	conc := flag.Int("concurrency", 32, "concurrent clients")
	paths := flag.String("paths", "/,/api/v2/summary.json", "comma-separated paths to load")
	flag.Parse()
	if err := run(*n, *duration, *conc, strings.Split(*paths, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "pageload:", err)
		os.Exit(1)
	}
}

func run(n int, duration time.Duration, conc int, paths []string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pageload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "bench.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	start := time.Now()
	if err := seed(ctx, st, n, now); err != nil {
		return err
	}
	fmt.Printf("seeded %d components with 90 days of history in %s\n", n, time.Since(start).Round(time.Millisecond))
	loc, _ := time.LoadLocation("Asia/Shanghai")
	reports := &engine.Reports{Store: st, Now: time.Now, Objective: func(string) engine.Objective {
		return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
			Location: loc, Notice: 24 * time.Hour}
	}}
	srv, err := statuspage.New(statuspage.Options{Store: st, Clock: clockwork.NewRealClock(), Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		Logger: slog.New(slog.DiscardHandler), Reports: reports, Page: statuspage.Page{Title: "Bench", Location: loc, PublicURL: "http://127.0.0.1"}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = srv.Run(sctx, ln, 5*time.Second) }()
	base := "http://" + ln.Addr().String()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, DisableCompression: true}}
	fmt.Printf("machine: %d CPUs, %s, GOMAXPROCS=%d\n", runtime.NumCPU(), runtime.Version(), runtime.GOMAXPROCS(0))
	for _, p := range paths {
		// Sizes: once plain, once gzipped; and the time of a cold render.
		coldStart := time.Now()
		plain, err := fetch(client, base+p, false)
		if err != nil {
			return err
		}
		cold := time.Since(coldStart)
		gz, err := fetch(client, base+p, true)
		if err != nil {
			return err
		}
		res := load(client, base+p, duration, conc)
		fmt.Printf("\n%s  (%d components)\n", p, n)
		fmt.Printf("  size: %d bytes, %d gzipped; first (cold) render and transfer %s\n", plain, gz, cold.Round(time.Millisecond))
		fmt.Printf("  %d requests in %s with %d clients: %.0f req/s, %d errors\n", res.n, duration, conc, float64(res.n)/duration.Seconds(), res.errors)
		fmt.Printf("  latency p50 %s, p90 %s, p99 %s, max %s\n", res.pct(50), res.pct(90), res.pct(99), res.max())
		fmt.Printf("  allocations per request (server and client): %.0f, %.1f KB\n", res.mallocs, res.kb)
	}
	fmt.Printf("\npeak RSS: %s\n", peakRSS())
	return nil
}

func fetch(c *http.Client, url string, gzip bool) (int, error) {
	req, _ := http.NewRequest("GET", url, nil)
	if gzip {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return len(b), err
}

type result struct {
	n, errors   int64
	latencies   []time.Duration
	mallocs, kb float64
}

func (r result) pct(p int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, len(r.latencies)*p/100)].Round(time.Microsecond)
}

func (r result) max() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)-1].Round(time.Microsecond)
}

func load(c *http.Client, url string, d time.Duration, conc int) result {
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var n, errs atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			var mine []time.Duration
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			for time.Now().Before(deadline) {
				t := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
				}
				mine = append(mine, time.Since(t))
				n.Add(1)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	slices.Sort(all)
	r := result{n: n.Load(), errors: errs.Load(), latencies: all}
	if r.n > 0 {
		r.mallocs = float64(ms1.Mallocs-ms0.Mallocs) / float64(r.n)
		r.kb = float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(r.n) / 1024
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

// seed makes n components in groups of 10, each operational for 100 days with about five
// outages, three open incidents and a nightly maintenance window on the first group.
func seed(ctx context.Context, st *sqlite.Store, n int, now time.Time) error {
	r := rand.New(rand.NewPCG(1, 2))
	var records []store.Record
	for g := 0; g*10 < n; g++ {
		gid := fmt.Sprintf("group-%d", g)
		grp := component.Component{ID: gid, Name: fmt.Sprintf("Service group %d", g), IsGroup: true, Position: g * 11, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
		records = append(records, store.Record{Type: store.RecordComponent, Component: &grp})
		for i := 0; i < 10 && g*10+i < n; i++ {
			id := fmt.Sprintf("c-%d", g*10+i)
			c := component.Component{ID: id, Name: fmt.Sprintf("Component %d", g*10+i), Description: "A component of the benchmark.", GroupID: gid,
				Position: g*11 + i + 1, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
			records = append(records, store.Record{Type: store.RecordComponent, Component: &c})
			at := now.Add(-100 * 24 * time.Hour)
			records = append(records, store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: at, Status: component.Operational}})
			for range 5 {
				down := now.Add(-time.Duration(r.Int64N(int64(90 * 24 * time.Hour))))
				st := []component.Status{component.MajorOutage, component.PartialOutage, component.DegradedPerformance}[r.IntN(3)]
				records = append(records,
					store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: down, Status: st, Reason: "bench"}},
					store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: down.Add(time.Duration(5+r.IntN(120)) * time.Minute), Status: component.Operational, Reason: "bench"}})
			}
		}
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	w := maintenance.Window{ID: "nightly", Title: "Nightly releases", Components: []string{"c-0", "c-1"}, TimeZone: "Asia/Shanghai", Rule: "FREQ=DAILY",
		StartClock: 20 * 60, EndClock: 8 * 60, AnnouncedAt: now.Add(-120 * 24 * time.Hour), Source: "api", CreatedAt: now, UpdatedAt: now}
	w.FirstDate = calendar.DateOf(now.Add(-100*24*time.Hour), sh)
	if errs := w.Prepare(); len(errs) > 0 {
		return fmt.Errorf("window: %v", errs[0])
	}
	records = append(records, store.Record{Type: store.RecordWindow, Window: &w})
	for i := range 3 {
		inc, errs := incidents.Declare(incidents.Declaration{ID: fmt.Sprintf("inc-%d", i), Title: fmt.Sprintf("Elevated errors %d", i), Body: "We are **investigating**.",
			Severity: incidents.P2, Components: []incidents.Affected{{ComponentID: fmt.Sprintf("c-%d", i*7), Impact: component.DegradedPerformance}}}, nil, now)
		if len(errs) > 0 {
			return fmt.Errorf("incident: %v", errs[0])
		}
		inc.Version = 1
		records = append(records, store.Record{Type: store.RecordIncident, Incident: &inc})
	}
	return st.Import(ctx, records)
}
