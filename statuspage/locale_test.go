package statuspage

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/locale"
	"go.yaml.in/yaml/v3"
)

// english is the shipped English catalogue's locale.
func english(t *testing.T) *locale.Locale {
	t.Helper()
	langs, err := locale.Load(assets.FS(), "en")
	if err != nil {
		t.Fatal(err)
	}
	return langs.Default()
}

// TestPageLanguage: the page's language comes from ?lang=, then Accept-Language, then the
// default, through the server: <html lang>, the hreflang alternates, the links that carry an
// explicit choice (and only then), Vary: Accept-Language on every localized response.
func TestPageLanguage(t *testing.T) {
	f, _ := cachedFixture(t)
	f.add("api")
	tests := []struct {
		name, path, accept, wantLang, wantBanner string
		linksCarry                               bool
	}{
		{"default", "/", "", "en", "Waiting for the first checks", false},
		{"browser in Chinese", "/", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "正在等待首次检测", false},
		{"browser asks for something else", "/", "fr-CH, fr;q=0.9", "en", "Waiting for the first checks", false},
		{"explicit zh-CN", "/?lang=zh-CN", "", "zh-Hans", "正在等待首次检测", true},
		{"explicit wins over the browser", "/?lang=en", "zh-CN", "en", "Waiting for the first checks", true},
		{"an unknown lang falls back to the browser", "/?lang=tlh", "zh", "zh-Hans", "正在等待首次检测", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("GET", tt.path, "", "", "Accept-Language", tt.accept)
			page := string(r.body)
			if r.code != 200 || !strings.Contains(page, `<html lang="`+tt.wantLang+`">`) || !strings.Contains(page, tt.wantBanner) {
				t.Fatalf("%s (Accept-Language %q): %d, want lang %s and %q", tt.path, tt.accept, r.code, tt.wantLang, tt.wantBanner)
			}
			for _, alt := range []string{`hreflang="en" href="https://status.example.com/?lang=en"`, `hreflang="zh-Hans" href="https://status.example.com/?lang=zh-Hans"`,
				`hreflang="x-default" href="https://status.example.com/"`} {
				if !strings.Contains(page, alt) {
					t.Errorf("no alternate %s", alt)
				}
			}
			if carries := strings.Contains(page, `href="/history?lang=`+tt.wantLang+`"`); carries != tt.linksCarry {
				t.Errorf("links carry the language: %v, want %v", carries, tt.linksCarry)
			}
			if !slices.Contains(r.hdr.Values("Vary"), "Accept-Language") {
				t.Errorf("Vary %v lacks Accept-Language", r.hdr.Values("Vary"))
			}
		})
	}
}

// TestLanguageCacheKeys: the cache keys a localized route by the negotiated language, one of a
// few, never by the header: a thousand distinct Accept-Language headers and ?lang= spellings
// make at most one entry per language and choice, and each gets its language.
func TestLanguageCacheKeys(t *testing.T) {
	f, _ := cachedFixture(t)
	f.add("api")
	rng := rand.New(rand.NewPCG(3, 4))
	langs := []string{"zh-CN", "zh", "zh-Hans", "zh-SG", "en", "en-US", "en-GB", "fr", "de-CH", "ja", "*", "x-bogus!"}
	for range 1000 {
		var parts []string
		for range 1 + rng.IntN(4) {
			parts = append(parts, fmt.Sprintf("%s;q=0.%d", langs[rng.IntN(len(langs))], 1+rng.IntN(9)))
		}
		header := strings.Join(parts, ", ")
		path := "/"
		if rng.IntN(3) == 0 {
			path += "?lang=" + langs[rng.IntN(len(langs))]
		}
		r := f.do("GET", path, "", "", "Accept-Language", header)
		if r.code != 200 {
			t.Fatalf("%s %q: %d", path, header, r.code)
		}
		want := langsCatalogue(t).Negotiate(strings.TrimPrefix(path, "/?lang="), header).Tag()
		if !strings.Contains(string(r.body), `<html lang="`+want+`">`) {
			t.Fatalf("%s with Accept-Language %q is not in %s", path, header, want)
		}
	}
	// Keys: no explicit language, or one of the two, times the negotiated one (two): at most six.
	if got := f.srv.cache.size(); got > 6 {
		t.Errorf("%d cache entries for one route, want at most 6 (the languages, not the headers)", got)
	}
}

func langsCatalogue(t *testing.T) *locale.Catalogue {
	t.Helper()
	c, err := locale.Load(assets.FS(), "en")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestErrorPageLanguage: error pages speak the reader's language too.
func TestErrorPageLanguage(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/incidents/nope?lang=zh-Hans", "", "", "Accept", "text/html")
	if r.code != 404 || !strings.Contains(string(r.body), "页面不存在") || !strings.Contains(string(r.body), `<html lang="zh-Hans">`) {
		t.Errorf("404 in Chinese: %d %s", r.code, r.body)
	}
	r = f.do("GET", "/incidents/nope", "", "", "Accept", "text/html", "Accept-Language", "zh-CN")
	if !strings.Contains(string(r.body), "没有这个页面") {
		t.Errorf("404 by Accept-Language: %s", r.body)
	}
}

// TestMessagesUsed: every message the code and the templates name exists in the catalogue, and
// every message in it is named somewhere (a dynamic id, such as "status." + a status, counts
// for its whole family).
func TestMessagesUsed(t *testing.T) {
	defined := map[string]bool{}
	for _, l := range langsCatalogue(t).Locales()[:1] {
		for _, id := range messageIDs(t) {
			if !l.Has(id) {
				t.Fatalf("messageIDs lists %s, which is not defined", id)
			}
			defined[id] = true
		}
	}
	literal := regexp.MustCompile(`(?:\bT|\bN|\{\{tn?)\(?\s*"([a-z_]+\.[a-z0-9_.]*)"`)
	constant := regexp.MustCompile(`"((?:format|duration|list|weekday|language)\.[a-z0-9_.]*)"`)
	dynamic := regexp.MustCompile(`"([a-z_]+\.)"\s*\+`)
	var sources []string
	for _, pattern := range []string{"*.go", "../locale/*.go", "../assets/templates/*.html"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				sources = append(sources, f)
			}
		}
	}
	used, prefixes := map[string]bool{}, map[string]bool{}
	for _, f := range sources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range []*regexp.Regexp{literal, constant, dynamic} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if strings.HasSuffix(m[1], ".") {
					prefixes[m[1]] = true
				} else {
					used[m[1]] = true
				}
			}
		}
	}
	for id := range used {
		if !defined[id] {
			t.Errorf("%s is used but not in assets/i18n/en.yaml", id)
		}
	}
	for p := range prefixes {
		found := false
		for id := range defined {
			found = found || strings.HasPrefix(id, p)
		}
		if !found {
			t.Errorf("no message starts with %s", p)
		}
	}
	for id := range defined {
		covered := used[id]
		for p := range prefixes {
			covered = covered || strings.HasPrefix(id, p)
		}
		if !covered {
			t.Errorf("%s is in the catalogue but nothing uses it", id)
		}
	}
}

// messageIDs lists the reference catalogue's ids.
func messageIDs(t *testing.T) []string {
	t.Helper()
	b, err := fs.ReadFile(assets.FS(), "i18n/en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			ids = append(ids, prefix)
			return
		}
		if _, plural := m["other"]; plural {
			ids = append(ids, prefix)
			return
		}
		for k, child := range m {
			walk(strings.TrimPrefix(prefix+"."+k, "."), child)
		}
	}
	walk("", doc)
	return ids
}
