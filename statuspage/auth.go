package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/store"
)

// keyRecheck is how long a verified key is trusted without asking the store again. A key
// revoked anywhere (through another instance, or with the CLI, which writes to the store
// directly) stops working here within it; revoked through this instance, at once. The check is
// one read of the key by id, never a bcrypt comparison.
const keyRecheck = time.Second

const (
	maxCachedKeys    = 10_000
	maxTracked       = 100_000 // addresses and key ids with failed attempts
	failuresPerMin   = 10      // failed attempts allowed per minute, after a burst of as many
	contextKeyAPIKey = "upstate.apikey"
)

// authenticator checks API keys: one store read and one bcrypt comparison at most per request,
// and for a key verified before, one store read a second at most.
//
// Failed attempts are counted twice, per client address and per key id. An attempt is refused
// unverified only when both its address and its key id have used up their allowance: a valid
// key is never locked out by others' failures, whether from its own address (a shared NAT) or
// against its own id from elsewhere, while one address hammering one key gets nowhere and costs
// at most failuresPerMin bcrypt comparisons a minute. A key already verified is never refused
// for failures at all. (So a key not verified yet is refused from an address that also failed
// against its very id: telling it from a guess would take the comparison the limit saves.)
type authenticator struct {
	keys   store.Keys
	now    func() time.Time
	mu     sync.Mutex
	cache  map[[32]byte]*cachedKey
	byAddr map[string]*rate.Limiter
	byID   map[string]*rate.Limiter
}

type cachedKey struct {
	key     apikey.Key
	checked time.Time // when the store last said it exists unrevoked
}

func newAuthenticator(keys store.Keys, now func() time.Time) *authenticator {
	return &authenticator{keys: keys, now: now, cache: map[[32]byte]*cachedKey{},
		byAddr: map[string]*rate.Limiter{}, byID: map[string]*rate.Limiter{}}
}

var errBadKey = errors.New("invalid API key")

// limitedError refuses an attempt unverified: its address and its key id failed too often.
type limitedError struct{ retryAfter time.Duration }

func (e *limitedError) Error() string { return "too many failed authentication attempts" }

// verify returns the key token names, if it is valid and unrevoked; errBadKey (counted against
// addr and the key id) if not; a *limitedError if it was not checked; or the store's error.
func (a *authenticator) verify(ctx context.Context, token, addr string) (apikey.Key, error) {
	digest := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	ck := a.cache[digest]
	a.mu.Unlock()
	if ck != nil {
		if now.Sub(ck.checked) < keyRecheck {
			return ck.key, nil
		}
		return a.recheck(ctx, digest, ck, addr, now)
	}
	id, secret, err := apikey.Parse(token)
	if err != nil {
		a.fail(addr, "", now)
		return apikey.Key{}, errBadKey
	}
	if wait, limited := a.limited(addr, id, now); limited {
		return apikey.Key{}, &limitedError{retryAfter: wait}
	}
	key, err := a.keys.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		a.fail(addr, id, now)
		return apikey.Key{}, errBadKey
	}
	if err != nil {
		return apikey.Key{}, err
	}
	if key.Revoked() || !key.Verify(secret) {
		a.fail(addr, id, now)
		return apikey.Key{}, errBadKey
	}
	a.mu.Lock()
	if len(a.cache) >= maxCachedKeys {
		clear(a.cache)
	}
	a.cache[digest] = &cachedKey{key: key, checked: now}
	a.mu.Unlock()
	return key, nil
}

// recheck asks the store whether a verified key still stands: same hash, not revoked.
func (a *authenticator) recheck(ctx context.Context, digest [32]byte, ck *cachedKey, addr string, now time.Time) (apikey.Key, error) {
	key, err := a.keys.GetKey(ctx, ck.key.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return apikey.Key{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || key.Revoked() || !bytes.Equal(key.Hash, ck.key.Hash) {
		delete(a.cache, digest)
		a.failLocked(addr, ck.key.ID, now)
		return apikey.Key{}, errBadKey
	}
	a.cache[digest] = &cachedKey{key: key, checked: now}
	return key, nil
}

// forget drops a revoked key from the cache.
func (a *authenticator) forget(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for d, ck := range a.cache {
		if ck.key.ID == id {
			delete(a.cache, d)
		}
	}
}

// limited reports whether an attempt from addr on key id is refused unverified (both used up
// their allowance), and when the address may try again.
func (a *authenticator) limited(addr, id string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	byAddr, ok := a.byAddr[addr]
	if !ok || byAddr.TokensAt(now) >= 1 {
		return 0, false
	}
	if byID, ok := a.byID[id]; !ok || byID.TokensAt(now) >= 1 {
		return 0, false
	}
	return byAddr.ReserveN(now, 0).DelayFrom(now) + time.Minute/failuresPerMin, true
}

// fail counts a failed attempt against addr and, when it named one, the key id.
func (a *authenticator) fail(addr, id string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failLocked(addr, id, now)
}

func (a *authenticator) failLocked(addr, id string, now time.Time) {
	limiter(a.byAddr, addr).AllowN(now, 1)
	if id != "" {
		limiter(a.byID, id).AllowN(now, 1)
	}
}

func limiter(m map[string]*rate.Limiter, k string) *rate.Limiter {
	l, ok := m[k]
	if !ok {
		if len(m) >= maxTracked {
			clear(m) // crude, but bounded; a flood of addresses or ids resets everyone's allowance
		}
		l = rate.NewLimiter(rate.Every(time.Minute/failuresPerMin), failuresPerMin)
		m[k] = l
	}
	return l
}

// require returns middleware that admits requests carrying a valid, unrevoked key with scope.
func (s *Server) require(scope apikey.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, ok := bearer(c.Request())
			if !ok {
				return newError(http.StatusUnauthorized, "unauthorized", "an API key is required: send Authorization: Bearer up_<id>_<secret>")
			}
			ip := c.RealIP()
			key, err := s.auth.verify(c.Request().Context(), token, ip)
			var limited *limitedError
			switch {
			case errors.As(err, &limited):
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(limited.retryAfter.Seconds())+1))
				return newError(http.StatusTooManyRequests, "rate_limited", "too many failed authentication attempts from %s with this key; try again later", ip)
			case errors.Is(err, errBadKey):
				return newError(http.StatusUnauthorized, "unauthorized", "the API key is invalid or revoked")
			case err != nil:
				return err
			}
			if !key.Allows(scope) {
				return newError(http.StatusForbidden, "forbidden", "the key %q lacks the %q scope", key.Name, scope)
			}
			c.Set(contextKeyAPIKey, key)
			return next(c)
		}
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get(echo.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// actor is the name of the key that made the request.
func actor(c echo.Context) string {
	if k, ok := c.Get(contextKeyAPIKey).(apikey.Key); ok {
		return k.Name
	}
	return "anonymous"
}
