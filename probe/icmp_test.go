package probe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/internal/testenv"
)

// TestICMP pings loopback. Where this machine allows no ICMP socket at all, the result must be
// the clear permission message; under CI=true the machine must allow one (CI runs as root).
func TestICMP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r := NewICMP(ICMPSpec{Host: "127.0.0.1", Count: 2, Spacing: 50 * time.Millisecond}).Probe(ctx, time.Now())
	if !r.OK && strings.Contains(r.Reason, "ICMP sockets are not allowed") {
		if testenv.CI() {
			t.Fatalf("CI must allow ICMP sockets: %s", r.Reason)
		}
		t.Skipf("no ICMP socket on this machine: %s", r.Reason)
	}
	// The bound is the probe's own timeout, not a speed: a probe never outlives its context.
	if !r.OK || r.Duration <= 0 || r.Duration > 3*time.Second {
		t.Fatalf("ping 127.0.0.1: %+v; want ok with a round-trip time", r)
	}
	for name, spec := range map[string]ICMPSpec{
		"unresolvable": {Host: "no-such-host.invalid"},
		"no ip6":       {Host: "127.0.0.1", Network: "ip6"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r := NewICMP(spec).Probe(ctx, time.Now())
		cancel()
		if r.OK || r.Phase != PhaseDNS {
			t.Errorf("%s: %+v; want a dns failure", name, r)
		}
	}
	// A wanted reply count above what is sent never passes, and is bounded by the timeout.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	r = NewICMP(ICMPSpec{Host: "127.0.0.1", Count: 1, MinReplies: 2}).Probe(ctx2, time.Now())
	if r.OK || !strings.Contains(r.Reason, "want at least 2") {
		t.Errorf("min replies 2 of 1: %+v", r)
	}
}
