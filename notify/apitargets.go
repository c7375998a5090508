package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/store"
)

// Targets made through the admin API (docs/notifications.md). The store holds them; each
// instance's Channels keep a copy built into channels, swapped whole by Sync, which runs when
// this instance changes one (the bus), when another announces a change, when the router reads
// a change in the journal (so the dispatching instance never misses one, whatever was
// announced), when this instance starts dispatching, and every TargetSyncEvery besides.

// TargetSource is where the targets made through the admin API are read.
type TargetSource interface {
	ListNotifyTargets(ctx context.Context) ([]store.NotifyTarget, error)
}

// apiTargets are the admin API's targets as built at one Sync. Never changed once stored.
type apiTargets struct {
	targets  map[string]Target
	chans    map[string]Channel
	versions map[string]int // the stored Version each was built from
}

// brokenChannel stands for a stored target this instance cannot build (a ${NAME} not set in
// its environment, an email target without notify.smtp): its deliveries fail and are retried,
// naming why, rather than vanish.
type brokenChannel struct{ err error }

func (b brokenChannel) Send(context.Context, Delivery) error { return b.err }

// Sync loads the targets made through the admin API again: new and changed ones are built,
// deleted ones dropped (their notifications still owed then fail for good: the target is no
// longer configured), unchanged ones keep their channel. It reports nothing when there is no
// source.
func (c *Channels) Sync(ctx context.Context) error {
	if c.o.APITargets == nil {
		return nil
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	stored, err := c.o.APITargets.ListNotifyTargets(ctx)
	if err != nil {
		return fmt.Errorf("load targets: %w", err)
	}
	old := c.api.Load()
	next := &apiTargets{targets: map[string]Target{}, chans: map[string]Channel{}, versions: map[string]int{}}
	for _, st := range stored {
		if _, declared := c.targets[st.ID]; declared {
			continue // the file's target wins; the API refuses such ids
		}
		if v, ok := old.versions[st.ID]; ok && v == st.Version {
			next.targets[st.ID], next.chans[st.ID], next.versions[st.ID] = old.targets[st.ID], old.chans[st.ID], v
			continue
		}
		t, ch := c.buildStored(st)
		next.targets[st.ID], next.chans[st.ID], next.versions[st.ID] = t, ch, st.Version
	}
	c.api.Store(next)
	for id, ch := range old.chans { // replaced or dropped: its idle connections are closed
		if v, kept := next.versions[id]; !kept || v != old.versions[id] {
			closeChannel(ch)
		}
	}
	return nil
}

// buildStored builds a stored target, its ${NAME} references read from the environment.
func (c *Channels) buildStored(st store.NotifyTarget) (Target, Channel) {
	ct, missing := configs.ExpandTargetSecrets(configs.NotifyTarget{URL: st.URL, Secret: st.Secret, RoutingKey: st.RoutingKey}, c.o.LookupEnv)
	t := Target{ID: st.ID, Kind: Kind(st.Kind), URL: ct.URL, Secret: ct.Secret, Headers: st.Headers, To: st.To, RoutingKey: ct.RoutingKey,
		Timeout: st.Timeout, MaxInFlight: st.MaxInFlight}
	if len(missing) > 0 {
		msgs := make([]string, len(missing))
		for i, fe := range missing {
			msgs[i] = fe.Error()
		}
		t, _, _ = c.build(Target{ID: t.ID, Kind: t.Kind, To: t.To, Timeout: t.Timeout, MaxInFlight: t.MaxInFlight})
		return t, brokenChannel{err: fmt.Errorf("target %s cannot be built on this instance: %s", st.ID, strings.Join(msgs, "; "))}
	}
	built, ch, err := c.build(t)
	if err != nil {
		return built, brokenChannel{err: fmt.Errorf("target %s cannot be built on this instance: %w", st.ID, err)}
	}
	return built, ch
}
