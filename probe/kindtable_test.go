package probe_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/probe"
)

// TestKindTable: every kind builds its prober from its spec, refuses a monitor without it, and
// says what it checks without a secret.
func TestKindTable(t *testing.T) {
	env := probe.Env{Heartbeats: probe.NewHeartbeats(), Now: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Transport: func(bool, string) http.RoundTripper { return http.DefaultTransport }}
	tests := []struct {
		m      probe.Monitor
		target string
	}{
		{probe.Monitor{ID: "h", Kind: probe.KindHTTP, HTTP: &probe.HTTPSpec{URL: "http://127.0.0.1:1/"}}, "http://127.0.0.1:1/"},
		{probe.Monitor{ID: "t", Kind: probe.KindTCP, TCP: &probe.TCPSpec{Address: "127.0.0.1:1"}}, "127.0.0.1:1"},
		{probe.Monitor{ID: "s", Kind: probe.KindTLS, TLS: &probe.TLSSpec{Address: "127.0.0.1:443"}}, "127.0.0.1:443"},
		{probe.Monitor{ID: "d", Kind: probe.KindDNS, DNS: &probe.DNSSpec{Name: "example.org", Type: "A", Server: "127.0.0.1:53"}}, "A example.org @127.0.0.1:53"},
		{probe.Monitor{ID: "i", Kind: probe.KindICMP, ICMP: &probe.ICMPSpec{Host: "127.0.0.1", Count: 1}}, "127.0.0.1"},
		{probe.Monitor{ID: "b", Kind: probe.KindHeartbeat, Heartbeat: &probe.HeartbeatSpec{Token: "secret-token-abcdefghijklmnop", Period: time.Hour, Grace: time.Minute}},
			"check-in every 1h0m0s + 1m0s"},
	}
	seen := map[probe.Kind]bool{}
	for _, tt := range tests {
		t.Run(string(tt.m.Kind), func(t *testing.T) {
			seen[tt.m.Kind] = true
			if !tt.m.Kind.Valid() {
				t.Fatalf("kind %s is not valid", tt.m.Kind)
			}
			if p, err := probe.NewProber(tt.m, env); err != nil || p == nil {
				t.Fatalf("NewProber = %v, %v", p, err)
			}
			if got := probe.Target(tt.m); got != tt.target || strings.Contains(got, "secret") {
				t.Errorf("Target = %q, want %q", got, tt.target)
			}
			bare := probe.Monitor{ID: tt.m.ID, Kind: tt.m.Kind}
			if _, err := probe.NewProber(bare, env); err == nil || !strings.Contains(err.Error(), "without its") {
				t.Errorf("NewProber without a spec: %v, want an error", err)
			}
		})
	}
	if len(seen) != 6 {
		t.Errorf("the table test covers %d kinds, want all 6", len(seen))
	}
	if probe.Kind("grpc").Valid() {
		t.Error("an unknown kind is valid")
	}
	if _, err := probe.NewProber(probe.Monitor{ID: "x", Kind: "grpc"}, env); err == nil {
		t.Error("NewProber built an unknown kind")
	}
}
