package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// checkStoreDown is what a store that cannot be reached must look like from outside, on srv
// whose page and summary were served before the store went: the page from its last good copy,
// marked stale; the APIs, admin reads and writes included, 503 with Retry-After and the JSON
// error "unavailable"; a page never rendered, a 503 error page for a browser. Nothing is a 500.
func checkStoreDown(t *testing.T, srv *Server, clock *clockwork.FakeClock, admin string) {
	t.Helper()
	do := func(method, path, token, body string, hdr ...string) response {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.RemoteAddr = "192.0.2.10:4321"
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return response{rec.Code, rec.Body.Bytes(), rec.Header()}
	}
	unavailable := func(what string, r response) {
		t.Helper()
		var v struct {
			Error apiError `json:"error"`
		}
		if r.code != 503 || json.Unmarshal(r.body, &v) != nil || v.Error.Code != "unavailable" || r.hdr.Get("Retry-After") == "" {
			t.Errorf("%s with the store down: %d %s (Retry-After %q), want 503 unavailable with Retry-After", what, r.code, r.body, r.hdr.Get("Retry-After"))
		}
	}
	// Within a second of its check, the key is trusted without the store: the write itself fails.
	unavailable("an admin write", do("POST", "/api/admin/v1/components", admin, `{"id":"web","name":"Website"}`))
	clock.Advance(11 * time.Second) // past the page's bound and the key's check
	page := do("GET", "/", "", "", "Accept", browser)
	if page.code != 200 || !strings.Contains(string(page.body), "could not be refreshed since 1 Nov 17:30 CST") ||
		!strings.Contains(page.hdr.Get("Warning"), "111") || page.hdr.Get("Cache-Control") != "no-cache" {
		t.Errorf("the page with the store down: %d %v\n%.600s", page.code, page.hdr, page.body)
	}
	if r := do("HEAD", "/", "", ""); r.code != 200 || len(r.body) != 0 || r.hdr.Get("Warning") == "" {
		t.Errorf("HEAD / with the store down: %d %v", r.code, r.hdr)
	}
	unavailable("the v2 summary", do("GET", "/api/v2/summary.json", "", ""))
	unavailable("a public read never cached", do("GET", "/api/v1/incidents?status=open", "", ""))
	unavailable("an admin read", do("GET", "/api/admin/v1/components", admin, ""))
	if r := do("GET", "/history", "", "", "Accept", browser); r.code != 503 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") || r.hdr.Get("Retry-After") == "" {
		t.Errorf("a page never rendered, for a browser: %d %s", r.code, r.hdr.Get("Content-Type"))
	}
	if r := do("GET", "/readyz", "", ""); r.code != 503 {
		t.Errorf("/readyz: %d", r.code)
	}
}

// TestStoreUnavailableSQLite: a closed SQLite store is a store that cannot be reached.
func TestStoreUnavailableSQLite(t *testing.T) {
	f, _ := cachedFixture(t)
	f.addComponents("api")
	for _, p := range []string{"/", "/api/v2/summary.json"} {
		if r := f.do("GET", p, "", ""); r.code != 200 {
			t.Fatalf("%s: %d", p, r.code)
		}
	}
	if r := f.do("GET", "/api/admin/v1/components", f.tokens[apikey.ScopeAdmin], ""); r.code != 200 {
		t.Fatal(r.code)
	}
	mustOK(t, f.store.Close())
	checkStoreDown(t, f.srv, f.clock, f.tokens[apikey.ScopeAdmin])
}

// TestStoreUnavailableRedis: a real redis-server killed mid-test.
func TestStoreUnavailableRedis(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	st, err := redis.Open(t.Context(), redis.Options{Addrs: []string{rs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	api := component.Component{ID: "api", Name: "API", CreatedAt: t0, UpdatedAt: t0}
	mustOK(t, st.CreateComponent(t.Context(), api, store.AuditEntry{At: t0}))
	key, token, err := apikey.GenerateCost(nil, "admin", []apikey.Scope{apikey.ScopeAdmin}, t0, bcrypt.MinCost)
	mustOK(t, err)
	mustOK(t, st.CreateKey(t.Context(), key, store.AuditEntry{At: t0}))
	srv, err := New(Options{Store: st, Bus: events.NewBus(nil), Clock: clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		Page: Page{Title: "Acme Status", Location: mustZone(t, "Asia/Shanghai"), PublicURL: "https://status.example.com"}})
	mustOK(t, err)
	t.Cleanup(srv.cache.wait)
	for _, p := range []string{"/", "/api/v2/summary.json"} {
		if r := get(srv, "192.0.2.10", p, ""); r.code != 200 {
			t.Fatalf("%s: %d %s", p, r.code, r.body)
		}
	}
	if r := get(srv, "192.0.2.10", "/api/admin/v1/components", token); r.code != 200 {
		t.Fatal(r.code)
	}
	rs.Kill9()
	checkStoreDown(t, srv, clock, token)
}

// TestSlowBodyGets408: a client that trickles its body gets 408 once the read deadline passes,
// over a real loopback connection (the deadline is the server's, on the network: real time).
func TestSlowBodyGets408(t *testing.T) {
	f := newFixture(t)
	srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		ReadTimeout: 300 * time.Millisecond, Page: Page{Title: "Acme Status"}})
	mustOK(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })

	conn, err := net.Dial("tcp", ln.Addr().String())
	mustOK(t, err)
	defer conn.Close()
	body := `{"id":"web","name":"Website"}`
	fmt.Fprintf(conn, "POST /api/admin/v1/components HTTP/1.1\r\nHost: status\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		f.tokens[apikey.ScopeAdmin], len(body))
	go func() { // one byte at a time, far slower than the deadline allows
		for i := range len(body) {
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	mustOK(t, err)
	defer res.Body.Close()
	var v struct {
		Error apiError `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); res.StatusCode != 408 || err != nil || v.Error.Code != "request_timeout" {
		t.Fatalf("trickled body: %d %+v (%v), want 408 request_timeout", res.StatusCode, v, err)
	}
	if _, err := f.store.GetComponent(t.Context(), "web"); err == nil {
		t.Error("the component was created from a body that never arrived")
	}
}

// TestErrorsAsPagesForBrowsers: every public route's errors are an HTML page for a browser and
// JSON for anyone else; the APIs answer JSON to everyone.
func TestErrorsAsPagesForBrowsers(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/incidents/no-such-incident", 404},
		{"GET", "/history?month=2026-13", 400},
		{"GET", "/history.rss?component=Not!An!Id", 400},
		{"GET", "/feed.json?component=Not!An!Id", 400},
		{"GET", "/maintenance.ics?component=Not!An!Id", 400},
		{"GET", "/badge/no-such/status.svg", 404},
		{"GET", "/badge/api/uptime.svg?window=1y", 400},
		{"GET", "/static/no-such.css", 404},
		{"GET", "/no-such-page", 404},
		{"POST", "/history", 405},
	} {
		r := f.do(tt.method, tt.path, "", "", "Accept", browser)
		if r.code != tt.code || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "<html") {
			t.Errorf("%s %s for a browser: %d %s, want %d as a page", tt.method, tt.path, r.code, r.hdr.Get("Content-Type"), tt.code)
		}
		r = f.do(tt.method, tt.path, "", "", "Accept", "application/json")
		if r.code != tt.code || r.apiErr(t).Code == "" {
			t.Errorf("%s %s for a client: %d %s", tt.method, tt.path, r.code, r.body)
		}
	}
	for _, p := range []string{"/api/v1/incidents/no-such-incident", "/api/v2/no-such.json", "/api/v1/incidents?status=nope"} {
		if r := f.do("GET", p, "", "", "Accept", browser); !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s for a browser: %s, want JSON (an API)", p, r.hdr.Get("Content-Type"))
		}
	}
}
