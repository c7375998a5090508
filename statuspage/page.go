package statuspage

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

func parseTemplates(assets fs.FS) (*template.Template, error) {
	t, err := template.New("").ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("statuspage: templates: %w", err)
	}
	for _, name := range []string{"index.html", "error.html", "incident.html", "history.html", "maintenance.html"} {
		if t.Lookup(name) == nil {
			return nil, fmt.Errorf("statuspage: templates: %s is missing", name)
		}
	}
	return t, nil
}

// statusView is a status as the page shows it: a CSS class and words.
type statusView struct {
	Class string
	Label string
}

func viewStatus(s component.Status) statusView {
	class := map[component.Status]string{
		component.Operational: "ok", component.DegradedPerformance: "degraded", component.PartialOutage: "partial",
		component.MajorOutage: "major", component.UnderMaintenance: "maint",
	}[s]
	if class == "" {
		class = "unknown"
	}
	return statusView{Class: class, Label: s.Label()}
}

// banner is the page's overall message, in Statuspage's words.
func banner(statuses []component.Status) statusView {
	worst := component.Worst(statuses...)
	maint := false
	for _, s := range statuses {
		maint = maint || s == component.UnderMaintenance
	}
	switch {
	case worst == component.MajorOutage:
		return statusView{"major", "Major System Outage"}
	case worst == component.PartialOutage:
		return statusView{"partial", "Partial System Outage"}
	case worst == component.DegradedPerformance:
		return statusView{"degraded", "Partially Degraded Service"}
	case maint:
		return statusView{"maint", "Service Under Maintenance"}
	case worst == component.Operational:
		return statusView{"ok", "All Systems Operational"}
	}
	return statusView{"unknown", "Waiting for the first checks"}
}

var bannerRank = map[string]int{"unknown": 0, "ok": 1, "maint": 2, "degraded": 3, "minor": 4, "partial": 5, "major": 6}

// incidentBanner is the banner an open incident of this impact calls for.
func incidentBanner(impact string) statusView {
	switch impact {
	case "critical":
		return statusView{"major", "Major System Outage"}
	case "major":
		return statusView{"partial", "Partial System Outage"}
	case "minor":
		return statusView{"minor", "Minor Service Outage"}
	}
	return statusView{}
}

type componentView struct {
	Name, Description string
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

func (s *Server) basePage(now time.Time) pageView {
	local := now.In(s.page.Location)
	return pageView{Title: s.page.Title, Description: s.page.Description, LogoURL: s.page.LogoURL, Links: s.page.Links,
		Zone: s.page.Location.String() + local.Format(" (UTC-07:00)"), Updated: local.Format("2006-01-02 15:04 MST"), Version: s.version}
}

// statusPage renders the public page: the banner, then groups with their components and the
// components outside any group.
func (s *Server) statusPage(c echo.Context) error {
	cs, err := s.store.ListComponents(c.Request().Context())
	if err != nil {
		return err
	}
	now := s.clock.Now()
	v := s.basePage(now)
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
				v.Active = append(v.Active, s.viewMaintenance(w, o, names))
			case maintenance.StateScheduled:
				if next {
					v.Upcoming = append(v.Upcoming, s.viewMaintenance(w, o, names))
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
		iv := s.viewIncidentPage(h.Incident, names)
		iv.Earlier = h.UpdateCount - len(h.Updates)
		v.Incidents = append(v.Incidents, iv)
	}
	past, err := s.incidentHeads(c, store.IncidentQuery{ResolvedOnly: true, Since: now.Add(-pastIncidentsFor), Limit: 20})
	if err != nil {
		return err
	}
	for _, h := range past {
		v.Past = append(v.Past, pastIncidentView{ID: h.ID, Title: h.Title,
			Resolved: h.ResolvedAt.In(s.page.Location).Format("2 Jan 15:04 MST"), ResolvedISO: h.ResolvedAt.UTC().Format(time.RFC3339),
			Lasted: humanDuration(h.ResolvedAt.Sub(h.StartedAt))})
	}
	var loose sectionView
	groups := map[string]int{}
	var statuses []component.Status
	for _, comp := range cs {
		if comp.IsGroup {
			groups[comp.ID] = len(v.Sections)
			v.Sections = append(v.Sections, sectionView{id: comp.ID, Name: comp.Name, Description: comp.Description})
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
		cv := componentView{Name: comp.Name, Description: comp.Description, Status: viewStatus(shown), status: shown}
		if b, ok := bars[comp.ID]; ok {
			s.addBars(&cv, b)
		}
		if !comp.StatusSince.IsZero() {
			cv.Since = comp.StatusSince.In(s.page.Location).Format("2006-01-02 15:04 MST")
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
		sec.Status = viewStatus(shownStatus[sec.id])
		sec.Collapsed = collapsed
		sec.Open = sec.Status.Class != "ok" && sec.Status.Class != "unknown"
		sections = append(sections, sec)
	}
	if len(loose.Components) > 0 {
		sections = append(sections, loose)
	}
	v.Sections = sections
	v.Banner = banner(statuses)
	// Open incidents raise the banner too, as Statuspage's indicator does.
	for _, inc := range open {
		if b := incidentBanner(inc.Severity.Impact()); b.Class != "" && bannerRank[b.Class] > bannerRank[v.Banner.Class] {
			v.Banner = b
		}
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=10")
	return s.render(c, http.StatusOK, "index.html", v)
}

var impactClass = map[string]string{"critical": "major", "major": "partial", "minor": "degraded", "none": "unknown"}

func (s *Server) viewIncidentPage(inc incidents.Incident, names map[string]string) incidentPageView {
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
		Status: statusWord(string(inc.Status)), Components: strings.Join(comps, ", ")}
	for i := len(inc.Updates) - 1; i >= 0; i-- {
		u := inc.Updates[i]
		if u.Body == "" || !u.Public() {
			continue
		}
		v.Updates = append(v.Updates, incidentUpdatePage{Status: statusWord(string(u.Status)),
			When: u.At.In(s.page.Location).Format("2 Jan 15:04 MST"), ISO: u.At.Format(time.RFC3339), Body: s.md.render(u.Body)})
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
func (s *Server) addBars(cv *componentView, bars engine.Bars) {
	for _, d := range bars.Days {
		r := d.Report
		label := time.Date(d.Date.Year, d.Date.Month, d.Date.Day, 0, 0, 0, 0, time.UTC).Format("2 Jan")
		b := barView{}
		switch {
		case r.Basis == 0:
			b.Class, b.Title = "n", label+": no data"
		case r.Down == 0:
			b.Class, b.Title = "ok", label+": 100%"
		default:
			b.Class = "mi" // minor: up to 30 min down
			if r.Down > 30*time.Minute {
				b.Class = "pa" // partial: up to 2 h
			}
			if r.Down > 2*time.Hour {
				b.Class = "ma" // major
			}
			b.Title = fmt.Sprintf("%s: %s up, %s down", label, percent(float64(r.Availability)), humanDuration(r.Down.Round(time.Minute)))
		}
		if r.Maintenance > 0 {
			b.Title += ", " + humanDuration(r.Maintenance.Round(time.Minute)) + " maintenance"
		}
		if len(d.Incidents) > 0 {
			b.Title += " · " + strings.Join(d.Incidents, "; ")
		}
		cv.Bars = append(cv.Bars, b)
	}
	if a := float64(bars.Span.Availability); !math.IsNaN(a) {
		cv.Uptime = percent(a) + " uptime"
	}
	if a := float64(bars.Month.Availability); !math.IsNaN(a) {
		left := bars.Month.BudgetLeft // the whole month's budget less the downtime so far (engine.Reports.MonthOf)
		budget := "budget spent"
		if left > 0 {
			budget = humanDuration(left.Round(time.Minute)) + " of budget left"
		}
		cv.Month = fmt.Sprintf("This month %s (target %s), %s", percent(a), percent(float64(bars.Target)), budget)
	}
}

// humanDuration writes 2h as "2 h" and 90m as "1 h 30 min".
func humanDuration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d min", m)
}

func statusWord(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
}

func (s *Server) viewMaintenance(w *maintenance.Window, o maintenance.Occurrence, names map[string]string) maintenanceView {
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
	endLayout := "15:04 MST"
	if start.YearDay() != end.YearDay() || start.Year() != end.Year() {
		endLayout = "Mon 2 Jan 15:04 MST"
	}
	when := start.Format("Mon 2 Jan 2006, 15:04") + " – " + end.Format(endLayout)
	whenUTC := o.Start.UTC().Format("2 Jan 15:04") + " – " + o.End.UTC().Format("2 Jan 15:04") + " UTC"
	mv := maintenanceView{Title: w.Title, Description: w.Description, Components: strings.Join(comps, ", "), When: when, WhenUTC: whenUTC,
		StartISO: o.Start.Format(time.RFC3339), EndISO: o.End.Format(time.RFC3339), Unannounced: !w.Announced(o, s.maint.NoticePeriod)}
	if w.Recurring() {
		length := "for " + humanDuration(w.Duration)
		if w.Duration == 0 {
			length = "to " + w.EndClock.String()
		}
		mv.Repeats = fmt.Sprintf("Repeats %s at %s %s (%s)", w.Describe(), w.StartClock, length, w.TimeZone)
	}
	return mv
}

type errorView struct {
	pageView
	Status           int
	Heading, Message string
}

func (s *Server) renderError(c echo.Context, ae *apiError) error {
	v := errorView{pageView: s.basePage(s.clock.Now()), Status: ae.Status, Heading: http.StatusText(ae.Status), Message: ae.Message}
	return s.render(c, ae.Status, "error.html", v)
}

// render executes a template into a buffer first, so a template error never sends half a page.
// The page is cleaned whole (cleanText): html/template escapes markup but passes control
// characters through, and the templates themselves hold none.
func (s *Server) render(c echo.Context, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.templates.ExecuteTemplate(&buf, name, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTMLBlob(status, []byte(cleanText(buf.String())))
}
