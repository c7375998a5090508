package probe

import (
	"fmt"
	"time"
)

// Detector turns a monitor's results into state transitions. It is not safe for concurrent use:
// the engine runs one monitor's probes one at a time and owns its detector.
//
// Rules (DESIGN section 2):
//   - a monitor goes down after Thresholds.Failures failed results in a row, back-dated to the first
//     of them;
//   - a down monitor comes back after Thresholds.Successes good results in a row, back-dated to the
//     first of them (the service answered correctly from then on);
//   - a good result slower than the latency threshold makes an up monitor degraded, and a fast one
//     makes a degraded monitor up again, at once;
//   - with no result for two intervals the monitor becomes unknown (see Expire).
type Detector struct {
	monitorID  string
	interval   time.Duration
	thresholds Thresholds

	state        State
	last         time.Time // time of the last result observed
	failStreak   int
	firstFailAt  time.Time
	firstFailWhy string
	okStreak     int
	firstOKAt    time.Time
}

// NewDetector returns a detector for m, starting in the unknown state, or in state since a
// restart when the store remembers the monitor's last transition.
func NewDetector(m Monitor, state State) *Detector {
	if !state.Valid() {
		state = StateUnknown
	}
	th := m.Thresholds
	th.Failures = max(th.Failures, 1)
	th.Successes = max(th.Successes, 1)
	return &Detector{monitorID: m.ID, interval: m.Interval, thresholds: th, state: state}
}

// State returns the current state.
func (d *Detector) State() State { return d.state }

// Observe feeds one result and returns the transition it causes, if any.
func (d *Detector) Observe(r Result) (Transition, bool) {
	d.last = r.At
	if !r.OK {
		d.okStreak = 0
		if d.failStreak == 0 {
			d.firstFailAt, d.firstFailWhy = r.At, describe(r)
		}
		d.failStreak++
		if d.state != StateDown && d.failStreak >= d.thresholds.Failures {
			reason := d.firstFailWhy
			if d.failStreak > 1 {
				reason = fmt.Sprintf("%s (%d failures in a row)", reason, d.failStreak)
			}
			return d.move(d.firstFailAt, StateDown, reason), true
		}
		return Transition{}, false
	}

	d.failStreak = 0
	good := StateUp
	reason := "check passed"
	if d.thresholds.LatencyThreshold > 0 && r.Duration > d.thresholds.LatencyThreshold {
		good = StateDegraded
		reason = fmt.Sprintf("response took %s, above the %s threshold", r.Duration.Round(time.Millisecond), d.thresholds.LatencyThreshold)
	}
	if d.state == StateDown {
		if d.okStreak == 0 {
			d.firstOKAt = r.At
		}
		d.okStreak++
		if d.okStreak < d.thresholds.Successes {
			return Transition{}, false
		}
		d.okStreak = 0
		return d.move(d.firstOKAt, good, reason), true
	}
	if d.state != good {
		return d.move(r.At, good, reason), true
	}
	return Transition{}, false
}

// Expire makes the monitor unknown when its last result is older than two intervals at now. The
// transition is dated when the result went stale, not when Expire noticed.
func (d *Detector) Expire(now time.Time) (Transition, bool) {
	if d.state == StateUnknown || d.last.IsZero() {
		return Transition{}, false
	}
	staleAt := d.last.Add(2 * d.interval)
	if now.Before(staleAt) {
		return Transition{}, false
	}
	d.failStreak, d.okStreak = 0, 0
	return d.move(staleAt, StateUnknown, "no result for two intervals"), true
}

func (d *Detector) move(at time.Time, to State, reason string) Transition {
	t := Transition{MonitorID: d.monitorID, At: at.UTC(), From: d.state, To: to, Reason: reason}
	d.state = to
	return t
}

func describe(r Result) string {
	if r.Phase == PhaseNone {
		return r.Reason
	}
	return fmt.Sprintf("%s: %s", r.Phase, r.Reason)
}
