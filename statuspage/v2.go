package statuspage

import (
	"crypto/sha256"
	"encoding/base32"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

// Statuspage's public API v2 shapes, exactly: field names, values and nulls. Existing clients
// and widgets read these, so nothing here may be renamed, and arrays are never null.

// v2Time is Statuspage's timestamp: ISO 8601 with milliseconds and the page's own offset,
// written when the value is made (a plain string encodes without a MarshalJSON call per
// timestamp, of which a summary of 10,000 components has 20,000).
type v2Time string

type v2Page struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt v2Time `json:"updated_at"`
}

type v2Component struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          v2Time   `json:"created_at"`
	UpdatedAt          v2Time   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"` // groups only: their children's ids
}

type v2AffectedComponent struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type v2Update struct {
	ID                   string                 `json:"id"`
	Status               string                 `json:"status"`
	Body                 string                 `json:"body"`
	IncidentID           string                 `json:"incident_id"`
	CreatedAt            v2Time                 `json:"created_at"`
	UpdatedAt            v2Time                 `json:"updated_at"`
	DisplayAt            v2Time                 `json:"display_at"`
	AffectedComponents   *[]v2AffectedComponent `json:"affected_components"`
	DeliverNotifications bool                   `json:"deliver_notifications"`
	CustomTweet          *string                `json:"custom_tweet"`
	TweetID              *string                `json:"tweet_id"`
}

// v2ScheduledMaintenance is an incident with its schedule: Statuspage gives both the same fields.
type v2ScheduledMaintenance struct {
	v2Incident
	ScheduledFor   v2Time `json:"scheduled_for"`
	ScheduledUntil v2Time `json:"scheduled_until"`
}

// pageIDOf is a stable, Statuspage-like id derived from the public URL.
func pageIDOf(publicURL string) string {
	sum := sha256.Sum256([]byte(publicURL))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:12]
}

// pageID is the page's id (pageIDOf its public URL, computed once in New).
func (s *Server) pageID() string { return s.pageid }

// v2Page is the page object; updated is the last change it shows (lastChanged), so the document
// stays the same, and its ETag with it, until something changes.
func (s *Server) v2Page(updated time.Time) v2Page {
	return v2Page{ID: s.pageID(), Name: s.page.Title, URL: s.page.PublicURL, TimeZone: s.page.Location.String(), UpdatedAt: s.v2Time(updated)}
}

func (s *Server) v2Time(t time.Time) v2Time {
	return v2Time(t.In(s.page.Location).Format("2006-01-02T15:04:05.000-07:00"))
}

// v2Status maps a status to Statuspage's five words. Statuspage has no word for "no data";
// such a component is reported operational there (Upstate's own API and page say "unknown").
func v2Status(st component.Status) string {
	if st == component.Unknown || !st.Valid() {
		return string(component.Operational)
	}
	return string(st)
}

// groupChildren lists each group's children's ids, in the components' order: a group's
// "components" field, found once for all groups rather than by a scan of every component per
// group.
func groupChildren(all []component.Component) map[string][]string {
	out := map[string][]string{}
	for _, c := range all {
		if c.GroupID != "" {
			out[c.GroupID] = append(out[c.GroupID], c.ID)
		}
	}
	return out
}

// v2Component is c in Statuspage's shape; children is groupChildren of all components.
func (s *Server) v2Component(c component.Component, children map[string][]string, shown component.Status) v2Component {
	v := v2Component{ID: c.ID, Name: c.Name, Status: v2Status(shown), CreatedAt: s.v2Time(c.CreatedAt), UpdatedAt: s.v2Time(c.UpdatedAt),
		Position: c.Position + 1, Showcase: true, PageID: s.pageID(), Group: c.IsGroup}
	if c.Description != "" {
		d := c.Description
		v.Description = &d
	}
	if c.GroupID != "" {
		g := c.GroupID
		v.GroupID = &g
	}
	if c.IsGroup {
		v.Components = children[c.ID] // shared, never written to
		if v.Components == nil {
			v.Components = []string{}
		}
	}
	return v
}

// occurrenceID names an occurrence stably: its window and scheduled start.
func occurrenceID(w *maintenance.Window, o maintenance.Occurrence) string {
	return w.ID + "-" + strconv.FormatInt(o.Scheduled.Unix(), 36)
}

func (s *Server) v2Maintenance(w *maintenance.Window, o maintenance.Occurrence, comps map[string]component.Component, children map[string][]string, now time.Time) v2ScheduledMaintenance {
	id := occurrenceID(w, o)
	state := o.State(now)
	var affected []v2Component
	var codes []v2AffectedComponent
	for _, cid := range w.Components {
		c, ok := comps[cid]
		if !ok {
			continue
		}
		shown := c.Status
		if state == maintenance.StateInProgress {
			shown = component.UnderMaintenance
		}
		affected = append(affected, s.v2Component(c, children, shown))
		codes = append(codes, v2AffectedComponent{Code: c.ID, Name: c.Name, OldStatus: v2Status(c.Status), NewStatus: string(component.UnderMaintenance)})
	}
	if affected == nil {
		affected = []v2Component{}
	}
	update := func(status string, at time.Time, body string, changes []v2AffectedComponent) v2Update {
		u := v2Update{ID: id + "-" + status, Status: status, Body: body, IncidentID: id, CreatedAt: s.v2Time(at), UpdatedAt: s.v2Time(at),
			DisplayAt: s.v2Time(at), DeliverNotifications: true}
		if changes != nil {
			u.AffectedComponents = &changes
		}
		return u
	}
	body := w.Description
	if body == "" {
		body = w.Title + " is scheduled."
	}
	announced := w.AnnouncedAt
	if announced.After(o.Start) {
		announced = o.Start
	}
	updates := []v2Update{update("scheduled", announced, body, codes)}
	updatedAt := announced
	v := v2ScheduledMaintenance{v2Incident: v2Incident{ID: id, Name: w.Title, Status: string(maintenance.StateScheduled),
		CreatedAt: s.v2Time(announced), Impact: "maintenance", Shortlink: s.page.PublicURL + "/", StartedAt: s.v2Time(o.Start),
		PageID: s.pageID(), Components: affected}, ScheduledFor: s.v2Time(o.Start), ScheduledUntil: s.v2Time(o.End)}
	if state == maintenance.StateInProgress || state == maintenance.StateCompleted {
		updates = append(updates, update("in_progress", o.Start, "Maintenance is in progress.", nil))
		v.Status, updatedAt = string(maintenance.StateInProgress), o.Start
	}
	if state == maintenance.StateCompleted {
		back := make([]v2AffectedComponent, len(codes))
		for i, c := range codes {
			back[i] = v2AffectedComponent{Code: c.Code, Name: c.Name, OldStatus: string(component.UnderMaintenance), NewStatus: c.OldStatus}
		}
		updates = append(updates, update("completed", o.End, "Maintenance has been completed.", back))
		v.Status, updatedAt = string(maintenance.StateCompleted), o.End
		r := s.v2Time(o.End)
		v.ResolvedAt = &r
	}
	slices.Reverse(updates) // newest first
	v.IncidentUpdates, v.UpdatedAt = updates, s.v2Time(updatedAt)
	return v
}

// v2Maintenances lists occurrences, newest first: which ones depends on the endpoint.
func (s *Server) v2Maintenances(c echo.Context, keep func(maintenance.State) bool, limit int) error {
	ctx := c.Request().Context()
	now := s.clock.Now()
	all, err := s.store.ListComponents(ctx)
	if err != nil {
		return err
	}
	comps := map[string]component.Component{}
	for _, comp := range all {
		comps[comp.ID] = comp
	}
	windows, err := s.store.ListWindows(ctx)
	if err != nil {
		return err
	}
	children := groupChildren(all)
	out := []v2ScheduledMaintenance{}
	var starts []time.Time
	for i := range windows {
		w := &windows[i]
		for _, o := range w.Occurrences(now.Add(-90*24*time.Hour), now.Add(s.maint.Horizon)) {
			if o.Cancelled || !keep(o.State(now)) {
				continue
			}
			out = append(out, s.v2Maintenance(w, o, comps, children, now))
			starts = append(starts, o.Start)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return starts[b].Compare(starts[a]) })
	sorted := make([]v2ScheduledMaintenance, 0, len(out))
	for _, i := range idx {
		sorted = append(sorted, out[i])
	}
	if len(sorted) > limit {
		sorted = sorted[:limit]
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*") // Cache-Control: the cache's
	updated := s.lastChanged(ctx, changedIn(now, all, windows, nil))
	return c.JSON(http.StatusOK, map[string]any{"page": s.v2Page(updated), "scheduled_maintenances": sorted})
}

func (s *Server) routesV2() {
	any := func(maintenance.State) bool { return true }
	s.echo.GET("/api/v2/scheduled-maintenances.json", func(c echo.Context) error { return s.v2Maintenances(c, any, 50) }, s.cache.middleware)
	s.echo.GET("/api/v2/scheduled-maintenances/upcoming.json", func(c echo.Context) error {
		return s.v2Maintenances(c, func(st maintenance.State) bool { return st == maintenance.StateScheduled }, 1000)
	}, s.cache.middleware)
	s.echo.GET("/api/v2/scheduled-maintenances/active.json", func(c echo.Context) error {
		return s.v2Maintenances(c, func(st maintenance.State) bool { return st == maintenance.StateInProgress }, 1000)
	}, s.cache.middleware)
}
