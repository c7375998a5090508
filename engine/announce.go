package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/probe"
)

// What one instance is asked that concerns a monitor another one runs, it announces to all
// (store.Coordinator's announcements): behind a load balancer a heartbeat's check-in, a pause or
// a run-now lands on any instance. Every instance applies check-ins and pauses to its own copy,
// so whichever owns the monitor, now or after a hand-over, knows them; the owner judges and
// records. Owners announce their monitors' state changes too, so every instance's monitors API
// shows each monitor's state (its last results are the owner's alone).
//
// Announcements are at most once: an instance cut from Redis at that moment misses one. A
// check-in missed by the owner is late by one check-in, not lost for good: the job checks in
// again, and a missed state is corrected by the next change.

type announcement struct {
	From    string         `json:"from"`
	Op      string         `json:"op"` // ping, pause, resume, run, state, target
	Monitor string         `json:"monitor"`
	At      time.Time      `json:"at"`
	Kind    probe.PingKind `json:"kind,omitempty"`
	Code    int            `json:"code,omitempty"`
	By      string         `json:"by,omitempty"`
	State   probe.State    `json:"state,omitempty"`
	// A location's state (op loc; locations.go), or several (op locs).
	Location string    `json:"location,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Locs     []locNote `json:"locs,omitempty"`
	// Target and What: a notification target made through the admin API changed (op target;
	// What is created, updated or deleted).
	Target string `json:"target,omitempty"`
	What   string `json:"what,omitempty"`
}

// announce queues a for the other instances, if there are any, without waiting: a full queue
// (the store does not answer) drops it and counts it.
func (e *Engine) announce(a announcement) {
	if e.cluster == nil {
		return
	}
	e.mu.Lock()
	alone := len(e.members) <= 1
	e.mu.Unlock()
	if alone {
		return // no one to tell: an instance that joins reads the store
	}
	a.From = e.cluster.Instance
	select {
	case e.announcements <- a:
	default:
		e.cmetrics.announceDropped.Inc()
	}
}

// sendAnnouncements publishes the queued announcements until ctx ends.
func (e *Engine) sendAnnouncements(ctx context.Context) {
	defer e.wg.Done()
	for {
		var a announcement
		select {
		case <-ctx.Done():
			return
		case a = <-e.announcements:
		}
		msg, err := json.Marshal(a)
		if err != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, e.cluster.Heartbeat)
		err = e.cluster.Coordinator.Announce(actx, msg)
		cancel()
		if err != nil && ctx.Err() == nil {
			e.cmetrics.announceDropped.Inc()
			e.log.Debug("announce to the other instances", "op", a.Op, "monitor", a.Monitor, "err", err)
		}
	}
}

// listen applies the other instances' announcements until ctx ends, listening again after an
// error.
func (e *Engine) listen(ctx context.Context, ready func()) {
	defer e.wg.Done()
	for {
		err := e.cluster.Coordinator.ListenAnnouncements(ctx, ready, func(msg []byte) { e.heard(ctx, msg) })
		if ctx.Err() != nil {
			return
		}
		e.log.Warn("listen to the other instances", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-e.opts.Clock.After(e.cluster.Heartbeat):
		}
	}
}

func (e *Engine) heard(ctx context.Context, msg []byte) {
	var a announcement
	if err := json.Unmarshal(msg, &a); err != nil || a.From == e.cluster.Instance {
		return
	}
	switch a.Op {
	case "loc":
		e.heardLocation(ctx, a.From, locNote{Monitor: a.Monitor, Location: a.Location, State: a.State, Since: a.At, Reason: a.Reason})
		return
	case "locs":
		for _, n := range a.Locs {
			e.heardLocation(ctx, a.From, n)
		}
		return
	case "target":
		// Another instance changed a notification target: this one's channels load it again.
		e.opts.Bus.Publish(events.Event{Kind: events.TargetChanged, At: a.At, Reason: a.Target, To: a.What, From: a.From})
		return
	}
	e.mu.Lock()
	r, ok := e.monitors[a.Monitor]
	owned := ok && r.owned
	probes := ok && r.probes
	e.mu.Unlock()
	if !ok {
		return // not in this instance's configuration
	}
	switch a.Op {
	case "ping":
		if r.m.Kind != probe.KindHeartbeat || r.m.Heartbeat == nil {
			return
		}
		if _, err := e.heartbeats.Ping(r.m.Heartbeat.Token, a.Kind, a.Code, a.At); err != nil {
			return
		}
		if owned && a.Kind != probe.PingStart {
			_ = e.RunNow(a.Monitor)
		}
	case "pause":
		if err := e.pause(ctx, a.Monitor, a.By); err != nil && !errors.Is(err, ErrPaused) {
			e.log.Warn("pause announced by "+a.From, "monitor", a.Monitor, "err", err)
		}
	case "resume":
		if err := e.resume(a.Monitor); err != nil && !errors.Is(err, ErrNotPaused) {
			e.log.Warn("resume announced by "+a.From, "monitor", a.Monitor, "err", err)
		}
	case "run":
		if probes {
			e.mu.Lock()
			rctx, paused, running := e.runCtx, r.paused, e.running
			e.mu.Unlock()
			if !paused && running {
				_ = e.runHere(rctx, r)
			}
		}
	case "state":
		e.mu.Lock()
		if !r.owned && e.monitors[a.Monitor] == r && a.State.Valid() {
			r.setRecorded(a.State) // a view of the owner's state
		}
		e.mu.Unlock()
	}
}

// relayTarget tells the other instances that a notification target made through the admin API
// changed here (an event another instance relayed is not relayed again).
func (e *Engine) relayTarget(ev events.Event) {
	if ev.Kind == events.TargetChanged && ev.From == "" {
		e.announce(announcement{Op: "target", Target: ev.Reason, What: ev.To, At: ev.At})
	}
}
