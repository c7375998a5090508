// Package apikey makes and checks admin API keys.
//
// A key reads "up_<id>_<secret>": the id is public and finds the stored record, the secret is 32
// random bytes stored only as a bcrypt hash. One request therefore costs at most one bcrypt
// comparison, whatever the number of keys.
package apikey

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/component"
)

// Scope is what a key may do.
type Scope string

// The scopes. Admin allows everything; incidents and maintenance include read.
const (
	ScopeRead        Scope = "read"
	ScopeIncidents   Scope = "incidents"
	ScopeMaintenance Scope = "maintenance"
	ScopeAdmin       Scope = "admin"
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeRead, ScopeIncidents, ScopeMaintenance, ScopeAdmin}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return slices.Contains(Scopes, s) }

// Key is a stored API key. Hash is the bcrypt hash of the secret; the secret itself is never kept.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []Scope   `json:"scopes"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Allows reports whether the key grants need.
func (k Key) Allows(need Scope) bool {
	for _, s := range k.Scopes {
		if s == need || s == ScopeAdmin || (need == ScopeRead && (s == ScopeIncidents || s == ScopeMaintenance)) {
			return true
		}
	}
	return false
}

const (
	prefix    = "up_"
	idBytes   = 10 // 16 base32 characters
	idLen     = 16
	secretLen = 32 // bytes of randomness in the secret
	// MaxNameLength bounds a key's name.
	MaxNameLength = 100
)

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrMalformed is returned by Parse for text that is not a key.
var ErrMalformed = errors.New("malformed API key")

// Generate makes a new key named name with scopes, reading randomness from r (crypto/rand.Reader
// when nil). It returns the record to store and the token to show once.
func Generate(r io.Reader, name string, scopes []Scope, now time.Time) (Key, string, error) {
	return GenerateCost(r, name, scopes, now, bcrypt.DefaultCost)
}

// GenerateCost is Generate with a chosen bcrypt cost; tests use bcrypt.MinCost to stay fast.
// The cost is recorded in the hash, so verification needs no setting.
func GenerateCost(r io.Reader, name string, scopes []Scope, now time.Time, cost int) (Key, string, error) {
	if r == nil {
		r = rand.Reader
	}
	if err := validate(name, scopes); err != nil {
		return Key{}, "", err
	}
	raw := make([]byte, idBytes+secretLen)
	if _, err := io.ReadFull(r, raw); err != nil {
		return Key{}, "", fmt.Errorf("read randomness: %w", err)
	}
	id := strings.ToLower(encoding.EncodeToString(raw[:idBytes]))
	secret := strings.ToLower(encoding.EncodeToString(raw[idBytes:]))
	hash, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
	if err != nil {
		return Key{}, "", fmt.Errorf("hash key: %w", err)
	}
	key := Key{ID: id, Name: name, Scopes: slices.Clone(scopes), Hash: hash, CreatedAt: now.UTC()}
	return key, prefix + id + "_" + secret, nil
}

// CheckName returns the problem with a key's name, or nil: a name is 1 to MaxNameLength bytes
// of single-line text (component.CheckText), as it is shown as the author of what the key does.
func CheckName(name string) *component.FieldError {
	if name == "" || len(name) > MaxNameLength {
		return &component.FieldError{Field: "name", Message: fmt.Sprintf("must be 1-%d bytes", MaxNameLength)}
	}
	return component.CheckText("name", name, component.SingleLine)
}

func validate(name string, scopes []Scope) error {
	var errs []error
	if fe := CheckName(name); fe != nil {
		errs = append(errs, fe)
	}
	if len(scopes) == 0 {
		errs = append(errs, errors.New("at least one scope is required"))
	}
	for _, s := range scopes {
		if !s.Valid() {
			errs = append(errs, fmt.Errorf("unknown scope %q (want read, incidents, maintenance or admin)", string(s)))
		}
	}
	return errors.Join(errs...)
}

// ParseScopes reads a comma-separated list of scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for part := range strings.SplitSeq(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if !sc.Valid() {
			return nil, fmt.Errorf("unknown scope %q (want read, incidents, maintenance or admin)", string(sc))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// Parse splits a token into its id and secret.
func Parse(token string) (id, secret string, err error) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(rest) < idLen+2 || rest[idLen] != '_' {
		return "", "", ErrMalformed
	}
	id, secret = rest[:idLen], rest[idLen+1:]
	if len(secret) > 72 { // bcrypt's limit; longer input cannot be a key of ours
		return "", "", ErrMalformed
	}
	return id, secret, nil
}

// Verify reports whether secret matches the stored key's hash.
func (k Key) Verify(secret string) bool {
	return bcrypt.CompareHashAndPassword(k.Hash, []byte(secret)) == nil
}
