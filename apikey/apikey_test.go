package apikey_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
)

func TestGenerateParseVerify(t *testing.T) {
	key, token, err := apikey.GenerateCost(nil, "ops", []apikey.Scope{apikey.ScopeAdmin}, time.Unix(0, 0), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := apikey.Parse(token)
	if err != nil || id != key.ID || len(id) != 16 || len(secret) != 52 {
		t.Fatalf("Parse(%q) = %q, %q, %v", token, id, secret, err)
	}
	if !key.Verify(secret) || key.Verify(secret[:51]+"a") && secret[51] != 'a' {
		t.Error("Verify accepts the wrong secret or rejects the right one")
	}
	if bytes.Contains(key.Hash, []byte(secret)) {
		t.Error("the hash contains the secret")
	}
	_, token2, _ := apikey.GenerateCost(nil, "ops", []apikey.Scope{apikey.ScopeAdmin}, time.Unix(0, 0), bcrypt.MinCost)
	if token2 == token {
		t.Error("two keys are equal")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "up_", "upx_aaaaaaaaaaaaaaaa_secret", "up_short_secret", "up_aaaaaaaaaaaaaaaa-secret", "up_aaaaaaaaaaaaaaaa_" + strings.Repeat("s", 73)} {
		if _, _, err := apikey.Parse(s); !errors.Is(err, apikey.ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

func TestAllows(t *testing.T) {
	tests := []struct {
		have []apikey.Scope
		need apikey.Scope
		want bool
	}{
		{[]apikey.Scope{apikey.ScopeRead}, apikey.ScopeRead, true},
		{[]apikey.Scope{apikey.ScopeRead}, apikey.ScopeIncidents, false},
		{[]apikey.Scope{apikey.ScopeIncidents}, apikey.ScopeRead, true},
		{[]apikey.Scope{apikey.ScopeMaintenance}, apikey.ScopeIncidents, false},
		{[]apikey.Scope{apikey.ScopeAdmin}, apikey.ScopeMaintenance, true},
		{nil, apikey.ScopeRead, false},
	}
	for _, tt := range tests {
		if got := (apikey.Key{Scopes: tt.have}).Allows(tt.need); got != tt.want {
			t.Errorf("%v allows %s = %v, want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestGenerateValidates(t *testing.T) {
	if _, _, err := apikey.Generate(nil, "", []apikey.Scope{"root"}, time.Unix(0, 0)); err == nil ||
		!strings.Contains(err.Error(), "name: must be") || !strings.Contains(err.Error(), `unknown scope "root"`) {
		t.Errorf("Generate with a bad name and scope: %v", err)
	}
	// The name is shown as the author of what the key does: single-line text.
	var fe *component.FieldError
	if _, _, err := apikey.Generate(nil, "ops\x1b[2J", []apikey.Scope{apikey.ScopeRead}, time.Unix(0, 0)); !errors.As(err, &fe) ||
		fe.Field != "name" || !strings.Contains(fe.Message, "U+001B") {
		t.Errorf("Generate with an escape in the name: %v", err)
	}
	if fe := apikey.CheckName("deploy bot (CI)"); fe != nil {
		t.Errorf("CheckName: %v", fe)
	}
	if sc, err := apikey.ParseScopes("read, admin,read"); err != nil || len(sc) != 2 {
		t.Errorf("ParseScopes = %v, %v", sc, err)
	}
}
