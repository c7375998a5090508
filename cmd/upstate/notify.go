package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// notifyPage is how messages name the page.
func notifyPage(cfg *configs.Config) notify.Page {
	return notify.Page{Title: cfg.Server.Title, PublicURL: cfg.Server.PublicURL, Location: cfg.Location}
}

// notifyChannels builds the configured targets' channels; those made through the admin API
// are read from api (nil: none) when the channels Sync.
func notifyChannels(cfg *configs.Config, clock clockwork.Clock, api notify.TargetSource) (*notify.Channels, error) {
	n := cfg.Notify
	pool, err := cfg.SMTPRootCAs()
	if err != nil {
		return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
	}
	targets := make([]notify.Target, len(n.Targets))
	for i, t := range n.Targets {
		targets[i] = notify.Target{ID: t.ID, Kind: notify.Kind(t.Kind), URL: t.URL, Secret: t.Secret, Headers: t.Headers, To: t.To,
			RoutingKey: t.RoutingKey, Timeout: t.Timeout, MaxInFlight: t.MaxInFlight}
	}
	s := n.SMTP
	return notify.NewChannels(notify.ChannelOptions{Targets: targets, Page: notifyPage(cfg), Clock: clock, Version: version, APITargets: api,
		SMTP: notify.SMTP{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password, Auth: s.Auth, From: s.From,
			HELO: s.HELO, RootCAs: pool, Timeout: s.Timeout}})
}

// notifyRules are the config's routes and escalations as the router applies them.
func notifyRules(cfg *configs.Config) notify.Rules {
	r := notify.Rules{Policies: cfg.SLAPolicies(), MonitorSeverity: cfg.MonitorSeverities(), SLAWarnings: cfg.Notify.SLAWarnings,
		Escalations: notify.Escalations{}}
	for _, rt := range cfg.Notify.Routes {
		r.Routes = append(r.Routes, notify.Route{Name: rt.Name, Kinds: rt.Kinds, Components: rt.Components, Severities: rt.Severities,
			Targets: rt.Targets, GroupBy: rt.GroupBy, GroupWait: rt.GroupWait, Repeat: rt.Repeat})
	}
	if !cfg.NotifyOn() {
		return r // no targets: the escalations name nothing to send to
	}
	for policy, bySev := range cfg.Escalations() {
		r.Escalations[policy] = map[incidents.Severity]notify.Escalation{}
		for sev, e := range bySev {
			esc := notify.Escalation{Repeat: e.Repeat}
			for _, s := range e.Steps {
				step := notify.Step{Fraction: s.Fraction, Targets: s.Notify}
				if s.After != nil {
					step.After = *s.After
				}
				esc.Steps = append(esc.Steps, step)
			}
			r.Escalations[policy][sev] = esc
		}
	}
	return r
}

// newNotifier wires the router and the dispatcher to the store, the service and the bus. They
// run where leader says (the engine's election: on Redis, the instance that holds the leader
// lease runs every singleton job, notifications included; alone, always).
func newNotifier(cfg *configs.Config, st store.Store, svc *service.Service, chans *notify.Channels, clock clockwork.Clock,
	log *slog.Logger, reg prometheus.Registerer, bus *events.Bus, leader notify.Leader) (*notify.Notifier, error) {
	n := cfg.Notify
	return notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Rules: notifyRules(cfg), Page: notifyPage(cfg),
		Retry: notify.Retry{Min: n.Retry.Min, Max: n.Retry.Max, DeadAfter: n.Retry.DeadAfter}, Workers: n.Workers, Poll: n.Poll,
		TickEvery: n.EscalationEvery, Retention: n.Retention, Instance: cfg.InstanceID(), LeaseTTL: cfg.Cluster.Lease, Bus: bus,
		Leader: leader, Clock: clock, Logger: log, Registry: reg})
}

// targetsUsedBy names, per target, the config's routes and the policies' escalation steps
// that send to it, for the targets API.
func targetsUsedBy(cfg *configs.Config) map[string][]string {
	out := map[string][]string{}
	add := func(target, what string) {
		if !slices.Contains(out[target], what) {
			out[target] = append(out[target], what)
		}
	}
	for _, r := range cfg.Notify.Routes {
		for _, t := range r.Targets {
			add(t, "route "+r.Name)
		}
	}
	if !cfg.NotifyOn() {
		return out
	}
	for _, policy := range slices.Sorted(maps.Keys(cfg.Escalations())) {
		bySev := cfg.Escalations()[policy]
		sevs := map[string][]string{} // target -> the severities whose escalation names it
		for _, sev := range slices.Sorted(maps.Keys(bySev)) {
			for _, step := range bySev[sev].Steps {
				for _, t := range step.Notify {
					if !slices.Contains(sevs[t], string(sev)) {
						sevs[t] = append(sevs[t], string(sev))
					}
				}
			}
		}
		for _, t := range slices.Sorted(maps.Keys(sevs)) {
			add(t, "escalation "+policy+" "+strings.Join(sevs[t], ","))
		}
	}
	return out
}

const notifyUsage = `Usage:
  upstate notify test -config FILE TARGET           send a test message to a configured target now
  upstate notify receive [-listen ADDR] [-secret S]  print the webhooks Upstate sends (a local receiver)
`

func notifyCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, notifyUsage)
		return 2
	}
	switch args[0] {
	case "test":
		return notifyTest(args[1:], stdout, stderr)
	case "receive":
		return notifyReceive(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, notifyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "upstate notify: unknown subcommand %q (want test or receive)\n", args[0])
	return 2
}

// notifyTest sends a test message through the service, which records it in the audit log.
func notifyTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("notify test", "notify test -config FILE TARGET", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` declaring the target")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	clock := clockwork.NewRealClock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate notify test: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	chans, err := notifyChannels(cfg, clock, st)
	if err == nil {
		defer chans.Close()
		err = chans.Sync(ctx) // the targets made through the admin API
	}
	if err != nil {
		fmt.Fprintf(stderr, "upstate notify test: %v\n", err)
		return 1
	}
	target := fs.Arg(0)
	if _, ok := chans.Target(target); !ok {
		var ids []string
		for _, t := range chans.AllTargets() {
			ids = append(ids, t.ID)
		}
		fmt.Fprintf(stderr, "upstate notify test: no target %q in %s or made through the admin API (targets: %v)\n", target, *configPath, ids)
		return 2
	}
	svc := service.New(service.Options{Store: st, Clock: clock, Targets: chans})
	start := time.Now()
	if err := svc.Notifications.TestTarget(ctx, service.Actor{Name: "cli"}, target); err != nil {
		fmt.Fprintf(stderr, "upstate notify test: %s: not delivered after %s: %v\n", target, time.Since(start).Round(time.Millisecond), err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: delivered in %s\n", target, time.Since(start).Round(time.Millisecond))
	return 0
}

// notifyReceive is a webhook receiver for trying notifications out locally: it verifies each
// request's signature and prints what it says.
func notifyReceive(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("notify receive", "notify receive [-listen ADDR] [-secret S]", stderr)
	listen := fs.String("listen", "127.0.0.1:9099", "the `address` to listen on")
	secret := fs.String("secret", "", "verify signatures with this `secret` (the target's)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "upstate notify receive: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "receiving webhooks on http://%s/ (Ctrl-C stops)\n", ln.Addr())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: receiver(*secret, stdout)}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "upstate notify receive: %v\n", err)
		return 1
	}
	return 0
}

// receivedUpstate is the part of a webhook's body the receiver prints.
type receivedUpstate struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Action  string `json:"action"`
}

func receiver(secret string, out io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "POST a body", http.StatusBadRequest)
			return
		}
		var p struct {
			Upstate *receivedUpstate `json:"upstate"`
			Text    string           `json:"text"` // a chat post (Slack's and Mattermost's incoming webhook)
		}
		_ = json.Unmarshal(body, &p)
		if p.Upstate == nil && p.Text != "" {
			// A chat post, as shoutrrr's slack-style services send it (unsigned: chat services
			// sign nothing): print it, answer as Mattermost does (200, which its client wants).
			fmt.Fprintf(out, "%s %s chat post\n  %s\n", time.Now().Format(time.RFC3339), r.URL.Path, strings.ReplaceAll(strings.TrimSpace(p.Text), "\n", "\n  "))
			_, _ = io.WriteString(w, "ok")
			return
		}
		verdict := "unsigned"
		if secret != "" {
			if err := notify.Verify([]byte(secret), r.Header.Get(notify.SignatureHeader), body, time.Now(), notify.DefaultTolerance); err != nil {
				fmt.Fprintf(out, "%s %s REFUSED: %v\n", time.Now().Format(time.RFC3339), r.URL.Path, err)
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			verdict = "signature ok"
		}
		if p.Upstate == nil {
			p.Upstate = &receivedUpstate{}
		}
		fmt.Fprintf(out, "%s %s %s attempt %s key %s (%s) %s\n  %s\n", time.Now().Format(time.RFC3339), r.URL.Path, r.Header.Get(notify.EventHeader),
			r.Header.Get(notify.AttemptHeader), r.Header.Get(notify.IdempotencyHeader), verdict, p.Upstate.Action, p.Upstate.Subject)
		w.WriteHeader(http.StatusNoContent)
	})
}
