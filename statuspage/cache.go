package statuspage

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/singleflight"
)

// responseCache holds rendered public responses. A page or JSON document is rendered at most
// once per TTL per URL, whatever the load (so an outage's traffic spike renders nothing more),
// kept with its ETag and a gzipped copy, and served from memory. A change shows within the TTL.
type responseCache struct {
	ttl     time.Duration
	now     func() time.Time // the server's clock, so tests move the cache with it
	mu      sync.Mutex
	items   map[string]*cachedResponse
	group   singleflight.Group
	handler http.Handler // the whole server, for background re-renders
	wg      sync.WaitGroup
}

// refreshKey marks an internal re-render request. It lives in the request's context, which no
// client can set, so no one can force renders from outside.
type refreshKey struct{}

type cachedResponse struct {
	status     int
	header     http.Header
	body       []byte
	gz         []byte // nil when not worth compressing
	etag       string
	expires    time.Time
	refreshing bool // a background re-render is under way
}

const maxCachedURLs = 2000

func newResponseCache(ttl time.Duration, now func() time.Time) *responseCache {
	return &responseCache{ttl: ttl, now: now, items: map[string]*cachedResponse{}}
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

// middleware serves GET and HEAD requests from the cache, with ETag, 304 and gzip. With a TTL
// of zero or less nothing is kept, but ETags, 304s and compression still apply.
func (rc *responseCache) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return next(c)
		}
		key := req.URL.RequestURI()
		if req.Context().Value(refreshKey{}) != nil {
			_, err := rc.render(c, next, key) // the background re-render itself
			return err
		}
		now := rc.now()
		rc.mu.Lock()
		item := rc.items[key]
		stale := item != nil && !now.Before(item.expires)
		if stale && !item.refreshing && rc.handler != nil {
			// Serve the stale copy at once and re-render in the background, so no request
			// waits for a render (stale-while-revalidate, for at most one render's time).
			item.refreshing = true
			rc.wg.Add(1)
			go rc.refresh(req, key)
		}
		rc.mu.Unlock()
		if stale && rc.handler != nil {
			return rc.serve(c, item)
		}
		if item == nil || stale {
			v, err, _ := rc.group.Do(key, func() (any, error) { return rc.render(c, next, key) })
			if err != nil {
				return err
			}
			item = v.(*cachedResponse)
		}
		return rc.serve(c, item)
	}
}

// refresh re-renders one URL through the whole server, outside any client's request.
func (rc *responseCache) refresh(orig *http.Request, key string) {
	defer rc.wg.Done()
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), refreshKey{}, true), 30*time.Second)
	defer cancel()
	req := orig.Clone(ctx)
	req.Header = http.Header{"Accept": orig.Header["Accept"]}
	rec := &capture{header: http.Header{}, status: http.StatusOK}
	rc.handler.ServeHTTP(rec, req)
	rc.mu.Lock()
	if item := rc.items[key]; item != nil && item.refreshing && rec.status != http.StatusOK {
		item.refreshing = false // keep serving the old copy; the next request tries again
		item.expires = rc.now().Add(rc.ttl)
	}
	rc.mu.Unlock()
}

// wait blocks until background re-renders have finished (for shutdown and tests).
func (rc *responseCache) wait() { rc.wg.Wait() }

func (rc *responseCache) render(c echo.Context, next echo.HandlerFunc, key string) (*cachedResponse, error) {
	res := c.Response()
	orig := res.Writer
	rec := &capture{header: http.Header{}, status: http.StatusOK}
	res.Writer = rec
	err := next(c)
	res.Writer = orig
	if err != nil {
		return nil, err
	}
	item := &cachedResponse{status: rec.status, header: rec.header.Clone(), body: bytes.Clone(rec.body.Bytes())}
	// Headers the handler set on the response (not through the capture) belong to it too.
	for k, v := range res.Header() {
		if _, ok := item.header[k]; !ok && k != echo.HeaderXRequestID {
			item.header[k] = v
		}
	}
	sum := sha256.Sum256(item.body)
	item.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	if len(item.body) >= 1024 {
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(item.body)
		_ = w.Close()
		item.gz = gz.Bytes()
	}
	if rc.ttl > 0 && item.status == http.StatusOK {
		item.expires = rc.now().Add(rc.ttl)
		rc.mu.Lock()
		if len(rc.items) >= maxCachedURLs {
			clear(rc.items) // bounded: arbitrary query strings cannot grow it without limit
		}
		rc.items[key] = item
		rc.mu.Unlock()
	}
	// The response writer was reset; restore the status it would have had.
	res.Status = http.StatusOK
	return item, nil
}

func (rc *responseCache) serve(c echo.Context, item *cachedResponse) error {
	h := c.Response().Header()
	for k, v := range item.header {
		h[k] = v
	}
	h.Set("ETag", item.etag)
	h.Add("Vary", "Accept-Encoding")
	if item.status == http.StatusOK && etagMatches(c.Request().Header.Get("If-None-Match"), item.etag) {
		h.Del(echo.HeaderContentLength)
		return c.NoContent(http.StatusNotModified)
	}
	body := item.body
	if item.gz != nil && strings.Contains(c.Request().Header.Get(echo.HeaderAcceptEncoding), "gzip") {
		h.Set(echo.HeaderContentEncoding, "gzip")
		body = item.gz
	}
	ctype := item.header.Get(echo.HeaderContentType)
	if c.Request().Method == http.MethodHead {
		return c.NoContent(item.status)
	}
	return c.Blob(item.status, ctype, body)
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
