package engine

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Locations (docs/deploy.md, "Locations"). A monitor with Locations N > 1 is checked from N
// locations, the cluster.location labels of the live instances:
//
//   - its component's owner (ownership.go) is its arbiter: it records the monitor's state, as
//     for every monitor, and probes it from its own location;
//   - the other N-1 locations are the other live locations with the highest rendezvous weight
//     for the monitor, and in each the live instance of that location with the highest weight
//     for the component probes it; so a join or leave moves only its share;
//   - every prober judges its own results with the monitor's thresholds (a Detector of its
//     own) and announces its location's state when it changes, not per run: no round trip per
//     run;
//   - a location's result is fresh while the instance that announced it is live (the heartbeat
//     says so) and still probes the monitor from there; the arbiter takes the quorum of the
//     fresh ones (probe.Quorum) and records a change through the service, as any transition.
//
// Every instance keeps the location results it hears, so a new arbiter (after a hand-over)
// knows them, and every instance's monitors API shows them. Announcements are at most once:
// each instance announces again the states of all the locations it probes when the live set
// changes and every FlushInterval, which bounds what a lost announcement costs.
//
// Alone (SQLite, or no cluster), a monitor asking for N locations is checked from the one
// local location, and its state is that location's.

// defaultLocation names the location of an instance without cluster.location.
const defaultLocation = "default"

// located reports whether the monitor is checked from several locations.
func (r *runner) located() bool { return r.m.Locations > 1 }

// recorded is the monitor's state as recorded (by this instance if it owns the monitor, else
// as the owner announced it): the quorum's for a located monitor, the detector's otherwise.
// Callers hold e.mu.
func (r *runner) recorded() probe.State {
	if r.located() {
		return r.combined
	}
	return r.detector.State()
}

// setRecorded sets the recorded state (restored from the store, or announced by the owner).
// A located monitor's own location keeps its detector. Callers hold e.mu.
func (r *runner) setRecorded(st probe.State) {
	if !st.Valid() {
		st = probe.StateUnknown
	}
	if r.located() {
		r.combined = st
		return
	}
	r.detector = probe.NewDetector(r.m, st)
}

// location is where this instance probes from.
func (e *Engine) location() string {
	loc := e.opts.Location
	if e.cluster != nil {
		loc = e.cluster.Location
	}
	if loc == "" {
		return defaultLocation
	}
	return loc
}

// Place returns, for a monitor checked from n locations, the instance that probes it in each
// location chosen among the live members: the owner of its component (the arbiter) in the
// owner's location, and in each of the n-1 other locations of highest rendezvous weight for
// the monitor, that location's member of highest weight for the component. Members without a
// location are in the location "default". Fewer than n locations are returned when fewer are
// live; none without members.
func Place(monitorID, componentID string, n int, members []store.Member) map[string]string {
	ids := make([]string, len(members))
	byLoc := map[string][]string{}
	locOf := map[string]string{}
	for i, m := range members {
		loc := cmp.Or(m.Location, defaultLocation)
		ids[i] = m.ID
		byLoc[loc] = append(byLoc[loc], m.ID)
		locOf[m.ID] = loc
	}
	arbiter := Owner(componentID, ids)
	if arbiter == "" {
		return nil
	}
	home := locOf[arbiter]
	out := map[string]string{home: arbiter}
	others := make([]string, 0, len(byLoc))
	for loc := range byLoc {
		if loc != home {
			others = append(others, loc)
		}
	}
	slices.SortFunc(others, func(a, b string) int {
		if c := cmp.Compare(weight(b, monitorID), weight(a, monitorID)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, loc := range others[:min(len(others), max(n-1, 0))] {
		out[loc] = Owner(componentID, byLoc[loc])
	}
	return out
}

// placeLocked is where r is probed from now: location -> instance. Callers hold e.mu.
func (e *Engine) placeLocked(r *runner) map[string]string {
	if e.cluster == nil {
		return map[string]string{e.location(): ""}
	}
	return Place(r.m.ID, r.m.ComponentID, r.m.Locations, e.memberSet)
}

// rolesLocked says whether this instance records r's state (owns its component) and whether it
// runs r's probes. Callers hold e.mu.
func (e *Engine) rolesLocked(r *runner) (owned, probes bool) {
	owned = e.ownsLocked(r.m.ComponentID)
	if !r.located() || e.cluster == nil {
		return owned, owned
	}
	return owned, Place(r.m.ID, r.m.ComponentID, r.m.Locations, e.memberSet)[e.location()] == e.cluster.Instance
}

// locationResultsLocked is r's location results, each marked fresh or not, with the locations
// chosen now that have not reported yet (unknown), ordered by location. Callers hold e.mu.
func (e *Engine) locationResultsLocked(r *runner) []probe.LocationResult {
	place := e.placeLocked(r)
	out := make([]probe.LocationResult, 0, len(place))
	for loc, res := range r.locs {
		res.Fresh = place[loc] == res.Instance && res.State != probe.StateUnknown
		out = append(out, res)
	}
	for loc, inst := range place {
		if _, ok := r.locs[loc]; !ok {
			out = append(out, probe.LocationResult{Location: loc, Instance: inst, State: probe.StateUnknown})
		}
	}
	slices.SortFunc(out, func(a, b probe.LocationResult) int { return cmp.Compare(a.Location, b.Location) })
	return out
}

// locationChanged records a change of this instance's location state for r, tells the other
// instances, and judges the monitor if this instance is its arbiter.
func (e *Engine) locationChanged(ctx context.Context, r *runner, tr probe.Transition) {
	res := probe.LocationResult{Location: e.location(), Instance: e.instance(), State: tr.To, Since: tr.At.UTC(), Reason: tr.Reason}
	e.mu.Lock()
	if e.monitors[r.m.ID] != r {
		e.mu.Unlock()
		return
	}
	if r.locs == nil {
		r.locs = map[string]probe.LocationResult{}
	}
	r.locs[res.Location] = res
	e.mu.Unlock()
	e.log.Debug("location state changed", "monitor", r.m.ID, "location", res.Location, "to", tr.To, "reason", tr.Reason)
	e.announce(announcement{Op: "loc", Monitor: r.m.ID, At: res.Since, State: res.State, Location: res.Location, Reason: res.Reason})
	e.judge(ctx, r, time.Time{})
}

// heardLocation records a location's state another instance announced, and judges the monitor
// if this instance is its arbiter.
func (e *Engine) heardLocation(ctx context.Context, from string, n locNote) {
	e.mu.Lock()
	r, ok := e.monitors[n.Monitor]
	if !ok || !r.located() || !n.State.Valid() {
		e.mu.Unlock()
		return
	}
	if r.locs == nil {
		r.locs = map[string]probe.LocationResult{}
	}
	if cur, ok := r.locs[n.Location]; ok && cur.Instance == from && cur.State == n.State && cur.Since.Equal(n.Since) {
		e.mu.Unlock()
		return // heard again (a periodic announcement): nothing new
	}
	r.locs[n.Location] = probe.LocationResult{Location: n.Location, Instance: from, State: n.State, Since: n.Since, Reason: n.Reason}
	e.mu.Unlock()
	e.judge(ctx, r, time.Time{})
}

// judge takes the quorum of r's fresh location results, if this instance is r's arbiter, and
// records a change of the monitor's state. trigger is the time of what made the quorum
// change when that is not a location's change (a location went stale); zero otherwise.
func (e *Engine) judge(ctx context.Context, r *runner, trigger time.Time) {
	e.mu.Lock()
	if e.monitors[r.m.ID] != r || !r.located() || !r.owned || r.paused {
		e.mu.Unlock()
		return
	}
	v := probe.Quorum(r.m.Locations, e.locationResultsLocked(r))
	if v.State == r.combined {
		e.mu.Unlock()
		return
	}
	at := v.At
	if !trigger.IsZero() && v.State != probe.StateDown || at.IsZero() {
		at = cmp.Or(trigger, e.opts.Clock.Now())
	}
	// Transitions of one monitor are strictly ordered in the stores' millisecond: two
	// announcements judged in the same millisecond (two locations recovering together: down,
	// degraded, up) would otherwise record two transitions, and two status changes, at one
	// instant, and which is the last would be the stores' tie-break, not the order they
	// happened in (LastTransition, the page's status). The later one moves on by a millisecond.
	if last := r.combinedAt.Truncate(time.Millisecond); !r.combinedAt.IsZero() && !at.Truncate(time.Millisecond).After(last) {
		at = last.Add(time.Millisecond)
	}
	tr := probe.Transition{MonitorID: r.m.ID, At: at.UTC(), From: r.combined, To: v.State, Reason: v.Reason}
	r.combined, r.combinedAt = v.State, tr.At
	e.mu.Unlock()
	wctx, cancel := persistContext(ctx)
	defer cancel()
	e.transition(wctx, r.m.ComponentID, tr)
}

// judgeAll judges every located monitor this instance records: the live set changed, so
// which location results are fresh may have.
func (e *Engine) judgeAll(ctx context.Context) {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	var rs []*runner
	for _, r := range e.monitors {
		if r.located() && r.owned {
			rs = append(rs, r)
		}
	}
	e.mu.Unlock()
	for _, r := range rs {
		e.judge(ctx, r, now)
	}
}

// locNote is one location's state in an announcement.
type locNote struct {
	Monitor  string      `json:"monitor"`
	Location string      `json:"location"`
	State    probe.State `json:"state"`
	Since    time.Time   `json:"since"`
	Reason   string      `json:"reason,omitempty"`
}

// locNotesPerAnnouncement bounds an announcement of location states (about 150 bytes each).
const locNotesPerAnnouncement = 500

// announceLocations tells the other instances the state of every location this instance
// probes: announcements are at most once, so this is repeated when the live set changes (a
// new arbiter or a new instance learns them) and every FlushInterval. A few messages, whatever
// the number of monitors.
func (e *Engine) announceLocations(context.Context) {
	if e.cluster == nil {
		return
	}
	me, loc := e.cluster.Instance, e.location()
	var notes []locNote
	e.mu.Lock()
	for _, r := range e.monitors {
		if !r.located() || !r.probes || r.paused {
			continue
		}
		if res, ok := r.locs[loc]; ok && res.Instance == me {
			notes = append(notes, locNote{Monitor: r.m.ID, Location: loc, State: res.State, Since: res.Since, Reason: res.Reason})
		}
	}
	e.mu.Unlock()
	for len(notes) > 0 {
		n := min(len(notes), locNotesPerAnnouncement)
		e.announce(announcement{Op: "locs", At: e.opts.Clock.Now(), Locs: notes[:n]})
		notes = notes[n:]
	}
}

// fewerLocationsLocked counts the located monitors placed in fewer locations than they ask
// (and the largest shortfall), for a log line when the live set changes. Callers hold e.mu.
func (e *Engine) fewerLocationsLocked() (monitors, live, asked int) {
	for _, r := range e.monitors {
		if !r.located() {
			continue
		}
		if n := len(e.placeLocked(r)); n < r.m.Locations {
			if monitors == 0 || r.m.Locations-n > asked-live {
				live, asked = n, r.m.Locations
			}
			monitors++
		}
	}
	return monitors, live, asked
}

// warnFewerLocations logs when monitors are checked from fewer locations than they ask: their
// quorum is taken over the live ones (the monitors API shows which).
func (e *Engine) warnFewerLocations() {
	e.mu.Lock()
	n, live, asked := e.fewerLocationsLocked()
	e.mu.Unlock()
	if n > 0 {
		e.log.Warn("monitors are checked from fewer locations than they ask: their quorum is taken over the live locations",
			"monitors", n, "live_locations", live, "asked", asked, "location", e.location())
	}
}
