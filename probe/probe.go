// Package probe runs checks against targets and turns their results into monitor states.
//
// A failed probe is data, never a Go error: Prober.Probe returns a Result that says whether the
// target was healthy and, if not, in which phase and why it failed.
package probe

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the kind of check a monitor runs.
type Kind string

// The monitor kinds.
const (
	KindHTTP      Kind = "http"
	KindTCP       Kind = "tcp"
	KindDNS       Kind = "dns"
	KindTLS       Kind = "tls"
	KindICMP      Kind = "icmp"
	KindHeartbeat Kind = "heartbeat"
)

// State is a monitor's state.
type State string

// The monitor states.
const (
	StateUp       State = "up"
	StateDegraded State = "degraded" // answering correctly but slower than the latency threshold
	StateDown     State = "down"
	StateUnknown  State = "unknown" // no fresh result
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StateUp, StateDegraded, StateDown, StateUnknown:
		return true
	}
	return false
}

// Phase is the step of a probe in which it failed.
type Phase string

// The failure phases.
const (
	PhaseNone      Phase = ""
	PhaseDNS       Phase = "dns"
	PhaseConnect   Phase = "connect"
	PhaseTLS       Phase = "tls"
	PhaseHTTP      Phase = "http"
	PhaseAssertion Phase = "assertion"
	PhaseTimeout   Phase = "timeout"
	PhaseHeartbeat Phase = "heartbeat" // a check-in was missed or reported failure
)

// Result is one probe run.
type Result struct {
	MonitorID string        `json:"monitor_id"`
	At        time.Time     `json:"at"` // when the run started
	OK        bool          `json:"ok"`
	Duration  time.Duration `json:"duration"`
	Phase     Phase         `json:"phase,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	// Details of the run, set where the kind has them.
	StatusCode   int       `json:"status_code,omitempty"`
	CertNotAfter time.Time `json:"cert_not_after,omitzero"`
}

// Prober runs one check. Implementations must honour ctx's deadline and return a Result for
// every outcome of the target; they never return a Go error for an unhealthy target.
type Prober interface {
	Probe(ctx context.Context, at time.Time) Result
}

// Thresholds decide when a monitor's state changes.
type Thresholds struct {
	Failures         int           // consecutive failed results before the monitor is down
	Successes        int           // consecutive good results before a down monitor is up again
	LatencyThreshold time.Duration // slower good results make the monitor degraded; 0 disables
	// Retries re-probe a failing monitor at once, RetrySpacing apart, instead of waiting whole
	// intervals to confirm an outage: with Failures 2 and one retry 1 s later, an outage is
	// confirmed (and back-dated to the first failure) about a second after it is first seen.
	Retries      int
	RetrySpacing time.Duration
}

// HTTPSpec is the check an HTTP monitor runs.
type HTTPSpec struct {
	URL                string
	Method             string
	Headers            map[string]string
	Body               string
	ExpectStatus       []StatusRange // empty means any 2xx
	BodyContains       string
	MaxBodyBytes       int64 // bytes of the body read at most
	MaxRedirects       int   // 0 means redirects are not followed
	InsecureSkipVerify bool
	// BodyRegex, when set, must match the body (within MaxBodyBytes).
	BodyRegex *regexp.Regexp
	// JSONPath (gjson syntax, such as "status" or "checks.0.ok"), when set, must exist in the
	// JSON body and, if JSONEquals is set, its value must be exactly that text.
	JSONPath   string
	JSONEquals *string
	// CertMinDays: an HTTPS run fails when the earliest certificate of the chain expires in fewer
	// days (0 disables).
	CertMinDays int
	// IPFamily: "4" or "6" connects over that family only; "" uses either.
	IPFamily string
}

// StatusRange is an inclusive range of HTTP status codes; a single code has Min == Max.
type StatusRange struct{ Min, Max int }

// Contains reports whether code is in the range.
func (r StatusRange) Contains(code int) bool { return code >= r.Min && code <= r.Max }

// Monitor is one check bound to a component.
type Monitor struct {
	ID          string
	ComponentID string
	Name        string
	Kind        Kind
	Interval    time.Duration
	Timeout     time.Duration
	Thresholds  Thresholds
	HTTP        *HTTPSpec // set when Kind is KindHTTP
	TCP         *TCPSpec
	TLS         *TLSSpec
	DNS         *DNSSpec
	Heartbeat   *HeartbeatSpec
	ICMP        *ICMPSpec
	Paused      bool // start paused: no runs until resumed
	// Locations is how many locations the monitor is checked from when several instances
	// share the store (0 or 1: one, its component's owner's); its state is then their quorum
	// (Quorum).
	Locations int
}

// Transition is a change of a monitor's state, stored with its time. Confirmed downtime is
// back-dated: At is the first failing result's time, not the time the failure was confirmed.
type Transition struct {
	MonitorID string    `json:"monitor_id"`
	At        time.Time `json:"at"`
	From      State     `json:"from"`
	To        State     `json:"to"`
	Reason    string    `json:"reason"`
	// Resumed is set on a monitor's first change out of unknown after Upstate stopped cleanly
	// (or the monitor's owner did): the state it had then, which its notifications carry on
	// from. It is not stored.
	Resumed State `json:"resumed,omitempty"`
}

// failed is res completed as a failure in phase ph, timed from start: what a prober returns when
// its check fails. The reason is clipped to MaxReason bytes of valid UTF-8: errors can quote
// what a hostile target sent (net/http quotes a malformed status line whole), and a reason is
// stored with every transition and shown on the page.
func failed(res Result, start time.Time, ph Phase, format string, args ...any) Result {
	res.OK, res.Phase, res.Reason, res.Duration = false, ph, clip(fmt.Sprintf(format, args...), MaxReason), time.Since(start)
	return res
}

// MaxReason bounds the length of a failure reason, in bytes.
const MaxReason = 300

// clip returns s as valid UTF-8 of at most n bytes, cut on a rune boundary and marked with an
// ellipsis (3 bytes more) where it was cut.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
