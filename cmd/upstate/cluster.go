package main

import (
	"cmp"
	"errors"
	"log/slog"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/store"
)

// clusterOf is how the engine shares st with other instances: on Redis, through the store's
// coordination (a leader lease and the live members); nil on SQLite, which one instance
// serves, held by its lock.
func clusterOf(cfg *configs.Config, st store.Store) *engine.Cluster {
	coord, ok := st.(store.Coordinator)
	if !ok || cfg.Storage.Backend != "redis" {
		return nil
	}
	c := cfg.Cluster
	return &engine.Cluster{Coordinator: coord, Instance: cfg.InstanceID(), Location: c.Location,
		Lease: c.Lease, Heartbeat: c.Heartbeat, MemberTimeout: c.MemberTimeout}
}

// warnLocationsAlone says, at start, that monitors asking for several locations are checked
// from this one alone when nothing shares the store (SQLite): their state is this location's.
func warnLocationsAlone(cfg *configs.Config, st store.Store, log *slog.Logger) {
	if clusterOf(cfg, st) != nil {
		return
	}
	var located []string
	for _, m := range cfg.ProbeMonitors() {
		if m.Locations > 1 {
			located = append(located, m.ID)
		}
	}
	if len(located) > 0 {
		log.Warn("monitors ask for several locations, but one instance serves this store: they are checked from this location alone (docs/deploy.md, \"Locations\")",
			"monitors", located, "location", cmp.Or(cfg.Cluster.Location, "default"), "backend", cfg.Storage.Backend)
	}
}

// syncAgain runs a config sync again while it fails with store.ErrConflict: instances started
// together sync the same file into the shared store at once, and a component or window another
// one created meanwhile is a conflict for this one; the next pass finds it stored and equal.
func syncAgain(sync func() error) error {
	var err error
	for range 5 {
		if err = sync(); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return err
}
