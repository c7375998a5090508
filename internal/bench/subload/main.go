// Command subload measures the subscriber fan-out: one incident update told to N confirmed
// email subscribers, each a mail handed to an SMTP server on loopback, on SQLite or Redis.
//
// The SMTP server runs in a child process (this binary with -receiver), so the CPU and memory
// figures are Upstate's: the SRE's update through the service, the fan-out writing the outbox
// rows in batches, the dispatcher claiming them and the subscriber channel composing and sending
// each mail over its pooled connections, and each outcome recorded.
//
// It prints the SRE's call (Incidents.Update), the time until the last mail was accepted by the
// SMTP server, mails per second, CPU and peak RSS, and how long a webhook alert routed to the
// SREs for the same update took meanwhile (it must not queue behind the fan-out).
//
//	go run ./internal/bench/subload -subscribers 100000 -backend sqlite
//	go run ./internal/bench/subload -subscribers 100000 -backend redis   # starts redis-server
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
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

func main() {
	subscribers := flag.Int("subscribers", 100_000, "confirmed email subscribers")
	backend := flag.String("backend", "sqlite", "sqlite or redis")
	redisAddr := flag.String("redis", "", "a redis-server to use (default: start one on a free port)")
	conns := flag.Int("mail-connections", notify.DefaultMailConnections, "SMTP connections at once (subscribers.mail_connections)")
	workers := flag.Int("workers", notify.DefaultWorkers, "deliveries in flight (notify.workers)")
	backlog := flag.Int("backlog", notify.DefaultFanoutBacklog, "rows waiting for their first attempt before the fan-out waits")
	receiver := flag.Bool("receiver", false, "internal: run the SMTP server (child process)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the fan-out to this `file`")
	flag.Parse()
	if *receiver {
		serveSMTP()
		return
	}
	if err := run(*subscribers, *backend, *redisAddr, *conns, *workers, *backlog, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "subload:", err)
		os.Exit(1)
	}
}

// serveSMTP runs an SMTP server on loopback, prints its address, then answers each line on
// stdin with "count N": the mails it accepted.
func serveSMTP() {
	var accepted atomic.Int64
	addr, err := loadkit.ServeSMTP(&accepted)
	if err != nil {
		panic(err)
	}
	loadkit.AnswerCounts("smtp "+addr, &accepted)
}

func run(n int, backend, redisAddr string, conns, workers, backlog int, profile string) error {
	ctx := context.Background()
	if backend == "redis" && redisAddr == "" {
		addr, stop, err := loadkit.StartRedis()
		if err != nil {
			return err
		}
		defer stop()
		redisAddr = addr
	}
	st, closeStore, err := loadkit.OpenStore(ctx, backend, redisAddr, "subload")
	if err != nil {
		return err
	}
	defer closeStore()
	rec, err := loadkit.StartChild("-receiver")
	if err != nil {
		return err
	}
	defer rec.Stop()

	// The subscribers, imported at once (the store is empty): confirmed, by email, every
	// component, one in five in Chinese.
	seeded := time.Now()
	now := time.Now().UTC()
	records := make([]store.Record, 0, n)
	for i := range n {
		lang := "en"
		if i%5 == 0 {
			lang = "zh-Hans"
		}
		sub := store.Subscriber{ID: fmt.Sprintf("sub-%08d", i), Channel: store.SubscriberEmail, Address: fmt.Sprintf("s%d@example.com", i),
			Language: lang, State: store.SubscriberConfirmed, LinkKey: fmt.Sprintf("%032x", i), Source: "import", CreatedAt: now, UpdatedAt: now,
			ConfirmedAt: now, Version: 1}
		records = append(records, store.Record{Type: store.RecordSubscriber, Subscriber: &sub})
	}
	if err := st.Import(ctx, records); err != nil {
		return err
	}
	records = nil
	fmt.Printf("seeded %d subscribers on %s in %s\n", n, backend, time.Since(seeded).Round(time.Millisecond))

	host, port, _ := net.SplitHostPort(strings.TrimPrefix(rec.Hello, "smtp "))
	p, _ := strconv.Atoi(port)
	mailer := notify.SMTP{Host: host, Port: p, TLS: "none", From: "Load Status <status@example.com>", Timeout: 30 * time.Second}
	page := notify.Page{Title: "Load", PublicURL: "https://status.example.com", Location: time.UTC}
	var alertAt atomic.Int64
	sre := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		alertAt.CompareAndSwap(0, time.Now().UnixNano())
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sre.Close()
	clock := clockwork.NewRealClock()
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: clock, SMTP: mailer, Version: "bench",
		Targets: []notify.Target{{ID: "oncall", Kind: notify.KindWebhook, URL: sre.URL + "/oncall"}}})
	if err != nil {
		return err
	}
	bus := events.NewBus(nil)
	svc := service.New(service.Options{Store: st, Clock: clock, Targets: chans, Bus: bus,
		Subscribers: service.SubscriberOptions{Languages: []string{"en", "zh-Hans"}}})
	if err := svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
		return err
	}
	inc, err := svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "API errors", Body: "Investigating.", Severity: incidents.P1,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.PartialOutage}}})
	if err != nil {
		return err
	}
	// The fan-out starts after the declaration: what is measured is the update.
	var last int64
	for {
		es, err := st.ReadJournal(ctx, last, 500)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			break
		}
		last = es[len(es)-1].Seq
	}
	for _, reader := range []string{notify.SubscriberReader, notify.JournalReader} {
		if err := svc.Notifications.AdvanceJournal(ctx, reader, last); err != nil {
			return err
		}
	}
	nt, err := notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Page: page, Clock: clock, Workers: workers,
		Bus: bus, Poll: 100 * time.Millisecond, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Rules: notify.Rules{Routes: []notify.Route{{Name: "sre", Kinds: []string{"incident.updated"}, Targets: []string{"oncall"}}}}})
	if err != nil {
		return err
	}
	fan, err := notify.EnableSubscribers(chans, notify.SubscriberOptions{Store: st, Door: svc.Subscribers, Outbox: svc.Notifications, Page: page,
		SMTP: mailer, DefaultLanguage: "en", MailConnections: conns, MaxBacklog: backlog, Poll: 100 * time.Millisecond, Leader: nt,
		Bus: bus, Wake: nt.Wake, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer fan.Close()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 2)
	go func() { done <- nt.Run(runCtx) }()
	go func() { done <- fan.Run(runCtx) }()
	time.Sleep(500 * time.Millisecond) // both have read the journal up to here
	runtime.GC()

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	want := int64(n)
	cpu0, start := loadkit.CPUTime(), time.Now()
	if _, err := svc.Incidents.Update(ctx, service.Actor{Name: "sre"}, inc.ID, incidents.Change{Body: "A fix is being **deployed**.", Status: incidents.Identified}); err != nil {
		return err
	}
	call := time.Since(start)
	var got int64
	var half time.Duration
	for got < want {
		time.Sleep(20 * time.Millisecond)
		if got = rec.Count(); got < 0 {
			return fmt.Errorf("the receiver died")
		}
		if half == 0 && got >= want/2 {
			half = time.Since(start)
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("only %d of %d mails after 30 minutes", got, want)
		}
	}
	elapsed, cpu := time.Since(start), loadkit.CPUTime()-cpu0
	if profile != "" {
		pprof.StopCPUProfile()
	}
	cancel()
	<-done
	<-done
	stats, _ := st.OutboxStats(ctx)
	fmt.Printf("fan-out on %s: 1 incident update to %d confirmed email subscribers (mail connections %d, workers %d, backlog %d)\n",
		backend, n, conns, workers, backlog)
	fmt.Printf("  the SRE's call (Incidents.Update)       %s\n", call.Round(time.Microsecond))
	if a := alertAt.Load(); a > 0 {
		fmt.Printf("  the SREs' webhook alert delivered after %s\n", time.Duration(a-start.UnixNano()).Round(time.Millisecond))
	}
	fmt.Printf("  half of the mails accepted after        %s\n", half.Round(time.Millisecond))
	fmt.Printf("  the last mail accepted after            %s\n", elapsed.Round(time.Millisecond))
	fmt.Printf("  mails per second                        %.0f\n", float64(want)/elapsed.Seconds())
	fmt.Printf("  CPU                                     %s (%.3f ms per mail)\n", cpu.Round(time.Millisecond), float64(cpu.Microseconds())/1000/float64(want))
	fmt.Printf("  peak RSS                                %.1f MiB\n", float64(loadkit.PeakRSS())/(1<<20))
	fmt.Printf("  outbox after                            %d delivered, %d waiting, %d dead\n", stats.ByState[store.NotificationDelivered],
		stats.ByState[store.NotificationPending]+stats.ByState[store.NotificationSending], stats.ByState[store.NotificationDead])
	return nil
}
