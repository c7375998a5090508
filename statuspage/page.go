package statuspage

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// statusView is a status as the page shows it: a CSS class and words.
type statusView struct {
	Class string
	Label string
}

func viewStatus(l *locale.Locale, s component.Status) statusView {
	class := map[component.Status]string{
		component.Operational: "ok", component.DegradedPerformance: "degraded", component.PartialOutage: "partial",
		component.MajorOutage: "major", component.UnderMaintenance: "maint",
	}[s]
	if class == "" {
		class, s = "unknown", component.Unknown
	}
	return statusView{Class: class, Label: l.T("status." + string(s))}
}

// bannerClass is the page's overall state: in its words (banner.<class>), Statuspage's.
func bannerClass(statuses []component.Status) string {
	worst := component.Worst(statuses...)
	maint := false
	for _, s := range statuses {
		maint = maint || s == component.UnderMaintenance
	}
	switch {
	case worst == component.MajorOutage:
		return "major"
	case worst == component.PartialOutage:
		return "partial"
	case worst == component.DegradedPerformance:
		return "degraded"
	case maint:
		return "maint"
	case worst == component.Operational:
		return "ok"
	}
	return "unknown"
}

var bannerRank = map[string]int{"unknown": 0, "ok": 1, "maint": 2, "degraded": 3, "minor": 4, "partial": 5, "major": 6}

// incidentBannerClass is the banner an open incident of this impact calls for ("": none).
func incidentBannerClass(impact string) string {
	return map[string]string{"critical": "major", "major": "partial", "minor": "minor"}[impact]
}

// overallClass is the page's banner: the components' worst, raised by the open incidents'
// impacts, as Statuspage's indicator is.
func overallClass(statuses []component.Status, open []incidents.Incident) string {
	class := bannerClass(statuses)
	for _, inc := range open {
		if b := incidentBannerClass(inc.Severity.Impact()); b != "" && bannerRank[b] > bannerRank[class] {
			class = b
		}
	}
	return class
}

// viewBanner is the banner of a class in l's words.
func viewBanner(l *locale.Locale, class string) statusView {
	return statusView{Class: class, Label: l.T("banner." + class)}
}

type componentView struct {
	Name, Description string
	Internal          bool // shown on the internal page only
	Status            statusView
	Since             string
	status            component.Status
	Bars              []barView
	Uptime            string // over the bars' span
	Month             string // this month so far against the target, with the budget left
}

// barView is one day's bar: its class (by weighted downtime) and its caption.
type barView struct{ Class, Title string }

// barDays is how many daily bars each component shows.
const barDays = 90

type sectionView struct {
	id                string
	Name, Description string // empty for components outside any group
	Internal          bool   // an internal group (the internal page)
	Status            statusView
	Components        []componentView
	// Collapsed: the group is a <details> element, open (Open) only while one of its
	// components shows an outage or maintenance (a page of more than collapseAbove components).
	Collapsed, Open bool
}

// collapseAbove is how many components a page shows in full, each with its 90 daily bars. A
// larger page collapses its groups, each a <details> that opens on a click without JavaScript,
// and shows each component's status and uptime without its bars: 10,000 components' bars are
// 900,000 of them, tens of megabytes of HTML that no one reads. See docs/page.md.
const collapseAbove = 1000

type pageView struct {
	chrome
	Title, Description, LogoURL string
	Links                       []Link
	Banner                      statusView
	Sections                    []sectionView
	Active, Upcoming            []maintenanceView
	Incidents                   []incidentPageView
	Past                        []pastIncidentView // resolved in the last pastIncidentsFor
	Zone, Updated, Version      string
}

// pastIncidentsFor is how far back the page lists resolved incidents, as Statuspage does.
const pastIncidentsFor = 14 * 24 * time.Hour

// pastIncidentView is a resolved incident in the page's "Past incidents": a line, neutral.
type pastIncidentView struct {
	ID, Title, Resolved, ResolvedISO, Lasted string
}

// incidentPageView is an open incident on the page.
type incidentPageView struct {
	ID, Title, Impact, ImpactClass, Status, Components string
	Internal                                           bool // touches only internal components (the internal page)
	Updates                                            []incidentUpdatePage
	Earlier                                            int // updates not shown: the page shows an incident's latest ones
}

type incidentUpdatePage struct {
	Status, When, ISO string
	Body              template.HTML
}

// maintenanceView is one occurrence on the page, in the page's zone and in UTC.
type maintenanceView struct {
	Title, Description string
	Components         string // names, comma-separated
	When, WhenUTC      string
	StartISO, EndISO   string
	Unannounced        bool
	Repeats            string // for a recurring window: how it repeats, in the window's own zone
}

func (s *Server) basePage(c echo.Context, now time.Time) pageView {
	local := now.In(s.page.Location)
	l := s.locale(c)
	return pageView{chrome: s.chromeFor(c), Title: s.page.Title, Description: s.page.Description, LogoURL: s.page.LogoURL, Links: s.page.Links,
		Zone: s.page.Location.String() + l.Date(local, locale.ZoneOffset), Updated: l.Date(local, locale.DateTime), Version: s.version}
}

// statusPage renders the public page: the banner, then groups with their components and the
// components outside any group.
func (s *Server) statusPage(c echo.Context) error {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return err
	}
	now := s.clock.Now()
	v := s.basePage(c, now)
	l := s.locale(c)
	hidden := component.Hidden(cs) // none on the public page: the store showed it none (visibility.go)
	windows, err := s.store.ListWindows(c.Request().Context())
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, comp := range cs {
		names[comp.ID] = comp.Name
	}
	shownStatus := component.Shown(cs, maintenance.InProgress(windows, now))
	for i := range windows {
		w := &windows[i]
		next := true // a recurring window is listed once: its next occurrence and how it repeats
		for _, o := range w.Occurrences(now, now.Add(s.maint.Horizon)) {
			switch o.State(now) {
			case maintenance.StateInProgress:
				v.Active = append(v.Active, s.viewMaintenance(l, w, o, names))
			case maintenance.StateScheduled:
				if next {
					v.Upcoming = append(v.Upcoming, s.viewMaintenance(l, w, o, names))
					next = false
				}
			}
		}
	}
	slices.SortStableFunc(v.Upcoming, func(a, b maintenanceView) int { return strings.Compare(a.StartISO, b.StartISO) })
	open, err := s.incidentHeads(c, store.IncidentQuery{OpenOnly: true, Limit: 20})
	if err != nil {
		return err
	}
	for _, h := range open {
		iv := s.viewIncidentPage(l, h.Incident, names)
		iv.Earlier = h.UpdateCount - len(h.Updates)
		iv.Internal = h.Internal(hidden)
		v.Incidents = append(v.Incidents, iv)
	}
	past, err := s.incidentHeads(c, store.IncidentQuery{ResolvedOnly: true, Since: now.Add(-pastIncidentsFor), Limit: 20})
	if err != nil {
		return err
	}
	for _, h := range past {
		v.Past = append(v.Past, pastIncidentView{ID: h.ID, Title: h.Title,
			Resolved: l.Date(h.ResolvedAt.In(s.page.Location), locale.DayTime), ResolvedISO: h.ResolvedAt.UTC().Format(time.RFC3339),
			Lasted: l.Duration(h.ResolvedAt.Sub(h.StartedAt))})
	}
	var loose sectionView
	groups := map[string]int{}
	var statuses []component.Status
	for _, comp := range cs {
		if comp.IsGroup {
			groups[comp.ID] = len(v.Sections)
			v.Sections = append(v.Sections, sectionView{id: comp.ID, Name: comp.Name, Description: comp.Description, Internal: hidden[comp.ID]})
		}
	}
	var ids []string
	for _, comp := range cs {
		if !comp.IsGroup {
			ids = append(ids, comp.ID)
		}
	}
	collapsed := len(ids) > collapseAbove
	bars, err := s.bars(c, ids, now, !collapsed)
	if err != nil {
		return err
	}
	for _, comp := range cs {
		if comp.IsGroup {
			continue
		}
		shown := shownStatus[comp.ID]
		statuses = append(statuses, shown)
		cv := componentView{Name: comp.Name, Description: comp.Description, Internal: hidden[comp.ID], Status: viewStatus(l, shown), status: shown}
		if b, ok := bars[comp.ID]; ok {
			s.addBars(l, &cv, b)
		}
		if !comp.StatusSince.IsZero() {
			cv.Since = l.Date(comp.StatusSince.In(s.page.Location), locale.DateTime)
		}
		if i, ok := groups[comp.GroupID]; ok {
			v.Sections[i].Components = append(v.Sections[i].Components, cv)
		} else {
			loose.Components = append(loose.Components, cv)
		}
	}
	// A group shows the worst status of its components; empty groups are not shown.
	sections := v.Sections[:0]
	for _, sec := range v.Sections {
		if len(sec.Components) == 0 {
			continue
		}
		sec.Status = viewStatus(l, shownStatus[sec.id])
		sec.Collapsed = collapsed
		sec.Open = sec.Status.Class != "ok" && sec.Status.Class != "unknown"
		sections = append(sections, sec)
	}
	if len(loose.Components) > 0 {
		sections = append(sections, loose)
	}
	v.Sections = sections
	openIncidents := make([]incidents.Incident, len(open))
	for i, h := range open {
		openIncidents[i] = h.Incident
	}
	v.Banner = viewBanner(l, overallClass(statuses, openIncidents)) // open incidents raise it too, as Statuspage's indicator
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=10")
	return s.render(c, http.StatusOK, "index.html", v)
}

var impactClass = map[string]string{"critical": "major", "major": "partial", "minor": "degraded", "none": "unknown"}

func (s *Server) viewIncidentPage(l *locale.Locale, inc incidents.Incident, names map[string]string) incidentPageView {
	var comps []string
	for _, a := range inc.Components {
		n := names[a.ComponentID]
		if n == "" {
			n = a.ComponentID
		}
		comps = append(comps, n)
	}
	impact := inc.Severity.Impact()
	v := incidentPageView{ID: inc.ID, Title: inc.Title, Impact: impact, ImpactClass: impactClass[impact],
		Status: l.T("incident_status." + string(inc.Status)), Components: strings.Join(comps, l.T("list.separator"))}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		if u.Body == "" || !u.Public() {
			continue
		}
		v.Updates = append(v.Updates, incidentUpdatePage{Status: l.T("incident_status." + string(u.Status)),
			When: l.Date(u.At.In(s.page.Location), locale.DayTime), ISO: u.At.Format(time.RFC3339), Body: s.md.render(u.Body)})
	}
	return v
}

// pageBarser computes many components' bars at once, from the store's daily aggregates
// (engine.Reports.PageBars).
type pageBarser interface {
	PageBars(ctx context.Context, ids []string, loc *time.Location, now time.Time, days int, withDays bool) (map[string]engine.Bars, error)
}

// bars computes the components' bars (without the days unless withDays), all at once when the
// reporter can; nil without a reporter.
func (s *Server) bars(c echo.Context, ids []string, now time.Time, withDays bool) (map[string]engine.Bars, error) {
	ctx := c.Request().Context()
	if s.reports == nil {
		return nil, nil
	}
	if pb, ok := s.reports.(pageBarser); ok {
		return pb.PageBars(ctx, ids, s.page.Location, now, barDays, withDays)
	}
	out := make(map[string]engine.Bars, len(ids))
	for _, id := range ids {
		b, err := s.reports.Bars(ctx, id, s.page.Location, now, barDays)
		if err != nil {
			return nil, err
		}
		if !withDays {
			b.Days = nil
		}
		out[id] = b
	}
	return out, nil
}

// headReader lists incidents' heads: each with only its latest updates (store.PageReads).
type headReader interface {
	ListIncidentHeads(ctx context.Context, q store.IncidentQuery) ([]store.IncidentHead, error)
}

// incidentHeads lists the heads of the incidents matching q.
func (s *Server) incidentHeads(c echo.Context, q store.IncidentQuery) ([]store.IncidentHead, error) {
	ctx := c.Request().Context()
	if hr, ok := s.store.(headReader); ok {
		return hr.ListIncidentHeads(ctx, q)
	}
	list, err := s.store.ListIncidents(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]store.IncidentHead, len(list))
	for i, inc := range list {
		out[i] = store.HeadOf(inc)
	}
	return out, nil
}

// addBars fills a component's daily bars (if computed) and uptime figures.
func (s *Server) addBars(l *locale.Locale, cv *componentView, bars engine.Bars) {
	for _, d := range bars.Days {
		r := d.Report
		label := l.Date(time.Date(d.Date.Year, d.Date.Month, d.Date.Day, 0, 0, 0, 0, time.UTC), locale.Day)
		b := barView{}
		switch {
		case r.Basis == 0:
			b.Class, b.Title = "n", l.T("bar.no_data", "Day", label)
		case r.Down == 0:
			b.Class, b.Title = "ok", l.T("bar.full", "Day", label)
		default:
			b.Class = "mi" // minor: up to 30 min down
			if r.Down > 30*time.Minute {
				b.Class = "pa" // partial: up to 2 h
			}
			if r.Down > 2*time.Hour {
				b.Class = "ma" // major
			}
			b.Title = l.T("bar.down", "Day", label, "Percent", l.Percent(float64(r.Availability)), "Duration", l.Duration(r.Down.Round(time.Minute)))
		}
		if r.Maintenance > 0 {
			b.Title += l.T("bar.maintenance", "Duration", l.Duration(r.Maintenance.Round(time.Minute)))
		}
		if len(d.Incidents) > 0 {
			b.Title += " · " + strings.Join(d.Incidents, "; ")
		}
		cv.Bars = append(cv.Bars, b)
	}
	if a := float64(bars.Span.Availability); !math.IsNaN(a) {
		cv.Uptime = l.T("component.uptime", "Percent", l.Percent(a))
	}
	if a := float64(bars.Month.Availability); !math.IsNaN(a) {
		left := bars.Month.BudgetLeft // the whole month's budget less the downtime so far (engine.Reports.MonthOf)
		budget := l.T("component.budget_spent")
		if left > 0 {
			budget = l.T("component.budget_left", "Duration", l.Duration(left.Round(time.Minute)))
		}
		cv.Month = l.T("component.this_month", "Percent", l.Percent(a), "Target", l.Percent(float64(bars.Target)), "Budget", budget)
	}
}

func (s *Server) viewMaintenance(l *locale.Locale, w *maintenance.Window, o maintenance.Occurrence, names map[string]string) maintenanceView {
	var comps []string
	for _, id := range w.Components {
		if n, ok := names[id]; ok {
			comps = append(comps, n)
		} else {
			comps = append(comps, id)
		}
	}
	loc := s.page.Location
	start, end := o.Start.In(loc), o.End.In(loc)
	endLayout := locale.Clock
	if start.YearDay() != end.YearDay() || start.Year() != end.Year() {
		endLayout = locale.WeekdayDayTime
	}
	when := l.T("format.range", "From", l.Date(start, locale.WeekdayDateTime), "To", l.Date(end, endLayout))
	whenUTC := l.T("format.range", "From", l.Date(o.Start.UTC(), locale.DayTimeShort), "To", l.Date(o.End.UTC(), locale.DayTimeShort)) + " UTC"
	mv := maintenanceView{Title: w.Title, Description: w.Description, Components: strings.Join(comps, l.T("list.separator")), When: when, WhenUTC: whenUTC,
		StartISO: o.Start.Format(time.RFC3339), EndISO: o.End.Format(time.RFC3339), Unannounced: !w.Announced(o, s.maint.NoticePeriod)}
	if w.Recurring() {
		length := l.T("maintenance.for", "Duration", l.Duration(w.Duration))
		if w.Duration == 0 {
			length = l.T("maintenance.until", "Clock", w.EndClock.String())
		}
		mv.Repeats = l.T("maintenance.repeats", "Days", describeRule(l, w.Rule), "Start", w.StartClock.String(), "Length", length, "Zone", w.TimeZone)
	}
	return mv
}

// describeRule says how a window repeats, in l's words (maintenance.Window.Describe's rule):
// every day, every Tuesday, every Monday, Wednesday and Friday, or the rule itself.
func describeRule(l *locale.Locale, rule string) string {
	days := map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday,
		"TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}
	if rule == "FREQ=DAILY" {
		return l.T("maintenance.every_day")
	}
	if list, ok := strings.CutPrefix(rule, "FREQ=WEEKLY;BYDAY="); ok && !strings.Contains(list, ";") {
		var names []string
		for code := range strings.SplitSeq(list, ",") {
			d, ok := days[code]
			if !ok {
				return l.T("maintenance.rule", "Rule", rule)
			}
			names = append(names, l.Weekday(d))
		}
		if len(names) == 7 {
			return l.T("maintenance.every_day")
		}
		return l.T("maintenance.every", "Days", l.List(names))
	}
	return l.T("maintenance.rule", "Rule", rule)
}

type errorView struct {
	pageView
	Status           int
	Heading, Message string
}

func (s *Server) renderError(c echo.Context, ae *apiError) error {
	l := s.locale(c)
	v := errorView{pageView: s.basePage(c, s.clock.Now()), Status: ae.Status, Heading: l.T("error.status", "Status", ae.Status), Message: ae.Message}
	if id := "error." + strconv.Itoa(ae.Status); l.Has(id) {
		v.Heading = l.T(id)
	}
	// The API's message names what was wrong, in English; the usual ones have the reader's words.
	switch {
	case ae.Status == http.StatusNotFound && ae.Field == "":
		v.Message = l.T("error.not_found")
	case ae.Status == http.StatusServiceUnavailable:
		v.Message = l.T("error.unavailable")
	case ae.Status >= 500:
		v.Message = l.T("error.internal")
	}
	return s.render(c, ae.Status, "error.html", v)
}

// render executes a template into a buffer first, so a template error never sends half a page.
// The page is cleaned whole (cleanText): html/template escapes markup but passes control
// characters through, and the templates themselves hold none.
func (s *Server) render(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.templatesFor(c).ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTMLBlob(status, []byte(cleanText(buf.String())))
}
