package statuspage

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
)

const (
	icsLocal = "20060102T150405"
	icsUTC   = "20060102T150405Z"
	// icsHorizon is how far past now the feed writes a recurring window's exceptions (EXDATEs and
	// overriding VEVENTs); it starts at the series' first occurrence.
	icsHorizon = 2 * 366 * 24 * time.Hour
)

// maintenanceICS serves every maintenance window as an RFC 5545 calendar, one VEVENT per window:
// recurring windows as an RRULE on a DTSTART with its TZID (and a VTIMEZONE), so calendar
// clients get daylight-saving changes right; cancelled occurrences as EXDATE; and, as overriding
// VEVENTs with a RECURRENCE-ID, every occurrence the series alone would get wrong (see
// addWindowEvent). UIDs are stable per window and SEQUENCE grows with every change. Lines end in
// CRLF and are folded at 75 octets. ?component=ID limits the feed to one component.
func (s *Server) maintenanceICS(c echo.Context) error {
	comp := c.QueryParam("component")
	if comp != "" && !component.ValidID(comp) {
		return fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
	}
	ws, err := s.store.ListWindows(c.Request().Context())
	if err != nil {
		return err
	}
	names, err := s.componentNames(c)
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	host := "upstate"
	if u, err := url.Parse(s.page.PublicURL); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	cal := ics.NewCalendarFor("Upstate")
	cal.SetMethod(ics.MethodPublish)
	cal.SetCalscale("GREGORIAN")
	l := s.locale(c)
	cal.SetName(icsText(l.T("calendar.name", "Title", s.page.Title)))
	cal.SetXWRCalName(icsText(l.T("calendar.name", "Title", s.page.Title)))
	zones := map[string]*time.Location{}
	for i := range ws {
		w := &ws[i]
		if comp != "" && !slices.Contains(w.Components, comp) {
			continue
		}
		zones[w.TimeZone] = w.Location()
		s.addWindowEvent(l, cal, w, names, host, now)
	}
	zoneNames := make([]string, 0, len(zones))
	for name := range zones {
		zoneNames = append(zoneNames, name)
	}
	slices.Sort(zoneNames)
	// VTIMEZONEs go first, as clients expect them before the events that use them.
	var tzs []ics.Component
	for _, name := range zoneNames {
		tzs = append(tzs, vtimezone(name, zones[name], now))
	}
	cal.Components = append(tzs, cal.Components...)
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", []byte(cal.Serialize(ics.WithNewLineWindows)))
}

// addWindowEvent writes one window. A recurring window is a master VEVENT (DTSTART at the rule's
// first nominal start, RRULE, and DTEND or DURATION) plus exceptions up to icsHorizon past now:
//
//   - a cancelled occurrence is an EXDATE, and nothing else;
//   - every other occurrence the master would get wrong is one overriding VEVENT, with the same
//     UID, RECURRENCE-ID;TZID at its nominal local start, and its own DTSTART and DTEND.
//
// RFC 5545 (3.8.5.3) gives every instance of a series the master's exact duration. An occurrence
// needs an override when its exact length differs from that duration (a wall-clock end on a
// daylight-saving night: 11 h or 13 h instead of 12), when its start fell in a spring-forward
// gap and so moved forward (clients that resolve the gap otherwise would show it an hour early),
// or when it was ended early or extended. The master's duration is the window's usual length: its
// exact duration, or for a wall-clock end the length on paper, written as DTEND when the first
// occurrence has it and as DURATION (with an override for the first) when it does not.
func (s *Server) addWindowEvent(l *locale.Locale, cal *ics.Calendar, w *maintenance.Window, names map[string]string, host string, now time.Time) {
	uid := w.ID + "@" + host
	seq := int(w.UpdatedAt.Sub(w.CreatedAt) / time.Second)
	loc := w.Location()
	tzid := &ics.KeyValues{Key: string(ics.ParameterTzid), Value: []string{w.TimeZone}}
	at := func(ev *ics.VEvent, p ics.ComponentProperty, t time.Time) {
		if firstAt(t, loc) {
			ev.SetProperty(p, t.In(loc).Format(icsLocal), tzid)
		} else {
			// The second pass of a repeated hour: its local time would name the first pass.
			ev.SetProperty(p, t.UTC().Format(icsUTC))
		}
	}
	affects := make([]string, len(w.Components))
	for i, id := range w.Components {
		affects[i] = id
		if n := names[id]; n != "" {
			affects[i] = n
		}
	}
	base := func(ev *ics.VEvent) {
		ev.SetDtStampTime(w.UpdatedAt)
		ev.SetCreatedTime(w.CreatedAt)
		ev.SetModifiedAt(w.UpdatedAt)
		ev.SetSequence(seq)
		ev.SetSummary(icsText(w.Title))
		desc := w.Description
		if desc != "" {
			desc += "\n\n"
		}
		ev.SetDescription(icsText(desc + l.T("maintenance.affects", "Components", strings.Join(affects, l.T("list.separator")))))
		ev.SetProperty(ics.ComponentPropertyCategories, "MAINTENANCE")
		ev.SetTimeTransparency(ics.TransparencyTransparent)
		if u := icsURI(s.page.PublicURL); u != "" {
			ev.SetURL(u + "/")
		}
	}
	ev := cal.AddEvent(uid)
	base(ev)
	if !w.Recurring() {
		at(ev, ics.ComponentPropertyDtStart, w.Start)
		at(ev, ics.ComponentPropertyDtEnd, w.End)
		o := w.Occurrences(w.Start, w.End.Add(time.Second))
		if len(o) == 1 && o[0].Cancelled {
			ev.SetStatus(ics.ObjectStatusCancelled)
		} else {
			ev.SetStatus(ics.ObjectStatusConfirmed)
			if len(o) == 1 && !o[0].End.Equal(o[0].ScheduledEnd) {
				at(ev, ics.ComponentPropertyDtEnd, o[0].End)
			}
		}
		return
	}
	first, ok := firstOccurrence(w)
	if !ok {
		ev.SetStatus(ics.ObjectStatusCancelled)
		return
	}
	ev.SetProperty(ics.ComponentPropertyDtStart, nominalStart(w, first.Scheduled), tzid)
	usual := w.Duration
	if usual == 0 {
		usual = paperLength(w)
	}
	if w.Duration == 0 && !moved(w, first) && first.ScheduledEnd.Sub(first.Start) == usual {
		at(ev, ics.ComponentPropertyDtEnd, first.ScheduledEnd)
	} else {
		ev.SetProperty(ics.ComponentPropertyDuration, icsDuration(usual))
	}
	rule := w.Rule
	switch {
	case !w.CancelledAt.IsZero() && !w.Started(w.CancelledAt):
		ev.SetStatus(ics.ObjectStatusCancelled) // cancelled before it ever ran
	case !w.CancelledAt.IsZero():
		// Cancelled after running: the series ends with its last occurrence before the
		// cancellation, so calendars keep the history.
		rule = withUntil(rule, w.CancelledAt.Add(-time.Second))
		ev.SetStatus(ics.ObjectStatusConfirmed)
	default:
		ev.SetStatus(ics.ObjectStatusConfirmed)
	}
	ev.AddRrule(rule)
	for _, o := range icsCandidates(w, first.Scheduled, now.Add(icsHorizon)) {
		if o.Cancelled {
			// Occurrences after a series cancellation are outside the UNTIL already.
			if w.CancelledAt.IsZero() || o.Start.Before(w.CancelledAt) {
				ev.AddExdate(nominalStart(w, o.Scheduled), tzid)
			}
			continue
		}
		if !moved(w, o) && o.End.Sub(o.Start) == usual && o.End.Equal(o.ScheduledEnd) {
			continue
		}
		ov := cal.AddEvent(uid)
		base(ov)
		ov.SetStatus(ics.ObjectStatusConfirmed)
		ov.SetProperty(ics.ComponentPropertyRecurrenceId, nominalStart(w, o.Scheduled), tzid)
		at(ov, ics.ComponentPropertyDtStart, o.Start)
		at(ov, ics.ComponentPropertyDtEnd, o.End)
	}
}

// icsCandidates returns, in order, the occurrences overlapping [from, to) that may need an entry
// of their own: those with an override (cancelled, ended early, extended), and those starting
// within two days of a change of the zone's offset (only there can a start fall in a gap or a
// wall-clock span differ from its paper length; an occurrence lasts at most 25 h then). The rest
// are what the series says. Listing every occurrence since the first instead cost a window from
// 2000 some 10,000 occurrences on every request; TestICSCandidates holds both to the same entries.
func icsCandidates(w *maintenance.Window, from, to time.Time) []maintenance.Occurrence {
	byStart := map[time.Time]maintenance.Occurrence{}
	add := func(os []maintenance.Occurrence) {
		for _, o := range os {
			if o.Start.Before(to) && from.Before(o.End) || o.Start.Equal(o.End) && !o.Start.Before(from) && o.Start.Before(to) {
				byStart[o.Scheduled] = o
			}
		}
	}
	for _, ov := range w.Overrides {
		add(w.Occurrences(ov.Scheduled, ov.Scheduled.Add(time.Nanosecond)))
	}
	const near = 2 * 24 * time.Hour
	for t := from.Add(-near); t.Before(to.Add(near)); {
		_, next := t.In(w.Location()).ZoneBounds()
		if next.IsZero() || !next.After(t) {
			break // a zone without further changes
		}
		add(w.Occurrences(next.Add(-near), next.Add(near)))
		t = next
	}
	out := make([]maintenance.Occurrence, 0, len(byStart))
	for _, o := range byStart {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b maintenance.Occurrence) int { return a.Scheduled.Compare(b.Scheduled) })
	return out
}

func firstOccurrence(w *maintenance.Window) (maintenance.Occurrence, bool) {
	start := time.Date(w.FirstDate.Year, w.FirstDate.Month, w.FirstDate.Day, 0, 0, 0, 0, w.Location()).Add(-time.Hour)
	for _, o := range w.Occurrences(start, start.Add(400*24*time.Hour)) {
		return o, true
	}
	return maintenance.Occurrence{}, false
}

// nominalStart is an occurrence's start as its rule writes it, a local date-time without zone: the
// date the occurrence belongs to at the window's start time. It names the occurrence in
// DTSTART, RECURRENCE-ID and EXDATE. It differs from the actual local start only when that time
// fell in a spring-forward gap, which RFC 5545 (3.3.5) moves forward by the gap's length, as
// calendar.Local does.
func nominalStart(w *maintenance.Window, scheduled time.Time) string {
	d := calendar.DateOf(scheduled, w.Location())
	if !calendar.Local(d, w.StartClock, w.Location()).Equal(scheduled) {
		d = d.AddDays(-1) // a gap at midnight moved the start to the next date
	}
	return time.Date(d.Year, d.Month, d.Day, 0, int(w.StartClock), 0, 0, time.UTC).Format(icsLocal)
}

// moved reports whether an occurrence's actual local start differs from its nominal one.
func moved(w *maintenance.Window, o maintenance.Occurrence) bool {
	return o.Start.In(w.Location()).Format(icsLocal) != nominalStart(w, o.Scheduled)
}

// paperLength is a wall-clock window's length on a day without a clock change.
func paperLength(w *maintenance.Window) time.Duration {
	d := time.Duration(w.EndClock-w.StartClock) * time.Minute
	if w.EndClock <= w.StartClock {
		d += 24 * time.Hour
	}
	return d
}

// firstAt reports whether t is the first instant its local time in loc names. RFC 5545 reads a
// repeated local time (the autumn change) as its first occurrence, so an instant in the second
// pass cannot be written as a local time.
func firstAt(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	_, off := lt.Zone()
	_, before := t.Add(-24 * time.Hour).In(loc).Zone()
	if before <= off {
		return true
	}
	earlier := t.Add(-time.Duration(before-off) * time.Second)
	return earlier.In(loc).Format(icsLocal) != lt.Format(icsLocal)
}

// icsText makes s safe as a TEXT value (SUMMARY, DESCRIPTION, NAME), whatever was stored: valid
// UTF-8, every line break a newline (which the serializer escapes as \n, along with backslash,
// semicolon and comma), a tab a space, and no other control character: RFC 5545 forbids
// U+0000-U+001F and U+007F in a value, and one would make the whole calendar invalid. The C1
// controls and the noncharacters U+FFFE and U+FFFF go too, as everywhere Upstate shows text.
func icsText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\r':
			return '\n'
		case r == '\t':
			return ' '
		case icsControl(r):
			return -1
		}
		return r
	}, s)
}

// icsURI drops control characters from a URI value, which is written unescaped.
func icsURI(s string) string {
	return strings.Map(func(r rune) rune {
		if icsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}

func icsControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0xfffe || r == 0xffff
}

// withUntil replaces or adds UNTIL (UTC) in a rule.
func withUntil(rule string, until time.Time) string {
	var parts []string
	for p := range strings.SplitSeq(rule, ";") {
		if !strings.HasPrefix(p, "UNTIL=") && !strings.HasPrefix(p, "COUNT=") {
			parts = append(parts, p)
		}
	}
	return strings.Join(append(parts, "UNTIL="+until.UTC().Format("20060102T150405Z")), ";")
}

func icsDuration(d time.Duration) string {
	s := int64(d / time.Second)
	out := "PT"
	if h := s / 3600; h > 0 {
		out += fmt.Sprintf("%dH", h)
	}
	if m := s % 3600 / 60; m > 0 {
		out += fmt.Sprintf("%dM", m)
	}
	if sec := s % 60; sec > 0 || out == "PT" {
		out += fmt.Sprintf("%dS", sec)
	}
	return out
}

// vtimezone describes loc's offsets from a year ago to two years ahead as explicit observances,
// one per transition (Go does not expose a zone's rules, only its instants), found by scanning
// day by day and bisecting to the second.
func vtimezone(name string, loc *time.Location, now time.Time) *ics.VTimezone {
	tz := ics.NewTimezone(name)
	from, to := now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0)
	abbr, off := from.In(loc).Zone()
	observance := func(daylight bool, at time.Time, fromOff, toOff int, abbr string) {
		cb := ics.ComponentBase{}
		cb.SetProperty(ics.ComponentPropertyDtStart, at.Add(time.Duration(fromOff)*time.Second).UTC().Format(icsLocal))
		cb.SetProperty(ics.ComponentProperty("TZOFFSETFROM"), icsOffset(fromOff))
		cb.SetProperty(ics.ComponentProperty("TZOFFSETTO"), icsOffset(toOff))
		cb.SetProperty(ics.ComponentProperty("TZNAME"), abbr)
		if daylight {
			tz.Components = append(tz.Components, &ics.Daylight{ComponentBase: cb})
		} else {
			tz.Components = append(tz.Components, &ics.Standard{ComponentBase: cb})
		}
	}
	found := false
	prevOff := off
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		next := t.Add(24 * time.Hour)
		_, o := next.In(loc).Zone()
		if o == prevOff {
			continue
		}
		lo, hi := t, next // the change is in (lo, hi]
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, mo := mid.In(loc).Zone(); mo == prevOff {
				lo = mid
			} else {
				hi = mid
			}
		}
		a, newOff := hi.In(loc).Zone()
		observance(hi.In(loc).IsDST(), hi, prevOff, newOff, a)
		prevOff, found = newOff, true
	}
	if !found {
		cb := ics.ComponentBase{}
		cb.SetProperty(ics.ComponentPropertyDtStart, "19700101T000000")
		cb.SetProperty(ics.ComponentProperty("TZOFFSETFROM"), icsOffset(off))
		cb.SetProperty(ics.ComponentProperty("TZOFFSETTO"), icsOffset(off))
		cb.SetProperty(ics.ComponentProperty("TZNAME"), abbr)
		tz.Components = append(tz.Components, &ics.Standard{ComponentBase: cb})
	}
	return tz
}

func icsOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec%3600/60)
}
