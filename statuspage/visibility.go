package statuspage

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// Private components (docs/page.md): a component or group marked internal, and every
// component of an internal group (component.Hidden), exists for the public nowhere: not on the
// page, in the feeds, the calendar, the v2 or v1 JSON, the badges or /embed. Incidents and
// maintenance windows that touch only internal components stay internal too; those touching
// public ones as well show without the internal ones.
//
// The rule is applied once, here, at the store: every read the server makes goes through
// visibleStore, which shows the public view unless the request is one of the routes that may
// see everything (the admin API and the internal page: fullView). A new public route is
// filtered without doing anything, and nothing public can forget to filter. What a group or
// the page shows (component.Shown) is computed from the public components alone, so an internal
// component's outage never shows through its group, the banner or the v2 indicator.

// fullViewRoutes are the route prefixes that see internal components: the admin API (behind
// its keys) and the internal page (behind a read key or its session).
var fullViewRoutes = []string{"/api/admin/", "/internal"}

// viewKey holds a request's view in its context.
type viewKey struct{}

// view is one request's view of visibility: whether it sees everything, and, for the public
// view, the components read once for the request (a page reads components, windows and
// incidents; the hidden set is computed once for all three).
type view struct {
	full bool

	once   sync.Once
	all    []component.Component
	hidden map[string]bool
	err    error
}

// visibilityScope marks each request with its view, by its route (never by anything the client
// sends): fullViewRoutes see everything, every other route the public view. A render of the
// response cache is a request through the server as well, and public.
func visibilityScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := &view{}
		for _, p := range fullViewRoutes {
			if strings.HasPrefix(c.Path(), p) {
				v.full = true
			}
		}
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), viewKey{}, v)))
		return next(c)
	}
}

// seesAll reports whether ctx is a request that may see internal components.
func seesAll(ctx context.Context) bool {
	v, _ := ctx.Value(viewKey{}).(*view)
	return v != nil && v.full
}

// visibleStore is the server's store with the public view applied to reads, unless the
// request sees everything. A context without a view (work outside a request) gets the public
// view: the rule fails closed. Writes pass through (the service has its own store anyway).
type visibleStore struct{ Store }

// hidden returns the components and the hidden set for ctx's request, read once per request.
func (s visibleStore) hidden(ctx context.Context) ([]component.Component, map[string]bool, error) {
	v, _ := ctx.Value(viewKey{}).(*view)
	if v == nil {
		v = &view{}
	}
	v.once.Do(func() {
		v.all, v.err = s.Store.ListComponents(ctx)
		if v.err == nil {
			v.hidden = component.Hidden(v.all)
		}
	})
	return v.all, v.hidden, v.err
}

func (s visibleStore) ListComponents(ctx context.Context) ([]component.Component, error) {
	if seesAll(ctx) {
		return s.Store.ListComponents(ctx)
	}
	all, hidden, err := s.hidden(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]component.Component, 0, len(all))
	for _, c := range all {
		if !hidden[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s visibleStore) GetComponent(ctx context.Context, id string) (component.Component, error) {
	c, err := s.Store.GetComponent(ctx, id)
	if err != nil || seesAll(ctx) {
		return c, err
	}
	if s.internal(ctx, c) {
		return component.Component{}, fmt.Errorf("component %s: %w", id, store.ErrNotFound)
	}
	return c, nil
}

// internal reports whether c is hidden: marked internal, or in an internal group.
func (s visibleStore) internal(ctx context.Context, c component.Component) bool {
	if c.Visibility == component.Internal {
		return true
	}
	if c.GroupID == "" {
		return false
	}
	g, err := s.Store.GetComponent(ctx, c.GroupID)
	return err == nil && g.Visibility == component.Internal
}

func (s visibleStore) ListWindows(ctx context.Context) ([]maintenance.Window, error) {
	ws, err := s.Store.ListWindows(ctx)
	if err != nil || seesAll(ctx) {
		return ws, err
	}
	_, hidden, err := s.hidden(ctx)
	if err != nil {
		return nil, err
	}
	if len(hidden) == 0 {
		return ws, nil
	}
	out := ws[:0]
	for i := range ws {
		if !ws[i].Internal(hidden) {
			out = append(out, ws[i].Public(hidden))
		}
	}
	return out, nil
}

func (s visibleStore) GetWindow(ctx context.Context, id string) (maintenance.Window, error) {
	w, err := s.Store.GetWindow(ctx, id)
	if err != nil || seesAll(ctx) {
		return w, err
	}
	_, hidden, err := s.hidden(ctx)
	if err != nil {
		return maintenance.Window{}, err
	}
	if w.Internal(hidden) {
		return maintenance.Window{}, fmt.Errorf("window %s: %w", id, store.ErrNotFound)
	}
	return w.Public(hidden), nil
}

func (s visibleStore) GetIncident(ctx context.Context, id string) (incidents.Incident, error) {
	inc, err := s.Store.GetIncident(ctx, id)
	if err != nil || seesAll(ctx) {
		return inc, err
	}
	_, hidden, err := s.hidden(ctx)
	if err != nil {
		return incidents.Incident{}, err
	}
	if inc.Internal(hidden) {
		return incidents.Incident{}, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	return inc.Public(hidden), nil
}

func (s visibleStore) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error) {
	if seesAll(ctx) {
		return s.Store.ListIncidents(ctx, q)
	}
	return publicList(ctx, s, q, s.Store.ListIncidents, func(inc *incidents.Incident) (*incidents.Incident, bool) { return inc, false })
}

// ListIncidentHeads lists the heads the public may see (store.PageReads, when the backend
// has it; else heads of whole incidents).
func (s visibleStore) ListIncidentHeads(ctx context.Context, q store.IncidentQuery) ([]store.IncidentHead, error) {
	list := func(ctx context.Context, q store.IncidentQuery) ([]store.IncidentHead, error) {
		if hr, ok := s.Store.(headReader); ok {
			return hr.ListIncidentHeads(ctx, q)
		}
		incs, err := s.Store.ListIncidents(ctx, q)
		if err != nil {
			return nil, err
		}
		out := make([]store.IncidentHead, len(incs))
		for i, inc := range incs {
			out[i] = store.HeadOf(inc)
		}
		return out, nil
	}
	if seesAll(ctx) {
		return list(ctx, q)
	}
	return publicList(ctx, s, q, list, func(h *store.IncidentHead) (*incidents.Incident, bool) {
		return &h.Incident, h.UpdateCount > len(h.Updates)
	})
}

// publicList lists what q matches with the incidents only internal components touch left out
// and the internal components taken out of the rest, still up to q's limit: when some were
// left out, it reads further.
func publicList[T any](ctx context.Context, s visibleStore, q store.IncidentQuery, list func(context.Context, store.IncidentQuery) ([]T, error),
	incident func(*T) (inc *incidents.Incident, partial bool)) ([]T, error) {
	_, hidden, err := s.hidden(ctx)
	if err != nil {
		return nil, err
	}
	if q.ComponentID != "" && hidden[q.ComponentID] {
		return []T{}, nil
	}
	limit := q.Limit
	if limit <= 0 || limit > store.MaxIncidentLimit {
		limit = store.MaxIncidentLimit
	}
	for {
		items, err := list(ctx, q)
		if err != nil || len(hidden) == 0 {
			return items, err
		}
		out := items[:0]
		for i := range items {
			inc, partial := incident(&items[i])
			if s.incidentInternal(ctx, inc, partial, hidden) {
				continue
			}
			*inc = inc.Public(hidden)
			out = append(out, items[i])
		}
		// Enough, or nothing more to read: an incident left out makes room for one more.
		if len(out) >= limit || len(items) < q.Limit || q.Limit <= 0 || q.Limit >= store.MaxIncidentLimit {
			return out[:min(len(out), limit)], nil
		}
		q.Limit = min(2*q.Limit, store.MaxIncidentLimit)
	}
}

// incidentInternal is inc.Internal, for a head too: a head (partial) carries only its latest
// updates, so one that looks internal is checked against the whole incident (an earlier update
// may have named a public component).
func (s visibleStore) incidentInternal(ctx context.Context, inc *incidents.Incident, partial bool, hidden map[string]bool) bool {
	if !inc.Internal(hidden) || !partial {
		return inc.Internal(hidden)
	}
	full, err := s.Store.GetIncident(ctx, inc.ID)
	if err != nil {
		return true // fail closed
	}
	return full.Internal(hidden)
}

// hiddenFor is what c may not see: the hidden components (component.Hidden) for the public
// view; nothing for a request that sees everything, or that carries a verified API key (the
// monitors API behind its read key).
func (s *Server) hiddenFor(c echo.Context) (map[string]bool, error) {
	ctx := c.Request().Context()
	if _, keyed := c.Get(contextKeyAPIKey).(apikey.Key); keyed || seesAll(ctx) {
		return nil, nil
	}
	vs, ok := s.store.(visibleStore)
	if !ok {
		return nil, nil
	}
	_, hidden, err := vs.hidden(ctx)
	return hidden, err
}
