package statuspage

import (
	"context"
	"fmt"
	"html"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

// Badge colours, shields.io's.
const (
	badgeGreen  = "#4c1"
	badgeYellow = "#dfb317"
	badgeOrange = "#fe7d37"
	badgeRed    = "#e05d44"
	badgeBlue   = "#007ec6"
	badgeGrey   = "#9f9f9f"
)

var badgeWindows = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

func (s *Server) routesBadges() {
	s.echo.GET("/badge/:id/:kind", s.badge, s.cache.middleware)
}

type badgeData struct{ label, message, color string }

// badge serves /badge/{component}/status.svg, uptime.svg?window=30d, and the shields.io
// endpoint JSON as status.json and uptime.json.
func (s *Server) badge(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	kind, format, ok := strings.Cut(c.Param("kind"), ".")
	if !ok || (format != "svg" && format != "json") || (kind != "status" && kind != "uptime") {
		return newError(http.StatusNotFound, "not_found", "badges are status.svg, uptime.svg, status.json and uptime.json")
	}
	ctx := c.Request().Context()
	l := s.locale(c)
	comp, err := s.store.GetComponent(ctx, id)
	if err != nil {
		return err
	}
	b := badgeData{label: comp.Name}
	if l := c.QueryParam("label"); l != "" {
		b.label = truncate(l, 60)
	}
	switch kind {
	case "status":
		shown, err := s.shownStatus(ctx, comp)
		if err != nil {
			return err
		}
		if !shown.Valid() {
			shown = component.Unknown
		}
		b.message = l.T("badge." + string(shown))
		b.color = map[component.Status]string{component.Operational: badgeGreen, component.DegradedPerformance: badgeYellow,
			component.PartialOutage: badgeOrange, component.MajorOutage: badgeRed, component.UnderMaintenance: badgeBlue}[shown]
		if b.color == "" {
			b.color = badgeGrey
		}
	case "uptime":
		rep, err := s.reporter()
		if err != nil {
			return err
		}
		win := c.QueryParam("window")
		if win == "" {
			win = "30d"
		}
		d, ok := badgeWindows[win]
		if !ok {
			return fieldError(http.StatusBadRequest, "invalid_query", "window", "must be 24h, 7d, 30d or 90d")
		}
		now := s.clock.Now()
		r, err := rep.Window(ctx, id, calendar.Interval{Start: now.Add(-d), End: now})
		if err != nil {
			return err
		}
		if c.QueryParam("label") == "" {
			b.label = l.T("badge.uptime_label", "Window", win)
		}
		a := float64(r.Availability)
		switch target := float64(r.Target); {
		case math.IsNaN(a):
			b.message, b.color = l.T("badge.unknown"), badgeGrey
		case a >= target:
			b.message, b.color = l.Percent(a), badgeGreen
		case a >= target-0.005:
			b.message, b.color = l.Percent(a), badgeYellow
		default:
			b.message, b.color = l.Percent(a), badgeRed
		}
	}
	b.label, b.message = cleanText(b.label), cleanText(b.message) // a name stored before the text rule, or any ?label=
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=60")
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	if format == "json" {
		return c.JSON(http.StatusOK, map[string]any{"schemaVersion": 1, "label": b.label, "message": b.message, "color": b.color})
	}
	return c.Blob(http.StatusOK, "image/svg+xml; charset=utf-8", []byte(badgeSVG(b)))
}

// percent writes a ratio the way uptime is read: 99.95%, 100%, 98.7%.
func percent(r float64) string {
	p := math.Floor(r*10000) / 100 // never round up into a better figure
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".") + "%"
}

// textWidth estimates the width of 11px Verdana text, as shields.io lays badges out. Wide
// characters (CJK, full-width forms) take a full em.
func textWidth(s string) int {
	w := 0.0
	for _, r := range s {
		switch {
		case wideRune(r):
			w += 11
		case strings.ContainsRune("iljtf.,:;|!'() ", r):
			w += 4
		case r >= 'A' && r <= 'Z' || strings.ContainsRune("mwMW%@", r):
			w += 8.5
		default:
			w += 6.8
		}
	}
	return int(math.Ceil(w))
}

// wideRune reports whether r is drawn a full em wide: CJK ideographs and punctuation, kana,
// Hangul, full-width forms.
func wideRune(r rune) bool {
	return r >= 0x1100 && r <= 0x115F || r >= 0x2E80 && r <= 0xA4CF || r >= 0xAC00 && r <= 0xD7A3 ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0xFE30 && r <= 0xFE4F || r >= 0xFF00 && r <= 0xFF60 || r >= 0xFFE0 && r <= 0xFFE6
}

// badgeSVG draws a flat shields.io-style badge. Text is XML-escaped.
func badgeSVG(b badgeData) string {
	lw, mw := textWidth(b.label)+10, textWidth(b.message)+10
	label, msg := html.EscapeString(b.label), html.EscapeString(b.message)
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%[1]d" height="20" role="img" aria-label="%[3]s: %[4]s">`+
		`<title>%[3]s: %[4]s</title>`+
		`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%[1]d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%[2]d" height="20" fill="#555"/><rect x="%[2]d" width="%[5]d" height="20" fill="%[6]s"/><rect width="%[1]d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%[7]d" y="15" fill="#010101" fill-opacity=".3">%[3]s</text><text x="%[7]d" y="14">%[3]s</text>`+
		`<text x="%[8]d" y="15" fill="#010101" fill-opacity=".3">%[4]s</text><text x="%[8]d" y="14">%[4]s</text></g></svg>`,
		lw+mw, lw, label, msg, mw, b.color, lw/2, lw+mw/2)
}

// shownStatus is what one component shows (component.Shown): a group needs its children.
func (s *Server) shownStatus(ctx context.Context, comp component.Component) (component.Status, error) {
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return "", err
	}
	cs := []component.Component{comp}
	if comp.IsGroup {
		if cs, err = s.store.ListComponents(ctx); err != nil {
			return "", err
		}
	}
	return component.Shown(cs, maintenance.InProgress(windows, s.clock.Now()))[comp.ID], nil
}
