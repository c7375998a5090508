package statuspage

import (
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

// keyCacheTTL is how long a verified key is trusted without a store read. A key revoked through
// another instance stops working here within this time; through this one, at once.
const keyCacheTTL = 30 * time.Second

const (
	maxCachedKeys    = 10_000
	maxTrackedIPs    = 100_000
	failuresPerMin   = 10 // failed attempts a client may make per minute, after a burst of as many
	contextKeyAPIKey = "upstate.apikey"
)

// authenticator checks API keys: one store read and one bcrypt comparison at most per request,
// none while a verified key is cached.
type authenticator struct {
	keys  store.Keys
	now   func() time.Time
	mu    sync.Mutex
	cache map[[32]byte]cachedKey
	fails map[string]*rate.Limiter // failed attempts per client address
}

type cachedKey struct {
	key     apikey.Key
	expires time.Time
}

func newAuthenticator(keys store.Keys, now func() time.Time) *authenticator {
	return &authenticator{keys: keys, now: now, cache: map[[32]byte]cachedKey{}, fails: map[string]*rate.Limiter{}}
}

var errBadKey = errors.New("invalid API key")

func (a *authenticator) verify(c echo.Context, token string) (apikey.Key, error) {
	digest := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	ck, ok := a.cache[digest]
	a.mu.Unlock()
	if ok && now.Before(ck.expires) {
		return ck.key, nil
	}
	id, secret, err := apikey.Parse(token)
	if err != nil {
		return apikey.Key{}, errBadKey
	}
	key, err := a.keys.GetKey(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return apikey.Key{}, errBadKey
	}
	if err != nil {
		return apikey.Key{}, err
	}
	if key.Revoked() || !key.Verify(secret) {
		return apikey.Key{}, errBadKey
	}
	a.mu.Lock()
	if len(a.cache) >= maxCachedKeys {
		clear(a.cache)
	}
	a.cache[digest] = cachedKey{key: key, expires: now.Add(keyCacheTTL)}
	a.mu.Unlock()
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

func (a *authenticator) limiter(ip string) *rate.Limiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.fails[ip]
	if !ok {
		if len(a.fails) >= maxTrackedIPs {
			clear(a.fails) // crude, but bounded; a flood of addresses resets everyone's allowance
		}
		l = rate.NewLimiter(rate.Every(time.Minute/failuresPerMin), failuresPerMin)
		a.fails[ip] = l
	}
	return l
}

// require returns middleware that admits requests carrying a valid, unrevoked key with scope.
func (s *Server) require(scope apikey.Scope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ip := c.RealIP()
			lim := s.auth.limiter(ip)
			now := s.clock.Now()
			if lim.TokensAt(now) < 1 {
				wait := lim.ReserveN(now, 0).DelayFrom(now) + time.Minute/failuresPerMin
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				return newError(http.StatusTooManyRequests, "rate_limited", "too many failed authentication attempts from %s; try again later", ip)
			}
			token, ok := bearer(c.Request())
			if !ok {
				return newError(http.StatusUnauthorized, "unauthorized", "an API key is required: send Authorization: Bearer up_<id>_<secret>")
			}
			key, err := s.auth.verify(c, token)
			if errors.Is(err, errBadKey) {
				lim.AllowN(now, 1)
				return newError(http.StatusUnauthorized, "unauthorized", "the API key is invalid or revoked")
			}
			if err != nil {
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
