package statuspage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/store"
)

// The internal page (docs/page.md): /internal is the status page with internal components,
// groups and incidents as well (visibility.go gives its routes the full view), for people
// with a read key: sent as a header (Authorization: Bearer, as the API), or exchanged once,
// through a form, for a session cookie.
//
// The cookie holds the key's id, an expiry and a MAC; the key itself is never kept. The MAC's
// key is derived from the stored bcrypt hash of the API key it names, a secret only the store
// holds: no session table, every instance sharing the store accepts the cookie, a restart
// keeps it, and revoking the key (or a new key under the id) ends every session made with it
// at once. HttpOnly, SameSite=Strict, Path=/internal, Secure when the request came over HTTPS;
// it expires after sessionTTL. Responses under /internal are never cached.

const (
	sessionCookie = "upstate_internal"
	sessionTTL    = 12 * time.Hour
	maxKeyLength  = 256 // an API key is far shorter; a longer form value is not one
)

func (s *Server) routesInternal() {
	g := s.echo.Group("/internal", noStore)
	g.GET("", s.statusPage, s.internalAuth)
	g.GET("/incidents/:id", s.incidentPage, s.internalAuth)
	g.POST("/login", s.login)
	g.POST("/logout", s.logout)
}

// noStore keeps every response under /internal out of every cache, the browser's included.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Before(func() {
			c.Response().Header().Set(echo.HeaderCacheControl, "private, no-store")
		})
		return next(c)
	}
}

// internalAuth admits a read key in the Authorization header (refused as the API refuses one),
// or a valid session cookie; anyone else gets the sign-in form.
func (s *Server) internalAuth(next echo.HandlerFunc) echo.HandlerFunc {
	withKey := s.require(apikey.ScopeRead)(next)
	return func(c echo.Context) error {
		if _, ok := bearer(c.Request()); ok {
			return withKey(c)
		}
		key, err := s.session(c)
		switch {
		case err == nil:
			c.Set(contextKeyAPIKey, key)
			return next(c)
		case !errors.Is(err, errNoSession):
			return err
		}
		return s.signInForm(c, http.StatusUnauthorized, "")
	}
}

var errNoSession = errors.New("no valid session")

// session is the key of c's session cookie, if it has a valid, unexpired one whose key still
// stands with the read scope.
func (s *Server) session(c echo.Context) (apikey.Key, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || len(ck.Value) > 512 {
		return apikey.Key{}, errNoSession
	}
	parts := strings.Split(ck.Value, ".")
	if len(parts) != 3 {
		return apikey.Key{}, errNoSession
	}
	id, expRaw, mac := parts[0], parts[1], parts[2]
	exp, err := strconv.ParseInt(expRaw, 10, 64)
	now := s.clock.Now()
	if err != nil || !now.Before(time.Unix(exp, 0)) || time.Unix(exp, 0).After(now.Add(sessionTTL)) {
		return apikey.Key{}, errNoSession
	}
	key, err := s.store.GetKey(c.Request().Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apikey.Key{}, errNoSession
	case err != nil:
		return apikey.Key{}, err
	}
	want := sessionMAC(key, id, expRaw)
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, want) || key.Revoked() || !key.Allows(apikey.ScopeRead) {
		return apikey.Key{}, errNoSession
	}
	return key, nil
}

// sessionMAC signs id and expiry with a key derived from the API key's stored hash.
func sessionMAC(key apikey.Key, id, exp string) []byte {
	derive := hmac.New(sha256.New, key.Hash)
	derive.Write([]byte("upstate internal session v1"))
	m := hmac.New(sha256.New, derive.Sum(nil))
	m.Write([]byte(id + "." + exp))
	return m.Sum(nil)
}

// login exchanges a read key from the form for a session cookie. Failed attempts count as the
// API's do (auth.go: per address and key id).
func (s *Server) login(c echo.Context) error {
	if !s.sameOrigin(c) {
		return newError(http.StatusForbidden, "forbidden", "sign in from this site's own form")
	}
	token := strings.TrimSpace(c.FormValue("key"))
	if token == "" || len(token) > maxKeyLength {
		return s.signInForm(c, http.StatusUnauthorized, s.locale(c).T("internal.bad_key"))
	}
	key, err := s.auth.verify(c.Request().Context(), token, c.RealIP())
	var limited *limitedError
	switch {
	case errors.As(err, &limited):
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(limited.retryAfter.Seconds())+1))
		return newError(http.StatusTooManyRequests, "rate_limited", "too many failed sign-in attempts; try again later")
	case errors.Is(err, errBadKey) || err == nil && !key.Allows(apikey.ScopeRead):
		return s.signInForm(c, http.StatusUnauthorized, s.locale(c).T("internal.bad_key"))
	case err != nil:
		return err
	}
	exp := strconv.FormatInt(s.clock.Now().Add(sessionTTL).Unix(), 10)
	value := key.ID + "." + exp + "." + base64.RawURLEncoding.EncodeToString(sessionMAC(key, key.ID, exp))
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: value, Path: "/internal", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https"})
	return c.Redirect(http.StatusSeeOther, "/internal"+s.chromeFor(c).LangQuery)
}

func (s *Server) logout(c echo.Context) error {
	if !s.sameOrigin(c) {
		return newError(http.StatusForbidden, "forbidden", "sign out from this site's own form")
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: "", Path: "/internal", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.Scheme() == "https"})
	return c.Redirect(http.StatusSeeOther, "/"+s.chromeFor(c).LangQuery)
}

// sameOrigin reports whether a form may have come from this site's own pages: a browser sends
// Origin with every POST, so a form posted from another site names that site (or "null", from
// a sandboxed frame or a file). With no Origin at all (curl, a mail provider's one-click
// unsubscribe) it is a client that no other site drives, and passes. Otherwise the Origin must
// be the page's public origin (server.public_url) or name the host the request was sent to
// (whatever its scheme: a TLS-terminating proxy may not say how it was reached).
func (s *Server) sameOrigin(c echo.Context) bool {
	origin := c.Request().Header.Get(echo.HeaderOrigin)
	if origin == "" {
		return true
	}
	if public := urlOrigin(s.page.PublicURL); public != "" && strings.EqualFold(origin, public) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, c.Request().Host)
}

// crossSite is the answer to a form posted from another site.
func crossSite(c echo.Context) error {
	return newError(http.StatusForbidden, "cross_site_form",
		"this form was sent from another site (Origin: %s), not from this status page: open the page and use its own form", truncate(c.Request().Header.Get(echo.HeaderOrigin), 100))
}

type signInView struct {
	pageView
	Error, SessionTTL string
}

// signInForm is the page that asks for a key.
func (s *Server) signInForm(c echo.Context, status int, msg string) error {
	l := s.locale(c)
	v := signInView{pageView: s.basePage(c, s.clock.Now()), Error: msg}
	v.Title = l.T("internal.title", "Title", s.page.Title)
	v.SessionTTL = l.Duration(sessionTTL)
	return s.render(c, status, "login.html", v)
}
