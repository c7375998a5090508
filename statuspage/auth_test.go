package statuspage

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// wrongSecret is token with another secret: its key id, which exists, and a failed comparison.
func wrongSecret(token string) string { return token[:len(token)-2] + "zz" }

// TestFailedAuthIsRateLimited: one address failing against one key is refused unverified (no
// bcrypt) once both have used up their allowance, with Retry-After, until it has refilled.
func TestFailedAuthIsRateLimited(t *testing.T) {
	f := newFixture(t)
	const path = "/api/admin/v1/components"
	bad := wrongSecret(f.tokens[apikey.ScopeRead])
	for i := range failuresPerMin {
		if r := get(f.srv, "192.0.2.10", path, bad); r.code != 401 {
			t.Fatalf("attempt %d: status %d, want 401", i, r.code)
		}
	}
	r := get(f.srv, "192.0.2.10", path, bad)
	if r.code != 429 || r.apiErr(t).Code != "rate_limited" || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: status %d %s, want 429 with Retry-After", failuresPerMin, r.code, r.body)
	}
	f.clock.Advance(time.Minute)
	if r := get(f.srv, "192.0.2.10", path, bad); r.code != 401 {
		t.Fatalf("a minute later: status %d, want 401 (checked again)", r.code)
	}
	if r := get(f.srv, "192.0.2.10", path, f.tokens[apikey.ScopeRead]); r.code != 200 {
		t.Fatalf("the valid key a minute later: status %d, want 200", r.code)
	}
}

// TestValidKeyNotLockedOutByOthers: failures are counted per address and per key id apart, so
// neither others' failures from the same address (a shared NAT) nor failures against the key's
// own id from elsewhere lock a valid key out.
func TestValidKeyNotLockedOutByOthers(t *testing.T) {
	f := newFixture(t)
	const path = "/api/admin/v1/components"
	// Someone behind the office's address fails with unknown keys and a wrong secret.
	for i := range 2 * failuresPerMin {
		token := fmt.Sprintf("up_%016d_%s", i, strings.Repeat("c", 52))
		if i%2 == 1 {
			token = wrongSecret(f.tokens[apikey.ScopeIncidents])
		}
		get(f.srv, "198.51.100.7", path, token)
	}
	if r := get(f.srv, "198.51.100.7", path, wrongSecret(f.tokens[apikey.ScopeIncidents])); r.code != 429 {
		t.Fatalf("the failing client: status %d, want 429", r.code)
	}
	// A colleague's valid key, from the same address, not verified before.
	if r := get(f.srv, "198.51.100.7", path, f.tokens[apikey.ScopeAdmin]); r.code != 200 {
		t.Errorf("a valid key from a rate-limited address: status %d %s, want 200", r.code, r.body)
	}
	// Attempts against the read key's id from many addresses, a few each.
	bad := wrongSecret(f.tokens[apikey.ScopeRead])
	for i := range 3 * failuresPerMin {
		get(f.srv, fmt.Sprintf("203.0.113.%d", i), path, bad)
	}
	if r := get(f.srv, "192.0.2.10", path, f.tokens[apikey.ScopeRead]); r.code != 200 {
		t.Errorf("a valid key whose id others failed against: status %d %s, want 200", r.code, r.body)
	}
	// A verified key is never refused for failures, even from an address failing against it.
	for range 2 * failuresPerMin {
		get(f.srv, "192.0.2.10", path, bad)
	}
	if r := get(f.srv, "192.0.2.10", path, f.tokens[apikey.ScopeRead]); r.code != 200 {
		t.Errorf("a verified key: status %d, want 200", r.code)
	}
}

// TestRevokedKeyStopsEverywhere: two servers on one store, as two instances on one Redis. A key
// revoked through one is refused there at once and by the other within a second; one revoked
// by the CLI (through service, straight to the store) is refused by both within a second.
func TestRevokedKeyStopsEverywhere(t *testing.T) {
	f := newFixture(t)
	a, b := f.srv, cachedServer(t, f, f.store, nil)
	newKey := func(name string) (apikey.Key, string) {
		key, token, err := apikey.GenerateCost(nil, name, []apikey.Scope{apikey.ScopeRead}, t0, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.CreateKey(t.Context(), key, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
		return key, token
	}
	const path = "/api/admin/v1/components"
	viaAPI, viaAPIToken := newKey("via-api")
	viaCLI, viaCLIToken := newKey("via-cli")
	for _, srv := range []*Server{a, b} {
		for _, token := range []string{viaAPIToken, viaCLIToken} {
			if r := get(srv, "192.0.2.10", path, token); r.code != 200 {
				t.Fatalf("before revoking: status %d", r.code)
			}
		}
	}
	if r := f.do("DELETE", "/api/admin/v1/keys/"+viaAPI.ID, f.tokens[apikey.ScopeAdmin], ""); r.code != 204 {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	cli := service.New(service.Options{Store: f.store, Clock: f.clock})
	if err := cli.Keys.Revoke(t.Context(), service.Actor{Name: "cli"}, viaCLI.ID); err != nil {
		t.Fatal(err)
	}
	if r := get(a, "192.0.2.10", path, viaAPIToken); r.code != 401 {
		t.Errorf("revoked through this instance: status %d, want 401 at once", r.code)
	}
	f.clock.Advance(keyRecheck)
	for name, srv := range map[string]*Server{"this instance": a, "the other instance": b} {
		for _, token := range []string{viaAPIToken, viaCLIToken} {
			if r := get(srv, "192.0.2.10", path, token); r.code != 401 {
				t.Errorf("%s, a second after the revocation: status %d, want 401", name, r.code)
			}
		}
	}
}
