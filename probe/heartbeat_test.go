package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const testToken = "abcdefghijklmnopqrstuvwxyz012345"

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestHeartbeatPeriod(t *testing.T) {
	h := NewHeartbeats()
	start := mustTime(t, "2026-03-01T00:00:00Z")
	p, err := h.Watch("backup", HeartbeatSpec{Token: testToken, Period: time.Hour, Grace: 5 * time.Minute}, start)
	if err != nil {
		t.Fatal(err)
	}
	probeAt := func(at time.Time) Result { return p.Probe(context.Background(), at) }

	// Before the first check-in, waiting began at start: due at 01:00, down after 01:05.
	if r := probeAt(start.Add(65 * time.Minute)); !r.OK {
		t.Errorf("at 01:05 (end of grace): %+v, want ok", r)
	}
	if r := probeAt(start.Add(65*time.Minute + time.Second)); r.OK || r.Phase != PhaseHeartbeat || !strings.Contains(r.Reason, "due at 2026-03-01T01:00:00Z") {
		t.Errorf("at 01:05:01: %+v, want a missed check-in due at 01:00", r)
	}
	// A start then a success: up, and the run's duration is reported.
	if _, err := h.Ping(testToken, PingStart, 0, start.Add(66*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Ping(testToken, PingSuccess, 0, start.Add(68*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := probeAt(start.Add(69 * time.Minute)); !r.OK || r.Duration != 2*time.Minute {
		t.Errorf("after check-in: %+v, want ok with a 2m duration", r)
	}
	// The next is due an hour after the last check-in.
	if r := probeAt(start.Add(68*time.Minute + 65*time.Minute)); !r.OK {
		t.Errorf("within grace of the second period: %+v", r)
	}
	if r := probeAt(start.Add(68*time.Minute + 65*time.Minute + time.Second)); r.OK {
		t.Errorf("past grace of the second period: %+v, want failure", r)
	}
	// A failure report is down at once, with its exit code, until the next success.
	if _, err := h.Ping(testToken, PingFail, 3, start.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := probeAt(start.Add(3*time.Hour + time.Second)); r.OK || !strings.Contains(r.Reason, "exit code 3") {
		t.Errorf("after /fail: %+v, want failure naming exit code 3", r)
	}
	if _, err := h.Ping(testToken, PingSuccess, 0, start.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r := probeAt(start.Add(4*time.Hour + time.Second)); !r.OK {
		t.Errorf("after success following a failure: %+v, want ok", r)
	}
	// Unknown tokens name no monitor.
	if _, err := h.Ping(testToken+"x", PingSuccess, 0, start); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("unknown token: err %v, want ErrUnknownToken", err)
	}
}

// A nightly job at 02:30 New York time. On the night clocks spring forward (2026-03-08) 02:30
// does not exist, and robfig/cron skips that day's run: no check-in is required that day (a
// lenient rule that never raises a false alarm), the next is due 2026-03-09 02:30 EDT. The day
// after, the due time is 02:30 EDT, 06:30 UTC, not 07:30: the schedule is read in its zone.
func TestHeartbeatScheduleAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHeartbeats()
	spec := HeartbeatSpec{Token: testToken, Schedule: "30 2 * * *", Location: ny, Grace: 10 * time.Minute}
	p, err := h.Watch("nightly", spec, mustTime(t, "2026-03-06T07:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	// Last check-in: 2026-03-07 02:31 EST (07:31 UTC).
	if _, err := h.Ping(testToken, PingSuccess, 0, mustTime(t, "2026-03-07T07:31:00Z")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at string
		ok bool
	}{
		{"2026-03-08T07:40:01Z", true},  // 03:40 EDT on the skipped day: nothing was due
		{"2026-03-09T06:40:00Z", true},  // 02:40 EDT: end of grace
		{"2026-03-09T06:40:01Z", false}, // past it
	} {
		if r := p.Probe(context.Background(), mustTime(t, tc.at)); r.OK != tc.ok {
			t.Errorf("at %s: ok %v (%s), want %v", tc.at, r.OK, r.Reason, tc.ok)
		}
	}
	// In winter time (before the change) the same schedule is due at 07:30 UTC.
	if _, err := h.Ping(testToken, PingSuccess, 0, mustTime(t, "2026-03-05T07:31:00Z")); err != nil {
		t.Fatal(err)
	}
	if r := p.Probe(context.Background(), mustTime(t, "2026-03-06T07:40:01Z")); r.OK || !strings.Contains(r.Reason, "due at 2026-03-06T07:30:00Z") {
		t.Errorf("winter: %+v, want due at 07:30 UTC", r)
	}
}

func TestHeartbeatRestoredDown(t *testing.T) {
	h := NewHeartbeats()
	start := mustTime(t, "2026-03-01T00:00:00Z")
	p, err := h.Watch("backup", HeartbeatSpec{Token: testToken, Period: time.Hour}, start)
	if err != nil {
		t.Fatal(err)
	}
	h.MarkMissing("backup")
	if r := p.Probe(context.Background(), start.Add(time.Second)); r.OK {
		t.Errorf("restored down without a check-in: %+v, want failure", r)
	}
	if _, err := h.Ping(testToken, PingSuccess, 0, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r := p.Probe(context.Background(), start.Add(2*time.Minute)); !r.OK {
		t.Errorf("after a check-in: %+v, want ok", r)
	}
	// Re-watching with a new token (a reload) keeps the check-ins and retires the old token.
	newToken := strings.Repeat("Z", 24)
	if _, err := h.Watch("backup", HeartbeatSpec{Token: newToken, Period: time.Hour}, start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Ping(testToken, PingSuccess, 0, start); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("old token after re-watch: %v, want ErrUnknownToken", err)
	}
	if id, err := h.Ping(newToken, PingSuccess, 0, start.Add(90*time.Minute)); err != nil || id != "backup" {
		t.Errorf("new token: %q, %v", id, err)
	}
	h.Forget("backup")
	if _, err := h.Ping(newToken, PingSuccess, 0, start); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("after Forget: %v, want ErrUnknownToken", err)
	}
}

func TestHeartbeatWatchRejects(t *testing.T) {
	h := NewHeartbeats()
	for name, spec := range map[string]HeartbeatSpec{
		"short token":   {Token: "short", Period: time.Hour},
		"no period":     {Token: testToken},
		"bad schedule":  {Token: testToken, Schedule: "61 * * * *"},
		"token charset": {Token: strings.Repeat("a", 21) + "/", Period: time.Hour},
	} {
		if _, err := h.Watch("m", spec, time.Time{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
