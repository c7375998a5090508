package statuspage

import (
	"mime"
	"net/url"
	"strings"
)

// Content-Security-Policy, by the kind of response (docs/security.md).
//
// Pages load only their own stylesheet and images (the favicon, and the logo, which may live on
// another host): no script, no inline style, no frames, no plugins, and no other site may frame
// them, unless the operator names who may (server.frame_ancestors: the page and /embed in the
// operator's product). Such pages send frame-ancestors with those sources instead of 'none',
// and no X-Frame-Options, which cannot name a site and would forbid it everywhere. Markdown in
// incident text may not pull in images from other hosts either.
//
// SVG badges and the favicon draw with presentation attributes (fill, font-family) and no
// style attribute or element, so they need nothing at all: default-src 'none' keeps a badge
// opened on its own from running or loading anything. They carry no frame-ancestors, so sites
// may still embed them through <object> or <iframe> as well as <img>.
//
// Everything else (JSON, feeds, the calendar, CSV, metrics) is data: nothing in it may load or
// run, and nothing may frame it.
const (
	cspSVG  = "default-src 'none'"
	cspData = "default-src 'none'; frame-ancestors 'none'"
)

// contentSecurityPolicy is the policy of a response of the given Content-Type; empty when there
// is no content type (a 204, a 304), which keeps what the client already has.
type contentSecurityPolicy struct {
	page      string
	frameable bool // pages name who may frame them
}

// newContentSecurityPolicy builds the policies; a logo on another host (server.logo_url) joins
// the page's img-src, and frameAncestors (configs checked each is a source expression) replace
// the pages' frame-ancestors 'none'.
func newContentSecurityPolicy(logoURL string, frameAncestors []string) contentSecurityPolicy {
	img := "'self'"
	if origin := urlOrigin(logoURL); origin != "" {
		img += " " + origin
	}
	ancestors := "'none'"
	var sources []string
	for _, src := range frameAncestors {
		if src != "" && !strings.ContainsAny(src, " ;,\"\t\r\n") {
			sources = append(sources, src)
		}
	}
	if len(sources) > 0 {
		ancestors = strings.Join(sources, " ")
	}
	return contentSecurityPolicy{page: "default-src 'none'; style-src 'self'; img-src " + img +
		"; base-uri 'none'; form-action 'self'; frame-ancestors " + ancestors, frameable: len(sources) > 0}
}

// framed reports whether a response of this Content-Type may be framed by another site: a
// page, when server.frame_ancestors names who. Everything else keeps X-Frame-Options: DENY.
func (p contentSecurityPolicy) framed(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return p.frameable && mt == "text/html"
}

// For returns the policy for a Content-Type.
func (p contentSecurityPolicy) For(contentType string) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case contentType == "":
		return ""
	case mt == "text/html":
		return p.page
	case mt == "image/svg+xml":
		return cspSVG
	}
	return cspData
}

// urlOrigin is scheme://host[:port] of an absolute http(s) URL, or "" for a path on this host or
// anything that could not be written into a policy as one source.
func urlOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
