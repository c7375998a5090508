package statuspage

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// add stores a component straight through the store: a change that publishes no event, as one
// made through another instance would look from this one.
func (f *fixture) add(id string) {
	f.t.Helper()
	c := component.Component{ID: id, Name: "Component " + id, Source: component.SourceAPI, CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	if err := f.store.CreateComponent(f.t.Context(), c, store.AuditEntry{At: f.clock.Now()}); err != nil {
		f.t.Fatal(err)
	}
}

// TestResponseCache: without a change no response is older than its bound. Past half of it a
// request gets the current copy and starts one re-render in the background; at the bound a
// request waits for a new one. Headers say so (Cache-Control with the bound, Age).
func TestResponseCache(t *testing.T) {
	f, cs := cachedFixture(t)
	f.add("one")
	const path = "/api/v2/components.json"
	first := f.do("GET", path, "", "")
	etag := first.hdr.Get("ETag")
	if first.code != 200 || etag == "" || !strings.Contains(first.hdr.Get("Vary"), "Accept-Encoding") ||
		first.hdr.Get("Cache-Control") != "public, max-age=10" || first.hdr.Get("Age") != "0" {
		t.Fatalf("first: %d %v", first.code, first.hdr)
	}
	if r := f.do("GET", path, "", "", "If-None-Match", etag); r.code != 304 || len(r.body) != 0 || r.hdr.Get("ETag") != etag {
		t.Errorf("If-None-Match: %d %v, want 304 with no body", r.code, r.hdr)
	}
	// A change that publishes no event (another instance's) is not seen before half the bound.
	f.add("two")
	f.clock.Advance(4 * time.Second)
	if r := f.do("GET", path, "", ""); !bytes.Equal(r.body, first.body) || r.hdr.Get("Age") != "4" {
		t.Errorf("at 4 s: a new render (age %s)", r.hdr.Get("Age"))
	}
	f.srv.cache.wait()
	if n := cs.incidentLists(); n != 1 {
		t.Errorf("%d renders before half the bound, want 1", n)
	}
	// At half the bound: the current copy at once, and one re-render behind it.
	f.clock.Advance(time.Second)
	if r := f.do("GET", path, "", ""); !bytes.Equal(r.body, first.body) {
		t.Error("at 5 s: the request waited for a re-render")
	}
	f.srv.cache.wait()
	fresh := f.do("GET", path, "", "", "If-None-Match", etag)
	if fresh.code != 200 || !strings.Contains(string(fresh.body), "Component two") || fresh.hdr.Get("ETag") == etag || fresh.hdr.Get("Age") != "0" {
		t.Errorf("after the background render: %d, etag %q, age %s", fresh.code, fresh.hdr.Get("ETag"), fresh.hdr.Get("Age"))
	}
	// With no request in between, a copy at its bound is never served: the request waits.
	f.add("three")
	f.clock.Advance(10 * time.Second)
	if r := f.do("GET", path, "", ""); !strings.Contains(string(r.body), "Component three") || r.hdr.Get("Age") != "0" {
		t.Errorf("at the bound: served a copy %s s old without the change", r.hdr.Get("Age"))
	}
	// Feeds have their own bound.
	if r := f.do("GET", "/history.rss", "", ""); r.hdr.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("feed Cache-Control %q", r.hdr.Get("Cache-Control"))
	}
	// Compressed for clients that accept it, identical once inflated, under its own tag.
	page := f.do("GET", "/", "", "", "Accept-Encoding", "gzip")
	if page.hdr.Get("Content-Encoding") != "gzip" || !strings.HasSuffix(page.hdr.Get("ETag"), `-gzip"`) {
		t.Fatalf("page not compressed: %v", page.hdr)
	}
	zr, err := gzip.NewReader(bytes.NewReader(page.body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	identity := f.do("GET", "/", "", "")
	if !bytes.Equal(plain, identity.body) || !strings.Contains(string(plain), "Component two") {
		t.Error("the gzipped page differs from the plain one")
	}
	// Either tag revalidates either body: they are one document.
	if r := f.do("GET", "/", "", "", "If-None-Match", identity.hdr.Get("ETag"), "Accept-Encoding", "gzip"); r.code != 304 {
		t.Errorf("identity tag on a gzip request: %d, want 304", r.code)
	}
	// Admin API responses are never cached.
	if r := f.do("GET", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], ""); r.hdr.Get("ETag") != "" {
		t.Error("an admin response went through the public cache")
	}
}

// TestCacheKeys: 1,000 distinct query strings (unknown parameters with random values, the known
// ones in any order, defaults spelled out or left out, numbers with leading zeros) make exactly
// one render and one entry per canonical key, and each gets that key's response.
func TestCacheKeys(t *testing.T) {
	f, cs := cachedFixture(t)
	rng := rand.New(rand.NewPCG(1, 2))
	known := []struct {
		name   string
		values []string // the first ones spell the default
		same   int      // how many of them
	}{
		{"status", []string{"", "all", "open", "resolved"}, 2},
		{"severity", []string{"", "P1"}, 1},
		{"limit", []string{"", "50", "050", "10", "010"}, 3},
	}
	canonical := func(vals map[string]string) string {
		var parts []string
		for _, k := range known {
			v := vals[k.name]
			if i := slices.Index(k.values, v); i < k.same {
				continue
			}
			parts = append(parts, k.name+"="+strings.TrimLeft(v, "0"))
		}
		return strings.Join(parts, "&")
	}
	want := map[string][]byte{}
	seen := map[string]bool{}
	for i := range 1000 {
		vals := map[string]string{}
		var pairs []string
		for _, k := range known {
			v := k.values[rng.IntN(len(k.values))]
			vals[k.name] = v
			if v != "" {
				pairs = append(pairs, k.name+"="+v)
			}
		}
		for j := range 1 + rng.IntN(3) {
			pairs = append(pairs, fmt.Sprintf("x%d_%d=%d", rng.IntN(1000), j, rng.Uint64()))
		}
		rng.Shuffle(len(pairs), func(a, b int) { pairs[a], pairs[b] = pairs[b], pairs[a] })
		q := strings.Join(pairs, "&")
		if seen[q] {
			continue
		}
		seen[q] = true
		r := f.do("GET", "/api/v1/incidents?"+q, "", "")
		if r.code != 200 {
			t.Fatalf("request %d ?%s: %d %s", i, q, r.code, r.body)
		}
		key := canonical(vals)
		if w, ok := want[key]; ok && !bytes.Equal(w, r.body) {
			t.Fatalf("?%s got another response than its canonical key %q", q, key)
		}
		want[key] = r.body
		// Unknown parameters on a route with none are one key too.
		if r := f.do("GET", "/api/v2/status.json?"+q, "", ""); r.code != 200 {
			t.Fatalf("status.json?%s: %d", q, r.code)
		}
	}
	if len(seen) < 990 {
		t.Fatalf("only %d distinct query strings", len(seen))
	}
	keys := len(want) + 1 // and status.json's one
	if got := cs.incidentLists(); got != keys {
		t.Errorf("%d renders for %d distinct query strings, want %d (one per canonical key)", got, len(seen)*2, keys)
	}
	if got := f.srv.cache.size(); got != keys {
		t.Errorf("%d cache entries, want %d", got, keys)
	}
	// The handler sees the canonical query only: an unknown parameter cannot change a response.
	if r := f.do("GET", "/api/v1/incidents?status=open&limit=0010&callback=x", "", ""); !bytes.Equal(r.body, want["status=open&limit=10"]) {
		t.Error("a spelling of a known key got another response")
	}
}

// TestCacheBounded: a route keeps a bounded number of entries, least recently used out first,
// and one route's variants never push another route's page out: 2,100 badge labels later, the
// page is still served without a render.
func TestCacheBounded(t *testing.T) {
	f, cs := cachedFixture(t)
	f.add("api")
	page := f.do("GET", "/", "", "")
	renders := cs.incidentLists() // the page lists the open incidents; a badge does not
	for i := range 2100 {
		if r := f.do("GET", "/badge/api/status.svg?label="+url.QueryEscape(fmt.Sprint("l", i)), "", ""); r.code != 200 {
			t.Fatalf("badge %d: %d", i, r.code)
		}
	}
	if n := f.srv.cache.size(); n > 1025 {
		t.Errorf("%d entries after 2,100 badge labels, want at most the badges' bound and the page", n)
	}
	if r := f.do("GET", "/", "", "", "If-None-Match", page.hdr.Get("ETag")); r.code != 304 || cs.incidentLists() != renders {
		t.Errorf("the page after 2,100 badges: %d, %d renders, want 304 and none", r.code, cs.incidentLists()-renders)
	}
}

// TestCacheStampede: many requests for a key not yet rendered wait for one render.
func TestCacheStampede(t *testing.T) {
	f, cs := cachedFixture(t)
	var wg sync.WaitGroup
	codes := make([]int, 64)
	for i := range codes {
		wg.Go(func() { codes[i] = f.do("GET", "/api/v2/summary.json", "", "").code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := cs.incidentLists(); n != 1 {
		t.Errorf("%d renders for 64 requests at once, want 1", n)
	}
}

// TestChangeShowsAtOnce: each kind of change, made through the service (the admin API, the CLI,
// the engine), reaches every public response as soon as its event is applied, with no time
// passing: the cache does not wait out a TTL.
func TestChangeShowsAtOnce(t *testing.T) {
	f, _ := cachedFixture(t)
	f.add("api")
	paths := []string{"/", "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json", "/api/v1/components",
		"/history.rss", "/history.atom", "/feed.json", "/badge/api/status.json", "/api/v2/scheduled-maintenances.json", "/maintenance.ics"}
	last := map[string][]byte{}
	for _, p := range paths {
		last[p] = f.do("GET", p, "", "").body
	}
	var incident string
	for _, ch := range []struct {
		name   string
		change func()
		shows  []string // the paths whose response must differ afterwards
	}{
		{"incident declared", func() {
			r := f.do("POST", "/api/admin/v1/incidents", f.tokens[apikey.ScopeIncidents], `{"title":"Slow API","severity":"P1","components":[{"id":"api","impact":"partial_outage"}]}`)
			incident = r.incident(t).ID
		}, []string{"/", "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json", "/history.rss", "/history.atom", "/feed.json"}},
		{"incident updated", func() {
			f.do("POST", "/api/admin/v1/incidents/"+incident+"/updates", f.tokens[apikey.ScopeIncidents], `{"message":"Found it.","status":"identified"}`)
		}, []string{"/", "/api/v2/summary.json", "/api/v2/incidents.json", "/history.rss", "/feed.json"}},
		{"maintenance scheduled", func() {
			f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance], strings.ReplaceAll(tuesdayBody, `"db"`, `"api"`))
		}, []string{"/", "/api/v2/summary.json", "/api/v2/scheduled-maintenances.json", "/maintenance.ics", "/history.rss"}},
		{"component created", func() {
			f.do("POST", "/api/admin/v1/components", f.tokens[apikey.ScopeAdmin], `{"id":"web","name":"Website"}`)
		}, []string{"/", "/api/v2/summary.json", "/api/v1/components"}},
		{"status changed", func() {
			err := f.srv.svc.Monitors.RecordStatus(t.Context(), component.Change{ComponentID: "api", At: f.clock.Now(), Status: component.MajorOutage}, component.Unknown, false)
			if err != nil {
				t.Fatal(err)
			}
		}, []string{"/", "/api/v2/summary.json", "/api/v1/components", "/badge/api/status.json"}},
	} {
		ch.change()
		settle(f.srv)
		for _, p := range ch.shows {
			r := f.do("GET", p, "", "")
			if bytes.Equal(r.body, last[p]) {
				t.Errorf("%s: %s is unchanged right after it was acknowledged", ch.name, p)
			}
		}
		for _, p := range paths {
			last[p] = f.do("GET", p, "", "").body
		}
	}
}

// TestNotModifiedWhileUnchanged: with nothing changed, the v2 JSON, the feeds and the page keep
// their validators across time and across re-renders after the bound (page.updated_at, pubDate
// and updated are the last change, not the render time): If-None-Match and If-Modified-Since
// get 304 a second later, and after a re-render.
func TestNotModifiedWhileUnchanged(t *testing.T) {
	f, _ := cachedFixture(t)
	f.add("api")
	f.do("POST", "/api/admin/v1/incidents", f.tokens[apikey.ScopeIncidents], `{"title":"Slow API","severity":"P2","components":[{"id":"api","impact":"degraded_performance"}]}`)
	settle(f.srv)
	f.clock.Advance(10 * time.Second)
	for _, p := range []string{"/api/v2/status.json", "/api/v2/summary.json", "/api/v2/incidents.json", "/api/v2/components.json",
		"/api/v2/scheduled-maintenances.json", "/history.rss", "/history.atom", "/feed.json"} {
		first := f.do("GET", p, "", "")
		etag, lm := first.hdr.Get("ETag"), first.hdr.Get("Last-Modified")
		if first.code != 200 || etag == "" || lm == "" {
			t.Fatalf("%s: %d %v", p, first.code, first.hdr)
		}
		if want := t0.Format(http.TimeFormat); lm != want {
			t.Errorf("%s: Last-Modified %s, want the incident's declaration, %s", p, lm, want)
		}
		for _, step := range []time.Duration{time.Second, 30 * time.Second, 90 * time.Second} { // past both bounds: re-rendered
			f.clock.Advance(step)
			if r := f.do("GET", p, "", "", "If-None-Match", etag); r.code != 304 {
				t.Errorf("%s %s later, If-None-Match: %d, want 304\n%s", p, step, r.code, firstDiff(string(r.body), string(first.body)))
			}
			if r := f.do("GET", p, "", "", "If-Modified-Since", lm); r.code != 304 {
				t.Errorf("%s %s later, If-Modified-Since: %d, want 304", p, step, r.code)
			}
		}
	}
	// A change gives new validators.
	f.do("POST", "/api/admin/v1/components", f.tokens[apikey.ScopeAdmin], `{"id":"web","name":"Website"}`)
	settle(f.srv)
	for _, p := range []string{"/api/v2/status.json", "/history.rss"} {
		if r := f.do("GET", p, "", "", "If-Modified-Since", t0.Format(http.TimeFormat)); r.code != 200 || r.hdr.Get("Last-Modified") != f.clock.Now().Format(http.TimeFormat) {
			t.Errorf("%s after a change: %d, Last-Modified %s", p, r.code, r.hdr.Get("Last-Modified"))
		}
	}
}

// TestCacheKeysBounded: the parameters whose values are open-ended have bounded spellings: a
// time is one key per second (nanoseconds were one render each), a month is one of the months
// since 2000 up to the current one (any of 120,000 before), and a badge label is cut at a
// character's boundary, never inside one.
func TestCacheKeysBounded(t *testing.T) {
	f, _ := cachedFixture(t)
	before := f.srv.cache.size()
	for i := range 20 {
		q := fmt.Sprintf("/api/v1/maintenance/occurrences?from=2026-11-01T00:00:00.%09dZ&to=2026-11-30T00:00:00.%dZ", i+1, i+1)
		if r := f.do("GET", q, "", ""); r.code != 200 {
			t.Fatalf("%s: %d %s", q, r.code, r.body)
		}
	}
	if got := f.srv.cache.size() - before; got != 1 {
		t.Errorf("20 times within one second made %d cache entries, want 1", got)
	}
	for _, tt := range []struct {
		month string
		code  int
	}{
		{"0001-01", 400}, {"1999-12", 400}, {"9999-12", 404}, {f.clock.Now().AddDate(0, 1, 0).Format("2006-01"), 404},
		{"2000-01", 200}, {f.clock.Now().Format("2006-01"), 200},
	} {
		if r := f.do("GET", "/history?month="+tt.month, "", ""); r.code != tt.code {
			t.Errorf("/history?month=%s: %d, want %d", tt.month, r.code, tt.code)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"abc", "abc"},
		{strings.Repeat("a", 59) + "éé", strings.Repeat("a", 59) + "…"}, // é is two bytes: byte 60 is inside one
		{strings.Repeat("a", 58) + "éé", strings.Repeat("a", 58) + "é…"},
		{strings.Repeat("界", 30), strings.Repeat("界", 20) + "…"},
	} {
		if got := truncate(tt.in, 60); got != tt.want || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, 60) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
