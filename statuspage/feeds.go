package statuspage

import (
	"html"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/feeds"
	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/store"
)

const feedPast = 90 * 24 * time.Hour // maintenance in the feeds reaches back this far

// atom writes the feed as Atom with the page as its author: RFC 4287 (4.1.1) requires an author
// for the feed when its entries have none, and gorilla/feeds writes one only from the feed's,
// which the RSS channel would show as a managingEditor without an address.
func (s *Server) atom(f *feeds.Feed) (string, error) {
	af := (&feeds.Atom{Feed: f}).AtomFeed()
	af.Author = &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: s.page.Title, Uri: s.page.PublicURL + "/"}}
	return feeds.ToXML(af)
}

func (s *Server) routesFeeds() {
	for _, f := range []struct {
		paths []string
		ctype string
		write func(*feeds.Feed) (string, error)
	}{
		{[]string{"/history.rss", "/feed.rss"}, "application/rss+xml; charset=utf-8", func(f *feeds.Feed) (string, error) { return f.ToRss() }},
		{[]string{"/history.atom", "/feed.atom"}, "application/atom+xml; charset=utf-8", s.atom},
		{[]string{"/feed.json"}, "application/feed+json; charset=utf-8", func(f *feeds.Feed) (string, error) { return f.ToJSON() }},
	} {
		for _, p := range f.paths {
			s.echo.GET(p, func(c echo.Context) error {
				feed, err := s.buildFeed(c)
				if err != nil {
					return err
				}
				body, err := f.write(feed)
				if err != nil {
					return err
				}
				c.Response().Header().Set("Access-Control-Allow-Origin", "*") // Cache-Control: the cache's
				return c.Blob(http.StatusOK, f.ctype, []byte(body))
			}, s.cache.middleware)
		}
	}
}

// buildFeed makes the feed of incidents and maintenance: one item per incident or maintenance
// occurrence, with its updates inside, newest first. ?component=ID keeps one component's.
func (s *Server) buildFeed(c echo.Context) (*feeds.Feed, error) {
	ctx := c.Request().Context()
	comp := c.QueryParam("component")
	if comp != "" && !component.ValidID(comp) {
		return nil, fieldError(http.StatusBadRequest, "invalid_query", "component", "not a component id")
	}
	now := s.clock.Now().UTC()
	l := s.locale(c)
	link := s.page.PublicURL + "/"
	feed := &feeds.Feed{Title: l.T("feed.title", "Title", s.page.Title), Link: &feeds.Link{Href: link}, Id: link,
		Description: l.T("feed.summary", "Title", s.page.Title)}
	if comp != "" {
		cc, err := s.store.GetComponent(ctx, comp)
		if err != nil {
			return nil, err
		}
		link += "?component=" + comp
		feed.Link.Href, feed.Id = link, link
		feed.Title = l.T("feed.title_component", "Title", s.page.Title, "Component", cc.Name)
		feed.Description = l.T("feed.summary_component", "Title", s.page.Title, "Component", cc.Name)
	}
	incs, err := s.store.ListIncidents(ctx, store.IncidentQuery{ComponentID: comp, Limit: 50})
	if err != nil {
		return nil, err
	}
	for _, inc := range incs {
		url := s.page.PublicURL + "/incidents/" + inc.ID
		var b strings.Builder
		for i := len(inc.Updates) - 1; i >= 0; i-- {
			u := inc.Updates[i]
			if !u.Public() {
				continue // an acknowledgement without words is for the team
			}
			body := string(s.md.render(u.Body))
			if u.Body == "" {
				body = ""
			}
			b.WriteString("<p><strong>" + html.EscapeString(l.T("incident_status."+string(u.Status))) + "</strong> – " +
				html.EscapeString(l.Date(u.At.In(s.page.Location), locale.DayTimeYear)) + "</p>" + body)
		}
		feed.Items = append(feed.Items, &feeds.Item{Title: l.T("feed.item_title", "Title", inc.Title, "Status", l.T("incident_status."+string(inc.Status))), Link: &feeds.Link{Href: url},
			Id: url, Created: inc.OpenedAt, Updated: inc.UpdatedAt, Description: b.String(), Content: b.String()})
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return nil, err
	}
	names, err := s.componentNames(c)
	if err != nil {
		return nil, err
	}
	for i := range windows {
		w := &windows[i]
		if comp != "" && !slices.Contains(w.Components, comp) {
			continue
		}
		for _, o := range w.Occurrences(now.Add(-feedPast), now.Add(s.maint.Horizon)) {
			id := s.page.PublicURL + "/maintenance/" + occurrenceID(w, o)
			state := o.State(now)
			updated := w.UpdatedAt
			for _, t := range []time.Time{o.ChangedAt, o.Start, o.End} {
				if !t.After(now) && t.After(updated) {
					updated = t // the latest thing that happened to it
				}
			}
			mv := s.viewMaintenance(l, w, o, names)
			desc := "<p><strong>" + html.EscapeString(l.T("maintenance_state."+string(state))) + "</strong> – " + html.EscapeString(mv.When) + " (" +
				html.EscapeString(mv.WhenUTC) + ")</p><p>" + html.EscapeString(l.T("maintenance.affects", "Components", mv.Components)) + "</p>"
			if w.Description != "" {
				desc += "<p>" + html.EscapeString(w.Description) + "</p>"
			}
			feed.Items = append(feed.Items, &feeds.Item{Title: l.T("feed.maintenance_title", "Title", w.Title, "State", l.T("maintenance_state."+string(state))),
				Link: &feeds.Link{Href: id}, Id: id, Created: w.AnnouncedAt, Updated: updated, Description: desc, Content: desc})
		}
	}
	feed.Sort(func(a, b *feeds.Item) bool { return a.Updated.After(b.Updated) })
	// The channel's pubDate and lastBuildDate (RSS) and updated (Atom) are the last change, not
	// the render time: an unchanged feed is the same document, and answers 304.
	var newest time.Time
	if len(feed.Items) > 0 {
		newest = feed.Items[0].Updated
	}
	feed.Created = s.lastChanged(ctx, newest).UTC()
	feed.Updated = feed.Created
	cleanFeed(feed)
	return feed, nil
}

// cleanFeed cleans every text of the feed (cleanText): content:encoded is CDATA, which
// encoding/xml writes as it is, so one control character there made the whole RSS feed
// invalid, and in a title it came out as U+FFFD.
func cleanFeed(f *feeds.Feed) {
	f.Title, f.Description = cleanText(f.Title), cleanText(f.Description)
	for _, it := range f.Items {
		it.Title, it.Description, it.Content = cleanText(it.Title), cleanText(it.Description), cleanText(it.Content)
	}
}
