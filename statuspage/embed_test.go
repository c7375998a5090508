package statuspage

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
)

// TestEmbedSmall: /embed stays under 5 KB with as much as it can show (the most incidents it
// lists, each with the longest title), has no script, links out in a new tab and says how many
// incidents it left out; its badge is valid SVG in the reader's language.
func TestEmbedSmall(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	for i := range 8 {
		title := fmt.Sprintf("%03d ", i) + strings.Repeat("é", 98) // 200 bytes: the longest title
		body := fmt.Sprintf(`{"title":%q,"severity":"P1","message":"Investigating.","components":[{"id":"api","impact":"major_outage"}]}`, title)
		if r := f.do("POST", "/api/admin/v1/incidents", f.tokens[apikey.ScopeIncidents], body); r.code != 201 {
			t.Fatalf("declare: %d %s", r.code, r.body)
		}
	}
	for _, lang := range []string{"en", "zh-Hans"} {
		r := f.do("GET", "/embed?lang="+lang, "", "")
		page := string(r.body)
		if r.code != 200 || len(r.body) >= 5*1024 {
			t.Errorf("/embed?lang=%s: %d, %d bytes (want under 5 KB)", lang, r.code, len(r.body))
		}
		if strings.Contains(strings.ToLower(page), "<script") || strings.Contains(page, " on") && strings.Contains(page, "onload=") {
			t.Errorf("/embed has script")
		}
		if n := strings.Count(page, `<li class=`); n != embedIncidents || !strings.Contains(page, ">+3</a>") {
			t.Errorf("/embed lists %d incidents and does not count the other 3", n)
		}
		if strings.Count(page, `target="_blank" rel="noopener"`) != strings.Count(page, "<a ") {
			t.Errorf("a link of /embed opens inside the frame")
		}
		svg := f.do("GET", "/embed/status.svg?lang="+lang, "", "")
		if svg.code != 200 || xml.Unmarshal(svg.body, new(struct{})) != nil {
			t.Errorf("/embed/status.svg?lang=%s: %d %s", lang, svg.code, svg.body)
		}
	}
	if svg := string(f.do("GET", "/embed/status.svg?lang=zh-Hans", "", "").body); !strings.Contains(svg, ">部分系统中断<") {
		t.Errorf("the badge is not in Chinese: %s", svg)
	}
}

// TestFraming: with server.frame_ancestors unset, no page may be framed (frame-ancestors 'none'
// and X-Frame-Options: DENY); set, pages name who may frame them and drop X-Frame-Options, while
// JSON and feeds still may not be framed.
func TestFraming(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api")
	for _, path := range []string{"/", "/embed"} {
		r := f.do("GET", path, "", "")
		if r.hdr.Get("X-Frame-Options") != "DENY" || !strings.HasSuffix(r.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("unset: %s: X-Frame-Options %q, CSP %q", path, r.hdr.Get("X-Frame-Options"), r.hdr.Get("Content-Security-Policy"))
		}
	}
	page := f.srv.page
	page.FrameAncestors = []string{"https://app.example.com", "'self'"}
	srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), Page: page,
		SLA: f.srv.sla, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	for _, path := range []string{"/", "/embed", "/history"} {
		r := f.do("GET", path, "", "")
		if r.hdr.Get("X-Frame-Options") != "" || !strings.HasSuffix(r.hdr.Get("Content-Security-Policy"), "frame-ancestors https://app.example.com 'self'") {
			t.Errorf("set: %s: X-Frame-Options %q, CSP %q", path, r.hdr.Get("X-Frame-Options"), r.hdr.Get("Content-Security-Policy"))
		}
	}
	for _, path := range []string{"/api/v2/summary.json", "/history.atom"} {
		r := f.do("GET", path, "", "")
		if r.hdr.Get("X-Frame-Options") != "DENY" || !strings.HasSuffix(r.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("set: %s may be framed: %q %q", path, r.hdr.Get("X-Frame-Options"), r.hdr.Get("Content-Security-Policy"))
		}
	}
}

// TestBrand: the operator's colours, stylesheet, logos and favicon reach every page without
// script (a stylesheet of our own origin, <picture> for the dark logo), their files are served
// long-cached under their version, and the footer's Markdown is sanitised.
func TestBrand(t *testing.T) {
	f := newFixture(t)
	page := f.srv.page
	page.Brand = Brand{
		Logo:       &BrandFile{Name: "acme.svg", ContentType: "image/svg+xml", Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		LogoDark:   &BrandFile{Name: "acme-dark.PNG", ContentType: "image/png", Data: []byte("\x89PNG dark")},
		Favicon:    &BrandFile{Name: "icon.ico", ContentType: "image/x-icon", Data: []byte("ico")},
		CSS:        &BrandFile{Name: "site.css", ContentType: "text/css; charset=utf-8", Data: []byte(".banner { border-radius: 0; }")},
		Footer:     "© Acme · [Terms](https://acme.example/terms) <script>alert(1)</script>",
		Colors:     BrandColors{Accent: "#0a7d4f", HeaderBackground: "#102a43", HeaderText: "#fff", Major: "#b00020"},
		DarkColors: BrandColors{Background: "#000"},
	}
	srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), Page: page, SLA: f.srv.sla, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	html := string(f.do("GET", "/", "", "").body)
	css := f.srv.brand.CSS
	for _, want := range []string{
		`<link rel="stylesheet" href="` + css + `">`,
		`<picture><source srcset="/brand/logo-dark.png?v=`, `media="(prefers-color-scheme: dark)"><img src="/brand/logo.svg?v=`,
		`<link rel="icon" href="/brand/favicon.ico?v=`, `type="image/x-icon">`,
		`<a href="https://acme.example/terms" rel="nofollow">Terms</a>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "/static/favicon.svg") {
		t.Error("the footer's script got through, or the default favicon stayed")
	}
	r := f.do("GET", css, "", "")
	for _, want := range []string{":root { --major: #b00020; }", "a { color: #0a7d4f; }", "header.site { background: #102a43; }",
		"@media (prefers-color-scheme: dark) {\n  :root { --bg: #000; }", ".banner { border-radius: 0; }"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("brand stylesheet lacks %q:\n%s", want, r.body)
		}
	}
	if r.hdr.Get("Content-Type") != "text/css; charset=utf-8" || r.hdr.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("brand stylesheet: %v", r.hdr)
	}
	if r := f.do("GET", "/brand/style.css?v=old", "", ""); r.hdr.Get("Cache-Control") != "public, max-age=300" {
		t.Errorf("another version is cached long: %q", r.hdr.Get("Cache-Control"))
	}
	if r := f.do("GET", css, "", "", "If-None-Match", r.hdr.Get("ETag")); r.code != 304 {
		t.Errorf("revalidation: %d", r.code)
	}
	if r := f.do("GET", "/brand/logo-dark.png", "", ""); r.code != 200 || r.hdr.Get("Content-Type") != "image/png" {
		t.Errorf("dark logo: %d %v", r.code, r.hdr)
	}
	if r := f.do("GET", "/brand/nothing.png", "", ""); r.code != 404 {
		t.Errorf("an unknown brand file: %d", r.code)
	}
	// The embed takes the brand's stylesheet too.
	if embed := string(f.do("GET", "/embed", "", "").body); !strings.Contains(embed, `href="`+css+`"`) {
		t.Error("the embed lacks the brand's stylesheet")
	}
}
