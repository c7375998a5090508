package statuspage

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// storedText is a fixture whose component, incident and maintenance window carry text written
// straight to the store, as data stored before the API refused control characters would be.
type storedText struct {
	*fixture
	incidentID string
}

func newStoredText(t testing.TB) *storedText {
	t.Helper()
	f := newFixture(t)
	f.addComponents("api")
	r := f.do("POST", "/api/admin/v1/incidents", f.tokens[apikey.ScopeIncidents],
		`{"title":"API errors","severity":"P2","message":"Looking.","components":[{"id":"api","impact":"partial_outage"}]}`)
	if r.code != 201 {
		t.Fatalf("incident: %d %s", r.code, r.body)
	}
	var inc struct{ ID string }
	mustOK(t, json.Unmarshal(r.body, &inc))
	// A one-off window two days ahead: on the page, in the feeds and in the calendar.
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance],
		`{"id":"db-move","title":"DB move","components":["api"],"time_zone":"UTC","start":"2026-11-03T01:00:00Z","end":"2026-11-03T02:00:00Z"}`); r.code != 201 {
		t.Fatalf("window: %d %s", r.code, r.body)
	}
	return &storedText{fixture: f, incidentID: inc.ID}
}

// put stores text as the component's name and description, the incident's title and update,
// and the window's title and description. The window keeps to the length rules, which stored
// windows have always met.
func (s *storedText) put(t testing.TB, text string) {
	t.Helper()
	ctx := t.Context()
	c, err := s.store.GetComponent(ctx, "api")
	mustOK(t, err)
	c.Name, c.Description = text, text
	mustOK(t, s.store.UpdateComponent(ctx, c, store.AuditEntry{At: t0, Action: "test"}))
	inc, err := s.store.GetIncident(ctx, s.incidentID)
	mustOK(t, err)
	inc.Title, inc.Updates[len(inc.Updates)-1].Body = text, text
	inc.Version++
	mustOK(t, s.store.UpdateIncident(ctx, inc, store.AuditEntry{At: t0, Action: "test"}))
	w, err := s.store.GetWindow(ctx, "db-move")
	mustOK(t, err)
	w.Title, w.Description = "M "+truncate(text, 150), truncate(text, 4000)
	mustOK(t, s.store.UpdateWindow(ctx, w, store.AuditEntry{At: t0, Action: "test"}))
}

// check fetches every public rendering of the stored text and parses each as what it claims to
// be. It returns the first problem.
func (s *storedText) check(text string) error {
	kinds := []struct {
		path  string
		parse func([]byte) error
	}{
		{"/", parseHTML},
		{"/history", parseHTML},
		{"/incidents/" + s.incidentID, parseHTML},
		{"/history.rss", parseXML},
		{"/history.atom", parseXML},
		{"/history.rss?component=api", parseXML}, // the component's name is in the feed's title
		{"/feed.json", parseJSON},
		{"/badge/api/status.svg", parseXML},
		{"/badge/api/uptime.svg", parseXML},
		{"/badge/api/status.svg?label=" + url.QueryEscape(text), parseXML},
		{"/badge/api/status.json", parseJSON},
		{"/api/v2/summary.json", parseJSON},
		{"/maintenance.ics", parseICS},
	}
	for _, k := range kinds {
		r := s.do("GET", k.path, "", "")
		if r.code != 200 {
			return fmt.Errorf("GET %s: %d %.300s", k.path, r.code, r.body)
		}
		if err := k.parse(r.body); err != nil {
			return fmt.Errorf("GET %s: %w\n%.2000q", k.path, err, r.body)
		}
	}
	// What is left of the name reaches the badge and the page intact.
	if got, want := svgTitle(s.do("GET", "/badge/api/status.svg", "", "").body), xmlText(component.CleanText(text, component.MultiLine))+": no data"; got != want {
		return fmt.Errorf("the badge's title is %q, want %q", got, want)
	}
	// html/template writes U+0000 as U+FFFD itself, before the page is cleaned.
	if got, want := htmlText(s.do("GET", "/", "", "").body, "component-name"), xmlText(component.CleanText(strings.ReplaceAll(text, "\x00", "\uFFFD"), component.MultiLine)); got != want {
		return fmt.Errorf("the page shows the name as %q, want %q", got, want)
	}
	return nil
}

// xmlText is s as an XML or HTML parser reads it back: line ends normalised to newlines.
func xmlText(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// parseXML walks every token of an XML document strictly: well-formed, valid UTF-8, and only
// the characters XML 1.0 allows.
func parseXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not XML: %w", err)
		}
	}
}

func parseJSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("not UTF-8")
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return nil
}

// parseHTML checks a page is UTF-8 without the characters HTML calls parse errors in its input
// stream (controls other than ASCII whitespace, and U+FFFE and U+FFFF), and that it parses to
// a document with its main element.
func parseHTML(b []byte) error {
	if err := plainText(b, "\t\n\f\r"); err != nil {
		return err
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not HTML: %w", err)
	}
	if find(doc, func(n *html.Node) bool { return n.Type == html.ElementNode && n.Data == "main" }) == nil {
		return errors.New("no main element")
	}
	return nil
}

// parseICS checks a calendar's lines: UTF-8, CRLF line ends and no other control character
// (RFC 5545 allows HTAB, which folding may use).
func parseICS(b []byte) error {
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		return errors.New("the calendar does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if err := plainText([]byte(line), "\t"); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return nil
}

// plainText fails on invalid UTF-8, on controls other than those in allowed, and on U+FFFE and
// U+FFFF.
func plainText(b []byte, allowed string) error {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case (r < 0x20 || r >= 0x7f && r <= 0x9f) && !strings.ContainsRune(allowed, r), r == 0xfffe, r == 0xffff:
			return fmt.Errorf("%U at byte %d", r, i)
		}
		i += size
	}
	return nil
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if m := find(c, match); m != nil {
			return m
		}
	}
	return nil
}

// htmlText is the text of the first element with the class.
func htmlText(page []byte, class string) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return "(not HTML)"
	}
	n := find(doc, func(n *html.Node) bool {
		for _, a := range n.Attr {
			if a.Key == "class" && a.Val == class {
				return true
			}
		}
		return false
	})
	if n == nil {
		return "(no ." + class + ")"
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// svgTitle is the text of a badge's title element.
func svgTitle(b []byte) string {
	var v struct {
		Title string `xml:"title"`
	}
	if err := xml.Unmarshal(b, &v); err != nil {
		return "(not XML: " + err.Error() + ")"
	}
	return v.Title
}

// storedTextSeeds are the characters that broke a feed, a badge or a calendar, and their like.
var storedTextSeeds = []string{
	"API\x01errors", "line\x0bfeed", "\x1b[31mred\x1b[0m", "nul\x00name", "caf\xe9 \xff\xfe", "]]>", "end]]>start<![CDATA[",
	"U+FFFE \ufffe and U+FFFF \uffff", "tab\tnew\nline\r\ncr\rend", "DEL\x7f C1\u0085\u009f", "<b>&amp;\"'", "", " ", "😀 Zürich",
}

// FuzzStoredText stores any text as a component name, an incident title and update and a
// maintenance title, bypassing the API's refusal as data stored before it would, and parses
// every page, feed, badge and calendar that shows it.
func FuzzStoredText(f *testing.F) {
	for _, s := range storedTextSeeds {
		f.Add(s)
	}
	s := newStoredText(f)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 2000 {
			text = text[:2000]
		}
		s.put(t, text)
		if err := s.check(text); err != nil {
			t.Fatalf("stored %q: %v", text, err)
		}
	})
}

// Incident text with a control character, stored before the API refused it: an update's made
// the whole RSS feed invalid XML for every subscriber (content:encoded is CDATA, which
// encoding/xml writes as it is), and a title's came out as U+FFFD.
func TestStoredControlCharacterKeepsTheFeedsValid(t *testing.T) {
	tests := []struct {
		name        string
		title, body string
		want        []string // in the RSS and Atom feeds, escaped as the feed escapes it
	}{
		{"title", "API\x01 errors", "Looking.", []string{"<title>API errors (Investigating)</title>"}},
		{"update", "API errors", "Looking\x0b into it\x1b.", []string{"Looking into it."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStoredText(t)
			ctx := t.Context()
			inc, err := s.store.GetIncident(ctx, s.incidentID)
			mustOK(t, err)
			inc.Title, inc.Updates[0].Body = tt.title, tt.body
			inc.Version++
			mustOK(t, s.store.UpdateIncident(ctx, inc, store.AuditEntry{At: t0, Action: "test"}))
			for _, path := range []string{"/history.rss", "/history.atom"} {
				r := s.do("GET", path, "", "")
				if err := parseXML(r.body); r.code != 200 || err != nil {
					t.Fatalf("%s: %d %v", path, r.code, err)
				}
				for _, want := range tt.want {
					if !strings.Contains(string(r.body), want) {
						t.Errorf("%s lacks %q:\n%s", path, want, r.body)
					}
				}
			}
		})
	}
}

// A component name with U+0000 made its SVG badge invalid XML.
func TestStoredNULKeepsTheBadgeValid(t *testing.T) {
	s := newStoredText(t)
	c, err := s.store.GetComponent(t.Context(), "api")
	mustOK(t, err)
	c.Name = "API\x00 gateway"
	mustOK(t, s.store.UpdateComponent(t.Context(), c, store.AuditEntry{At: t0, Action: "test"}))
	r := s.do("GET", "/badge/api/status.svg", "", "")
	if err := parseXML(r.body); r.code != 200 || err != nil {
		t.Fatalf("badge: %d %v\n%q", r.code, err, r.body)
	}
	if got := svgTitle(r.body); got != "API gateway: no data" {
		t.Errorf("badge title %q", got)
	}
}
