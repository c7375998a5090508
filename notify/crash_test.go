package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// The crash tests run Upstate's write path and notifier in a child process (this test binary
// started again with UPSTATE_NOTIFY_CRASH set) and kill it with SIGKILL: once between the
// changes being stored and any notification being routed, once in the middle of deliveries.
func TestMain(m *testing.M) {
	if phase := os.Getenv("UPSTATE_NOTIFY_CRASH"); phase != "" {
		os.Exit(crashChild(phase, os.Getenv("UPSTATE_NOTIFY_BACKEND"), os.Getenv("UPSTATE_NOTIFY_TARGET"), os.Getenv("UPSTATE_NOTIFY_URL")))
	}
	os.Exit(m.Run())
}

const crashIncidents = 20

func openCrashStore(ctx context.Context, backend, target string) (store.Store, error) {
	if backend == "sqlite" {
		return sqlite.Open(ctx, target)
	}
	return redis.Open(ctx, redis.Options{Addrs: []string{target}, KeyPrefix: "crash"})
}

// crashNotifier is the notifier both the child and the parent run: one webhook target, every
// declared incident routed to it, claims held 2 s (a dead dispatcher's claims run out fast).
func crashNotifier(st store.Store, url string, clock clockwork.Clock) (*service.Service, *notify.Notifier, error) {
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: clock,
		Targets: []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: url, Secret: "whsec", Timeout: time.Second}}})
	if err != nil {
		return nil, nil, err
	}
	svc := service.New(service.Options{Store: st, Clock: clock, Targets: chans})
	n, err := notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Page: page, Clock: clock,
		Rules: notify.Rules{Routes: []notify.Route{{Kinds: []string{"incident.declared"}, Targets: []string{"ops"}}}},
		Poll:  20 * time.Millisecond, ClaimHold: 2 * time.Second, LeaseTTL: time.Second,
		Retry: notify.Retry{Min: 100 * time.Millisecond, Max: time.Second, DeadAfter: time.Hour}})
	return svc, n, err
}

func crashChild(phase, backend, target, url string) int {
	ctx := context.Background()
	st, err := openCrashStore(ctx, backend, target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	svc, n, err := crashNotifier(st, url, clockwork.NewRealClock())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	switch phase {
	case "write":
		// Declare incidents; nothing routes them: the process dies with the notifications
		// owed only in the journal.
		if err := svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 1
		}
		for i := range crashIncidents {
			if _, err := svc.Incidents.Declare(ctx, service.Actor{Name: "ops"}, incidents.Declaration{Title: "Incident " + strconv.Itoa(i),
				Body: "x", Severity: incidents.P1}); err != nil {
				fmt.Fprintln(os.Stderr, "child:", err)
				return 1
			}
			fmt.Printf("ack %d\n", i) // unbuffered: the ack leaves before the next write
		}
	case "deliver":
		go func() { _ = n.Run(ctx) }()
		fmt.Println("running")
	}
	select {} // until killed
}

// startCrashChild starts the child and returns it with its stdout.
func startCrashChild(t *testing.T, phase, backend, target, url string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "UPSTATE_NOTIFY_CRASH="+phase, "UPSTATE_NOTIFY_BACKEND="+backend, "UPSTATE_NOTIFY_TARGET="+target, "UPSTATE_NOTIFY_URL="+url)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred function, no flush, no goodbye
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// TestCrashLosesNoNotification: a process that stored twenty incidents is killed before it
// routed any; a second is killed while the receiver holds its first deliveries unanswered; a
// third delivers everything. Each incident's notification reaches the receiver at least once
// and at most twice, every attempt under one idempotency key.
func TestCrashLosesNoNotification(t *testing.T) {
	for _, backend := range []string{"sqlite", "redis"} {
		t.Run(backend, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "upstate.db")
			if backend == "redis" {
				target = redistest.Start(t, redistest.Options{}).Addr
			}
			recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "whsec"})

			// 1. Stored, then killed before anything was routed.
			cmd, out := startCrashChild(t, "write", backend, target, recv.URL)
			acked := 0
			for acked < crashIncidents && out.Scan() {
				if strings.HasPrefix(out.Text(), "ack ") {
					acked++
				}
			}
			if acked != crashIncidents {
				t.Fatalf("the writer acknowledged %d incidents", acked)
			}
			kill9(t, cmd)
			st, err := openCrashStore(t.Context(), backend, target)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			journal, err := st.ReadJournal(t.Context(), 0, 100)
			if err != nil || len(journal) != crashIncidents {
				t.Fatalf("after kill -9 the journal holds %d entries (%v), want %d", len(journal), err, crashIncidents)
			}
			if ns, _ := st.ListNotifications(t.Context(), store.NotificationQuery{}); len(ns) != 0 {
				t.Fatalf("%d notifications before any router ran", len(ns))
			}

			// 2. Killed mid-delivery: the receiver holds the first requests unanswered.
			recv.Pause()
			cmd, out = startCrashChild(t, "deliver", backend, target, recv.URL)
			notifytest.Eventually(t, 20*time.Second, "the receiver to hold deliveries", func() bool { return recv.Waiting() >= 4 })
			kill9(t, cmd)
			_ = out
			// The held requests see their sender gone before the receiver answers anything.
			notifytest.Eventually(t, 10*time.Second, "the held requests to end", func() bool { return recv.Waiting() == 0 })
			recv.Resume()
			if n := len(recv.Accepted()); n != 0 {
				t.Fatalf("%d accepted before the receiver answered anything", n)
			}

			// 3. A new process delivers what is owed; claims the dead one held run out first.
			_, n, err := crashNotifier(st, recv.URL, clockwork.NewRealClock())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- n.Run(ctx) }()
			keys := func() map[string]int {
				m := map[string]int{}
				for _, d := range recv.Accepted() {
					m[d.Key]++
				}
				return m
			}
			notifytest.Eventually(t, 30*time.Second, "every incident's notification", func() bool { return len(keys()) == crashIncidents })
			time.Sleep(500 * time.Millisecond) // room for a duplicate to show itself
			cancel()
			<-done
			titles := map[string]string{}
			for _, d := range recv.Log() {
				p := d.Decode(t)
				if prev, ok := titles[d.Key]; ok && prev != p.Incident.Name {
					t.Errorf("key %s carried %q and %q: one key, one notification", d.Key, prev, p.Incident.Name)
				}
				titles[d.Key] = p.Incident.Name
			}
			for key, times := range keys() {
				if times > 2 {
					t.Errorf("%s (%s) delivered %d times, want at most twice", key, titles[key], times)
				}
			}
			ns, _ := st.ListNotifications(t.Context(), store.NotificationQuery{})
			for _, n := range ns {
				if n.State != store.NotificationDelivered {
					t.Errorf("%s is %s after the restart", n.ID, n.State)
				}
			}
			if len(ns) != crashIncidents {
				t.Errorf("%d notifications, want %d: one per incident, however often routed", len(ns), crashIncidents)
			}
			t.Logf("%s: %d notifications owed, %d accepted requests, %d held requests lost with the killed process",
				backend, crashIncidents, len(recv.Accepted()), len(recv.Log())-len(recv.Accepted()))
		})
	}
}
