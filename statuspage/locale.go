package statuspage

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/locale"
)

// Languages (docs/page.md): every page, the feeds' fixed text, the badges' words and the error
// pages come in the reader's language, picked by locale.Catalogue.Negotiate from ?lang=, then
// Accept-Language, then the config's server.language. What people wrote (incident text, names,
// titles) stays as written. The v2 JSON keeps Statuspage's English words: clients compare them.

// Query parameters of the language.
const (
	// langParam is the reader's explicit choice (?lang=zh-CN). Links on a page chosen this way
	// carry it, so the choice holds from page to page without a cookie.
	langParam = "lang"
	// acceptParam carries the language negotiated from Accept-Language in a cached route's
	// canonical query (cache.go): a render runs without the client's headers, and the key holds
	// the negotiated language, one of a few, never the header itself. A client sending it
	// itself on a cached route is overruled by its header.
	acceptParam = "accept-language"
)

const contextKeyLocale = "upstate.locale"

// locale is the language of the response to c: ?lang= if it names a language, else the
// negotiated Accept-Language (carried in the query by the cache, or read from the header), else
// the default. Read once per request.
func (s *Server) locale(c echo.Context) *locale.Locale {
	if l, ok := c.Get(contextKeyLocale).(*locale.Locale); ok {
		return l
	}
	l := s.langs.Default()
	if q, ok := s.langs.Supported(c.QueryParam(langParam)); ok {
		l = q
	} else if a, ok := s.langs.Supported(c.QueryParam(acceptParam)); ok {
		l = a
	} else if a, ok := s.langs.Accept(c.Request().Header.Get("Accept-Language")); ok {
		l = a
	}
	c.Set(contextKeyLocale, l)
	return l
}

// chosenLang is the language ?lang= chose, or "" when the reader chose none.
func (s *Server) chosenLang(c echo.Context) string {
	if l, ok := s.langs.Supported(c.QueryParam(langParam)); ok {
		return l.Tag()
	}
	return ""
}

// langParams are the cache's parameters of a localized route (cachedRoutes): the explicit
// choice, and the language negotiated from the Accept-Language header (left out when it is the
// default), so a key holds one of a few languages, never the header itself.
func langParams(langs *locale.Catalogue) []cacheParam {
	return []cacheParam{
		{name: langParam, norm: func(v string) string {
			if l, ok := langs.Supported(v); ok {
				return l.Tag()
			}
			return "" // names no language: ignored, not refused
		}},
		{name: acceptParam, header: "Accept-Language", def: langs.Default().Tag(), norm: func(v string) string {
			if l, ok := langs.Accept(v); ok {
				return l.Tag()
			}
			return langs.Default().Tag()
		}},
	}
}

// parseLocalized parses the templates once per language: each set's t, tn and lang functions
// speak its language.
func parseLocalized(assets fs.FS, langs *locale.Catalogue) (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(localeFuncs(langs.Default())).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("statuspage: templates: %w", err)
	}
	for _, name := range []string{"index.html", "error.html", "incident.html", "history.html", "embed.html", "login.html", "maintenance.html"} {
		if base.Lookup(name) == nil {
			return nil, fmt.Errorf("statuspage: templates: %s is missing", name)
		}
	}
	sets := map[string]*template.Template{}
	for _, l := range langs.Locales() {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("statuspage: templates: %w", err)
		}
		sets[l.Tag()] = t.Funcs(localeFuncs(l))
	}
	return sets, nil
}

func localeFuncs(l *locale.Locale) template.FuncMap {
	return template.FuncMap{
		"t":    l.T, // {{t "nav.history"}}, {{t "footer.times" "Zone" .Zone "Updated" .Updated}}
		"tn":   l.N, // {{tn "group.count" (len .Components)}}
		"lang": l.Tag,
	}
}

// templatesFor is the template set of c's language.
func (s *Server) templatesFor(c echo.Context) *template.Template {
	if c == nil {
		return s.tmpl[s.langs.Default().Tag()]
	}
	return s.tmpl[s.locale(c).Tag()]
}

// chrome is what every page shows around its content for this request: its language, the
// same page in the other languages, the brand, and where its links lead.
type chrome struct {
	Lang string
	// LangQuery and LangParam carry the reader's explicit choice into links ("?lang=zh-Hans",
	// "&lang=zh-Hans"); empty when the language came from the browser or the default.
	LangQuery, LangParam string
	Alternates           []alternate
	DefaultURL           string // the page without ?lang=: hreflang x-default
	Brand                *brandView
	// Base prefixes the links to incidents: "" on the public pages, "/internal" on the
	// internal page (which sees internal incidents).
	Base string
	// Subscribe: the page offers subscriptions by email and webhook (subscribe.go).
	Subscribe bool
}

// alternate is this page in one language.
type alternate struct {
	Lang, Name, URL string
	Current         bool
}

// chromeFor builds the chrome of c's page.
func (s *Server) chromeFor(c echo.Context) chrome {
	l := s.locale(c)
	ch := chrome{Lang: l.Tag(), Brand: s.brand, Subscribe: s.subscribeOn()}
	if tag := s.chosenLang(c); tag != "" {
		ch.LangQuery, ch.LangParam = "?"+langParam+"="+tag, "&"+langParam+"="+tag
	}
	if c.Request() == nil || c.Request().URL == nil {
		return ch
	}
	u := *c.Request().URL
	q := u.Query()
	q.Del(langParam)
	q.Del(acceptParam)
	base := s.page.PublicURL + u.EscapedPath()
	ch.DefaultURL = base
	if enc := q.Encode(); enc != "" {
		ch.DefaultURL += "?" + enc
	}
	for _, other := range s.langs.Locales() {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		qq.Set(langParam, other.Tag())
		ch.Alternates = append(ch.Alternates, alternate{Lang: other.Tag(), Name: other.Name(), URL: base + "?" + qq.Encode(),
			Current: other == l})
	}
	if strings.HasPrefix(c.Path(), "/internal") {
		ch.Base = "/internal"
	}
	return ch
}

// htmlLang is the lang attribute of a page's <html> element ("" if it has none).
func htmlLang(page []byte) string {
	const attr = `<html lang="`
	i := strings.Index(string(page[:min(len(page), 512)]), attr)
	if i < 0 {
		return ""
	}
	rest := page[i+len(attr) : min(len(page), i+len(attr)+40)]
	j := strings.IndexByte(string(rest), '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
