package probe

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// HeartbeatSpec is what a heartbeat monitor expects: a check-in every Period, or one after each
// time of a cron Schedule in Location, each allowed Grace to arrive.
type HeartbeatSpec struct {
	Token    string // the secret in /ping/{token}
	Period   time.Duration
	Schedule string         // cron expression (5 fields); when set, Period is not used
	Location *time.Location // Schedule's time zone (default UTC)
	Grace    time.Duration
}

// TokenPattern is what a heartbeat token must look like: at least 22 URL-safe characters,
// which is 128 bits when drawn at random (openssl rand -base64 24 | tr +/ -_, say).
var TokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22,128}$`)

// ParseCron parses a standard 5-field cron expression (or @daily, @hourly, ...).
func ParseCron(expr string) (cron.Schedule, error) {
	return cron.ParseStandard(expr)
}

// PingKind is what a check-in says.
type PingKind string

// The check-in kinds.
const (
	PingSuccess PingKind = "success" // /ping/{token}, or exit code 0
	PingStart   PingKind = "start"   // /ping/{token}/start: the job began
	PingFail    PingKind = "fail"    // /ping/{token}/fail, or a non-zero exit code
)

// ErrUnknownToken is returned for a check-in whose token no monitor has.
var ErrUnknownToken = errors.New("unknown heartbeat token")

// beat is one heartbeat monitor's check-ins.
type beat struct {
	monitorID string
	spec      HeartbeatSpec
	schedule  cron.Schedule // nil for a period
	watching  time.Time     // when Upstate began waiting: the reference before the first check-in
	missing   bool          // known down before the first check-in (restored after a restart)
	lastOK    time.Time
	lastStart time.Time
	lastFail  time.Time
	exitCode  int
}

// Heartbeats holds every heartbeat monitor's check-ins. It is safe for concurrent use: pings
// arrive from HTTP handlers while the engine evaluates them.
type Heartbeats struct {
	mu      sync.Mutex
	byToken map[[32]byte]*beat // by SHA-256 of the token, so a lookup's timing says nothing of it
	byID    map[string]*beat
}

// NewHeartbeats returns an empty registry.
func NewHeartbeats() *Heartbeats {
	return &Heartbeats{byToken: map[[32]byte]*beat{}, byID: map[string]*beat{}}
}

// Validate reports what Watch would refuse in spec, without watching anything.
func (spec HeartbeatSpec) Validate(monitorID string) error {
	_, err := spec.schedule(monitorID)
	return err
}

// schedule checks spec and parses its cron schedule (nil when it has a period instead).
func (spec HeartbeatSpec) schedule(monitorID string) (cron.Schedule, error) {
	var sched cron.Schedule
	if spec.Schedule != "" {
		s, err := ParseCron(spec.Schedule)
		if err != nil {
			return nil, fmt.Errorf("heartbeat %s: schedule: %w", monitorID, err)
		}
		sched = s
	} else if spec.Period <= 0 {
		return nil, fmt.Errorf("heartbeat %s: a period or a schedule is required", monitorID)
	}
	if !TokenPattern.MatchString(spec.Token) {
		return nil, fmt.Errorf("heartbeat %s: token must match %s", monitorID, TokenPattern)
	}
	return sched, nil
}

// Watch registers (or re-registers, keeping its check-ins) a heartbeat monitor and returns its
// prober. since is when waiting begins: no check-in is due before since plus one period and grace.
func (h *Heartbeats) Watch(monitorID string, spec HeartbeatSpec, since time.Time) (*Heartbeat, error) {
	sched, err := spec.schedule(monitorID)
	if err != nil {
		return nil, err
	}
	if spec.Location == nil {
		spec.Location = time.UTC
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.byID[monitorID]
	if ok {
		delete(h.byToken, sha256.Sum256([]byte(b.spec.Token)))
	} else {
		b = &beat{monitorID: monitorID, watching: since}
		h.byID[monitorID] = b
	}
	b.spec, b.schedule = spec, sched
	h.byToken[sha256.Sum256([]byte(spec.Token))] = b
	return &Heartbeat{h: h, b: b}, nil
}

// Forget removes a monitor's heartbeat.
func (h *Heartbeats) Forget(monitorID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.byID[monitorID]; ok {
		delete(h.byToken, sha256.Sum256([]byte(b.spec.Token)))
		delete(h.byID, monitorID)
	}
}

// MarkMissing records that the monitor was already down before this process began waiting
// (its last stored state), so a restart does not turn a silent job back up by itself.
func (h *Heartbeats) MarkMissing(monitorID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.byID[monitorID]; ok && b.lastOK.IsZero() && b.lastFail.IsZero() {
		b.missing = true
	}
}

// Ping records a check-in and returns the monitor it belongs to.
func (h *Heartbeats) Ping(token string, kind PingKind, exitCode int, at time.Time) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.byToken[sha256.Sum256([]byte(token))]
	if !ok {
		return "", ErrUnknownToken
	}
	at = at.UTC()
	switch kind {
	case PingStart:
		b.lastStart = at
	case PingFail:
		b.lastFail, b.exitCode = at, exitCode
	default:
		b.lastOK = at
	}
	return b.monitorID, nil
}

// Heartbeat is the prober of one heartbeat monitor: it runs no check of its own but judges the
// check-ins received so far.
type Heartbeat struct {
	h *Heartbeats
	b *beat
}

// Probe reports whether the job checked in on time at the given moment, and whether its last
// check-in reported success.
func (p *Heartbeat) Probe(_ context.Context, at time.Time) Result {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	b := p.b
	res := Result{At: at}
	if !b.lastFail.IsZero() && !b.lastFail.Before(b.lastOK) {
		res.Phase = PhaseHeartbeat
		res.Reason = "the job reported failure at " + b.lastFail.Format(time.RFC3339)
		if b.exitCode != 0 {
			res.Reason += fmt.Sprintf(" (exit code %d)", b.exitCode)
		}
		return res
	}
	ref := b.lastOK
	if ref.IsZero() {
		if b.missing {
			res.Phase, res.Reason = PhaseHeartbeat, "no check-in since "+b.watching.UTC().Format(time.RFC3339)+" (down before the restart)"
			return res
		}
		ref = b.watching
	}
	due := p.due(ref)
	if at.After(due.Add(b.spec.Grace)) {
		res.Phase = PhaseHeartbeat
		res.Reason = fmt.Sprintf("no check-in since %s: one was due at %s (grace %s)",
			ref.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339), b.spec.Grace)
		return res
	}
	res.OK = true
	if !b.lastStart.IsZero() && !b.lastOK.IsZero() && !b.lastStart.After(b.lastOK) {
		res.Duration = b.lastOK.Sub(b.lastStart) // how long the job's last run took
	}
	return res
}

// due is when the check-in after ref is expected: one period later, or the schedule's next
// time after ref in its zone.
func (p *Heartbeat) due(ref time.Time) time.Time {
	if p.b.schedule == nil {
		return ref.Add(p.b.spec.Period)
	}
	return p.b.schedule.Next(ref.In(p.b.spec.Location))
}
