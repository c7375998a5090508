// Command upstate is a self-hosted status page and availability monitor.
//
//	upstate serve -config upstate.yaml      run everything
//	upstate check-config upstate.yaml       validate a config file
//	upstate keys create|list|revoke         manage admin API keys
//	upstate version
//
// This package only wires the others together.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // zones must resolve on machines without a zoneinfo database

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `Upstate: a self-hosted status page and availability monitor.

Usage:
  upstate serve -config FILE [-listen ADDR]   run the monitor, the page and the APIs
  upstate check-config FILE                   validate a config file; exit 1 on errors
  upstate keys create -config FILE -name NAME -scope SCOPES
  upstate keys list -config FILE
  upstate keys revoke -config FILE ID
  upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]
  upstate report -config FILE -month YYYY-MM [-component ID] [-format json|csv]
  upstate export -config FILE [-o FILE]     everything, as JSON Lines
  upstate import -config FILE [-i FILE]     into an empty store; all or nothing
  upstate version

Run "upstate COMMAND -help" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stdout, stderr)
	case "check-config":
		return checkConfig(rest, stdout, stderr)
	case "keys":
		return keys(rest, stdout, stderr)
	case "sla":
		return sla(rest, stdout, stderr)
	case "report":
		return report(rest, stdout, stderr)
	case "export":
		return exportCmd(rest, stdout, stderr)
	case "import":
		return importCmd(rest, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "upstate %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "upstate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// newFlags makes a subcommand's flag set whose -help prints its usage.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: upstate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit code when the command should stop (after -help, 0).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func loadConfig(path string, stderr io.Writer) (*configs.Config, bool) {
	cfg, err := configs.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return cfg, true
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", "check-config FILE", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg, err := configs.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		if n := strings.Count(err.Error(), "\n") + 1; n > 1 {
			fmt.Fprintf(stderr, "%d problems\n", n)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d groups, %d components, %d monitors, %s store)\n",
		fs.Arg(0), len(cfg.Groups), len(cfg.Components), len(cfg.Monitors), cfg.Storage.Backend)
	return 0
}

func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg *configs.Config) (store.Store, error) {
	switch cfg.Storage.Backend {
	case "redis":
		r := cfg.Storage.Redis
		return redis.Open(ctx, redis.Options{Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
			Username: r.Username, Password: r.Password, DB: r.DB, KeyPrefix: r.KeyPrefix})
	default:
		path := cfg.SQLitePath()
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create the database directory: %w", err)
		}
		return sqlite.Open(ctx, path)
	}
}

func serve(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "serve -config FILE [-listen ADDR] [-dev-assets DIR]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file`")
	listen := fs.String("listen", "", "listen on this `address` instead of server.listen")
	devAssets := fs.String("dev-assets", "", "serve templates and static files from this `directory` instead of the embedded ones")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveConfig(ctx, cfg, *devAssets, log); err != nil {
		log.Error("upstate stopped with an error", "err", err)
		return 1
	}
	return 0
}

// serveConfig runs Upstate until ctx ends, then shuts down in order: the HTTP server stops
// accepting and finishes in-flight requests, the engine stops its scheduler and writes what it
// holds, and the store is closed last. Shutdown is bounded by server.shutdown_timeout.
func serveConfig(ctx context.Context, cfg *configs.Config, devAssets string, log *slog.Logger) error {
	clock := clockwork.NewRealClock()
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Storage.Backend, err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	now := clock.Now().UTC()
	if err := engine.SyncComponents(ctx, st, cfg.ComponentList(now), now); err != nil {
		return err
	}
	if err := engine.SyncWindows(ctx, st, cfg.MaintenanceWindows, now); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	bus := engine.NewBus(reg)
	eng, err := engine.New(engine.Options{Store: st, Clock: clock, Logger: log, Registerer: reg, Bus: bus, Monitors: cfg.ProbeMonitors(),
		MaxConcurrentProbes: cfg.Probes.MaxConcurrent,
		Reminders:           cfg.Maintenance.Reminders, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy,
		MonitorSeverity: cfg.MonitorSeverities(), Recovery: engine.Recovery(cfg.Incidents.Recovery), Reports: newReports(st, cfg)})
	if err != nil {
		return err
	}
	files := assets.FS()
	if devAssets != "" {
		files = os.DirFS(devAssets)
	}
	links := make([]statuspage.Link, len(cfg.Server.Links))
	for i, l := range cfg.Server.Links {
		links[i] = statuspage.Link{Title: l.Title, URL: l.URL}
	}
	var proxies []*net.IPNet
	for _, cidr := range cfg.Server.TrustedProxies {
		_, n, _ := net.ParseCIDR(cidr) // validated at load
		proxies = append(proxies, n)
	}
	// A reload re-reads the file and applies what can change without a restart: components,
	// maintenance windows and monitors. A file that does not load changes nothing.
	var reloadMu sync.Mutex
	reload := func(ctx context.Context) (any, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		next, err := configs.Load(cfg.File)
		if err != nil {
			return nil, err
		}
		now := clock.Now().UTC()
		if err := engine.SyncComponents(ctx, st, next.ComponentList(now), now); err != nil {
			return nil, err
		}
		if err := engine.SyncWindows(ctx, st, next.MaintenanceWindows, now); err != nil {
			return nil, err
		}
		sum, err := eng.Reload(ctx, next.ProbeMonitors(), next.MonitorSeverities())
		if err != nil {
			return nil, err
		}
		log.Info("configuration reloaded", "file", cfg.File, "monitors_added", len(sum.Added), "monitors_changed", len(sum.Changed), "monitors_removed", len(sum.Removed))
		return map[string]any{"monitors": sum, "components": len(next.Components), "maintenance_windows": len(next.Maintenance.Windows),
			"restart_needed_for": "server, storage, log, probes, slas, objectives and incident settings"}, nil
	}
	srv, err := statuspage.New(statuspage.Options{
		Store: st, Clock: clock, Logger: log, Registry: reg, Assets: files, Version: version,
		Page: statuspage.Page{Title: cfg.Server.Title, Description: cfg.Server.Description, PublicURL: cfg.Server.PublicURL,
			Location: cfg.Location, LogoURL: cfg.Server.LogoURL, Links: links},
		Maintenance:    statuspage.Maintenance{NoticePeriod: cfg.Maintenance.NoticePeriod, Horizon: cfg.Maintenance.Horizon},
		SLA:            statuspage.SLA{Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy},
		Reports:        newReports(st, cfg),
		Monitors:       eng,
		Reload:         reload,
		PublicMonitors: cfg.Server.PublicMonitors,
		RequestTimeout: cfg.Server.RequestTimeout, MaxBodyBytes: cfg.Server.MaxBodyBytes, TrustedProxies: proxies,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("upstate starting", "version", version, "listen", ln.Addr().String(), "store", cfg.Storage.Backend,
		"components", len(cfg.Components), "monitors", len(cfg.Monitors), "page", cfg.Server.PublicURL)

	hup := make(chan os.Signal, 1) // registered before anything runs, so a SIGHUP never kills
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		reloadOnHangup(gctx, hup, func(ctx context.Context) error {
			sum, err := reload(ctx)
			if err != nil {
				return err
			}
			now := clock.Now().UTC()
			return st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "signal", Action: "config.reload", Target: "config",
				Before: store.Null, After: store.MustJSON(sum)})
		}, log)
		return nil
	})
	g.Go(func() error { return srv.Run(gctx, ln, cfg.Server.ShutdownTimeout) })
	g.Go(func() error { return eng.Run(gctx) })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-gctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout)
	select {
	case err := <-done:
		return err
	case <-time.After(cfg.Server.ShutdownTimeout + 5*time.Second):
		return errors.New("shutdown did not finish in time")
	}
}

func keys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "Usage: upstate keys create|list|revoke -config FILE ...\n")
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("keys "+sub, "keys "+sub+" -config FILE", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store")
	var name, scopes *string
	switch sub {
	case "create":
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: upstate keys create -config FILE -name NAME -scope read,incidents,maintenance,admin\n\nFlags:\n")
			fs.PrintDefaults()
		}
		name = fs.String("name", "", "a `name` for the key; the audit log records changes under it")
		scopes = fs.String("scope", "read", "comma-separated `scopes`: read, incidents, maintenance, admin")
	case "list":
	case "revoke":
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: upstate keys revoke -config FILE ID\n\nFlags:\n")
			fs.PrintDefaults()
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, "Usage: upstate keys create|list|revoke -config FILE ...\n")
		return 0
	default:
		fmt.Fprintf(stderr, "upstate keys: unknown subcommand %q (want create, list or revoke)\n", sub)
		return 2
	}
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate keys: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	now := time.Now().UTC()
	who := "cli"
	if u, err := user.Current(); err == nil {
		who = "cli:" + u.Username
	}
	switch sub {
	case "create":
		sc, err := apikey.ParseScopes(*scopes)
		if err != nil {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 2
		}
		key, token, err := apikey.Generate(nil, *name, sc, now)
		if err != nil {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 2
		}
		a := store.AuditEntry{At: now, Actor: who, Action: "key.create", Target: "key/" + key.ID,
			After: store.MustJSON(map[string]any{"id": key.ID, "name": key.Name, "scopes": key.Scopes})}
		if err := st.CreateKey(ctx, key, a); err != nil {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "Created key %q (id %s, scopes %s). This is the only time the token is shown:\n", key.Name, key.ID, *scopes)
		fmt.Fprintln(stdout, token)
	case "list":
		list, err := st.ListKeys(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "upstate keys list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
		for _, k := range list {
			sc := make([]string, len(k.Scopes))
			for i, s := range k.Scopes {
				sc[i] = string(s)
			}
			sort.Strings(sc)
			revoked := "-"
			if k.Revoked() {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(sc, ","), k.CreatedAt.Format(time.RFC3339), revoked)
		}
		tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		id := fs.Arg(0)
		a := store.AuditEntry{At: now, Actor: who, Action: "key.revoke", Target: "key/" + id, After: store.MustJSON(map[string]any{"revoked_at": now})}
		if err := st.RevokeKey(ctx, id, now, a); err != nil {
			fmt.Fprintf(stderr, "upstate keys revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
	}
	return 0
}

// sla prints when a policy's targets fall due for an incident opened at a given time, so an
// operator can check a promise without opening an incident.
func sla(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "deadlines" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, "Usage: upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]\n")
			return 0
		}
		fmt.Fprint(stderr, "Usage: upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]\n")
		return 2
	}
	fs := newFlags("sla deadlines", "sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` holding the policies")
	policy := fs.String("policy", "", "the `policy`; default: the config's default policy")
	severity := fs.String("severity", "", "the incident's `severity`: P0, P1, P2 or P3")
	opened := fs.String("opened", "", "when the incident was opened, `RFC3339` (default: now)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	name := *policy
	if name == "" {
		name = cfg.DefaultPolicy
	}
	p, found := cfg.SLAPolicies()[name]
	if !found {
		ids := make([]string, 0, len(cfg.SLAPolicies()))
		for id := range cfg.SLAPolicies() {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(stderr, "upstate sla deadlines: unknown policy %q (the config has: %s)\n", name, strings.Join(ids, ", "))
		return 2
	}
	at := time.Now()
	if *opened != "" {
		t, err := time.Parse(time.RFC3339, *opened)
		if err != nil {
			fmt.Fprintf(stderr, "upstate sla deadlines: -opened: want an RFC 3339 time such as 2026-11-20T19:30:00+08:00\n")
			return 2
		}
		at = t
	}
	d, err := p.Deadlines(incidents.Severity(*severity), at)
	if err != nil {
		fmt.Fprintf(stderr, "upstate sla deadlines: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		fmt.Fprintf(stderr, "upstate sla deadlines: %v\n", err)
		return 1
	}
	return 0
}

// newReports builds the availability report service for a store and config.
func newReports(st store.Store, cfg *configs.Config) *engine.Reports {
	return &engine.Reports{Store: st, Now: time.Now, Objective: func(id string) engine.Objective {
		o := cfg.ObjectiveFor(id)
		return engine.Objective{ID: o.ID, Objective: o.Objective, Location: o.Location, Notice: o.Notice}
	}}
}

// report prints availability reports for a month.
func report(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "report -config FILE -month YYYY-MM [-component ID] [-format json|csv]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store and objectives")
	month := fs.String("month", "", "the calendar `month`, YYYY-MM, in each objective's zone")
	comp := fs.String("component", "", "only this component's `id`")
	format := fs.String("format", "json", "json or csv")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	y, m, err := statuspage.ParseMonth(*month)
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: -month: %v\n", err)
		return 2
	}
	if *format != "json" && *format != "csv" {
		fmt.Fprintf(stderr, "upstate report: -format must be json or csv\n")
		return 2
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	reps := newReports(st, cfg)
	var list []engine.ComponentReport
	if *comp != "" {
		r, err := reps.Month(ctx, *comp, y, m)
		if err != nil {
			fmt.Fprintf(stderr, "upstate report: %v\n", err)
			return 1
		}
		list = append(list, r)
	} else if list, err = reps.AllMonth(ctx, y, m); err != nil {
		fmt.Fprintf(stderr, "upstate report: %v\n", err)
		return 1
	}
	views := make([]statuspage.ReportView, len(list))
	for i, r := range list {
		views[i] = statuspage.ViewReport(r)
	}
	if *format == "csv" {
		err = statuspage.WriteReportsCSV(stdout, views)
	} else {
		err = statuspage.WriteReportsJSON(stdout, views)
	}
	if err != nil {
		fmt.Fprintf(stderr, "upstate report: %v\n", err)
		return 1
	}
	return 0
}

// reloadOnHangup reloads the configuration on each SIGHUP until ctx ends; a bad file is
// logged and the running configuration kept.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, reload func(context.Context) error, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := reload(ctx); err != nil {
				log.Error("configuration not reloaded; the running one is kept", "err", err)
			}
		}
	}
}
