package statuspage

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/store"
)

// responseCache holds rendered public responses (docs/page.md), so that an outage's traffic,
// or any client, costs no more renders than the page's changes and its bound:
//
//   - Keys: a response is keyed by its route, its path parameters and the query parameters the
//     route declares (cachedRoutes in server.go), canonicalised: in name order, each value in its
//     one spelling, a default the same as no value. The handler sees only that canonical query,
//     so any other parameter can neither make a new entry nor change what is rendered. Each
//     route keeps a bounded number of entries, least recently used first out, so one route's
//     variants (a badge's label, say) never push another route's page out.
//   - Freshness: an event that can change public output (changes.go) invalidates every entry at
//     once: the next request renders again and waits for it, so a change shows as soon as it is
//     acknowledged. Without a change, no response is older than its route's bound (10 s for
//     pages and JSON, 60 s for feeds, the calendar and badges): past half of it the first request
//     starts a re-render in the background and is served the current copy; at the bound a
//     request waits for a new render. Responses say so: Cache-Control: public, max-age=<bound>,
//     with Age.
//   - Stampedes: one render per key at a time (later requests wait for it), and at most
//     rendersPerRoute renders of one route at once, whatever the number of keys. A render runs
//     in its own request, apart from any client, so a client that leaves cancels nothing.
//   - Validators: an ETag from the body (a gzipped body has its own) and Last-Modified from the
//     last change the server knows of, so an unchanged page answers 304 however often it is
//     rendered again.
//   - Faults: when the store is unavailable, renders stop for faultBackoff after each failure;
//     an HTML page declared lastGood is served from its last good copy with a banner saying
//     since when it could not be refreshed, everything else answers 503 with Retry-After.
type responseCache struct {
	clock   clockwork.Clock
	off     bool // CacheTTL < 0: nothing is kept (validators, 304 and gzip still apply)
	routes  map[string]*routeCache
	timeout time.Duration // a render's deadline
	handler http.Handler  // the whole server, through which renders run
	// changed is the instant of the last change the server knows of (changes.go).
	changed func(context.Context) time.Time
	// staleBanner renders the notice a stale page carries; nil: stale copies are not served.
	staleBanner func(since time.Time, page []byte) []byte
	onRender    func(key string) // tests: called once per render

	mu         sync.Mutex
	gen        uint64    // bumped by every change (invalidate)
	faultUntil time.Time // no renders before this: the store just failed
	faultErr   error
	wg         sync.WaitGroup // renders under way
}

const (
	// rendersPerRoute bounds the renders of one route at once: variants of one route (distinct
	// labels, months, ids) cannot take every CPU from the others.
	rendersPerRoute = 2
	// faultBackoff is how long the cache does not ask an unavailable store again: during an
	// outage, at most one render a second finds out whether it is back.
	faultBackoff = time.Second
	// defaultEntries is how many responses a route keeps (its canonical keys, least recently
	// used dropped first).
	defaultEntries = 256
)

// cacheClass is how long a route's responses may be reused.
type cacheClass int

const (
	classPage cacheClass = iota // pages and JSON: Options.CacheTTL, default 10 s
	classFeed                   // feeds, the calendar and badges: Options.FeedCacheTTL, default 60 s
)

// cacheParam is a query parameter that changes a route's response.
type cacheParam struct {
	name string
	def  string              // the value that means the same as none
	norm func(string) string // the one spelling of a value (nil: as sent); invalid stays as sent
	// header: the value is this request header's, normalised (never what the query says), and
	// travels in the canonical query, as a render has no headers. Responses say Vary: header.
	header string
}

// cacheRoute declares a cached route: its Echo path and what its response depends on.
type cacheRoute struct {
	path     string
	params   []cacheParam
	class    cacheClass
	lastGood bool // a page a person reads: on a store fault, its last good copy, marked stale
	entries  int  // responses kept (0: defaultEntries)
	// maxAge, when shorter than the class's bound, is the route's own (never longer: a test or
	// an operator that turns the cache off keeps it off).
	maxAge time.Duration
}

type routeCache struct {
	cacheRoute
	ttl     time.Duration
	lru     *list.List // of *cacheEntry, most recently used first
	byKey   map[string]*list.Element
	flights map[string]*flight
	renders chan struct{} // a slot per render under way
}

type cacheEntry struct {
	key  string
	resp *cachedResponse
}

// cachedResponse is one rendered response.
type cachedResponse struct {
	status       int
	header       http.Header
	body, gz     []byte // gz is nil when not worth compressing
	etag         string // of body; the gzipped body's is etag with -gzip before the last quote
	lastModified time.Time
	rendered     time.Time
	gen          uint64 // the cache's generation when the render began

	staleOnce sync.Once
	stale     *cachedResponse // this copy with the stale banner (lastGood routes)
}

// flight is one render of one key, which requests wait for.
type flight struct {
	gen  uint64
	done chan struct{} // closed when resp or err is set
	resp *cachedResponse
	err  error
}

// flightKey marks a render's own request. It lives in the request's context, which no client
// can set, so no one can start renders from outside.
type flightKey struct{}

func newResponseCache(clock clockwork.Clock, pageTTL, feedTTL, timeout time.Duration, routes []cacheRoute) *responseCache {
	rc := &responseCache{clock: clock, off: pageTTL < 0, timeout: timeout, routes: map[string]*routeCache{}}
	for _, r := range routes {
		if _, dup := rc.routes[r.path]; dup {
			panic("statuspage: cached route declared twice: " + r.path)
		}
		r.params = slices.Clone(r.params)
		slices.SortFunc(r.params, func(a, b cacheParam) int { return strings.Compare(a.name, b.name) })
		if r.entries <= 0 {
			r.entries = defaultEntries
		}
		ttl := pageTTL
		if r.class == classFeed {
			ttl = feedTTL
		}
		if r.maxAge > 0 && (ttl <= 0 || r.maxAge < ttl) {
			ttl = r.maxAge
		}
		rc.routes[r.path] = &routeCache{cacheRoute: r, ttl: ttl, lru: list.New(), byKey: map[string]*list.Element{},
			flights: map[string]*flight{}, renders: make(chan struct{}, rendersPerRoute)}
	}
	return rc
}

// invalidate marks every entry as changed: the next request for it renders again.
func (rc *responseCache) invalidate() {
	rc.mu.Lock()
	rc.gen++
	rc.mu.Unlock()
}

// canonical rewrites the request's query to the route's canonical form and returns the key.
func (rt *routeCache) canonical(c echo.Context) string {
	req := c.Request()
	q := req.URL.Query()
	keep := url.Values{}
	for _, p := range rt.params {
		v := q.Get(p.name)
		if p.header != "" && req.Context().Value(flightKey{}) == nil { // a render has its client's, in the query
			v = req.Header.Get(p.header)
		}
		if p.norm != nil && (v != "" || p.header != "") {
			v = p.norm(v)
		}
		if v != "" && v != p.def {
			keep.Set(p.name, v)
		}
	}
	raw := keep.Encode() // sorted by name
	if raw != req.URL.RawQuery {
		u := *req.URL
		u.RawQuery = raw
		r := *req
		r.URL = &u
		c.SetRequest(&r)
	}
	var b strings.Builder
	b.WriteString(c.Path())
	for _, v := range c.ParamValues() {
		b.WriteByte(0)
		b.WriteString(v)
	}
	b.WriteByte('?')
	b.WriteString(raw)
	return b.String()
}

// middleware serves the route's GET requests (HEAD too: headAsGet routes it as GET) from the cache.
func (rc *responseCache) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet {
			return next(c)
		}
		rt := rc.routes[c.Path()]
		if rt == nil {
			return fmt.Errorf("statuspage: the route %s uses the response cache but is not in cachedRoutes (server.go)", c.Path())
		}
		key := rt.canonical(c)
		if f, ok := c.Request().Context().Value(flightKey{}).(*flight); ok {
			rc.render(c, next, rt, key, f) // a render's own request
			return nil
		}
		if rc.off {
			resp, err := rc.capture(c, next)
			if err != nil {
				return err
			}
			resp.lastModified = rc.validatorTime(c.Request().Context(), nil, resp)
			return rc.serve(c, rt, resp, false)
		}
		return rc.get(c, rt, key)
	}
}

// get serves key: from the cache while it may, else from a render it starts or joins.
func (rc *responseCache) get(c echo.Context, rt *routeCache, key string) error {
	ctx := c.Request().Context()
	rc.mu.Lock()
	want := rc.gen // a response must show every change acknowledged before this request came
	for {
		now := rc.clock.Now()
		var cur *cachedResponse
		if el := rt.byKey[key]; el != nil {
			rt.lru.MoveToFront(el)
			cur = el.Value.(*cacheEntry).resp
		}
		if cur != nil && cur.gen >= want && now.Sub(cur.rendered) < rt.ttl {
			if now.Sub(cur.rendered) >= rt.ttl/2 && rt.flights[key] == nil && !now.Before(rc.faultUntil) {
				select { // stale-while-revalidate, within the bound: only if a render slot is free now
				case rt.renders <- struct{}{}:
					rc.startLocked(c.Request(), rt, key, true)
				default:
				}
			}
			rc.mu.Unlock()
			return rc.serve(c, rt, cur, false)
		}
		if now.Before(rc.faultUntil) {
			err := rc.faultErr
			rc.mu.Unlock()
			return rc.fault(c, rt, cur, err)
		}
		f := rt.flights[key]
		if f == nil {
			f = rc.startLocked(c.Request(), rt, key, false)
		}
		rc.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if f.gen < want { // began before a change this request must see: one more render
			rc.mu.Lock()
			continue
		}
		if f.err != nil {
			return rc.fault(c, rt, cur, f.err)
		}
		return rc.serve(c, rt, f.resp, false)
	}
}

// startLocked registers a render of key and starts it. haveSlot: the caller took a render slot.
func (rc *responseCache) startLocked(orig *http.Request, rt *routeCache, key string, haveSlot bool) *flight {
	f := &flight{gen: rc.gen, done: make(chan struct{})}
	rt.flights[key] = f
	req := orig.Clone(context.Background())
	req.Header, req.Body, req.ContentLength, req.Method = http.Header{}, http.NoBody, 0, http.MethodGet
	rc.wg.Add(1)
	go rc.fly(req, rt, key, f, haveSlot)
	return f
}

// fly runs one render through the whole server, in its own request, outside any client's.
func (rc *responseCache) fly(req *http.Request, rt *routeCache, key string, f *flight, haveSlot bool) {
	defer rc.wg.Done()
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), flightKey{}, f), rc.timeout)
	defer cancel()
	if !haveSlot {
		select {
		case rt.renders <- struct{}{}:
		case <-ctx.Done():
			rc.land(rt, key, f, nil, fmt.Errorf("waiting to render %s: %w", rt.path, ctx.Err()))
			return
		}
	}
	defer func() { <-rt.renders }()
	rc.handler.ServeHTTP(discardWriter{header: http.Header{}}, req.WithContext(ctx))
	select {
	case <-f.done:
	default: // the handler panicked (the server's recover logged it) or never reached the cache
		rc.land(rt, key, f, nil, fmt.Errorf("render %s: ended without a response", rt.path))
	}
}

// render is the render's own request: it runs the handler and hands the result to the flight.
func (rc *responseCache) render(c echo.Context, next echo.HandlerFunc, rt *routeCache, key string, f *flight) {
	resp, err := rc.capture(c, next)
	if rc.onRender != nil {
		rc.onRender(key)
	}
	if err == nil {
		rc.mu.Lock()
		var prev *cachedResponse
		if el := rt.byKey[key]; el != nil {
			prev = el.Value.(*cacheEntry).resp
		}
		rc.mu.Unlock()
		resp.lastModified = rc.validatorTime(c.Request().Context(), prev, resp)
	}
	rc.land(rt, key, f, resp, err)
}

// land ends a flight: keeps a good response, notes a store fault, and wakes the waiters.
func (rc *responseCache) land(rt *routeCache, key string, f *flight, resp *cachedResponse, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case err == nil:
		resp.gen = f.gen
		if resp.status == http.StatusOK {
			rt.put(key, resp)
		}
		rc.faultUntil, rc.faultErr = time.Time{}, nil // the store answered
	case errors.Is(err, store.ErrUnavailable):
		rc.faultUntil, rc.faultErr = rc.clock.Now().Add(faultBackoff), err
	}
	if rt.flights[key] == f {
		delete(rt.flights, key)
	}
	f.resp, f.err = resp, err
	close(f.done)
}

func (rt *routeCache) put(key string, resp *cachedResponse) {
	if el := rt.byKey[key]; el != nil {
		el.Value.(*cacheEntry).resp = resp
		rt.lru.MoveToFront(el)
		return
	}
	rt.byKey[key] = rt.lru.PushFront(&cacheEntry{key: key, resp: resp})
	for rt.lru.Len() > rt.entries {
		last := rt.lru.Back()
		rt.lru.Remove(last)
		delete(rt.byKey, last.Value.(*cacheEntry).key)
	}
}

// size is how many responses the cache holds (tests).
func (rc *responseCache) size() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, rt := range rc.routes {
		n += rt.lru.Len()
	}
	return n
}

// wait blocks until renders under way have finished (for shutdown and tests).
func (rc *responseCache) wait() { rc.wg.Wait() }

// validatorTime is a response's Last-Modified: the last change the server knows of, or, when the
// body changed though no change is known since the previous copy (time moved a maintenance
// window along, another instance changed the store), the time of this render.
func (rc *responseCache) validatorTime(ctx context.Context, prev, resp *cachedResponse) time.Time {
	now := rc.clock.Now()
	lm := rc.changed(ctx)
	if prev != nil && prev.etag != resp.etag && !lm.After(prev.lastModified) {
		lm = now
	}
	if lm.IsZero() || lm.After(now) {
		lm = now
	}
	return lm.UTC()
}

// fault answers a request whose render failed: a lastGood page's last good copy, marked stale,
// when the store is unavailable or too slow; else the error (503 for an unavailable store).
func (rc *responseCache) fault(c echo.Context, rt *routeCache, cur *cachedResponse, err error) error {
	if rt.lastGood && cur != nil && rc.staleBanner != nil && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
		return rc.serve(c, rt, rc.staleCopy(cur), true)
	}
	return err
}

// staleCopy is cur with a banner saying since when the page could not be refreshed, made once.
func (rc *responseCache) staleCopy(cur *cachedResponse) *cachedResponse {
	cur.staleOnce.Do(func() {
		body := cur.body
		if i := bytes.Index(body, []byte("<main")); i >= 0 {
			if j := bytes.IndexByte(body[i:], '>'); j >= 0 {
				at := i + j + 1
				body = slices.Concat(body[:at:at], rc.staleBanner(cur.rendered, cur.body), body[at:])
			}
		}
		s := newResponse(cur.status, cur.header, body)
		s.lastModified, s.rendered, s.gen = cur.lastModified, cur.rendered, cur.gen
		cur.stale = s
	})
	return cur.stale
}

// capture runs the handler into a buffer and returns what it wrote.
func (rc *responseCache) capture(c echo.Context, next echo.HandlerFunc) (*cachedResponse, error) {
	res := c.Response()
	orig := res.Writer
	rec := &capture{header: http.Header{}, status: http.StatusOK}
	res.Writer = rec
	err := next(c)
	res.Writer = orig
	res.Status = http.StatusOK // the writer was swapped: reset what it would have recorded
	if err != nil {
		return nil, err
	}
	for _, h := range []string{echo.HeaderXRequestID, echo.HeaderCacheControl, echo.HeaderContentLength, echo.HeaderVary} {
		rec.header.Del(h) // the cache sets these per response it serves
	}
	resp := newResponse(rec.status, rec.header, bytes.Clone(rec.body.Bytes()))
	resp.rendered = rc.clock.Now()
	return resp, nil
}

// A body of more than bestCompressionUpTo bytes (a page or summary of thousands of
// components) is gzipped at largeBodyCompression. At 10,000 components the best level took
// about 90 ms of a page's render and 80 ms of the summary's; level 8 took 36 and 49 ms for a
// body 6 % and 0.6 % larger (BENCHMARKS.md, issue #14).
const (
	bestCompressionUpTo  = 1 << 20
	largeBodyCompression = 8
)

func newResponse(status int, header http.Header, body []byte) *cachedResponse {
	r := &cachedResponse{status: status, header: header.Clone(), body: body}
	sum := sha256.Sum256(body)
	r.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	if len(body) >= 1024 {
		var gz bytes.Buffer
		level := gzip.BestCompression
		if len(body) > bestCompressionUpTo {
			level = largeBodyCompression
		}
		w, _ := gzip.NewWriterLevel(&gz, level)
		_, _ = w.Write(body)
		_ = w.Close()
		r.gz = gz.Bytes()
	}
	return r
}

func gzipTag(etag string) string { return strings.TrimSuffix(etag, `"`) + `-gzip"` }

// serve writes resp with its validators, answering 304 to a matching conditional request.
func (rc *responseCache) serve(c echo.Context, rt *routeCache, resp *cachedResponse, stale bool) error {
	req := c.Request()
	h := c.Response().Header()
	for k, v := range resp.header {
		h[k] = v
	}
	h.Add(echo.HeaderVary, echo.HeaderAcceptEncoding)
	for _, p := range rt.params {
		if p.header != "" {
			h.Add(echo.HeaderVary, p.header)
		}
	}
	switch {
	case stale:
		h.Set(echo.HeaderCacheControl, "no-cache")
		h.Set("Warning", `111 - "Revalidation Failed"`)
	case rc.off:
		h.Set(echo.HeaderCacheControl, "no-cache")
	case resp.status == http.StatusOK:
		h.Set(echo.HeaderCacheControl, "public, max-age="+strconv.Itoa(int(rt.ttl/time.Second)))
	}
	if !rc.off {
		age := max(rc.clock.Now().Sub(resp.rendered), 0)
		h.Set("Age", strconv.Itoa(int(age/time.Second)))
	}
	if resp.status != http.StatusOK {
		return c.Blob(resp.status, resp.header.Get(echo.HeaderContentType), resp.body)
	}
	body, etag := resp.body, resp.etag
	if resp.gz != nil && strings.Contains(req.Header.Get(echo.HeaderAcceptEncoding), "gzip") {
		h.Set(echo.HeaderContentEncoding, "gzip")
		body, etag = resp.gz, gzipTag(resp.etag)
	}
	h.Set("ETag", etag)
	h.Set(echo.HeaderLastModified, resp.lastModified.UTC().Format(http.TimeFormat))
	if notModified(req, resp) {
		h.Del(echo.HeaderContentEncoding)
		return c.NoContent(http.StatusNotModified)
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
	return c.Blob(http.StatusOK, resp.header.Get(echo.HeaderContentType), body)
}

// notModified applies If-None-Match, or else If-Modified-Since (RFC 9110 13.2.2). Either of a
// response's tags matches: both bodies are the same document.
func notModified(req *http.Request, resp *cachedResponse) bool {
	if inm := req.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, resp.etag) || etagMatches(inm, gzipTag(resp.etag))
	}
	if ims := req.Header.Get(echo.HeaderIfModifiedSince); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !resp.lastModified.Truncate(time.Second).After(t)
	}
	return false
}

func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if p == etag || p == "*" {
			return true
		}
	}
	return false
}

// capture records what a handler writes.
type capture struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *capture) Header() http.Header         { return c.header }
func (c *capture) Write(b []byte) (int, error) { return c.body.Write(b) }
func (c *capture) WriteHeader(status int)      { c.status = status }

// discardWriter is the client of a render's own request: the cache keeps what the handler
// wrote (capture), and what the server writes around it goes nowhere.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
