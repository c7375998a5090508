package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Store is what notify reads. Every write goes through service.Notifications.
type Store interface {
	ReadJournal(ctx context.Context, after int64, limit int) ([]store.JournalEntry, error)
	JournalCursor(ctx context.Context, name string) (int64, error)
	GetNotification(ctx context.Context, id string) (store.Notification, error)
	ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error)
	OutboxStats(ctx context.Context) (store.OutboxStats, error)
	ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error)
	GetIncident(ctx context.Context, id string) (incidents.Incident, error)
	ListComponents(ctx context.Context) ([]component.Component, error)
}

// Rules are what the router applies: routes, escalations and the policies they follow.
type Rules struct {
	Routes      []Route
	Escalations Escalations
	Policies    map[string]*incidents.Policy
	// MonitorSeverity is each monitor's severity, for routes by severity (default P1).
	MonitorSeverity map[string]incidents.Severity
	// SLAWarnings are fractions of each clock's target (0.5, 0.8) at which an sla.warning is
	// sent, besides the one at the policy's own warning point.
	SLAWarnings []float64
}

// JournalReader is the router's name in the journal's cursors.
const JournalReader = "notify"

// Router turns the journal's events, and open incidents as time passes, into outbox rows. It
// holds no state a crash could lose: its place in the journal is a stored cursor (held back
// behind the oldest event of a group still gathering), and every row it makes has an id derived
// from what it is about and where it goes, so making a row again stores nothing.
type Router struct {
	store    Store
	door     *service.Notifications
	channels *Channels
	rules    Rules
	page     Page
	clock    clockwork.Clock
	log      *slog.Logger

	loaded bool
	pos    int64             // the last journal entry read
	saved  int64             // the cursor as stored
	groups map[string]*group // gathering, by route and group key
}

type group struct {
	route    *Route
	firstSeq int64
	deadline time.Time
	events   []events.Event
}

// NewRouter returns a router. channels name the targets (and an email target's recipients).
func NewRouter(st Store, door *service.Notifications, channels *Channels, rules Rules, page Page, clock clockwork.Clock, log *slog.Logger) *Router {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{store: st, door: door, channels: channels, rules: rules, page: page, clock: clock, log: log, groups: map[string]*group{}}
}

// reset forgets what the router holds in memory: the next Step starts again at the stored
// cursor, and re-deriving what it had done stores nothing new.
func (r *Router) reset() {
	r.loaded, r.groups = false, map[string]*group{}
}

// batch is how many journal entries one Step reads.
const batch = 500

// Step reads the journal after its cursor, routes what it finds, sends the groups whose wait is
// over, and moves the cursor. It returns how many rows it enqueued.
func (r *Router) Step(ctx context.Context) (int, error) {
	n, err := r.step(ctx)
	if err != nil {
		r.reset()
	}
	return n, err
}

func (r *Router) step(ctx context.Context) (int, error) {
	if !r.loaded {
		pos, err := r.store.JournalCursor(ctx, JournalReader)
		if err != nil {
			return 0, err
		}
		r.pos, r.saved, r.loaded = pos, pos, true
	}
	now := r.clock.Now().UTC()
	// The components' names are read only when something is routed: a step runs every second,
	// and reading them cost a command per component each time (BENCHMARKS.md, "Several
	// instances").
	var names map[string]string
	loadNames := func() error {
		if names != nil {
			return nil
		}
		var err error
		names, err = r.componentNames(ctx)
		return err
	}
	added := 0
	enqueue := func(rows []store.Notification) error {
		if len(rows) == 0 {
			return nil
		}
		n, err := r.door.Enqueue(ctx, rows)
		added += n
		return err
	}
	for {
		entries, err := r.store.ReadJournal(ctx, r.pos, batch)
		if err != nil {
			return added, err
		}
		if len(entries) > 0 {
			if err := loadNames(); err != nil {
				return added, err
			}
		}
		var rows []store.Notification // a batch at a time: a long backlog is not held in memory
		for _, e := range entries {
			if e.Kind == string(events.TargetChanged) {
				// A target made through the admin API changed, maybe on another instance: what
				// follows in the journal is routed to the targets as they are now.
				if err := r.channels.Sync(ctx); err != nil {
					return added, err
				}
				continue
			}
			var ev events.Event
			if err := json.Unmarshal(e.Body, &ev); err != nil {
				r.log.Error("journal entry does not decode; skipped", "seq", e.Seq, "id", e.ID, "err", err)
			} else {
				if ev.Window != nil {
					_ = ev.Window.PrepareStored() // for its occurrences; a window that does not prepare is still named
				}
				rows = append(rows, r.route(ev, e.Seq, now, names)...)
			}
		}
		if err := enqueue(rows); err != nil {
			return added, err
		}
		if len(entries) > 0 {
			r.pos = entries[len(entries)-1].Seq
		}
		if len(entries) < batch {
			break
		}
	}
	var rows []store.Notification
	for k, g := range r.groups {
		if !now.Before(g.deadline) {
			if err := loadNames(); err != nil {
				return added, err
			}
			rows = append(rows, r.groupRows(g, now, names)...)
			delete(r.groups, k)
		}
	}
	if err := enqueue(rows); err != nil {
		return added, err
	}
	cursor := r.pos
	for _, g := range r.groups {
		cursor = min(cursor, g.firstSeq-1)
	}
	if cursor != r.saved {
		if err := r.door.AdvanceJournal(ctx, JournalReader, cursor); err != nil {
			return added, err
		}
		r.saved = cursor
	}
	return added, nil
}

// NextGroup is when the earliest gathering group is due (zero if none is gathering).
func (r *Router) NextGroup() time.Time {
	var next time.Time
	for _, g := range r.groups {
		if next.IsZero() || g.deadline.Before(next) {
			next = g.deadline
		}
	}
	return next
}

func (r *Router) componentNames(ctx context.Context) (map[string]string, error) {
	cs, err := r.store.ListComponents(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(cs))
	for _, c := range cs {
		names[c.ID] = c.Name
	}
	return names, nil
}

// route makes the rows one event owes: each matching route's targets (or its group), and, for
// an acknowledged or resolved incident, the targets its escalation paged.
func (r *Router) route(ev events.Event, seq int64, now time.Time, names map[string]string) []store.Notification {
	direct := map[string]bool{} // targets the event goes to at once
	for i := range r.rules.Routes {
		rt := &r.rules.Routes[i]
		if !rt.Matches(ev, r.rules.MonitorSeverity) {
			continue
		}
		if gk := rt.groupKey(ev, r.rules.MonitorSeverity); gk != "" {
			g := r.groups[gk]
			if g == nil {
				g = &group{route: rt, firstSeq: seq, deadline: ev.At.Add(rt.GroupWait)}
				if g.deadline.Before(now) {
					g.deadline = now // replayed late: send at once
				}
				r.groups[gk] = g
			}
			g.events = append(g.events, ev)
			continue
		}
		for _, t := range rt.Targets {
			direct[t] = true
		}
	}
	msg := r.page.eventMessage(ev, names)
	msg.Action, _ = lifecycle(ev)
	if ev.Kind == events.IncidentAcknowledged || ev.Kind == events.IncidentResolved {
		for _, t := range r.paged(ev) {
			direct[t] = true
		}
	}
	targets := make([]string, 0, len(direct))
	for t := range direct {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	_, dedup := lifecycle(ev)
	return r.rows(targets, msg, now, now, dedup, "ev", ev.ID)
}

// paged lists the targets the escalation of ev's incident paged before it was acknowledged (or
// before ev): they are told it was acknowledged or resolved.
func (r *Router) paged(ev events.Event) []string {
	inc := ev.Incident
	if inc == nil {
		return nil
	}
	esc, ok := r.rules.Escalations[inc.Policy][inc.Severity]
	p := r.rules.Policies[inc.Policy]
	if !ok || p == nil {
		return nil
	}
	until := ev.At
	if !inc.AcknowledgedAt.IsZero() && inc.AcknowledgedAt.Before(until) {
		until = inc.AcknowledgedAt
	}
	var out []string
	for _, s := range esc.Reached(*inc, p, until) {
		for _, t := range s.Targets {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// groupRows are the rows of a group whose wait is over: one message with all its events.
func (r *Router) groupRows(g *group, now time.Time, names map[string]string) []store.Notification {
	msg := r.page.groupMessage(g.events, names)
	msg.Route = g.route.Name
	// A group about one alert (a monitor down, then up) follows it: the last event's action.
	// One about several has no lifecycle of its own.
	action, dedup := lifecycle(g.events[len(g.events)-1])
	for _, ev := range g.events {
		if _, d := lifecycle(ev); d != dedup {
			action, dedup = "", ""
		}
	}
	msg.Action = action
	return r.rows(g.route.Targets, msg, now, now, dedup, "group", g.route.Name, g.events[0].ID)
}

// rows makes one row per target (and per recipient of an email target) of msg, each with an id
// derived from idParts, the target and the recipient.
func (r *Router) rows(targets []string, msg Message, now, due time.Time, dedup string, idParts ...string) []store.Notification {
	if len(targets) == 0 {
		return nil
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		r.log.Error("message does not encode; not sent", "kind", msg.Kind, "err", err)
		return nil
	}
	var eventID, incidentID, componentID string
	if len(msg.Events) > 0 {
		eventID, incidentID, componentID = msg.Events[0].ID, msg.Events[0].IncidentID, msg.Events[0].ComponentID
	}
	var out []store.Notification
	for _, id := range targets {
		t, ok := r.channels.Target(id)
		if !ok {
			r.log.Warn("a route or escalation names a target that does not exist (not yet made through the admin API, or deleted): nothing is sent to it", "target", id)
			continue
		}
		recipients := []string{""}
		if t.Kind == KindEmail {
			recipients = t.To
		}
		for _, rcpt := range recipients {
			parts := append(slices.Clone(idParts), id, rcpt)
			out = append(out, store.Notification{ID: key(parts...), Target: id, Channel: string(t.Kind), Recipient: rcpt, Kind: msg.Kind,
				EventID: eventID, IncidentID: incidentID, ComponentID: componentID, DedupKey: dedup, Action: msg.Action, Payload: payload,
				State: store.NotificationPending, CreatedAt: now, NextAt: due, UpdatedAt: now, Version: 1})
		}
	}
	return out
}

// Tick makes what the clock owes for open incidents: escalation steps and their repeats, route
// repeats while unacknowledged, and SLA warnings at the configured fractions. It returns how
// many rows it enqueued.
func (r *Router) Tick(ctx context.Context) (int, error) {
	now := r.clock.Now().UTC()
	open, err := r.store.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
	if err != nil {
		return 0, err
	}
	if len(open) == 0 {
		return 0, nil
	}
	names, err := r.componentNames(ctx)
	if err != nil {
		return 0, err
	}
	var rows []store.Notification
	for _, inc := range open {
		rows = append(rows, r.escalate(inc, now, names)...)
		rows = append(rows, r.repeats(inc, now, names)...)
		rows = append(rows, r.slaWarnings(inc, now, names)...)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return r.door.Enqueue(ctx, rows)
}

func (r *Router) escalate(inc incidents.Incident, now time.Time, names map[string]string) []store.Notification {
	esc, ok := r.rules.Escalations[inc.Policy][inc.Severity]
	p := r.rules.Policies[inc.Policy]
	if !ok || p == nil {
		return nil
	}
	var rows []store.Notification
	for _, due := range esc.Pages(inc, p, now) {
		msg := r.page.escalationMessage(inc, due.Step, due.Repeat, due.Elapsed, names)
		rows = append(rows, r.rows(due.Targets, msg, now, now, "incident/"+inc.ID, "esc", inc.ID, strconv.Itoa(due.Step), strconv.Itoa(due.Repeat))...)
	}
	return rows
}

func (r *Router) repeats(inc incidents.Incident, now time.Time, names map[string]string) []store.Notification {
	if !inc.AcknowledgedAt.IsZero() || inc.Backfilled {
		return nil
	}
	ev := events.Event{ID: "open-" + inc.ID, Kind: events.IncidentDeclared, At: inc.OpenedAt, IncidentID: inc.ID, Severity: string(inc.Severity), Incident: &inc}
	var rows []store.Notification
	for i := range r.rules.Routes {
		rt := &r.rules.Routes[i]
		if rt.Repeat <= 0 || !rt.Matches(ev, r.rules.MonitorSeverity) {
			continue
		}
		n := int(now.Sub(inc.OpenedAt) / rt.Repeat)
		if n < 1 {
			continue
		}
		msg := r.page.eventMessage(ev, names)
		msg.Kind, msg.Repeat, msg.Route = "repeat", n, rt.Name
		msg.Subject = fmt.Sprintf("[Reminder %d] %s is still unacknowledged", n, inc.Title)
		var pageable []string // PagerDuty re-notifies by itself; a second trigger adds nothing
		for _, t := range rt.Targets {
			if tg, ok := r.channels.Target(t); ok && tg.Kind != KindPagerDuty {
				pageable = append(pageable, t)
			}
		}
		rows = append(rows, r.rows(pageable, msg, now, now, "", "repeat", rt.Name, inc.ID, strconv.Itoa(n))...)
	}
	return rows
}

func (r *Router) slaWarnings(inc incidents.Incident, now time.Time, names map[string]string) []store.Notification {
	p := r.rules.Policies[inc.Policy]
	if p == nil || len(r.rules.SLAWarnings) == 0 {
		return nil
	}
	var rows []store.Notification
	for _, c := range inc.Clocks {
		t := p.Target(inc.Severity, c.Kind)
		if t == nil {
			continue
		}
		st, err := c.At(t.Calendar, now)
		if err != nil || st.State != incidents.Running {
			continue
		}
		for _, f := range r.rules.SLAWarnings {
			if st.Used < time.Duration(f*float64(c.Goal)) {
				continue
			}
			at := now
			if len(c.Segments) == 1 {
				if reached, err := t.Calendar.Add(c.Segments[0].Start, time.Duration(f*float64(c.Goal))); err == nil {
					at = reached
				}
			}
			pct := strconv.FormatFloat(f*100, 'f', -1, 64)
			cp := inc
			ev := events.Event{ID: key("sla-warning", inc.ID, string(c.Kind), pct), Kind: events.SLAWarning, At: at, IncidentID: inc.ID,
				Severity: string(inc.Severity), Clock: string(c.Kind), Incident: &cp,
				Reason: fmt.Sprintf("used %s%% of its %s target (due %s)", pct, c.Goal, r.page.when(st.DueAt))}
			var targets []string
			for i := range r.rules.Routes {
				if r.rules.Routes[i].Matches(ev, r.rules.MonitorSeverity) {
					targets = append(targets, r.rules.Routes[i].Targets...)
				}
			}
			slices.Sort(targets)
			msg := r.page.eventMessage(ev, names)
			msg.Action = "trigger"
			rows = append(rows, r.rows(slices.Compact(targets), msg, now, now, "sla/"+inc.ID+"/"+string(c.Kind), "ev", ev.ID)...)
		}
	}
	return rows
}
