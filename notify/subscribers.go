package notify

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Subscribers (docs/subscribers.md): the fan-out reads the journal by its own cursor and turns
// each public event into one outbox row per subscriber who follows it, in bounded batches, and
// each subscription's own event (a request, a reminder, a suspension) into the one mail it owes.
// The dispatcher delivers those rows like any other, through pseudo-targets that the subscriber
// channels (subscribermail.go) serve: subscribers.email.<n> and subscribers.webhook.<n>, rows
// spread over n shards by subscriber id so no one target's queue holds them all.
//
// A row holds no address: only the subscriber's id, the event's place in the journal and the
// subject. The channel reads the subscriber when it sends, so a subscriber who left is sent
// nothing more (the row is cancelled) and the outbox keeps no address after they leave.

//go:embed i18n/*.yaml
var subscriberMessages embed.FS

// SubscriberMessages is the catalogue of subscribers' mails (notify/i18n), in the languages of
// the page's catalogue.
func SubscriberMessages(defaultLanguage string) (*locale.Catalogue, error) {
	return locale.Load(subscriberMessages, defaultLanguage)
}

// SubscriberReader is the fan-out's name in the journal's cursors.
const SubscriberReader = "subscribers"

// SubscriberStore is what the fan-out and the subscriber channels read.
type SubscriberStore interface {
	ReadJournal(ctx context.Context, after int64, limit int) ([]store.JournalEntry, error)
	JournalCursor(ctx context.Context, name string) (int64, error)
	ListComponents(ctx context.Context) ([]component.Component, error)
	ListSubscribers(ctx context.Context, q store.SubscriberQuery) ([]store.Subscriber, error)
	GetSubscriber(ctx context.Context, id string) (store.Subscriber, error)
	CountSubscribers(ctx context.Context) (store.SubscriberCounts, error)
}

// SubscriberOptions configure the fan-out and the subscriber channels.
type SubscriberOptions struct {
	Store  SubscriberStore
	Door   *service.Subscribers
	Outbox *service.Notifications
	Page   Page
	SMTP   SMTP // the mail server: the same as email targets'
	// DefaultLanguage is the page's language, for subscribers whose own is not offered.
	DefaultLanguage string
	// NoticePeriod is the maintenance notice rule (a window announced less than this ahead says so).
	NoticePeriod         time.Duration
	AllowPrivateWebhooks bool
	// MailConnections are the SMTP connections at once, kept open between mails (default 16);
	// WebhookShards x WebhookInFlight the webhook requests at once (default 16 x 4).
	MailConnections                int
	WebhookShards, WebhookInFlight int
	// Batch is how many subscribers one read and one outbox write hold (default 1,000);
	// MaxBacklog how many rows the fan-out lets wait for their first attempt before it writes
	// more (default 2,000), so an alert for the SREs never queues behind a whole fan-out.
	Batch, MaxBacklog int
	Timeout           time.Duration // one delivery (default 30 s)
	Poll              time.Duration // the journal when nothing wakes it (default 1 s)
	HTTP              *http.Client  // webhooks (default: one that refuses non-public addresses unless allowed)
	Resolver          *net.Resolver // chat hosts, checked before each send (default net.DefaultResolver)
	Leader            Leader        // who fans out (default: always this instance)
	Bus               *events.Bus   // wakes the fan-out at once on a local change
	Wake              func()        // tells the dispatcher there are new rows (Notifier.Wake)
	Clock             clockwork.Clock
	Logger            *slog.Logger
	Registry          prometheus.Registerer
}

// Defaults of the fan-out.
const (
	DefaultMailConnections = 16
	DefaultWebhookShards   = 16
	DefaultWebhookInFlight = 4
	DefaultFanoutBatch     = 1000
	DefaultFanoutBacklog   = 2000
)

// Cancel marks a notification that is no longer owed (a subscriber who left, a confirmation of
// one confirmed meanwhile): the dispatcher records it cancelled, not failed.
type Cancel struct{ Reason string }

func (e *Cancel) Error() string { return "not sent: " + e.Reason }

// SubscriberTarget is the pseudo-target of a subscriber's rows on a channel.
func SubscriberTarget(channel store.SubscriberChannel, shard int) string {
	return "subscribers." + string(channel) + "." + strconv.Itoa(shard)
}

func shardOf(id string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(shards))
}

// subscriberPayload is a subscriber row's payload: what to send to whom, by reference.
type subscriberPayload struct {
	Kind       string `json:"kind"` // "subscriber", for the admin list
	Subject    string `json:"subject"`
	Purpose    string `json:"purpose"` // event, confirm, remind, suspended
	Seq        int64  `json:"seq"`     // the event's place in the journal
	EventID    string `json:"event"`
	Subscriber string `json:"subscriber"`
}

// The purposes of a subscriber's row.
const (
	purposeEvent     = "event"
	purposeConfirm   = "confirm"
	purposeRemind    = "remind"
	purposeSuspended = "suspended"
)

// Fanout turns the journal's public events into subscribers' rows.
type Fanout struct {
	o     SubscriberOptions
	cat   *locale.Catalogue
	log   *slog.Logger
	mail  *subscriberMail
	hook  *subscriberWebhook
	gauge *prometheus.GaugeVec
	view  *eventViews

	enqueued, attempted atomic.Int64 // rows written, first attempts made: the backlog between
	progress            atomic.Int64 // unix ms of the last attempt

	mu     sync.Mutex // Step is not reentrant
	loaded bool
	pos    int64
	job    *fanJob
	waited time.Time // since when the backlog has held the job back
}

// EnableSubscribers registers the subscriber channels' pseudo-targets in chans (before the
// dispatcher runs) and returns the fan-out.
func EnableSubscribers(chans *Channels, o SubscriberOptions) (*Fanout, error) {
	if o.Store == nil || o.Door == nil || o.Outbox == nil {
		return nil, errors.New("notify: subscribers need Store, Door and Outbox")
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		v   *int
		def int
	}{{&o.MailConnections, DefaultMailConnections}, {&o.WebhookShards, DefaultWebhookShards}, {&o.WebhookInFlight, DefaultWebhookInFlight},
		{&o.Batch, DefaultFanoutBatch}, {&o.MaxBacklog, DefaultFanoutBacklog}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	o.Batch = min(o.Batch, store.MaxSubscriberLimit)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.HTTP == nil {
		o.HTTP = newSubscriberHTTPClient(o.AllowPrivateWebhooks)
	}
	if o.Wake == nil {
		o.Wake = func() {}
	}
	cat, err := SubscriberMessages(o.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	f := &Fanout{o: o, cat: cat, log: o.Logger.With("component", "subscribers"), view: newEventViews(o.Store, o.Page, o.Clock)}
	f.view.notice = o.NoticePeriod
	f.progress.Store(o.Clock.Now().UnixMilli())
	f.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_subscribers",
		Help: "Subscribers by channel (email, webhook, chat) and state (pending, confirmed, suspended)."}, []string{"channel", "state"})
	for _, ch := range store.SubscriberChannels {
		for _, st := range store.SubscriberStates {
			f.gauge.WithLabelValues(string(ch), string(st))
		}
	}
	if o.Registry != nil {
		if err := o.Registry.Register(f.gauge); err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
	}
	if o.SMTP.Host != "" {
		f.mail, err = newSubscriberMail(f)
		if err != nil {
			return nil, err
		}
		for i := range o.MailConnections {
			id := SubscriberTarget(store.SubscriberEmail, i)
			chans.targets[id] = Target{ID: id, Kind: KindEmail, Timeout: o.Timeout, MaxInFlight: 1}
			chans.chans[id] = f.mail
		}
	}
	f.hook = &subscriberWebhook{f: f}
	for i := range o.WebhookShards {
		id := SubscriberTarget(store.SubscriberWebhook, i)
		chans.targets[id] = Target{ID: id, Kind: KindWebhook, Timeout: o.Timeout, MaxInFlight: o.WebhookInFlight}
		chans.chans[id] = f.hook
	}
	f.chatTargets(chans)
	return f, nil
}

// MailEnabled reports whether subscribers' mail can be sent (notify.smtp is set): without it
// the page offers no subscription.
func (f *Fanout) MailEnabled() bool { return f.mail != nil }

// Run fans out while this instance leads (the dispatcher's lease), until ctx ends: at once on a
// local change, else every Poll, and at once again while a fan-out has more to write. It
// deletes subscriptions not confirmed in time every hour, and refreshes upstate_subscribers.
func (f *Fanout) Run(ctx context.Context) error {
	var wake <-chan events.Event
	done := func() {}
	if f.o.Bus != nil {
		sub := f.o.Bus.SubscribeTracked(64)
		defer sub.Close()
		wake, done = sub.C, sub.Done
	}
	var lastStats, lastExpire time.Time
	for {
		now := f.o.Clock.Now()
		more := false
		if f.o.Leader == nil || f.o.Leader.IsLeader(ctx) == nil {
			var err error
			if more, err = f.Step(ctx); err != nil && ctx.Err() == nil {
				f.log.Error("fan out to subscribers", "err", err)
			}
			if now.Sub(lastExpire) >= time.Hour {
				if n, err := f.o.Door.Expire(ctx); err != nil && ctx.Err() == nil {
					f.log.Error("expire unconfirmed subscriptions", "err", err)
				} else if n > 0 {
					f.log.Info("deleted subscriptions not confirmed in time", "subscribers", n)
				}
				lastExpire = now
			}
		} else {
			f.reset()
		}
		if now.Sub(lastStats) >= 15*time.Second {
			f.Stats(ctx)
			lastStats = now
		}
		wait := f.o.Poll
		if more {
			wait = 20 * time.Millisecond // room in the backlog soon, or the next batch at once
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-wake:
			if !ok {
				wake = nil
				continue
			}
			done()
		case <-f.o.Clock.After(wait):
		}
	}
}

// Stats refreshes upstate_subscribers from the store.
func (f *Fanout) Stats(ctx context.Context) {
	counts, err := f.o.Store.CountSubscribers(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.log.Warn("count subscribers", "err", err)
		}
		return
	}
	for _, ch := range store.SubscriberChannels {
		for _, st := range store.SubscriberStates {
			f.gauge.WithLabelValues(string(ch), string(st)).Set(float64(counts[ch][st]))
		}
	}
}

func (f *Fanout) reset() {
	f.mu.Lock()
	f.loaded, f.job = false, nil
	f.mu.Unlock()
}

// attempt counts a first attempt of a row the fan-out wrote (the channels call it).
func (f *Fanout) attempt(n store.Notification) {
	if n.Attempts <= 1 {
		f.attempted.Add(1)
	}
	f.progress.Store(f.o.Clock.Now().UnixMilli())
}

// backlog is how many rows the fan-out wrote whose first attempt has not started.
func (f *Fanout) backlog() int64 { return max(f.enqueued.Load()-f.attempted.Load(), 0) }

// fanJob is the event being fanned out.
type fanJob struct {
	seq      int64
	ev       events.Event
	what     string   // the part of the rows' ids naming what is told (an incident's update, an event)
	purpose  string   // event, or a subscriber's own mail
	single   string   // the subscriber of a subscriber's own mail
	comps    []string // the public components the event is about, with their groups (none: the whole page)
	statuses bool     // a component status change: only for subscribers who asked for them
	after    string   // the last subscriber handled
	subjects map[string]string
}

// Step writes the rows of the journal's next events, a batch of subscribers at a time, until it
// has written Batch x 4 rows or the backlog is full; it stores its cursor after each event done.
// It reports whether it stopped with more to do.
func (f *Fanout) Step(ctx context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	more, err := f.step(ctx)
	if err != nil {
		f.loaded, f.job = false, nil
	}
	return more, err
}

func (f *Fanout) step(ctx context.Context) (bool, error) {
	if !f.loaded {
		pos, err := f.o.Store.JournalCursor(ctx, SubscriberReader)
		if err != nil {
			return false, err
		}
		f.pos, f.loaded = pos, true
	}
	cs, err := f.view.components(ctx)
	if err != nil {
		return false, err
	}
	budget := 4 * f.o.Batch
	for budget > 0 {
		if f.job == nil {
			entries, err := f.o.Store.ReadJournal(ctx, f.pos, 200)
			if err != nil {
				return false, err
			}
			if len(entries) == 0 {
				return false, nil
			}
			skipped := f.pos
			for _, e := range entries {
				if job := f.plan(e, cs); job != nil {
					f.job = job
					break
				}
				skipped = e.Seq
			}
			if skipped != f.pos {
				if err := f.o.Outbox.AdvanceJournal(ctx, SubscriberReader, skipped); err != nil {
					return false, err
				}
				f.pos = skipped
			}
			continue
		}
		if f.job.single == "" && f.backlog() >= int64(f.o.MaxBacklog) {
			now := f.o.Clock.Now()
			stalled := now.Sub(time.UnixMilli(f.progress.Load())) > 5*time.Second
			if !stalled {
				if f.waited.IsZero() {
					f.waited = now
				}
				return true, nil // the dispatcher is catching up
			}
			// No delivery has started for 5 s (no dispatcher here, or every row failing):
			// go on a batch at a time rather than hold the event back for good.
			f.progress.Store(now.UnixMilli())
		}
		f.waited = time.Time{}
		n, done, err := f.write(ctx, f.job, cs)
		if err != nil {
			return false, err
		}
		budget -= max(n, 1)
		if done {
			if err := f.o.Outbox.AdvanceJournal(ctx, SubscriberReader, f.job.seq); err != nil {
				return false, err
			}
			f.pos, f.job = f.job.seq, nil
		}
	}
	return true, nil
}

// write makes the rows of the job's next batch of subscribers, and reports how many subscribers
// it read and whether the job is done.
func (f *Fanout) write(ctx context.Context, job *fanJob, cs componentIndex) (int, bool, error) {
	now := f.o.Clock.Now().UTC()
	var subs []store.Subscriber
	if job.single != "" {
		sub, err := f.o.Store.GetSubscriber(ctx, job.single)
		if errors.Is(err, store.ErrNotFound) {
			return 1, true, nil // gone before its mail was written
		}
		if err != nil {
			return 0, false, err
		}
		subs = []store.Subscriber{sub}
	} else {
		page, err := f.o.Store.ListSubscribers(ctx, store.SubscriberQuery{State: store.SubscriberConfirmed, After: job.after, Limit: f.o.Batch})
		if err != nil {
			return 0, false, err
		}
		subs = page
	}
	var rows []store.Notification
	for _, sub := range subs {
		if job.single == "" && (!sub.Follows(job.comps...) && len(job.comps) > 0 || job.statuses && !sub.ComponentUpdates) {
			continue
		}
		ch := sub.Channel
		if job.purpose != purposeEvent || f.mail == nil && ch == store.SubscriberEmail {
			ch = store.SubscriberEmail // a subscriber's own mails go to its address, a webhook's contact too
		}
		if ch == store.SubscriberEmail && f.mail == nil {
			continue // no mail server: nothing to send by mail
		}
		shards := f.o.WebhookShards
		if ch == store.SubscriberEmail {
			shards = f.o.MailConnections
		}
		lang := f.cat.Localizer(sub.Language).Tag()
		payload, _ := json.Marshal(subscriberPayload{Kind: "subscriber", Subject: f.subject(job, lang), Purpose: job.purpose, Seq: job.seq,
			EventID: job.ev.ID, Subscriber: sub.ID})
		rows = append(rows, store.Notification{ID: key("sub", job.purpose, job.what, sub.ID), Target: SubscriberTarget(ch, shardOf(sub.ID, shards)),
			Channel: string(ch), Kind: string(job.ev.Kind), EventID: job.ev.ID, IncidentID: job.ev.IncidentID, ComponentID: job.ev.ComponentID,
			Payload: payload, State: store.NotificationPending, CreatedAt: now, NextAt: now, UpdatedAt: now, Version: 1})
	}
	if len(rows) > 0 {
		added, err := f.o.Outbox.Enqueue(ctx, rows)
		if err != nil {
			return 0, false, err
		}
		f.enqueued.Add(int64(added))
		f.o.Wake()
	}
	if len(subs) > 0 {
		job.after = subs[len(subs)-1].ID
	}
	return len(subs), job.single != "" || len(subs) < f.o.Batch, nil
}

// subject is a job's subject in a language, made once per language.
func (f *Fanout) subject(job *fanJob, lang string) string {
	if s, ok := job.subjects[lang]; ok {
		return s
	}
	l := f.cat.Localizer(lang)
	var s string
	switch job.purpose {
	case purposeConfirm:
		s = l.T("confirm.subject")
	case purposeRemind:
		s = l.T("remind.subject")
	case purposeSuspended:
		s = l.T("suspended.subject")
	default:
		s = f.view.cached(job.ev, l).Subject
	}
	s = l.T("mail.subject", "Title", f.o.Page.Title, "Subject", s)
	job.subjects[lang] = s
	return s
}

// plan decides what a journal entry owes subscribers: nil for nothing.
func (f *Fanout) plan(e store.JournalEntry, cs componentIndex) *fanJob {
	kind := events.Kind(e.Kind)
	job := &fanJob{seq: e.Seq, purpose: purposeEvent, subjects: map[string]string{}}
	switch kind {
	case events.SubscriberRequested, events.SubscriberReminded, events.SubscriberSuspended:
		var ev events.Event
		if err := json.Unmarshal(e.Body, &ev); err != nil || ev.SubscriberID == "" {
			return nil
		}
		job.ev, job.single, job.what = ev, ev.SubscriberID, ev.ID
		job.purpose = map[events.Kind]string{events.SubscriberRequested: purposeConfirm, events.SubscriberReminded: purposeRemind,
			events.SubscriberSuspended: purposeSuspended}[kind]
		return job
	case events.IncidentDeclared, events.IncidentUpdated, events.IncidentAcknowledged, events.IncidentResolved, events.IncidentReopened,
		events.MaintenanceScheduled, events.MaintenanceRescheduled, events.MaintenanceCancelled, events.MaintenanceReminder,
		events.MaintenanceStarted, events.MaintenanceEnded, events.ComponentStatus:
	default:
		return nil
	}
	ev, ok := f.view.event(e, cs)
	if !ok {
		return nil
	}
	job.ev = ev
	switch {
	case ev.Incident != nil:
		inc := ev.Incident
		job.what = inc.ID + "/" + inc.Updates[len(inc.Updates)-1].ID
		job.comps = cs.withGroups(inc.ComponentIDs())
	case ev.Window != nil:
		job.what = ev.ID
		job.comps = cs.withGroups(ev.Components)
	default: // a component's status
		job.what, job.statuses = ev.ID, true
		job.comps = cs.withGroups([]string{ev.ComponentID})
	}
	return job
}

// componentIndex is the components by id, for names, groups and what the public may see.
type componentIndex struct {
	byID   map[string]component.Component
	hidden map[string]bool
	at     time.Time
}

func (c componentIndex) name(id string) string {
	if comp, ok := c.byID[id]; ok && comp.Name != "" {
		return comp.Name
	}
	return id
}

// withGroups is ids with the groups they belong to (a subscriber of a group follows its
// components), each once; nil stays nil (the whole page).
func (c componentIndex) withGroups(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := slices.Clone(ids)
	for _, id := range ids {
		if g := c.byID[id].GroupID; g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// eventViews reads events from the journal as subscribers may see them, and the components.
type eventViews struct {
	store SubscriberStore
	page  Page
	clock clockwork.Clock

	notice time.Duration // the maintenance notice rule

	mu    sync.Mutex
	comps componentIndex
	seen  map[int64]events.Event // by seq: the events being sent, as subscribers see them
	order []int64
	msgs  map[string]rendered // by event id and language
}

func newEventViews(st SubscriberStore, page Page, clock clockwork.Clock) *eventViews {
	return &eventViews{store: st, page: page, clock: clock, seen: map[int64]events.Event{}}
}

// components returns the components, read at most every five seconds.
func (v *eventViews) components(ctx context.Context) (componentIndex, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.clock.Now()
	if v.comps.byID != nil && now.Sub(v.comps.at) < 5*time.Second {
		return v.comps, nil
	}
	cs, err := v.store.ListComponents(ctx)
	if err != nil {
		return componentIndex{}, err
	}
	idx := componentIndex{byID: make(map[string]component.Component, len(cs)), hidden: component.Hidden(cs), at: now}
	for _, c := range cs {
		idx.byID[c.ID] = c
	}
	v.comps = idx
	return idx, nil
}

// event decodes a journal entry as subscribers may see it, or reports that they see nothing
// of it: an incident or window only on internal components, a backfill, an incident change
// whose newest update is internal (an acknowledgement without words), a status change inside
// maintenance or from or to no data. What they see leaves out hidden components, internal
// updates, who made the change and a monitor's reasons.
func (v *eventViews) event(e store.JournalEntry, cs componentIndex) (events.Event, bool) {
	var ev events.Event
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		return ev, false
	}
	ev.Actor, ev.MonitorID = "", ""
	switch {
	case ev.Incident != nil:
		inc := ev.Incident
		if inc.Backfilled || inc.Internal(cs.hidden) || len(inc.Updates) == 0 || !inc.Updates[len(inc.Updates)-1].Public() {
			return ev, false
		}
		pub := inc.Public(cs.hidden)
		pub.Updates = slices.DeleteFunc(slices.Clone(pub.Updates), func(u incidents.Update) bool { return !u.Public() })
		for i := range pub.Updates {
			pub.Updates[i].Author = ""
		}
		pub.Clocks, pub.Alerts, pub.MonitorID, pub.Policy = nil, nil, "", ""
		ev.Incident, ev.Reason = &pub, ""
	case ev.Window != nil:
		w := ev.Window
		_ = w.PrepareStored()
		if w.Internal(cs.hidden) {
			return ev, false
		}
		if len(ev.Components) == 0 {
			ev.Components = w.Components
		}
		ev.Components = slices.DeleteFunc(slices.Clone(ev.Components), func(id string) bool { return cs.hidden[id] })
	case ev.Kind == events.ComponentStatus:
		if ev.ComponentID == "" || cs.hidden[ev.ComponentID] || ev.UnderMaintenance || ev.From == "" || ev.To == "" ||
			ev.From == string(component.Unknown) || ev.To == string(component.Unknown) || ev.From == ev.To {
			return ev, false
		}
		ev.Reason = ""
	default:
		return ev, false
	}
	return ev, true
}

// load reads the event at seq from the journal as subscribers see it (kept for the next rows).
func (v *eventViews) load(ctx context.Context, seq int64, id string) (events.Event, error) {
	v.mu.Lock()
	ev, ok := v.seen[seq]
	v.mu.Unlock()
	if ok {
		return ev, nil
	}
	es, err := v.store.ReadJournal(ctx, seq-1, 1)
	if err != nil {
		return ev, err
	}
	if len(es) == 0 || es[0].Seq != seq || es[0].ID != id {
		return ev, &Permanent{Err: fmt.Errorf("event %s is no longer in the journal (pruned)", id)}
	}
	cs, err := v.components(ctx)
	if err != nil {
		return ev, err
	}
	ev, ok = v.event(es[0], cs)
	if !ok && !events.Kind(es[0].Kind).AboutSubscriber() {
		return ev, &Cancel{Reason: "the event is not public"}
	}
	if !ok {
		if err := json.Unmarshal(es[0].Body, &ev); err != nil {
			return ev, &Permanent{Err: err}
		}
	}
	v.mu.Lock()
	if _, dup := v.seen[seq]; !dup {
		v.seen[seq] = ev
		v.order = append(v.order, seq)
		if len(v.order) > 64 {
			delete(v.seen, v.order[0])
			v.order = v.order[1:]
		}
	}
	v.mu.Unlock()
	return ev, nil
}

// Wake tells the notifier there are new rows to claim (the fan-out calls it after each batch).
func (n *Notifier) Wake() {
	select {
	case n.Dispatcher.wake <- struct{}{}:
	default:
	}
}
