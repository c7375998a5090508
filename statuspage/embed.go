package statuspage

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// Embedding (docs/page.md): /embed is the overall status and the active incidents, small
// enough for an <iframe> in the operator's product (no JavaScript, a few KB, its links open the
// page in a new tab), and /embed/status.svg the same status as a badge for a link. Both are
// public views, in the reader's language. Whether another site may frame pages is
// server.frame_ancestors (csp.go); the SVG may be shown by <img> anywhere.

func (s *Server) routesEmbed() {
	s.echo.GET("/embed", s.embed, s.cache.middleware)
	s.echo.GET("/embed/status.svg", s.embedBadge, s.cache.middleware)
}

// embedIncidents is how many active incidents /embed lists; it counts the rest, so the widget
// stays small whatever happens.
const embedIncidents = 5

type embedView struct {
	chrome
	Title, PageURL string
	Banner         statusView
	Incidents      []embedIncident
	More           int
}

type embedIncident struct{ Title, URL, Status, When, Class string }

// overall is the page's banner class and its open incidents (the public view): the components'
// worst shown status, raised by the open incidents' impacts.
func (s *Server) overall(c echo.Context) (string, []store.IncidentHead, error) {
	ctx := c.Request().Context()
	now := s.clock.Now()
	cs, err := s.store.ListComponents(ctx)
	if err != nil {
		return "", nil, err
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return "", nil, err
	}
	shown := component.Shown(cs, maintenance.InProgress(windows, now))
	var statuses []component.Status
	for _, comp := range cs {
		if !comp.IsGroup {
			statuses = append(statuses, shown[comp.ID])
		}
	}
	open, err := s.incidentHeads(c, store.IncidentQuery{OpenOnly: true, Limit: 20})
	if err != nil {
		return "", nil, err
	}
	incs := make([]incidents.Incident, len(open))
	for i, h := range open {
		incs[i] = h.Incident
	}
	return overallClass(statuses, incs), open, nil
}

func (s *Server) embed(c echo.Context) error {
	class, open, err := s.overall(c)
	if err != nil {
		return err
	}
	l := s.locale(c)
	ch := s.chromeFor(c)
	v := embedView{chrome: ch, Title: s.page.Title, PageURL: s.page.PublicURL + "/" + ch.LangQuery, Banner: viewBanner(l, class)}
	for i, h := range open {
		if i == embedIncidents {
			v.More = len(open) - i
			break
		}
		inc := h.Incident
		var last time.Time
		if n := len(inc.Updates); n > 0 {
			last = inc.Updates[n-1].At
		}
		v.Incidents = append(v.Incidents, embedIncident{Title: inc.Title, URL: s.page.PublicURL + "/incidents/" + inc.ID + ch.LangQuery,
			Status: l.T("incident_status." + string(inc.Status)), When: l.Date(last.In(s.page.Location), locale.DayTime),
			Class: impactClass[inc.Severity.Impact()]})
	}
	return s.render(c, http.StatusOK, "embed.html", v)
}

// bannerColors are the badge colours of the banner's classes.
var bannerColors = map[string]string{"ok": badgeGreen, "degraded": badgeYellow, "minor": badgeOrange, "partial": badgeOrange,
	"major": badgeRed, "maint": badgeBlue, "unknown": badgeGrey}

// embedBadge is the overall status as a badge: "status | All Systems Operational".
func (s *Server) embedBadge(c echo.Context) error {
	class, _, err := s.overall(c)
	if err != nil {
		return err
	}
	l := s.locale(c)
	b := badgeData{label: l.T("badge.status_label"), message: l.T("banner." + class), color: bannerColors[class]}
	b.label, b.message = cleanText(b.label), cleanText(b.message)
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	return c.Blob(http.StatusOK, "image/svg+xml; charset=utf-8", []byte(badgeSVG(b)))
}
