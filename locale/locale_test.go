package locale_test

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/locale"
)

func load(t *testing.T, def string) *locale.Catalogue {
	t.Helper()
	c, err := locale.Load(assets.FS(), def)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNegotiate is the rule that picks a response's language: ?lang= when it names a language
// the page has, then Accept-Language (best q first, the header's order on a tie), then the
// config's default.
func TestNegotiate(t *testing.T) {
	tests := []struct {
		name, def, query, accept, want string
	}{
		{"nothing: the default", "en", "", "", "en"},
		{"nothing: a Chinese default", "zh-Hans", "", "", "zh-Hans"},
		{"a default given as zh-CN", "zh-CN", "", "", "zh-Hans"},
		{"browser in Chinese", "en", "", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"},
		{"browser in English, Chinese default", "zh-Hans", "", "en-US,en;q=0.9", "en"},
		{"plain zh", "en", "", "zh", "zh-Hans"},
		{"Singapore Chinese is Simplified", "en", "", "zh-SG", "zh-Hans"},
		{"q orders, not position", "en", "", "en;q=0.5, zh-CN;q=0.9", "zh-Hans"},
		{"equal q: the header's order", "zh-Hans", "", "en, zh", "en"},
		{"first language unsupported, the next one served", "en", "", "ja, zh;q=0.5", "zh-Hans"},
		{"Traditional Chinese is not Simplified: the next preference", "zh-Hans", "", "zh-TW, en;q=0.5", "en"},
		{"Traditional Chinese alone: the default", "en", "", "zh-Hant-TW", "en"},
		{"unsupported only: the default", "zh-Hans", "", "fr-CH, fr;q=0.9, de;q=0.7", "zh-Hans"},
		{"wildcard: the default", "zh-Hans", "", "*", "zh-Hans"},
		{"q=0 refuses a language", "en", "", "zh;q=0, en;q=0.1", "en"},
		{"q=0 on the only match: the default", "en", "", "zh-CN;q=0", "en"},
		{"a malformed entry is skipped, not the header", "en", "", "not a tag!!, zh-CN;q=0.8", "zh-Hans"},
		{"a malformed q is skipped", "en", "", "zh;q=abc, en;q=0.2", "en"},
		{"garbage header: the default", "zh-Hans", "", ";;;,,,=", "zh-Hans"},
		{"case does not matter", "en", "", "ZH-cn", "zh-Hans"},
		{"query wins over the header", "en", "zh-CN", "en-US", "zh-Hans"},
		{"query en over a Chinese header", "zh-Hans", "en", "zh-CN", "en"},
		{"query in another case", "en", "ZH-hans", "", "zh-Hans"},
		{"query en-GB is English", "zh-Hans", "en-GB", "", "en"},
		{"unsupported query falls back to the header", "en", "fr", "zh-CN", "zh-Hans"},
		{"unsupported query and no header: the default", "zh-Hans", "de", "", "zh-Hans"},
		{"query that is a list is not a language", "en", "zh,en", "", "en"},
		{"query that is not a tag", "en", "<script>", "", "en"},
		{"a language the matcher stands English in for is not English", "zh-Hans", "tlh", "", "zh-Hans"},
		{"nor in the header", "zh-Hans", "", "tlh, en;q=0.5", "en"},
		{"an endless header is cut, not refused", "en", "", strings.Repeat("xx-yy, ", 400) + "zh", "en"},
		{"only the first 16 entries count", "en", "", strings.Repeat("fr, ", 16) + "zh", "en"},
		{"the 16th entry still counts", "en", "", strings.Repeat("fr, ", 15) + "zh", "zh-Hans"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := load(t, tt.def)
			if got := c.Negotiate(tt.query, tt.accept).Tag(); got != tt.want {
				t.Errorf("Negotiate(%q, %q) with default %s = %s, want %s", tt.query, tt.accept, tt.def, got, tt.want)
			}
		})
	}
}

func TestLoadRefusesAnIncompleteLanguage(t *testing.T) {
	en := "language:\n  name: English\ngreeting: \"Hello {{.Name}}\"\ncount:\n  one: \"{{.Count}} item\"\n  other: \"{{.Count}} items\"\n"
	tests := []struct {
		name, file, want string
	}{
		{"missing message", "language:\n  name: Deutsch\ncount:\n  other: x\n", `i18n/de.yaml: message "greeting" is missing`},
		{"extra message", "language:\n  name: Deutsch\ngreeting: \"Hallo {{.Name}}\"\ncount:\n  other: \"{{.Count}}\"\nfarewell: x\n", `i18n/de.yaml: message "farewell" is not in en.yaml`},
		{"other variables", "language:\n  name: Deutsch\ngreeting: \"Hallo {{.Who}}\"\ncount:\n  other: \"{{.Count}}\"\n", `i18n/de.yaml: message "greeting" uses {{Who}}, en.yaml uses {{Name}}`},
		{"a name that is not a canonical tag", "", `i18n/DE.yaml: the file's name must be a BCP 47 tag`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "i18n/de.yaml"
			if tt.file == "" {
				name = "i18n/DE.yaml"
			}
			fsys := fstest.MapFS{"i18n/en.yaml": {Data: []byte(en)}, name: {Data: []byte(tt.file)}}
			_, err := locale.Load(fsys, "en")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if _, err := locale.Load(fstest.MapFS{"i18n/en.yaml": {Data: []byte(en)}}, "fr"); err == nil || !strings.Contains(err.Error(), `no messages for the default language "fr" (have en)`) {
		t.Errorf("unknown default: %v", err)
	}
	c, err := locale.Load(fstest.MapFS{"i18n/en.yaml": {Data: []byte(en)}, "i18n/de.yaml": {Data: []byte("language:\n  name: Deutsch\ngreeting: \"Hallo {{.Name}}\"\ncount:\n  one: \"{{.Count}} Ding\"\n  other: \"{{.Count}} Dinge\"\n")}}, "de")
	if err != nil {
		t.Fatalf("adding a language is adding one file: %v", err)
	}
	if got := c.Negotiate("", "de-AT").T("greeting", "Name", "Welt"); got != "Hallo Welt" {
		t.Errorf("de: %q", got)
	}
	if got := c.Default().N("count", 2); got != "2 Dinge" {
		t.Errorf("de plural: %q", got)
	}
}

// TestShippedLanguages: every shipped language loads against English (Load checks each message
// and its variables) and writes dates, durations and lists its own way.
func TestShippedLanguages(t *testing.T) {
	c := load(t, "en")
	if got := strings.Join(c.Tags(), " "); got != "en zh-Hans" {
		t.Fatalf("languages %s, want en zh-Hans", got)
	}
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 24, 21, 5, 0, 0, shanghai) // a Tuesday
	tests := []struct {
		lang, got, want string
	}{
		{"en", c.Localizer("en").Date(at, locale.WeekdayDateTime), "Tue 24 Nov 2026, 21:05"},
		{"zh", c.Localizer("zh-CN").Date(at, locale.WeekdayDateTime), "2026年11月24日（周二）21:05"},
		{"en", c.Localizer("en").Date(at, locale.DayTime), "24 Nov 21:05 CST"},
		{"zh", c.Localizer("zh").Date(at, locale.DayTime), "11月24日 21:05 CST"},
		{"zh", c.Localizer("zh").Date(at, locale.Month), "2026年11月"},
		{"en", c.Localizer("en").Duration(150 * time.Minute), "2 h 30 min"},
		{"zh", c.Localizer("zh").Duration(150 * time.Minute), "2 小时 30 分钟"},
		{"zh", c.Localizer("zh").Duration(3 * time.Hour), "3 小时"},
		{"en", c.Localizer("en").Percent(0.99957), "99.95%"},
		{"en", c.Localizer("en").List([]string{"API", "Website", "Database"}), "API, Website and Database"},
		{"zh", c.Localizer("zh").List([]string{"API", "网站", "数据库"}), "API、网站和数据库"},
		{"en", c.Localizer("en").N("group.count", 1), "1 component"},
		{"en", c.Localizer("en").N("group.count", 2), "2 components"},
		{"zh", c.Localizer("zh").N("group.count", 2), "2 个组件"},
		{"zh", c.Localizer("zh").Name(), "简体中文"},
		{"unknown id", c.Localizer("en").T("no.such.message"), "no.such.message"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.lang, tt.got, tt.want)
		}
	}
	if l := c.Localizer("tlh"); l != c.Default() {
		t.Errorf("Localizer of an unknown language = %s, want the default", l.Tag())
	}
}
