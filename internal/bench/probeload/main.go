// Command probeload measures the probe engine at scale: N HTTP monitors at one interval against
// a local target that answers after a settable delay, on the SQLite store, with the real clock.
//
// The target runs in a child process (this binary with -target), so the CPU and memory figures
// are the engine's alone. It listens on 64 loopback addresses (127.0.0.2 to 127.0.0.65) so that,
// as in real use, monitors spread over many hosts and keep-alive connections are reused.
//
// It prints: when every monitor had been checked once, checks done against checks expected,
// the scheduling lag (p50, p99 and the share under 1 s, from upstate_scheduler_lag_seconds),
// CPU milliseconds per check, peak RSS, and what reached the store per check.
//
//	go run ./internal/bench/probeload -monitors 1000 -delay 0 -duration 60s
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store/sqlite"
)

const (
	targetHosts = 64
	scrapeEvery = 15 * time.Second
)

var (
	hosts       int // target addresses in use
	profilePath string
	heapPath    string
	verbose     bool
)

func main() {
	n := flag.Int("monitors", 1000, "HTTP monitors")
	interval := flag.Duration("interval", 10*time.Second, "monitor interval")
	delay := flag.Duration("delay", 0, "target response delay")
	duration := flag.Duration("duration", 60*time.Second, "how long to run after start")
	targetMode := flag.Bool("target", false, "internal: serve the target (child process)")
	verboseFlag := flag.Bool("v", false, "log the engine's info messages to stderr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the steady state to this `file`")
	heapProfile := flag.String("memprofile", "", "write a heap profile at the end of the run to this `file`")
	hostsFlag := flag.Int("hosts", targetHosts, "how many of the target's addresses the monitors spread over (1 to 64)")
	flag.Parse()
	hosts = min(max(*hostsFlag, 1), targetHosts)
	profilePath, heapPath = *cpuProfile, *heapProfile
	verbose = *verboseFlag
	if *targetMode {
		serveTarget(*delay)
		return
	}
	if err := run(*n, *interval, *delay, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "probeload:", err)
		os.Exit(1)
	}
}

// serveTarget answers 200 "ok" after delay on every target address, prints the port, and
// serves until stdin closes; then it prints how many connections it accepted.
func serveTarget(delay time.Duration) {
	var accepted atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if delay > 0 {
				time.Sleep(delay)
			}
			w.Write([]byte("ok"))
		}),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				accepted.Add(1)
			}
		},
	}
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
	bufio.NewReader(os.Stdin).ReadString('\n') // the parent closes stdin when done
	fmt.Println(accepted.Load())
}

// countingStore counts what the engine writes.
type countingStore struct {
	*sqlite.Store
	batches, rows atomic.Int64
}

func (c *countingStore) AddRollups(ctx context.Context, rs []probe.Rollup) error {
	c.batches.Add(1)
	c.rows.Add(int64(len(rs)))
	return c.Store.AddRollups(ctx, rs)
}

func run(n int, interval, delay, duration time.Duration) error {
	// The target.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "-target", "-delay", delay.String())
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return err
	}
	// At the end the target says how many connections the engine opened.
	targetConnections := func() int64 {
		stdin.Close()
		var accepted int64
		fmt.Fscan(stdout, &accepted)
		child.Wait()
		return accepted
	}
	defer stdin.Close()
	var port int
	if _, err := fmt.Fscan(stdout, &port); err != nil {
		return fmt.Errorf("target did not start: %w", err)
	}

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "probeload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "upstate.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	st := &countingStore{Store: db}
	clock := clockwork.NewRealClock()
	var components []component.Component
	monitors := make([]probe.Monitor, n)
	for i := range n {
		cid := fmt.Sprintf("c%05d", i/10) // ten monitors per component
		if i%10 == 0 {
			components = append(components, component.Component{ID: cid, Name: cid, Source: component.SourceConfig})
		}
		url := fmt.Sprintf("http://127.0.0.%d:%d/m%d", 2+i%hosts, port, i)
		monitors[i] = probe.Monitor{ID: fmt.Sprintf("m%05d", i), ComponentID: cid, Kind: probe.KindHTTP, Interval: interval,
			Timeout: interval / 2, Thresholds: probe.Thresholds{Failures: 2, Successes: 1, Retries: 1, RetrySpacing: time.Second},
			HTTP: &probe.HTTPSpec{URL: url, Method: "GET", MaxBodyBytes: probe.DefaultMaxBodyBytes, MaxRedirects: 5}}
	}
	if err := service.New(service.Options{Store: st}).Components.Sync(ctx, components); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	bus := engine.NewBus(nil)
	events, unsubscribe := bus.Subscribe(n + 1024)
	defer unsubscribe()
	var logger *slog.Logger
	if verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	e, err := engine.New(engine.Options{Store: st, Clock: clock, Registerer: reg, Bus: bus, Monitors: monitors, Logger: logger})
	if err != nil {
		return err
	}
	dbBytes := func() int64 {
		var total int64
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if fi, err := os.Stat(filepath.Join(dir, "upstate.db"+suffix)); err == nil {
				total += fi.Size()
			}
		}
		return total
	}
	bytesBefore := dbBytes()
	runtime.GC()
	cpuBefore := cpuTime()

	// Every monitor's first check is its first transition, from unknown.
	seen := map[string]bool{}
	var allChecked, lastFirstCheck time.Duration // lastFirstCheck: when the last monitor had its first result
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()
	timeout := time.After(duration)
	// The steady state starts two intervals in, when every monitor has run and the start-up
	// writes (each monitor's first transition) are done.
	steady := time.After(2 * interval)
	// Prometheus scrapes the metrics as in production: every 15 s, the whole exposition.
	scrapes := time.NewTicker(scrapeEvery)
	defer scrapes.Stop()
	var steadyCPU time.Duration
	var steadyRuns float64
	var steadyAt time.Time
loop:
	for {
		select {
		case <-scrapes.C:
			scrape(reg)
		case <-steady:
			steadyCPU, steadyRuns, steadyAt = cpuTime(), counterSum(scrape(reg), "upstate_probe_runs_total", ""), time.Now()
			if profilePath != "" {
				f, err := os.Create(profilePath)
				if err == nil {
					pprof.StartCPUProfile(f)
					defer f.Close()
				}
			}
		case ev := <-events:
			if ev.Kind == engine.EventMonitorState && ev.From == string(probe.StateUnknown) && !seen[ev.MonitorID] {
				// The first transition is dated by the first result (the run's start).
				seen[ev.MonitorID] = true
				lastFirstCheck = max(lastFirstCheck, ev.At.Sub(start))
				if len(seen) == n {
					allChecked = time.Since(start)
				}
			}
		case <-timeout:
			break loop
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuBefore
	if profilePath != "" {
		pprof.StopCPUProfile()
	}
	if heapPath != "" {
		if f, err := os.Create(heapPath); err == nil {
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()
	if verbose {
		fmt.Fprintf(os.Stderr, "memstats MiB: heap sys %.1f idle %.1f released %.1f inuse %.1f; stack sys %.1f; mspan %.1f; gc %.1f; other %.1f; next gc %.1f\n",
			mib(ms.HeapSys), mib(ms.HeapIdle), mib(ms.HeapReleased), mib(ms.HeapInuse), mib(ms.StackSys), mib(ms.MSpanSys), mib(ms.GCSys), mib(ms.OtherSys), mib(ms.NextGC))
		if status, err := os.ReadFile("/proc/self/status"); err == nil {
			os.Stderr.Write(status)
		}
	}
	final := scrape(reg)
	runs := counterSum(final, "upstate_probe_runs_total", "")
	failures := counterSum(final, "upstate_probe_runs_total", "failure")
	steadyChecks := runs - steadyRuns
	steadyCPU = cpuTime() - steadyCPU
	steadyFor := time.Since(steadyAt)
	runningRSS := peakRSS() // before this report and the stop allocate anything
	reasons := map[string]int{}
	checked := 0
	for _, m := range e.Monitors() {
		if !m.Last.At.IsZero() {
			checked++
		}
		if failures == 0 {
			continue
		}
		m, _ := e.Monitor(m.Monitor.ID)
		for _, r := range m.Recent {
			if !r.OK {
				reasons[string(r.Phase)+": "+r.Reason]++
			}
		}
	}
	stopAt := time.Now()
	stop()
	if err := <-done; err != nil {
		return err
	}
	stopTook := time.Since(stopAt)

	// Scheduled runs only (re-probes of failures are extra): each monitor's first run falls in
	// the first min(interval, 10s), so over D it runs about D/interval times.
	expected := float64(n) * elapsed.Seconds() / interval.Seconds()
	lag := histogram(final, "upstate_scheduler_lag_seconds")
	fmt.Printf("monitors %d on %d target addresses, interval %s, target delay %s, scraped every %s, ran %s on %d CPUs (%s)\n", n, hosts, interval, delay, scrapeEvery, elapsed.Round(time.Millisecond), runtime.NumCPU(), runtime.Version())
	fmt.Printf("  monitors checked at least once     %d of %d, the last first run %s after start\n", checked, n, lastFirstCheck.Round(time.Millisecond))
	if allChecked > 0 {
		fmt.Printf("  every first state stored after     %s\n", allChecked.Round(time.Millisecond))
	} else {
		fmt.Printf("  first states stored                %d of %d\n", len(seen), n)
	}
	fmt.Printf("  checks done / expected             %.0f / %.0f (%.1f%%), %.0f failed\n", runs, expected, 100*runs/expected, failures)
	if lag != nil && lag.GetSampleCount() > 0 {
		share := within(lag, 1)
		fmt.Printf("  scheduling lag p50 <= %s, p99 <= %s, within 1s %.2f%% (of %d runs; %.0f later)\n",
			bucketQuantile(lag, 0.50), bucketQuantile(lag, 0.99), 100*share, lag.GetSampleCount(),
			math.Round((1-share)*float64(lag.GetSampleCount())))
	}
	for reason, count := range reasons {
		fmt.Printf("    failure x%d: %s\n", count, reason)
	}
	fmt.Printf("  CPU per check, whole run           %.3f ms (%.1f s CPU in all, start-up writes included)\n", float64(cpu.Microseconds())/1000/runs, cpu.Seconds())
	if !steadyAt.IsZero() && steadyChecks > 0 { // a run shorter than two intervals has no steady state
		fmt.Printf("  CPU per check, steady state        %.3f ms (%.0f checks in the last %s)\n", float64(steadyCPU.Microseconds())/1000/steadyChecks, steadyChecks, steadyFor.Round(time.Second))
	}
	fmt.Printf("  peak RSS                           %.1f MiB while running, %.1f MiB including the stop\n",
		float64(runningRSS)/(1<<20), float64(peakRSS())/(1<<20))
	fmt.Printf("  clean stop took                    %s (last flush, every monitor recorded unknown)\n", stopTook.Round(time.Millisecond))
	fmt.Printf("  memory at the end                  heap in use %.1f MiB, stacks %.1f MiB, runtime total %.1f MiB, %d goroutines, %d GCs\n",
		float64(ms.HeapInuse)/(1<<20), float64(ms.StackInuse)/(1<<20), float64(ms.Sys)/(1<<20), goroutines, ms.NumGC)
	fmt.Printf("  store: %d batches, %d rollup rows (%.3f rows per check); database files grew %d bytes (%.1f bytes per check)\n",
		st.batches.Load(), st.rows.Load(), float64(st.rows.Load())/runs, dbBytes()-bytesBefore, float64(dbBytes()-bytesBefore)/runs)
	conns := targetConnections()
	fmt.Printf("  connections the target accepted   %d on %d addresses (%.3f per check)\n", conns, hosts, float64(conns)/runs)
	return nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// peakRSS is the process's peak resident set so far, in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scrape gathers every metric and encodes it as Prometheus would fetch it.
func scrape(reg *prometheus.Registry) []*dto.MetricFamily {
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gather:", err)
	}
	enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		_ = enc.Encode(mf)
	}
	return mfs
}

func counterSum(mfs []*dto.MetricFamily, name, result string) float64 {
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if result != "" && !hasLabel(m, "result", result) {
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func histogram(mfs []*dto.MetricFamily, name string) *dto.Histogram {
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	return nil
}

// bucketQuantile is the upper bound of the bucket holding quantile q.
func bucketQuantile(h *dto.Histogram, q float64) string {
	target := uint64(math.Ceil(q * float64(h.GetSampleCount())))
	bs := h.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	for _, b := range bs {
		if b.GetCumulativeCount() >= target {
			return fmt.Sprint(time.Duration(b.GetUpperBound() * float64(time.Second)))
		}
	}
	return "> " + fmt.Sprint(time.Duration(bs[len(bs)-1].GetUpperBound()*float64(time.Second)))
}

func within(h *dto.Histogram, seconds float64) float64 {
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == seconds {
			return float64(b.GetCumulativeCount()) / float64(h.GetSampleCount())
		}
	}
	return math.NaN()
}
