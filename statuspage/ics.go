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

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

const icsLocal = "20060102T150405"

// maintenanceICS serves every maintenance window as an RFC 5545 calendar, one VEVENT per window:
// recurring windows as an RRULE on a DTSTART with its TZID (and a VTIMEZONE), so calendar
// clients get daylight-saving changes right; cancelled occurrences as EXDATE; occurrences ended
// early or extended as overriding VEVENTs with a RECURRENCE-ID. UIDs are stable per window and
// SEQUENCE grows with every change. ?component=ID limits the feed to one component.
func (s *Server) maintenanceICS(c echo.Context) error {
	comp := c.QueryParam("component")
	if comp != "" && !component.ValidID(comp) {
		return fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
	}
	ws, err := s.store.ListWindows(c.Request().Context())
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
	cal.SetName(s.page.Title + " maintenance")
	cal.SetXWRCalName(s.page.Title + " maintenance")
	zones := map[string]*time.Location{}
	for i := range ws {
		w := &ws[i]
		if comp != "" && !slices.Contains(w.Components, comp) {
			continue
		}
		zones[w.TimeZone] = w.Location()
		s.addWindowEvent(cal, w, host, now)
	}
	names := make([]string, 0, len(zones))
	for name := range zones {
		names = append(names, name)
	}
	slices.Sort(names)
	// VTIMEZONEs go first, as clients expect them before the events that use them.
	var tzs []ics.Component
	for _, name := range names {
		tzs = append(tzs, vtimezone(name, zones[name], now))
	}
	cal.Components = append(tzs, cal.Components...)
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", []byte(cal.Serialize()))
}

func (s *Server) addWindowEvent(cal *ics.Calendar, w *maintenance.Window, host string, now time.Time) {
	uid := w.ID + "@" + host
	seq := int(w.UpdatedAt.Sub(w.CreatedAt) / time.Second)
	tzid := &ics.KeyValues{Key: string(ics.ParameterTzid), Value: []string{w.TimeZone}}
	local := func(t time.Time) string { return t.In(w.Location()).Format(icsLocal) }
	base := func(ev *ics.VEvent) {
		ev.SetDtStampTime(w.UpdatedAt)
		ev.SetCreatedTime(w.CreatedAt)
		ev.SetModifiedAt(w.UpdatedAt)
		ev.SetSequence(seq)
		ev.SetSummary(w.Title)
		desc := w.Description
		if desc != "" {
			desc += "\n\n"
		}
		ev.SetDescription(desc + "Affects: " + strings.Join(w.Components, ", "))
		ev.SetProperty(ics.ComponentPropertyCategories, "MAINTENANCE")
		ev.SetTimeTransparency(ics.TransparencyTransparent)
		if s.page.PublicURL != "" {
			ev.SetURL(s.page.PublicURL + "/")
		}
	}
	ev := cal.AddEvent(uid)
	base(ev)
	if !w.Recurring() {
		ev.SetProperty(ics.ComponentPropertyDtStart, local(w.Start), tzid)
		ev.SetProperty(ics.ComponentPropertyDtEnd, local(w.End), tzid)
		o := w.Occurrences(w.Start, w.End.Add(time.Second))
		if len(o) == 1 && o[0].Cancelled {
			ev.SetStatus(ics.ObjectStatusCancelled)
		} else {
			ev.SetStatus(ics.ObjectStatusConfirmed)
			if len(o) == 1 && !o[0].End.Equal(o[0].ScheduledEnd) {
				ev.SetProperty(ics.ComponentPropertyDtEnd, local(o[0].End), tzid)
			}
		}
		return
	}
	all := w.Occurrences(w.AnnouncedAt.Add(-maintenance.MaxDuration), now.Add(2*366*24*time.Hour))
	first := firstOccurrence(w)
	if first.IsZero() {
		ev.SetStatus(ics.ObjectStatusCancelled)
		return
	}
	ev.SetProperty(ics.ComponentPropertyDtStart, local(first), tzid)
	if w.Duration > 0 {
		ev.SetProperty(ics.ComponentPropertyDuration, icsDuration(w.Duration))
	} else {
		o, _ := w.Find(first)
		ev.SetProperty(ics.ComponentPropertyDtEnd, local(o.ScheduledEnd), tzid)
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
	for _, o := range all {
		switch {
		case o.Cancelled && (w.CancelledAt.IsZero() || o.Start.Before(w.CancelledAt)):
			ev.AddExdate(local(o.Scheduled), tzid)
		case !o.Cancelled && !o.End.Equal(o.ScheduledEnd):
			ov := cal.AddEvent(uid)
			base(ov)
			ov.SetStatus(ics.ObjectStatusConfirmed)
			ov.SetProperty(ics.ComponentPropertyRecurrenceId, local(o.Scheduled), tzid)
			ov.SetProperty(ics.ComponentPropertyDtStart, local(o.Start), tzid)
			ov.SetProperty(ics.ComponentPropertyDtEnd, local(o.End), tzid)
		}
	}
}

func firstOccurrence(w *maintenance.Window) time.Time {
	start := time.Date(w.FirstDate.Year, w.FirstDate.Month, w.FirstDate.Day, 0, 0, 0, 0, w.Location()).Add(-time.Hour)
	for _, o := range w.Occurrences(start, start.Add(400*24*time.Hour)) {
		return o.Scheduled
	}
	return time.Time{}
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
