package main

import (
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
