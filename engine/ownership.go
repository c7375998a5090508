package engine

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Sharing the probes between instances (DESIGN section 9): each instance beats into the
// store's member set every Cluster.Heartbeat and gets the live set back, one round trip; each
// component belongs to the live member with the highest rendezvous weight for it, and its
// monitors run there. Nothing is asked of the store per probe run.
//
// The unit of ownership is the component, not the monitor: a component's status is the worst
// of its monitors and opens one automatic incident, so all its monitors are judged where its
// status is recorded, and no two instances ever record one component's status.

// Owner returns the member with the highest rendezvous (highest-random-weight) weight for
// key, or "" if there are no members. A member's join or leave moves only the keys it wins or
// held: every other key keeps its owner.
func Owner(key string, members []string) string {
	best, bestW := "", uint64(0)
	for _, m := range members {
		if w := weight(m, key); best == "" || w > bestW || w == bestW && m < best {
			best, bestW = m, w
		}
	}
	return best
}

// weight is the rendezvous weight of member for key: FNV-1a over member, a separator and key,
// through a 64-bit finalizer (splitmix64's), since FNV alone spreads keys that differ in their
// last byte poorly over the high bits.
func weight(member, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(member))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// owns reports whether this instance records componentID's status and runs its monitors.
// Single-instance engines own everything. Callers hold e.mu.
func (e *Engine) ownsLocked(componentID string) bool {
	if e.cluster == nil {
		return true
	}
	return Owner(componentID, e.members) == e.cluster.Instance
}

func (e *Engine) owns(componentID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ownsLocked(componentID)
}

// join beats twice, a heartbeat apart, so the engine knows its share before it schedules
// anything: instances started together see each other by the second beat, and none starts the
// monitors another one owns. It waits for the store, up to ctx.
func (e *Engine) join(ctx context.Context) error {
	c := e.cluster
	for beats := 0; ; {
		members, err := c.Coordinator.Beat(ctx, store.Member{ID: c.Instance, Location: c.Location}, c.MemberTimeout)
		if err == nil {
			if beats++; beats == 2 {
				e.setMembersLocked(members)
				return nil
			}
		}
		if err != nil {
			e.log.Warn("join the instances sharing the store", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.opts.Clock.After(c.Heartbeat):
		}
	}
}

// setMembersLocked records the live members (at start, before anything runs) and marks the
// runners this instance owns.
func (e *Engine) setMembersLocked(members []store.Member) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.members, e.memberSet = memberIDs(members), normalMembers(members)
	for _, r := range e.monitors {
		r.owned, r.probes = e.rolesLocked(r)
	}
	e.cmetrics.observe(e.members, e.monitors)
}

// normalMembers is members with the location of those without one named.
func normalMembers(members []store.Member) []store.Member {
	out := slices.Clone(members)
	for i := range out {
		if out[i].Location == "" {
			out[i].Location = defaultLocation
		}
	}
	return out
}

// takeOverSpread bounds the spread of the first runs of monitors taken over from an instance
// that died: they have gone unchecked since, for up to MemberTimeout and a Heartbeat.
const takeOverSpread = time.Second

func memberIDs(members []store.Member) []string {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	return ids
}

// beatLoop beats every Heartbeat until ctx ends, and rebalances when the live set changes. A
// beat that fails (the store is unreachable) keeps the last live set: probes go on from
// memory, and their results wait in the pending writes.
func (e *Engine) beatLoop(ctx context.Context) {
	defer e.wg.Done()
	c := e.cluster
	ticker := e.opts.Clock.NewTicker(c.Heartbeat)
	defer ticker.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.Chan():
		}
		bctx, cancel := context.WithTimeout(ctx, c.Heartbeat)
		members, err := c.Coordinator.Beat(bctx, store.Member{ID: c.Instance, Location: c.Location}, c.MemberTimeout)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.cmetrics.beatFailures.Inc()
			if !failing {
				e.log.Warn("heartbeat failed; running the monitors of the last known share", "err", err)
			}
			failing = true
			continue
		}
		if failing {
			e.log.Info("heartbeat recovered")
			failing = false
		}
		e.rebalance(ctx, members)
	}
}

// rebalance applies a new live set: the monitors of components this instance no longer owns
// stop at once; those of components it gained start, after their state is read back from the
// store (the last owner recorded it). A component whose last owner is still live (an instance
// joined) starts its monitors a Heartbeat late, by when the last owner has seen the change
// and stopped: no check runs twice. One whose owner is gone has gone unchecked since it died:
// its monitors' first runs are spread over a second (takeOverSpread), not over their interval.
func (e *Engine) rebalance(ctx context.Context, members []store.Member) {
	e.reloadMu.Lock() // not during a reload, which schedules by ownership too
	defer e.reloadMu.Unlock()
	ids, set := memberIDs(members), normalMembers(members)
	e.mu.Lock()
	if slices.Equal(set, e.memberSet) {
		e.mu.Unlock()
		return
	}
	prev, prevSet := e.members, e.memberSet
	e.members, e.memberSet = ids, set
	// owner: gained the recording of the monitor's state; lost, gained: its probes.
	var owner, lost, gained []*runner
	located := false
	for _, r := range e.monitors {
		owned, probes := e.rolesLocked(r)
		located = located || r.located()
		if owned && !r.owned {
			owner = append(owner, r)
		}
		r.owned = owned
		if probes == r.probes {
			continue
		}
		r.probes = probes
		if probes {
			gained = append(gained, r)
		} else {
			lost = append(lost, r)
		}
		if r.located() {
			// Its own location's judgement starts again from nothing when it comes back.
			r.detector = probe.NewDetector(r.m, probe.StateUnknown)
		}
	}
	running := e.running
	e.cmetrics.observe(ids, e.monitors)
	e.mu.Unlock()
	e.log.Info("instances changed", "members", ids, "was", prev, "monitors_gained", len(gained), "monitors_lost", len(lost))

	for _, r := range lost {
		e.stopJob(r)
	}
	wctx, cancel := persistContext(ctx)
	defer cancel()
	if located {
		defer func() {
			e.warnFewerLocations()
			e.judgeAll(wctx)          // which locations are fresh changed
			e.announceLocations(wctx) // a new arbiter, a new instance, learn them
		}()
	}
	if len(gained) == 0 && len(owner) == 0 {
		return
	}
	now := e.opts.Clock.Now()
	components := map[string]bool{}
	for _, r := range owner {
		components[r.m.ComponentID] = true
		st, err := e.opts.Store.LastTransition(wctx, r.m.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st.To = probe.StateUnknown
		case err != nil:
			e.log.Error("take over: last transition", "monitor", r.m.ID, "err", err)
			continue // keep what this instance last knew
		}
		e.mu.Lock()
		r.setRecorded(st.To)
		r.resumed = resumedFrom(st)
		// A pause lives in memory; the last owner's one is read back from the transition it
		// recorded, so a hand-over does not resume a paused monitor.
		if st.To == probe.StateUnknown && strings.HasPrefix(st.Reason, pausedReason) {
			r.paused = true
		}
		e.mu.Unlock()
		if r.m.Kind == probe.KindHeartbeat && st.To == probe.StateDown {
			e.heartbeats.MarkMissing(r.m.ID)
		}
	}
	for id := range components {
		if c, err := e.opts.Store.GetComponent(wctx, id); err == nil {
			e.mu.Lock()
			e.status[id] = c.Status
			e.mu.Unlock()
		}
	}
	if !running {
		return
	}
	for _, r := range gained {
		e.mu.Lock()
		paused, probes := r.paused, r.probes
		// Who probed it before from this instance's location, if that one is still live.
		var before string
		if r.located() {
			before = Place(r.m.ID, r.m.ComponentID, r.m.Locations, prevSet)[e.location()]
		} else {
			before = Owner(r.m.ComponentID, prev)
		}
		e.mu.Unlock()
		if paused || !probes {
			continue
		}
		var err error
		if before != "" && slices.Contains(ids, before) {
			err = e.schedule(r, now.Add(e.cluster.Heartbeat))
		} else {
			spread := min(r.m.Interval*9/10, takeOverSpread)
			err = e.scheduleAt(r, spreadRun(r.m.ID, spread, runGrid(r.m.Interval), now))
		}
		if err != nil {
			e.log.Error("take over monitor", "monitor", r.m.ID, "err", err)
		}
	}
}

// clusterMetrics show how the instances sharing a store divide the work (registered only when
// the engine shares its store).
type clusterMetrics struct {
	leader        prometheus.Gauge
	terms         prometheus.Counter
	leaseFailures prometheus.Counter
	members       prometheus.Gauge
	owned         prometheus.Gauge
	beatFailures  prometheus.Counter
	// announceDropped counts announcements not sent: the queue was full or the store refused.
	announceDropped prometheus.Counter
}

func newClusterMetrics(reg prometheus.Registerer) *clusterMetrics {
	m := &clusterMetrics{
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_cluster_leader",
			Help: "1 while this instance holds the leader lease and runs the singleton jobs."}),
		terms: prometheus.NewCounter(prometheus.CounterOpts{Name: "upstate_cluster_leader_terms_total",
			Help: "Terms as leader this instance began."}),
		leaseFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "upstate_cluster_lease_errors_total",
			Help: "Attempts to obtain the leader lease that failed for another reason than another holder."}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_cluster_members",
			Help: "Live instances sharing the store, as this instance last saw them."}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_cluster_owned_monitors",
			Help: "Monitors whose component this instance owns: it runs them."}),
		beatFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "upstate_cluster_heartbeat_errors_total",
			Help: "Heartbeats that did not reach the store."}),
		announceDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "upstate_cluster_announcements_dropped_total",
			Help: "Announcements to the other instances (check-ins, pauses, state changes) not sent."}),
	}
	reg.MustRegister(m.leader, m.terms, m.leaseFailures, m.members, m.owned, m.beatFailures, m.announceDropped)
	return m
}

// observe records the live set and the share; callers hold e.mu.
func (m *clusterMetrics) observe(members []string, monitors map[string]*runner) {
	m.members.Set(float64(len(members)))
	n := 0
	for _, r := range monitors {
		if r.owned {
			n++
		}
	}
	m.owned.Set(float64(n))
}
