package probe

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A monitor may be checked from several locations (Monitor.Locations; docs/deploy.md,
// "Locations"). Each location judges its own results with the monitor's thresholds (a
// Detector of its own), and its state is one LocationResult. The monitor's state is then the
// quorum of the locations whose results are fresh: Quorum below.

// LocationResult is one location's view of a monitor: its state since its last change.
type LocationResult struct {
	Location string    `json:"location"`
	Instance string    `json:"instance,omitempty"` // the instance that probed from there
	State    State     `json:"state"`
	Since    time.Time `json:"since"` // when the location's state began (back-dated as a Detector's)
	Reason   string    `json:"reason,omitempty"`
	// Fresh: the instance that reported it is alive and still checks the monitor from there.
	// A stale result counts for nothing.
	Fresh bool `json:"fresh"`
}

// Verdict is what the quorum of locations decides.
type Verdict struct {
	State State
	// At is when the verdict's state began: for down, when the location that made the quorum
	// went down (each location's Since is back-dated to its first failure); otherwise the
	// newest Since among the fresh locations.
	At     time.Time
	Reason string
	// Counted are the fresh locations with a known state; Asked the locations the monitor asked
	// for. Counted < Asked when fewer locations are live (or known) than asked: the quorum is
	// then taken over those counted.
	Counted, Asked, Failing int
}

// Quorum decides a monitor's state from its locations' results, asked being how many locations
// the monitor asked to be checked from:
//
//   - only fresh results with a known state count (n of them); with none the monitor is unknown;
//   - down when a quorum of them, a strict majority (n/2+1), is down;
//   - degraded when some are down but fewer than a quorum, or when any is degraded (slow);
//   - up when every one counted is up.
//
// When fewer than asked are counted the quorum is taken over those counted, and the reason
// says so: with one live location, its state is the monitor's.
func Quorum(asked int, results []LocationResult) Verdict {
	var counted, down []LocationResult
	degraded := 0
	for _, r := range results {
		if !r.Fresh || r.State == StateUnknown || !r.State.Valid() {
			continue
		}
		counted = append(counted, r)
		switch r.State {
		case StateDown:
			down = append(down, r)
		case StateDegraded:
			degraded++
		}
	}
	n := len(counted)
	v := Verdict{Counted: n, Asked: max(asked, n), Failing: len(down)}
	if n == 0 {
		v.State, v.Reason = StateUnknown, "no fresh result from any location"
		return v
	}
	byLocation := func(a, b LocationResult) int { return cmp.Compare(a.Location, b.Location) }
	slices.SortFunc(down, byLocation)
	quorum := n/2 + 1
	switch {
	case len(down) >= quorum:
		v.State = StateDown
		// The quorum was reached when its quorum-th location went down.
		ats := make([]time.Time, len(down))
		for i, r := range down {
			ats[i] = r.Since
		}
		slices.SortFunc(ats, time.Time.Compare)
		v.At = ats[quorum-1]
		v.Reason = fmt.Sprintf("down from %d of %d locations: %s", len(down), n, describeLocations(down))
	case len(down) > 0:
		v.State = StateDegraded
		v.Reason = fmt.Sprintf("failing from %d of %d locations: %s", len(down), n, describeLocations(down))
	case degraded > 0:
		v.State = StateDegraded
		v.Reason = fmt.Sprintf("slow from %d of %d locations", degraded, n)
	default:
		v.State = StateUp
		v.Reason = fmt.Sprintf("check passed from %d of %d locations", n, n)
	}
	if v.State != StateDown {
		for _, r := range counted {
			if r.Since.After(v.At) {
				v.At = r.Since
			}
		}
	}
	if n < asked {
		v.Reason += fmt.Sprintf(" (%d of the %d locations asked have a fresh result)", n, asked)
	}
	return v
}

// describeLocations names each location with its reason, shortly.
func describeLocations(rs []LocationResult) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Location
		if r.Reason != "" {
			parts[i] += " (" + clip(r.Reason, 80) + ")"
		}
	}
	return clip(strings.Join(parts, ", "), MaxReason-60)
}
