package statuspage

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

func TestResponseCache(t *testing.T) {
	f := newFixture(t)
	srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), CacheTTL: 200 * time.Millisecond,
		Page: Page{Title: "Cached", Location: time.UTC, PublicURL: "https://status.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	add := func(id string) {
		c := component.Component{ID: id, Name: "Component " + id, Source: component.SourceAPI, CreatedAt: t0, UpdatedAt: t0}
		if err := f.store.CreateComponent(t.Context(), c, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	add("one")
	first := f.do("GET", "/api/v2/components.json", "", "")
	etag := first.hdr.Get("ETag")
	if first.code != 200 || etag == "" || !strings.Contains(first.hdr.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("first: %d %v", first.code, first.hdr)
	}
	if r := f.do("GET", "/api/v2/components.json", "", "", "If-None-Match", etag); r.code != 304 || len(r.body) != 0 {
		t.Errorf("If-None-Match: %d, want 304 with no body", r.code)
	}
	// A change within the TTL is not seen yet; after it, it is.
	add("two")
	if r := f.do("GET", "/api/v2/components.json", "", ""); !bytes.Equal(r.body, first.body) {
		t.Error("the cached response changed within its TTL")
	}
	f.clock.Advance(199 * time.Millisecond)
	if r := f.do("GET", "/api/v2/components.json", "", ""); !bytes.Equal(r.body, first.body) {
		t.Error("the cached response changed within its TTL")
	}
	srv.cache.wait()
	if r := f.do("GET", "/api/v2/components.json", "", ""); !bytes.Equal(r.body, first.body) {
		t.Error("a re-render started within the TTL")
	}
	f.clock.Advance(time.Millisecond)
	// The first request after expiry still gets the stale copy, at once, and starts a
	// background re-render; once it is done, the change shows.
	if r := f.do("GET", "/api/v2/components.json", "", "", "If-None-Match", etag); r.code != 304 {
		t.Errorf("stale-while-revalidate: %d, want the stale copy (304)", r.code)
	}
	srv.cache.wait()
	fresh := f.do("GET", "/api/v2/components.json", "", "", "If-None-Match", etag)
	if fresh.code != 200 || !strings.Contains(string(fresh.body), "Component two") || fresh.hdr.Get("ETag") == etag {
		t.Errorf("after the TTL: %d, new etag %q", fresh.code, fresh.hdr.Get("ETag"))
	}
	// Compressed for clients that accept it, identical once inflated.
	page := f.do("GET", "/", "", "", "Accept-Encoding", "gzip")
	if page.hdr.Get("Content-Encoding") != "gzip" {
		t.Fatalf("page not compressed: %v", page.hdr)
	}
	zr, err := gzip.NewReader(bytes.NewReader(page.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, f.do("GET", "/", "", "").body) || !strings.Contains(string(plain), "Component two") {
		t.Error("the gzipped page differs from the plain one")
	}
	// Admin API responses are never cached.
	if r := f.do("GET", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], ""); r.hdr.Get("ETag") != "" {
		t.Error("an admin response went through the public cache")
	}
}
