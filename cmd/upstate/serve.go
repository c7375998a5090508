package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/statuspage"
)

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
	st, err := openStoreExclusive(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Storage.Backend, err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collectors.NewBuildInfoCollector())
	bus := events.NewBus(reg)
	chans, err := notifyChannels(cfg, clock, st)
	if err != nil {
		return err
	}
	defer chans.Close() // the email targets' idle SMTP connections
	svc := service.New(service.Options{Store: st, Clock: clock, Bus: bus, Logger: log,
		Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy, Targets: chans, TargetsUsedBy: targetsUsedBy(cfg), Subscribers: subscriberOptions(cfg)})
	if err := syncAgain(func() error { return svc.Components.Sync(ctx, cfg.ComponentList(clock.Now())) }); err != nil {
		return err
	}
	if err := syncAgain(func() error { return svc.Maintenance.Sync(ctx, cfg.MaintenanceSpecs()) }); err != nil {
		return err
	}
	// The page's bars read daily status aggregates kept in the page's zone (docs/storage.md).
	if err := svc.Monitors.KeepDailyStatus(ctx, cfg.Location); err != nil {
		return err
	}
	eng, err := engine.New(engine.Options{Store: st, Clock: clock, Logger: log, Registerer: reg, Bus: bus, Monitors: cfg.ProbeMonitors(),
		MaxConcurrentProbes: cfg.Probes.MaxConcurrent,
		Reminders:           cfg.Maintenance.Reminders, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy,
		MonitorSeverity: cfg.MonitorSeverities(), Recovery: engine.Recovery(cfg.Incidents.Recovery), Reports: newReports(st, cfg),
		Cluster: clusterOf(cfg, st), MaxPendingWrites: cfg.Cluster.PendingWrites, Location: cfg.Cluster.Location})
	if err != nil {
		return err
	}
	warnLocationsAlone(cfg, st, log)
	notifier, err := newNotifier(cfg, st, svc, chans, clock, log, reg, bus, eng.Elector())
	if err != nil {
		return err
	}
	fanout, err := newFanout(cfg, st, svc, chans, notifier, clock, log, reg, bus) // subscribers (docs/subscribers.md)
	if err != nil {
		return err
	}
	defer fanout.Close()
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
		if err := syncAgain(func() error { return svc.Components.Sync(ctx, next.ComponentList(clock.Now())) }); err != nil {
			return nil, err
		}
		if err := syncAgain(func() error { return svc.Maintenance.Sync(ctx, next.MaintenanceSpecs()) }); err != nil {
			return nil, err
		}
		sum, err := eng.Reload(ctx, next.ProbeMonitors(), next.MonitorSeverities())
		if err != nil {
			return nil, err
		}
		log.Info("configuration reloaded", "file", cfg.File, "monitors_added", len(sum.Added), "monitors_changed", len(sum.Changed), "monitors_removed", len(sum.Removed))
		return map[string]any{"monitors": sum, "components": len(next.Components), "maintenance_windows": len(next.Maintenance.Windows),
			"restart_needed_for": "server, storage, log, probes, slas, objectives, incident and notify settings"}, nil
	}
	srv, err := statuspage.New(statuspage.Options{
		Store: st, Service: svc, Bus: bus, Clock: clock, Logger: log, Registry: reg, Assets: files, Version: version,
		Page: statuspage.Page{Title: cfg.Server.Title, Description: cfg.Server.Description, PublicURL: cfg.Server.PublicURL,
			Location: cfg.Location, LogoURL: cfg.Server.LogoURL, Links: links,
			Language: cfg.Server.Language, FrameAncestors: cfg.Server.FrameAncestors, Brand: brandOf(cfg)},
		Maintenance:    statuspage.Maintenance{NoticePeriod: cfg.Maintenance.NoticePeriod, Horizon: cfg.Maintenance.Horizon},
		SLA:            statuspage.SLA{Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy},
		Reports:        newReports(st, cfg),
		Monitors:       eng,
		Reload:         reload,
		PublicMonitors: cfg.Server.PublicMonitors,
		RequestTimeout: cfg.Server.RequestTimeout, MaxBodyBytes: cfg.Server.MaxBodyBytes, TrustedProxies: proxies,
		Subscriptions: pageSubscriptions(cfg),
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
			return svc.Audit.Record(ctx, service.Actor{Name: "signal"}, "config.reload", "config", sum)
		}, log)
		return nil
	})
	g.Go(func() error { return srv.Run(gctx, ln, cfg.Server.ShutdownTimeout) })
	g.Go(func() error { return eng.Run(gctx) })
	g.Go(func() error { return notifier.Run(gctx) })
	g.Go(func() error { return fanout.Run(gctx) })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	notifySupervisor(log, daemon.SdNotifyReady) // the socket is bound: requests are accepted
	select {
	case err := <-done:
		return err
	case <-gctx.Done():
	}
	notifySupervisor(log, daemon.SdNotifyStopping)
	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout)
	select {
	case err := <-done:
		return err
	case <-time.After(cfg.Server.ShutdownTimeout + 5*time.Second):
		return errors.New("shutdown did not finish in time")
	}
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

// notifySupervisor tells systemd (Type=notify) what the process is doing; outside systemd
// (no NOTIFY_SOCKET) it does nothing.
func notifySupervisor(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("notify systemd", "state", state, "err", err)
	}
}
