package statuspage

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// Every response carries the Content-Security-Policy of its kind, also when it comes from the
// response cache; a logo on another host joins the page's img-src.
func TestContentSecurityPolicy(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	mustOK(t, err)
	t.Cleanup(func() { st.Close() })
	srv, err := New(Options{Store: st, Clock: clockwork.NewFakeClockAt(t0), Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(),
		CacheTTL: time.Minute, Page: Page{Title: "Acme Status", PublicURL: "https://status.example.com", LogoURL: "https://cdn.example.net:8443/acme/logo.png"}})
	mustOK(t, err)
	f := &fixture{t: t, srv: srv, store: st}
	f.addComponents("api")
	const page = "default-src 'none'; style-src 'self'; img-src 'self' https://cdn.example.net:8443; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	tests := []struct {
		path   string
		accept string
		want   string
	}{
		{"/", "", page},
		{"/", "", page}, // from the cache
		{"/history", "", page},
		{"/incidents/nothing-here", "text/html", page}, // the error page
		{"/badge/api/status.svg", "", cspSVG},
		{"/badge/api/status.svg", "", cspSVG}, // from the cache
		{"/static/favicon.svg", "", cspSVG},
		{"/static/style.css", "", cspData},
		{"/badge/api/status.json", "", cspData},
		{"/api/v2/summary.json", "", cspData},
		{"/history.rss", "", cspData},
		{"/history.atom", "", cspData},
		{"/feed.json", "", cspData},
		{"/maintenance.ics", "", cspData},
		{"/api/admin/v1/components", "", cspData}, // a 401
		{"/healthz", "", cspData},
		{"/metrics", "", cspData},
	}
	for _, tt := range tests {
		r := f.do("GET", tt.path, "", "", "Accept", tt.accept)
		if got := r.hdr.Get("Content-Security-Policy"); got != tt.want {
			t.Errorf("GET %s (%d, %s): Content-Security-Policy %q, want %q", tt.path, r.code, r.hdr.Get("Content-Type"), got, tt.want)
		}
	}
	// A revalidated page keeps the policy the client has: a 304 carries the page's own.
	first := f.do("GET", "/", "", "")
	if r := f.do("GET", "/", "", "", "If-None-Match", first.hdr.Get("ETag")); r.code != http.StatusNotModified || r.hdr.Get("Content-Security-Policy") != page {
		t.Errorf("304: %d %q", r.code, r.hdr.Get("Content-Security-Policy"))
	}
}

func TestPageImageSources(t *testing.T) {
	tests := []struct{ logo, want string }{
		{"", "'self'"},
		{"/static/logo.png", "'self'"},
		{"https://cdn.example.net/logo.png", "'self' https://cdn.example.net"},
		{"http://[::1]:8080/logo.png", "'self' http://[::1]:8080"},
		{"ftp://cdn.example.net/logo.png", "'self'"},
		{"https://a;b/logo.png", "'self'"},
	}
	for _, tt := range tests {
		want := "default-src 'none'; style-src 'self'; img-src " + tt.want + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
		if got := newContentSecurityPolicy(tt.logo, nil).For("text/html; charset=UTF-8"); got != want {
			t.Errorf("logo %q: %q, want %q", tt.logo, got, want)
		}
	}
}

// TestFrameAncestors: server.frame_ancestors replaces the pages' frame-ancestors 'none' (and
// their X-Frame-Options); data and badges keep theirs.
func TestFrameAncestors(t *testing.T) {
	page := "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors "
	tests := []struct {
		name   string
		srcs   []string
		want   string
		framed bool
	}{
		{"unset", nil, "'none'", false},
		{"one origin", []string{"https://app.example.com"}, "https://app.example.com", true},
		{"several", []string{"'self'", "https://*.example.com", "http://127.0.0.1:9000"}, "'self' https://*.example.com http://127.0.0.1:9000", true},
		{"a source that would break the policy is dropped", []string{"https://a.example.com; script-src *", "https://b.example.com"}, "https://b.example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newContentSecurityPolicy("", tt.srcs)
			if got := p.For("text/html; charset=UTF-8"); got != page+tt.want {
				t.Errorf("page policy %q, want %q", got, page+tt.want)
			}
			if got := p.framed("text/html; charset=UTF-8"); got != tt.framed {
				t.Errorf("framed = %v, want %v", got, tt.framed)
			}
			if p.framed("application/json") || p.framed("image/svg+xml") {
				t.Error("data or a badge may be framed")
			}
			if got := p.For("application/json"); got != cspData {
				t.Errorf("data policy %q", got)
			}
		})
	}
}
