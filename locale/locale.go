// Package locale is Upstate's message catalogue: the words of the page, the feeds, the badges,
// the error pages and the subscribers' mails in every language the product ships, with the
// rule that picks one for a reader and the formats of dates, durations and ratios per language.
//
// A language is one message file, assets/i18n/<BCP 47 tag>.yaml, in go-i18n's format (nested
// keys join with dots; a message with one/other/... forms is plural). English (en.yaml) is the
// reference: Load refuses a catalogue in which another language lacks one of its messages, has
// one it does not, or uses other template variables. Adding a language is adding one file.
//
// The catalogue never touches what people wrote: incident text, component names and titles
// stay as written. Everything here is fixed text.
package locale

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// Dir is where the message files live in the assets.
const Dir = "i18n"

// Reference is the language every other file is checked against.
const Reference = "en"

// Catalogue holds every language's messages and picks a language for a reader.
type Catalogue struct {
	locales []*Locale // the default first, then by tag
	byTag   map[string]*Locale
	matcher language.Matcher
}

// Locale is one language: its messages and formats.
type Locale struct {
	tag       language.Tag
	name      string // the language's name in itself (language.name)
	localizer *i18n.Localizer
	messages  map[string]bool
	// plain holds each message whose "other" form is literal text and {{.Name}} variables
	// only (nearly all of them), split at its variables: T fills it without go-i18n's
	// template machinery, which a page of 10,000 components called some 50,000 times a
	// render. TestPlainMessagesAreLocalized holds it to go-i18n's output for every message.
	plain map[string]plainMessage
}

// plainMessage is a message's "other" form as literal text and variables: text[0], the value
// of vars[0], text[1], ... (len(text) == len(vars)+1).
type plainMessage struct {
	text []string
	vars []string
}

// parsePlain splits a message's "other" form at its variables; ok is false when the form
// holds anything else a template could do (other actions, custom delimiters).
func parsePlain(m *i18n.Message) (plainMessage, bool) {
	if m.LeftDelim != "" || m.RightDelim != "" || m.Other == "" {
		return plainMessage{}, false
	}
	var pm plainMessage
	last := 0
	for _, loc := range templateVar.FindAllStringSubmatchIndex(m.Other, -1) {
		pm.text = append(pm.text, m.Other[last:loc[0]])
		pm.vars = append(pm.vars, m.Other[loc[2]:loc[3]])
		last = loc[1]
	}
	pm.text = append(pm.text, m.Other[last:])
	for _, t := range pm.text {
		if strings.Contains(t, "{{") {
			return plainMessage{}, false
		}
	}
	return pm, true
}

// fill writes pm with the variables' values, as text/template prints them; ok is false when
// a variable has no value (the template would print "<no value>": let go-i18n say so).
func (pm plainMessage) fill(nameValues []any) (string, bool) {
	if len(pm.vars) == 0 {
		return pm.text[0], true
	}
	var b strings.Builder
	for i, name := range pm.vars {
		b.WriteString(pm.text[i])
		var value any
		for j := 0; j+1 < len(nameValues); j += 2 { // as a map: the last value of a name wins
			if n, _ := nameValues[j].(string); n == name {
				value = nameValues[j+1]
			}
		}
		switch v := value.(type) {
		case nil:
			return "", false
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		default:
			fmt.Fprint(&b, v)
		}
	}
	b.WriteString(pm.text[len(pm.text)-1])
	return b.String(), true
}

// Load reads every message file under Dir in fsys. def is the default language (the config's
// server.language; "" means English): it must be one of the files, or match one (zh-CN matches
// zh-Hans).
func Load(fsys fs.FS, def string) (*Catalogue, error) {
	names, err := fs.Glob(fsys, Dir+"/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("locale: %w", err)
	}
	bundle := i18n.NewBundle(language.English)
	bundle.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	type file struct {
		tag   language.Tag
		vars  map[string]string // message id -> its template variables, sorted and joined
		plain map[string]plainMessage
	}
	var files []file
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("locale: %w", err))
			continue
		}
		base := strings.TrimSuffix(path.Base(name), ".yaml")
		tag, err := language.Parse(base)
		if err != nil || tag.String() != base {
			errs = append(errs, fmt.Errorf("locale: %s: the file's name must be a BCP 47 tag in its canonical form (%v)", name, tag))
			continue
		}
		mf, err := bundle.ParseMessageFileBytes(data, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("locale: %s: %w", name, err))
			continue
		}
		f := file{tag: tag, vars: map[string]string{}, plain: map[string]plainMessage{}}
		for _, m := range mf.Messages {
			f.vars[m.ID] = templateVars(m)
			if pm, ok := parsePlain(m); ok {
				f.plain[m.ID] = pm
			}
		}
		files = append(files, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ref := slices.IndexFunc(files, func(f file) bool { return f.tag.String() == Reference })
	if ref < 0 {
		return nil, fmt.Errorf("locale: %s/%s.yaml, the reference language, is missing", Dir, Reference)
	}
	for _, f := range files {
		for _, id := range slices.Sorted(maps.Keys(files[ref].vars)) {
			vars, ok := f.vars[id]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("locale: %s/%s.yaml: message %q is missing", Dir, f.tag, id))
			case vars != files[ref].vars[id]:
				errs = append(errs, fmt.Errorf("locale: %s/%s.yaml: message %q uses {{%s}}, %s.yaml uses {{%s}}", Dir, f.tag, id, vars, Reference, files[ref].vars[id]))
			}
		}
		for _, id := range slices.Sorted(maps.Keys(f.vars)) {
			if _, ok := files[ref].vars[id]; !ok {
				errs = append(errs, fmt.Errorf("locale: %s/%s.yaml: message %q is not in %s.yaml", Dir, f.tag, id, Reference))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c := &Catalogue{byTag: map[string]*Locale{}}
	for _, f := range files {
		l := &Locale{tag: f.tag, localizer: i18n.NewLocalizer(bundle, f.tag.String()), messages: map[string]bool{}, plain: f.plain}
		for id := range f.vars {
			l.messages[id] = true
		}
		l.name = l.T("language.name")
		c.locales = append(c.locales, l)
		c.byTag[f.tag.String()] = l
	}
	if def == "" {
		def = Reference
	}
	d, ok := c.match(def)
	if !ok {
		return nil, fmt.Errorf("locale: no messages for the default language %q (have %s)", def, strings.Join(c.Tags(), ", "))
	}
	slices.SortStableFunc(c.locales, func(a, b *Locale) int {
		switch {
		case a == d:
			return -1
		case b == d:
			return 1
		}
		return strings.Compare(a.tag.String(), b.tag.String())
	})
	tags := make([]language.Tag, len(c.locales))
	for i, l := range c.locales {
		tags[i] = l.tag
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Tags lists the languages' tags, the default first.
func (c *Catalogue) Tags() []string {
	out := make([]string, len(c.locales))
	for i, l := range c.locales {
		out[i] = l.tag.String()
	}
	return out
}

// Locales lists the languages, the default first.
func (c *Catalogue) Locales() []*Locale { return slices.Clone(c.locales) }

// Default is the default language.
func (c *Catalogue) Default() *Locale { return c.locales[0] }

// Supported reports whether tag names one of the languages, and which: the tag itself, or the
// closest (zh-CN and zh are zh-Hans, en-GB is en). A tag that does not parse, or matches no
// language well, is not supported.
func (c *Catalogue) Supported(tag string) (*Locale, bool) {
	if l := c.byTag[tag]; l != nil {
		return l, true
	}
	if c.matcher == nil {
		return c.match(tag)
	}
	if len(tag) > maxTagLength || strings.ContainsAny(tag, ",;") {
		return nil, false
	}
	t, err := language.Parse(tag)
	if err != nil {
		return nil, false
	}
	_, i, conf := c.matcher.Match(t)
	if !serves(t, c.locales[i].tag, conf) {
		return nil, false
	}
	return c.locales[i], true
}

// serves reports whether the matcher's answer serves a reader of want: a confident match in the
// same language (x/text's matcher is confident of some stand-ins, such as English for Klingon).
func serves(want, have language.Tag, conf language.Confidence) bool {
	w, _ := want.Base()
	h, _ := have.Base()
	return conf >= language.High && w == h
}

// match is Supported before the matcher exists (Load).
func (c *Catalogue) match(tag string) (*Locale, bool) {
	if l := c.byTag[tag]; l != nil {
		return l, true
	}
	t, err := language.Parse(tag)
	if err != nil {
		return nil, false
	}
	tags := make([]language.Tag, len(c.locales))
	for i, l := range c.locales {
		tags[i] = l.tag
	}
	_, i, conf := language.NewMatcher(tags).Match(t)
	if !serves(t, tags[i], conf) {
		return nil, false
	}
	return c.locales[i], true
}

// Limits on what a client's Accept-Language may cost.
const (
	maxTagLength      = 35 // RFC 5646's longest useful tag
	maxAcceptLanguage = 1024
	maxAcceptEntries  = 16
)

// Negotiate picks the language of a response: the query's ?lang= when it names a supported
// language, else the best of the Accept-Language header's, else the default. Anything a client
// sends ends in one of the catalogue's languages: the set of answers is bounded (a cache may key
// on it).
func (c *Catalogue) Negotiate(query, acceptLanguage string) *Locale {
	if query != "" {
		if l, ok := c.Supported(query); ok {
			return l
		}
	}
	if l, ok := c.Accept(acceptLanguage); ok {
		return l
	}
	return c.Default()
}

// Accept is the language an Accept-Language header asks for, if any language is close enough.
// Entries are weighed by q (q=0 refuses a language); an entry that does not parse is skipped,
// not the whole header; only the first entries of a long header are read.
func (c *Catalogue) Accept(header string) (*Locale, bool) {
	if header == "" {
		return nil, false
	}
	if len(header) > maxAcceptLanguage {
		header = header[:maxAcceptLanguage]
	}
	type pref struct {
		tag language.Tag
		q   float32
	}
	var prefs []pref
	for i, entry := range strings.Split(header, ",") {
		if i == maxAcceptEntries {
			break
		}
		entry = strings.TrimSpace(entry)
		if entry == "" || len(entry) > maxTagLength+16 {
			continue
		}
		if strings.HasPrefix(entry, "*") { // any language: the default will do
			continue
		}
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil || len(tags) != 1 {
			continue
		}
		prefs = append(prefs, pref{tags[0], qs[0]})
	}
	slices.SortStableFunc(prefs, func(a, b pref) int { // highest q first, ties in the header's order
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	// Each preference in turn, best first: the first that one of the languages serves well
	// wins (a reader of de, zh-TW;q=0.8, en;q=0.5 gets English, not Simplified Chinese).
	for _, p := range prefs {
		if p.q <= 0 {
			continue
		}
		_, i, conf := c.matcher.Match(p.tag)
		if serves(p.tag, c.locales[i].tag, conf) {
			return c.locales[i], true
		}
	}
	return nil, false
}

// Localizer is the language for a stored preference (a subscriber's, say): the language tag
// itself or the closest, else the default. It never fails.
func (c *Catalogue) Localizer(lang string) *Locale {
	if l, ok := c.Supported(lang); ok {
		return l
	}
	return c.Default()
}

// Tag is the language's BCP 47 tag, as <html lang> and hreflang want it.
func (l *Locale) Tag() string { return l.tag.String() }

// Name is the language's name in itself ("English", "简体中文").
func (l *Locale) Name() string { return l.name }

// Has reports whether the catalogue has a message of this id.
func (l *Locale) Has(id string) bool { return l.messages[id] }

// T is the message id, with its template variables given as name, value pairs:
//
//	l.T("incident.affects", "Components", "API, Website")
//
// A message that does not exist is a programming error: T returns its id, so it shows and a
// test catches it (every id the code uses is checked against the reference file).
func (l *Locale) T(id string, nameValues ...any) string {
	if pm, ok := l.plain[id]; ok {
		if s, ok := pm.fill(nameValues); ok {
			return s
		}
	}
	return l.localize(id, nil, nameValues)
}

// N is T for a message with plural forms, chosen by n, which the message reads as {{.Count}}.
func (l *Locale) N(id string, n int, nameValues ...any) string {
	return l.localize(id, n, append([]any{"Count", n}, nameValues...))
}

func (l *Locale) localize(id string, count any, nameValues []any) string {
	var data map[string]any
	if len(nameValues) > 0 {
		data = make(map[string]any, len(nameValues)/2)
		for i := 0; i+1 < len(nameValues); i += 2 {
			name, _ := nameValues[i].(string)
			data[name] = nameValues[i+1]
		}
	}
	s, err := l.localizer.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		return id
	}
	return s
}

// Date formats for Date, each a Go layout kept in the message files under format.*, so each
// language writes dates its own way. A layout may hold {weekday}, replaced by the language's
// name of the day (weekday.0 for Sunday to weekday.6), for languages Go cannot name days in.
const (
	DateTime        = "format.date_time"         // 2006-01-02 15:04 MST: a point in time
	DayTime         = "format.day_time"          // 2 Jan 15:04 MST: an update this year
	DayTimeYear     = "format.day_time_year"     // 2 Jan 2006 15:04 MST: in a feed
	DayTimeShort    = "format.day_time_short"    // 2 Jan 15:04: a span's start, or in UTC
	WeekdayDateTime = "format.weekday_date_time" // Mon 2 Jan 2006, 15:04: a maintenance window's start
	WeekdayDayTime  = "format.weekday_day_time"  // Mon 2 Jan 15:04 MST: its end on another day
	Clock           = "format.clock"             // 15:04 MST: its end on the same day
	Day             = "format.day"               // 2 Jan: a daily bar
	Month           = "format.month"             // January 2006: the history's month
	ZoneOffset      = "format.zone_offset"       // (UTC-07:00): after the zone's name
)

// Date writes t, already in the zone it is to be read in, by one of the layouts above.
func (l *Locale) Date(t time.Time, layout string) string {
	s := t.Format(l.T(layout))
	if strings.Contains(s, "{weekday}") {
		s = strings.ReplaceAll(s, "{weekday}", l.T("weekday."+strconv.Itoa(int(t.Weekday()))))
	}
	return s
}

// Weekday is the day's name.
func (l *Locale) Weekday(d time.Weekday) string { return l.T("weekday." + strconv.Itoa(int(d))) }

// Duration writes d, to the minute: "2 h 30 min", "2 小时 30 分钟".
func (l *Locale) Duration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h > 0 && m > 0:
		return l.T("duration.hours_minutes", "Hours", h, "Minutes", m)
	case h > 0:
		return l.T("duration.hours", "Hours", h)
	}
	return l.T("duration.minutes", "Minutes", m)
}

// Percent writes a ratio the way uptime is read: 99.95%, 100%, 98.7%. It never rounds up into a
// better figure.
func (l *Locale) Percent(r float64) string {
	p := math.Floor(r*10000) / 100
	n := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".")
	return l.T("format.percent", "Number", n)
}

// List joins items the language's way: "a, b and c", "a、b 和 c".
func (l *Locale) List(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	head := strings.Join(items[:len(items)-1], l.T("list.separator"))
	return l.T("list.last", "Head", head, "Last", items[len(items)-1])
}

var templateVar = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// templateVars is the sorted, joined set of the variables a message's forms use.
func templateVars(m *i18n.Message) string {
	set := map[string]bool{}
	for _, s := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		for _, sub := range templateVar.FindAllStringSubmatch(s, -1) {
			set[sub[1]] = true
		}
	}
	return strings.Join(slices.Sorted(maps.Keys(set)), ",")
}
