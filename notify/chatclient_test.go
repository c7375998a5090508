package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/service"
)

// TestChatClientIsOursWhereShoutrrrTakesOne: ntfy, rocketchat and discord post through the
// client they are given (useClient), so a receiver that answers 307 to a loopback address
// gets the post and the loopback address gets nothing: no redirect is followed. With private
// addresses refused, the post to a loopback receiver is refused when it connects.
func TestChatClientIsOursWhereShoutrrrTakesOne(t *testing.T) {
	var secretHits atomic.Int32
	secret := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { secretHits.Add(1) }))
	t.Cleanup(secret.Close)
	var hits atomic.Int32
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, secret.URL+"/admin/secret", http.StatusTemporaryRedirect)
	})
	plain := httptest.NewServer(redirect)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(redirect) // rocketchat and discord speak https only
	t.Cleanup(secure.Close)
	plainHost, secureHost := strings.TrimPrefix(plain.URL, "http://"), strings.TrimPrefix(secure.URL, "https://")

	// clientFor is the subscribers' client, its TLS trusting the test server whatever the
	// name (discord's is discord.com), and discord.com dialled at the test server.
	clientFor := func(allowPrivate bool) *http.Client {
		hc := newSubscriberHTTPClient(allowPrivate)
		tr := hc.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own server
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "discord.com:443" {
				addr = secureHost
			}
			return dial(ctx, network, addr)
		}
		hc.Transport = tr
		return hc
	}
	cases := []struct {
		name, url string
		loopback  bool // the receiver is the URL's host (discord's is discord.com, dialled at the test server)
	}{
		{"ntfy", "ntfy://" + plainHost + "/alerts?scheme=http", true},
		{"rocketchat", "rocketchat://" + secureHost + "/tokenA/tokenB/ops", true},
		{"discord", "discord://token@123456789", false},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/redirect", func(t *testing.T) {
			before := hits.Load()
			err := shout(t.Context(), make(chan struct{}, 1), clientFor(true), tc.url, "API is down", "Incident", 10*time.Second)
			if err == nil {
				t.Error("a 307 answered: no error, want the post failed")
			}
			if got := hits.Load() - before; got != 1 {
				t.Errorf("the receiver got %d posts, want 1 (through our client): %v", got, err)
			}
			if n := secretHits.Load(); n != 0 {
				t.Fatalf("the redirect to loopback was followed: %d requests", n)
			}
		})
		if !tc.loopback {
			continue
		}
		t.Run(tc.name+"/private", func(t *testing.T) {
			before := hits.Load()
			err := shout(t.Context(), make(chan struct{}, 1), clientFor(false), tc.url, "API is down", "Incident", 10*time.Second)
			if !errors.Is(err, service.ErrPrivateAddress) {
				t.Errorf("a post to loopback: %v, want %v", err, service.ErrPrivateAddress)
			}
			if got := hits.Load() - before; got != 0 {
				t.Errorf("the loopback receiver got %d posts, want none", got)
			}
		})
	}
}
