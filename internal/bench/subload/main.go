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
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{n: &accepted}, nil }))
	s.Domain, s.AllowInsecureAuth, s.MaxMessageBytes = "localhost", true, 1<<20
	go func() { _ = s.Serve(ln) }()
	fmt.Printf("smtp %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("count %d\n", accepted.Load())
	}
}

type session struct{ n *atomic.Int64 }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.n.Add(1)
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

type child struct {
	cmd  *exec.Cmd
	in   io.Writer
	out  *bufio.Scanner
	addr string
}

func startReceiver() (*child, error) {
	cmd := exec.Command(os.Args[0], "-receiver")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !c.out.Scan() {
		return nil, fmt.Errorf("the receiver did not start")
	}
	c.addr = strings.TrimPrefix(c.out.Text(), "smtp ")
	return c, nil
}

func (c *child) count() int64 {
	fmt.Fprintln(c.in)
	if !c.out.Scan() {
		return -1
	}
	n, _ := strconv.ParseInt(strings.TrimPrefix(c.out.Text(), "count "), 10, 64)
	return n
}

func (c *child) stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

func startRedis() (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "subload-redis")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

func run(n int, backend, redisAddr string, conns, workers, backlog int, profile string) error {
	ctx := context.Background()
	var st store.Store
	var err error
	if backend == "redis" {
		if redisAddr == "" {
			addr, stop, err := startRedis()
			if err != nil {
				return err
			}
			defer stop()
			redisAddr = addr
		}
		st, err = redis.Open(ctx, redis.Options{Addrs: []string{redisAddr}, KeyPrefix: "subload"})
	} else {
		dir, derr := os.MkdirTemp("", "subload")
		if derr != nil {
			return derr
		}
		defer os.RemoveAll(dir)
		st, err = sqlite.Open(ctx, filepath.Join(dir, "upstate.db"))
	}
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := startReceiver()
	if err != nil {
		return err
	}
	defer rec.stop()

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

	host, port, _ := net.SplitHostPort(rec.addr)
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
	cpu0, start := cpuTime(), time.Now()
	if _, err := svc.Incidents.Update(ctx, service.Actor{Name: "sre"}, inc.ID, incidents.Change{Body: "A fix is being **deployed**.", Status: incidents.Identified}); err != nil {
		return err
	}
	call := time.Since(start)
	var got int64
	var half time.Duration
	for got < want {
		time.Sleep(20 * time.Millisecond)
		if got = rec.count(); got < 0 {
			return fmt.Errorf("the receiver died")
		}
		if half == 0 && got >= want/2 {
			half = time.Since(start)
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("only %d of %d mails after 30 minutes", got, want)
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
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
	fmt.Printf("  peak RSS                                %.1f MiB\n", float64(peakRSS())/(1<<20))
	fmt.Printf("  outbox after                            %d delivered, %d waiting, %d dead\n", stats.ByState[store.NotificationDelivered],
		stats.ByState[store.NotificationPending]+stats.ByState[store.NotificationSending], stats.ByState[store.NotificationDead])
	return nil
}
