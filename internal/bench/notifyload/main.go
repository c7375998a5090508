// Command notifyload measures notification fan-out: one incident update routed to N webhook
// targets and M email recipients, delivered to receivers on loopback, on SQLite or Redis.
//
// The receivers (one HTTP server checking every webhook's signature, one SMTP server) run in a
// child process (this binary with -receivers), so the CPU and memory figures are Upstate's: the
// service writing the update, the router fanning it out into the outbox, the dispatcher claiming,
// sending and recording each delivery.
//
// It prints the SRE's call (the update through the service), the time until every delivery was
// accepted, deliveries per second, CPU and peak RSS, and then the outbox's own rates: rows
// enqueued, and rows claimed and finished, per second.
//
//	go run ./internal/bench/notifyload -webhooks 1000 -emails 1000 -backend sqlite
//	go run ./internal/bench/notifyload -webhooks 1000 -emails 1000 -backend redis   # starts redis-server
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/internal/bench/loadkit"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

const secret = "notifyload-secret"

var profilePath string

func main() {
	webhooks := flag.Int("webhooks", 1000, "webhook targets, one row each")
	emails := flag.Int("emails", 1000, "recipients of one email target, one row each")
	backend := flag.String("backend", "sqlite", "sqlite or redis")
	redisAddr := flag.String("redis", "", "a redis-server to use (default: start one on a free port)")
	rows := flag.Int("rows", 20000, "rows for the outbox's own rates")
	inflight := flag.Int("email-in-flight", 16, "the email target's max_in_flight (SMTP connections at once)")
	workers := flag.Int("workers", notify.DefaultWorkers, "deliveries in flight across targets")
	receivers := flag.Bool("receivers", false, "internal: run the receivers (child process)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the fan-out to this `file`")
	flag.Parse()
	profilePath = *cpuProfile
	if *receivers {
		serveReceivers()
		return
	}
	if err := run(*webhooks, *emails, *backend, *redisAddr, *rows, *inflight, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "notifyload:", err)
		os.Exit(1)
	}
}

// serveReceivers runs the webhook and SMTP receivers, prints their addresses, and then prints
// "count N" each time asked on stdin (a line) how many deliveries they accepted.
func serveReceivers() {
	var accepted atomic.Int64
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if notify.Verify([]byte(secret), r.Header.Get(notify.SignatureHeader), body, time.Now(), notify.DefaultTolerance) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		accepted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(hl) }()
	smtpAddr, err := loadkit.ServeSMTP(&accepted)
	if err != nil {
		panic(err)
	}
	loadkit.AnswerCounts(fmt.Sprintf("http %s smtp %s", hl.Addr(), smtpAddr), &accepted)
}

func run(webhooks, emails int, backend, redisAddr string, rows, inflight, workers int) error {
	ctx := context.Background()
	if backend == "redis" && redisAddr == "" {
		addr, stop, err := loadkit.StartRedis()
		if err != nil {
			return err
		}
		defer stop()
		redisAddr = addr
	}
	rec, err := loadkit.StartChild("-receivers")
	if err != nil {
		return err
	}
	defer rec.Stop()
	var httpAddr, smtpAddr string
	if _, err := fmt.Sscanf(rec.Hello, "http %s smtp %s", &httpAddr, &smtpAddr); err != nil {
		return fmt.Errorf("receivers said %q: %w", rec.Hello, err)
	}
	st, closeStore, err := loadkit.OpenStore(ctx, backend, redisAddr, "fanout")
	if err != nil {
		return err
	}
	defer closeStore()

	page := notify.Page{Title: "Load", PublicURL: "https://status.example.com", Location: time.UTC}
	var targets []notify.Target
	var ids []string
	for i := range webhooks {
		id := "hook-" + strconv.Itoa(i)
		targets = append(targets, notify.Target{ID: id, Kind: notify.KindWebhook, URL: "http://" + httpAddr + "/hook/" + strconv.Itoa(i), Secret: secret})
		ids = append(ids, id)
	}
	if emails > 0 {
		to := make([]string, emails)
		for i := range to {
			to[i] = "sre-" + strconv.Itoa(i) + "@example.com"
		}
		targets = append(targets, notify.Target{ID: "mail", Kind: notify.KindEmail, To: to, MaxInFlight: inflight})
		ids = append(ids, "mail")
	}
	host, port, _ := net.SplitHostPort(smtpAddr)
	p, _ := strconv.Atoi(port)
	clock := clockwork.NewRealClock()
	chans, err := notify.NewChannels(notify.ChannelOptions{Targets: targets, Page: page, Clock: clock, Version: "bench",
		SMTP: notify.SMTP{Host: host, Port: p, TLS: "none", From: "status@example.com", Timeout: 30 * time.Second}})
	if err != nil {
		return err
	}
	bus := events.NewBus(nil)
	svc := service.New(service.Options{Store: st, Clock: clock, Targets: chans, Bus: bus})
	if err := svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
		return err
	}
	inc, err := svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "API errors", Body: "Investigating.", Severity: incidents.P1,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.PartialOutage}}})
	if err != nil {
		return err
	}
	n, err := notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Page: page, Clock: clock, Workers: workers,
		Bus: bus, Poll: 100 * time.Millisecond, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Rules: notify.Rules{Routes: []notify.Route{{Name: "all", Kinds: []string{"incident.updated"}, Targets: ids}}}})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(runCtx) }()
	time.Sleep(300 * time.Millisecond) // the router has read the declaration (routed nowhere)

	want := int64(webhooks + emails)
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0, start := loadkit.CPUTime(), time.Now()
	if _, err := svc.Incidents.Update(ctx, service.Actor{Name: "sre"}, inc.ID, incidents.Change{Body: "A fix is being deployed.", Status: incidents.Identified}); err != nil {
		return err
	}
	call := time.Since(start)
	var got int64
	for got < want {
		time.Sleep(5 * time.Millisecond)
		if got = rec.Count(); got < 0 {
			return fmt.Errorf("the receivers died")
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("only %d of %d delivered after 10 minutes", got, want)
		}
	}
	elapsed, cpu := time.Since(start), loadkit.CPUTime()-cpu0
	if profilePath != "" {
		pprof.StopCPUProfile()
	}
	cancel()
	<-done
	stats, _ := st.OutboxStats(ctx)
	fmt.Printf("fan-out on %s: 1 incident update to %d webhook targets and %d email recipients (workers %d, email in flight %d)\n",
		backend, webhooks, emails, workers, inflight)
	fmt.Printf("  the SRE's call (Incidents.Update)     %s\n", call.Round(time.Microsecond))
	fmt.Printf("  time until all %d were accepted     %s\n", want, elapsed.Round(time.Millisecond))
	fmt.Printf("  deliveries per second                %.0f\n", float64(want)/elapsed.Seconds())
	fmt.Printf("  CPU                                  %s (%.3f ms per delivery)\n", cpu.Round(time.Millisecond), float64(cpu.Microseconds())/1000/float64(want))
	fmt.Printf("  peak RSS                             %.1f MiB\n", float64(loadkit.PeakRSS())/(1<<20))
	fmt.Printf("  outbox after                         %d delivered, %d waiting\n", stats.ByState[store.NotificationDelivered],
		stats.ByState[store.NotificationPending]+stats.ByState[store.NotificationSending])
	return outboxRates(ctx, backend, redisAddr, rows)
}

// outboxRates times the outbox alone: rows enqueued in batches of 500, then claimed 256 at a
// time and each finished as delivered (one write each, from 64 goroutines, as the dispatcher does).
func outboxRates(ctx context.Context, backend, redisAddr string, rows int) error {
	st, closeStore, err := loadkit.OpenStore(ctx, backend, redisAddr, "rates")
	if err != nil {
		return err
	}
	defer closeStore()
	svc := service.New(service.Options{Store: st})
	now := time.Now().UTC()
	payload := []byte(`{"kind":"incident.updated","subject":"[P1 Update] API errors","text":"A fix is being deployed.","events":[]}`)
	start := time.Now()
	for i := 0; i < rows; i += 500 {
		var batch []store.Notification
		for j := i; j < min(i+500, rows); j++ {
			batch = append(batch, store.Notification{ID: fmt.Sprintf("ntf-%08d", j), Target: "hook-" + strconv.Itoa(j%1000), Channel: "webhook",
				Kind: "incident.updated", IncidentID: "inc-1", DedupKey: "incident/inc-1", Payload: payload, State: store.NotificationPending,
				CreatedAt: now, NextAt: now, UpdatedAt: now, Version: 1})
		}
		if _, err := svc.Notifications.Enqueue(ctx, batch); err != nil {
			return err
		}
	}
	enqueue := time.Since(start)
	start = time.Now()
	finished := 0
	sem := make(chan struct{}, 64)
	errs := make(chan error, 64)
	for finished < rows {
		claimed, err := svc.Notifications.Claim(ctx, time.Now().UTC(), time.Now().UTC().Add(time.Minute), 256)
		if err != nil {
			return err
		}
		if len(claimed) == 0 {
			break
		}
		for _, n := range claimed {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				n.State, n.DeliveredAt, n.UpdatedAt, n.Version = store.NotificationDelivered, time.Now().UTC(), time.Now().UTC(), n.Version+1
				if err := svc.Notifications.Finish(ctx, n); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}()
		}
		finished += len(claimed)
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		return err
	default:
	}
	cycle := time.Since(start)
	fmt.Printf("outbox on %s, %d rows\n", backend, rows)
	fmt.Printf("  enqueue (batches of 500)             %.0f rows/s\n", float64(rows)/enqueue.Seconds())
	fmt.Printf("  claim (256 at a time) and finish     %.0f rows/s (%d finished)\n", float64(finished)/cycle.Seconds(), finished)
	return nil
}
