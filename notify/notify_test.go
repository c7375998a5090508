package notify_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// rig is a notifier on a real SQLite store, with the service writing what the notifier reads,
// on a fake clock.
type rig struct {
	st    *sqlite.Store
	svc   *service.Service
	clock *clockwork.FakeClock
	n     *notify.Notifier
	reg   *prometheus.Registry
	cfg   *configs.Config
}

func policies(t *testing.T) *configs.Config {
	t.Helper()
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newRig(t *testing.T, at time.Time, targets []notify.Target, rules notify.Rules) *rig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return rigOn(t, st, at, targets, rules, "a")
}

func rigOn(t *testing.T, st *sqlite.Store, at time.Time, targets []notify.Target, rules notify.Rules, instance string) *rig {
	t.Helper()
	cfg := policies(t)
	clock := clockwork.NewFakeClockAt(at)
	chans, err := notify.NewChannels(notify.ChannelOptions{Targets: targets, Page: page, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: st, Clock: clock, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy, Targets: chans})
	if rules.Policies == nil {
		rules.Policies = cfg.SLAPolicies()
	}
	reg := prometheus.NewPedanticRegistry()
	n, err := notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Rules: rules, Page: page, Clock: clock, Registry: reg,
		Instance: instance, Retry: notify.Retry{Min: 10 * time.Second, Max: time.Hour, DeadAfter: time.Hour, Jitter: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Components.Sync(t.Context(), []component.Component{{ID: "api", Name: "API"}, {ID: "web", Name: "Website"}}); err != nil {
		t.Fatal(err)
	}
	return &rig{st: st, svc: svc, clock: clock, n: n, reg: reg, cfg: cfg}
}

// route runs the router over the journal.
func (r *rig) route(t *testing.T) int {
	t.Helper()
	n, err := r.n.Router.Step(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tick runs the router's look at open incidents.
func (r *rig) tick(t *testing.T) int {
	t.Helper()
	n, err := r.n.Router.Tick(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// deliver claims and delivers everything due now, until nothing is.
func (r *rig) deliver(t *testing.T) {
	t.Helper()
	for range 100 {
		n, err := r.n.Dispatcher.Pump(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.n.Dispatcher.Wait()
		if n == 0 {
			return
		}
	}
	t.Fatal("the dispatcher never ran dry")
}

func (r *rig) outbox(t *testing.T, q store.NotificationQuery) []store.Notification {
	t.Helper()
	ns, err := r.st.ListNotifications(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func (r *rig) count(channel, result string) float64 {
	return testutil.ToFloat64(mustCounter(r.reg, channel, result))
}

func mustCounter(reg *prometheus.Registry, channel, result string) prometheus.Collector {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "upstate_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == channel && labels["result"] == result {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
}

func declare(t *testing.T, r *rig, sev incidents.Severity, title string) incidents.Incident {
	t.Helper()
	inc, err := r.svc.Incidents.Declare(t.Context(), service.Actor{Name: "ops"}, incidents.Declaration{Title: title, Body: "Investigating.", Severity: sev,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// TestWebhookRetriedWithBackoffUntilDelivered: a receiver that fails the first two attempts
// gets the third, each with the same idempotency key, at the backoff's times; the counters
// say so.
func TestWebhookRetriedWithBackoffUntilDelivered(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "whsec", FailFirst: 2})
	r := newRig(t, t0, []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL, Secret: "whsec"}},
		notify.Rules{Routes: []notify.Route{{Name: "incidents", Kinds: []string{"incident.declared"}, Targets: []string{"ops"}}}})
	recv.Now = r.clock.Now
	declare(t, r, incidents.P1, "Errors on the API")
	if n := r.route(t); n != 1 {
		t.Fatalf("routed %d notifications, want 1", n)
	}
	if n := r.route(t); n != 0 {
		t.Fatalf("routing again made %d more", n)
	}
	r.deliver(t)
	ns := r.outbox(t, store.NotificationQuery{})
	if len(ns) != 1 || ns[0].State != store.NotificationPending || ns[0].Attempts != 1 || !ns[0].NextAt.Equal(t0.Add(7500*time.Millisecond)) ||
		!strings.Contains(ns[0].LastError, "503") {
		t.Fatalf("after a failed attempt: %+v (want pending, attempt 1, next try 5s + half of the other 5s, the 503 kept)", ns[0])
	}
	r.clock.Advance(7499 * time.Millisecond)
	r.deliver(t)
	if got := len(recv.Log()); got != 1 {
		t.Fatalf("tried again before the backoff ran out: %d requests", got)
	}
	r.clock.Advance(time.Millisecond)
	r.deliver(t) // the second attempt fails too: backoff doubles (20 s: 10 s + 5 s)
	ns = r.outbox(t, store.NotificationQuery{})
	if ns[0].Attempts != 2 || !ns[0].NextAt.Equal(t0.Add(7500*time.Millisecond+15*time.Second)) {
		t.Fatalf("after the second failure: %+v", ns[0])
	}
	r.clock.Advance(15 * time.Second)
	r.deliver(t)
	ns = r.outbox(t, store.NotificationQuery{})
	if ns[0].State != store.NotificationDelivered || ns[0].Attempts != 3 || !ns[0].DeliveredAt.Equal(r.clock.Now()) || ns[0].LastError != "" {
		t.Fatalf("after the third attempt: %+v", ns[0])
	}
	log := recv.Log()
	if len(log) != 3 {
		t.Fatalf("%d requests, want 3", len(log))
	}
	for i, d := range log {
		if d.Key != ns[0].ID || d.Attempt != i+1 {
			t.Errorf("request %d: key %s attempt %d; want key %s attempt %d", i, d.Key, d.Attempt, ns[0].ID, i+1)
		}
	}
	if p := log[2].Decode(t); p.Incident == nil || p.Incident.Name != "Errors on the API" || p.Upstate.Attempt != 3 {
		t.Errorf("delivered payload %+v", p)
	}
	if got := r.count("webhook", "failed"); got != 2 {
		t.Errorf("upstate_notifications_total{webhook,failed} = %v, want 2", got)
	}
	if got := r.count("webhook", "delivered"); got != 1 {
		t.Errorf("upstate_notifications_total{webhook,delivered} = %v, want 1", got)
	}
	r.n.Stats(t.Context())
	if got, _ := testutil.GatherAndCount(r.reg, "upstate_notifications_waiting"); got != 1 {
		t.Errorf("waiting gauge series = %d", got)
	}
}

// TestDeadLetterAndOperatorsRetry: a notification that keeps failing is dead once its next try
// would fall past dead_after; an operator's retry sends it once more.
func TestDeadLetterAndOperatorsRetry(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 2})
	r := newRig(t, t0, []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}},
		notify.Rules{Routes: []notify.Route{{Kinds: []string{"incident.declared"}, Targets: []string{"ops"}}}})
	r.reg = prometheus.NewPedanticRegistry()
	r.n, _ = notify.New(notify.Options{Store: r.st, Door: r.svc.Notifications, Channels: mustChannels(t, r, recv.URL), Rules: notify.Rules{
		Routes: []notify.Route{{Kinds: []string{"incident.declared"}, Targets: []string{"ops"}}}}, Page: page, Clock: r.clock, Registry: r.reg,
		Retry: notify.Retry{Min: 10 * time.Second, Max: time.Hour, DeadAfter: 20 * time.Second, Jitter: func() float64 { return 0.5 }}})
	declare(t, r, incidents.P2, "Slow pages")
	r.route(t)
	r.deliver(t)
	r.clock.Advance(7500 * time.Millisecond)
	r.deliver(t) // fails; the next try (+15 s) would be past 20 s from creation
	ns := r.outbox(t, store.NotificationQuery{})
	if ns[0].State != store.NotificationDead || ns[0].Attempts != 2 {
		t.Fatalf("after two failures: %+v, want dead", ns[0])
	}
	if got := r.count("webhook", "dead"); got != 1 {
		t.Errorf("dead counter %v", got)
	}
	r.clock.Advance(time.Hour)
	r.deliver(t)
	if len(recv.Log()) != 2 {
		t.Fatalf("a dead notification was tried again: %d requests", len(recv.Log()))
	}
	if _, err := r.svc.Notifications.Retry(t.Context(), service.Actor{Name: "ops"}, ns[0].ID); err != nil {
		t.Fatal(err)
	}
	r.deliver(t)
	ns = r.outbox(t, store.NotificationQuery{})
	if ns[0].State != store.NotificationDelivered || ns[0].Attempts != 3 || len(recv.Accepted()) != 1 {
		t.Fatalf("after the operator's retry: %+v", ns[0])
	}
}

func mustChannels(t *testing.T, r *rig, url string) *notify.Channels {
	c, err := notify.NewChannels(notify.ChannelOptions{Targets: []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: url}}, Page: page, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGroupingTenMonitorsOfOneComponent: ten monitors of one component going down within the
// group's wait send one message; the journal cursor waits behind the gathering group.
func TestGroupingTenMonitorsOfOneComponent(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	r := newRig(t, t0, []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}},
		notify.Rules{Routes: []notify.Route{{Name: "down", Kinds: []string{"monitor.down"}, Targets: []string{"ops"}, GroupBy: []string{"component"}, GroupWait: 30 * time.Second}}})
	ctx := t.Context()
	for i := range 10 {
		tr := probe.Transition{MonitorID: fmt.Sprintf("api-%d", i), At: t0.Add(time.Duration(i) * time.Second), From: probe.StateUp, To: probe.StateDown, Reason: "connect: refused"}
		if err := r.svc.Monitors.RecordTransition(ctx, tr, "api", false); err != nil {
			t.Fatal(err)
		}
	}
	tr := probe.Transition{MonitorID: "web-home", At: t0.Add(5 * time.Second), From: probe.StateUp, To: probe.StateDown, Reason: "HTTP 502"}
	if err := r.svc.Monitors.RecordTransition(ctx, tr, "web", false); err != nil {
		t.Fatal(err)
	}
	// A transition inside maintenance pages no one.
	if err := r.svc.Monitors.RecordTransition(ctx, probe.Transition{MonitorID: "api-x", At: t0, To: probe.StateDown}, "api", true); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(10 * time.Second)
	if n := r.route(t); n != 0 {
		t.Fatalf("routed %d before the groups' wait is over", n)
	}
	if seq, _ := r.st.JournalCursor(ctx, notify.JournalReader); seq != 0 {
		t.Errorf("cursor %d moved past events still gathering", seq)
	}
	r.clock.Advance(20 * time.Second) // t0+30s: the API group is due, the web group at t0+35s
	if n := r.route(t); n != 1 {
		t.Fatalf("routed %d at the API group's deadline, want 1", n)
	}
	r.clock.Advance(5 * time.Second)
	if n := r.route(t); n != 1 {
		t.Fatalf("routed %d at the web group's deadline, want 1", n)
	}
	if seq, _ := r.st.JournalCursor(ctx, notify.JournalReader); seq != 12 {
		t.Errorf("cursor %d, want 12 (every entry handled)", seq)
	}
	r.deliver(t)
	got := recv.Accepted()
	if len(got) != 2 {
		t.Fatalf("%d messages, want 2", len(got))
	}
	api, web := got[0].Decode(t), got[1].Decode(t)
	if len(api.Upstate.Events) < len(web.Upstate.Events) { // delivered at once, in either order
		api, web = web, api
	}
	if len(api.Upstate.Events) != 10 || api.Upstate.Subject != "[DOWN] 10 monitors are down on API" {
		t.Errorf("the API group: %d events, subject %q", len(api.Upstate.Events), api.Upstate.Subject)
	}
	if len(web.Upstate.Events) != 1 || !strings.Contains(web.Upstate.Text, "HTTP 502") || !strings.Contains(web.Upstate.Text, "back-dated") {
		t.Errorf("the web group: %+v", web.Upstate)
	}
}

// TestRouterRestartMakesNoDuplicates: a router that starts again from the stored cursor, with
// groups it had gathered lost, makes every notification once.
func TestRouterRestartMakesNoDuplicates(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	targets := []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}}
	rules := notify.Rules{Routes: []notify.Route{
		{Name: "all", Kinds: []string{"incident.declared", "incident.resolved"}, Targets: []string{"ops"}},
		{Name: "down", Kinds: []string{"monitor.down"}, Targets: []string{"ops"}, GroupBy: []string{"component"}, GroupWait: time.Minute},
	}}
	r := newRig(t, t0, targets, rules)
	inc := declare(t, r, incidents.P1, "One")
	if err := r.svc.Monitors.RecordTransition(t.Context(), probe.Transition{MonitorID: "m", At: t0, From: probe.StateUp, To: probe.StateDown}, "api", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Incidents.Resolve(t.Context(), service.Actor{Name: "ops"}, inc.ID, "Fixed."); err != nil {
		t.Fatal(err)
	}
	if n := r.route(t); n != 2 {
		t.Fatalf("routed %d, want 2 (the group still gathers)", n)
	}
	// The process dies: a new router on the same store starts at the stored cursor.
	again := rigOn(t, r.st, t0, targets, rules, "b")
	again.clock.Advance(time.Minute)
	if n := again.route(t); n != 1 {
		t.Fatalf("the new router made %d new rows, want 1 (the group; the two sent before are kept once)", n)
	}
	if ns := r.outbox(t, store.NotificationQuery{}); len(ns) != 3 {
		t.Errorf("%d rows in the outbox, want 3", len(ns))
	}
}

// escalationRules: the seeds' jenny policy, with the escalation configs/policies ships.
func escalationRules(cfg *configs.Config) notify.Rules {
	return notify.Rules{Policies: cfg.SLAPolicies(), Escalations: notify.Escalations{"jenny": {
		incidents.P0: {Steps: []notify.Step{{After: 0, Targets: []string{"oncall"}}, {After: 10 * time.Minute, Targets: []string{"secondary"}}}},
		incidents.P1: {Steps: []notify.Step{{After: 0, Targets: []string{"oncall"}}, {After: 30 * time.Minute, Targets: []string{"secondary"}}}, Repeat: time.Hour},
	}}}
}

func at(local string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", local, shanghai())
	if err != nil {
		panic(err)
	}
	return t
}

// TestEscalationAcrossTheNight walks a 7x12 night (08:00-20:00 Asia/Shanghai) on a fake clock: a
// P1 opened at 19:50 pages its first step at once, has 10 working minutes by 20:00, pages no one
// at night, and reaches its second step at 08:20; a P0 opened at 03:00 pages at once and
// escalates at 03:10. The acknowledgement stops the P1's repeats and tells the paged targets;
// the resolution resolves their pages (PagerDuty: trigger, acknowledge, resolve).
func TestEscalationAcrossTheNight(t *testing.T) {
	oncall := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	pd := notifytest.StartPagerDuty(t)
	targets := []notify.Target{{ID: "oncall", Kind: notify.KindWebhook, URL: oncall.URL}, {ID: "secondary", Kind: notify.KindPagerDuty, URL: pd.URL, RoutingKey: "key"}}
	r := newRig(t, at("2026-11-20 19:50"), targets, notify.Rules{})
	r.n, _ = notify.New(notify.Options{Store: r.st, Door: r.svc.Notifications, Channels: mustTargets(t, r, targets), Rules: escalationRules(r.cfg), Page: page, Clock: r.clock})
	p1 := declare(t, r, incidents.P1, "Reports fail")
	paged := func() []string {
		var out []string
		for _, n := range r.outbox(t, store.NotificationQuery{Target: "", States: nil}) {
			if n.Kind == "escalation" {
				msg := n.IncidentID[:4] + "/" + n.Target
				if !slices.Contains(out, msg) {
					out = append(out, msg)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	r.tick(t)
	r.deliver(t)
	if got := len(oncall.Accepted()); got != 1 {
		t.Fatalf("19:50, P1 opened: oncall got %d pages, want 1 (the first step pages at once)", got)
	}
	if p := oncall.Accepted()[0].Decode(t); p.Upstate.Step != 1 || p.Upstate.Action != "trigger" || p.Incident == nil || p.Incident.ID != p1.ID {
		t.Errorf("first page %+v", p.Upstate)
	}
	// Through the night, every ten minutes: nothing more for the P1.
	for r.clock.Now().Before(at("2026-11-21 03:00")) {
		r.clock.Advance(10 * time.Minute)
		if n := r.tick(t); n != 0 {
			t.Fatalf("%s: %d pages at night for a 7x12 P1", r.clock.Now().In(shanghai()).Format("15:04"), n)
		}
	}
	// 03:00: a P0 pages at once, its first response being around the clock.
	p0 := declare(t, r, incidents.P0, "Database down")
	if n := r.tick(t); n != 1 {
		t.Fatalf("03:00, P0 opened: %d pages, want 1", n)
	}
	r.clock.Advance(10*time.Minute - time.Second)
	if n := r.tick(t); n != 0 {
		t.Fatalf("03:09:59: %d pages, want none yet", n)
	}
	r.clock.Advance(time.Second)
	if n := r.tick(t); n != 1 {
		t.Fatalf("03:10: %d pages, want the P0's second step", n)
	}
	r.deliver(t)
	if _, err := r.svc.Incidents.Resolve(t.Context(), service.Actor{Name: "ops"}, p0.ID, "Restarted."); err != nil {
		t.Fatal(err)
	}
	r.route(t)
	r.deliver(t)
	for r.clock.Now().Add(10 * time.Minute).Before(at("2026-11-21 08:20")) {
		r.clock.Advance(10 * time.Minute)
		if n := r.tick(t); n != 0 {
			t.Fatalf("%s: %d pages, want none before 08:20", r.clock.Now().In(shanghai()).Format("15:04"), n)
		}
	}
	setClock(r.clock, at("2026-11-21 08:19").Add(59*time.Second))
	if n := r.tick(t); n != 0 {
		t.Fatalf("08:19:59: %d pages", n)
	}
	setClock(r.clock, at("2026-11-21 08:20"))
	if n := r.tick(t); n != 1 {
		t.Fatalf("08:20: %d pages, want the P1's second step (30 working minutes: 10 before 20:00, 20 after 08:00)", n)
	}
	r.deliver(t)
	if want := []string{p0.ID[:4] + "/oncall", p0.ID[:4] + "/secondary", p1.ID[:4] + "/oncall", p1.ID[:4] + "/secondary"}; !slices.Equal(paged(), want) && p0.ID[:4] == p1.ID[:4] {
		// Both ids start inc-: compare the counts instead.
		if got := len(r.outbox(t, store.NotificationQuery{IncidentID: p1.ID})); got != 2 {
			t.Errorf("the P1 paged %d times, want 2", got)
		}
	}
	// The acknowledgement: no repeat at 09:20, and the paged targets are told.
	setClock(r.clock, at("2026-11-21 08:30"))
	if _, err := r.svc.Incidents.Acknowledge(t.Context(), service.Actor{Name: "alice"}, p1.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.route(t)
	r.deliver(t)
	setClock(r.clock, at("2026-11-21 09:30"))
	if n := r.tick(t); n != 0 {
		t.Fatalf("09:30 after the acknowledgement: %d pages", n)
	}
	setClock(r.clock, at("2026-11-21 10:00"))
	if _, err := r.svc.Incidents.Resolve(t.Context(), service.Actor{Name: "alice"}, p1.ID, "Fixed."); err != nil {
		t.Fatal(err)
	}
	r.route(t)
	r.deliver(t)
	var actions []string
	for _, ev := range pd.Events() {
		actions = append(actions, ev.EventAction+" "+strings.SplitN(ev.DedupKey, "-", 2)[0])
	}
	// The P0's page at 03:10, resolved when the P0 was (it was paged before), then the P1's
	// page at 08:20, its acknowledgement and its resolution.
	want := []string{"trigger incident/inc", "resolve incident/inc", "trigger incident/inc", "acknowledge incident/inc", "resolve incident/inc"}
	if !slices.Equal(actions, want) {
		t.Errorf("PagerDuty received %v, want %v", actions, want)
	}
	if evs := pd.Events(); len(evs) == 5 && (evs[2].DedupKey != "incident/"+p1.ID || evs[4].DedupKey != "incident/"+p1.ID || evs[0].DedupKey != "incident/"+p0.ID) {
		t.Errorf("dedup keys %v", evs)
	}
	var oncallKinds []string
	for _, d := range oncall.Accepted() {
		p := d.Decode(t)
		oncallKinds = append(oncallKinds, p.Upstate.Kind+"/"+p.Upstate.Action)
	}
	if want := []string{"escalation/trigger", "escalation/trigger", "incident.resolved/resolve", "incident.acknowledged/acknowledge", "incident.resolved/resolve"}; !slices.Equal(oncallKinds, want) {
		t.Errorf("oncall received %v, want %v", oncallKinds, want)
	}
}

func setClock(c *clockwork.FakeClock, t time.Time) { c.Advance(t.Sub(c.Now())) }

func mustTargets(t *testing.T, r *rig, targets []notify.Target) *notify.Channels {
	c, err := notify.NewChannels(notify.ChannelOptions{Targets: targets, Page: page, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRepeatWhileUnacknowledged: a route's repeat re-sends an open, unacknowledged incident,
// and stops at the acknowledgement.
func TestRepeatWhileUnacknowledged(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	r := newRig(t, t0, []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}},
		notify.Rules{Routes: []notify.Route{{Name: "p1", Kinds: []string{"incident.declared"}, Severities: []string{"P1"}, Targets: []string{"ops"}, Repeat: 30 * time.Minute}}})
	inc := declare(t, r, incidents.P1, "Errors")
	r.route(t)
	r.tick(t)
	r.clock.Advance(29 * time.Minute)
	if n := r.tick(t); n != 0 {
		t.Fatalf("repeated after 29m: %d", n)
	}
	r.clock.Advance(time.Minute)
	if n := r.tick(t); n != 1 {
		t.Fatalf("after 30m: %d repeats, want 1", n)
	}
	if n := r.tick(t); n != 0 {
		t.Fatalf("the same repeat twice: %d", n)
	}
	r.deliver(t)
	if _, err := r.svc.Incidents.Acknowledge(t.Context(), service.Actor{Name: "ops"}, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Hour)
	if n := r.tick(t); n != 0 {
		t.Fatalf("repeated after the acknowledgement: %d", n)
	}
	var kinds []string
	for _, d := range recv.Accepted() {
		p := d.Decode(t)
		kinds = append(kinds, fmt.Sprintf("%s %d", p.Upstate.Kind, p.Upstate.Repeat))
	}
	slices.Sort(kinds)
	if want := []string{"incident.declared 0", "repeat 1"}; !slices.Equal(kinds, want) {
		t.Fatalf("received %v, want %v", kinds, want)
	}
}

// TestResolveNeverOvertakesItsTrigger: while a page's trigger is still being retried, its
// resolution waits, so a receiver never sees the resolve first.
func TestResolveNeverOvertakesItsTrigger(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 1})
	r := newRig(t, t0, []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}},
		notify.Rules{Routes: []notify.Route{{Kinds: []string{"incident.declared", "incident.resolved"}, Targets: []string{"ops"}}}})
	inc := declare(t, r, incidents.P1, "Errors")
	r.route(t)
	r.deliver(t) // the trigger fails once
	if _, err := r.svc.Incidents.Resolve(t.Context(), service.Actor{Name: "ops"}, inc.ID, "Fixed."); err != nil {
		t.Fatal(err)
	}
	r.route(t)
	r.deliver(t)
	if len(recv.Log()) != 1 {
		t.Fatalf("the resolution went out while its trigger waits to be retried: %d requests", len(recv.Log()))
	}
	for range 10 {
		r.clock.Advance(5 * time.Second)
		r.deliver(t)
	}
	var order []string
	for _, d := range recv.Log() {
		order = append(order, d.Decode(t).Upstate.Action+fmt.Sprint(d.Status))
	}
	// The receiver fails each key's first attempt, the resolution's too: what matters is that
	// the resolution reaches it only after the trigger was accepted.
	if want := []string{"trigger503", "trigger200", "resolve503", "resolve200"}; !slices.Equal(order, want) {
		t.Errorf("the receiver saw %v, want %v", order, want)
	}
}

// TestObsoleteEscalationIsCancelled: a page still being retried when the incident is
// acknowledged is not sent.
func TestObsoleteEscalationIsCancelled(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 1})
	cfg := policies(t)
	rules := escalationRules(cfg)
	r := newRig(t, at("2026-11-20 10:00"), []notify.Target{{ID: "oncall", Kind: notify.KindWebhook, URL: recv.URL}, {ID: "secondary", Kind: notify.KindWebhook, URL: recv.URL}}, rules)
	inc := declare(t, r, incidents.P1, "Errors")
	r.tick(t)
	r.deliver(t)
	if _, err := r.svc.Incidents.Acknowledge(t.Context(), service.Actor{Name: "ops"}, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(time.Minute)
	r.deliver(t)
	ns := r.outbox(t, store.NotificationQuery{IncidentID: inc.ID})
	if len(ns) != 1 || ns[0].State != store.NotificationCancelled || len(recv.Log()) != 1 {
		t.Fatalf("after the acknowledgement: %+v, %d requests", ns, len(recv.Log()))
	}
}

// TestSLAWarningsAtFractions: sla.warning at 50 % and 80 % of the first-response target.
func TestSLAWarningsAtFractions(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	r := newRig(t, at("2026-11-20 10:00"), []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}},
		notify.Rules{SLAWarnings: []float64{0.5, 0.8}, Routes: []notify.Route{{Kinds: []string{"sla.warning"}, Targets: []string{"ops"}}}})
	// An incident a monitor opens (declaring one is its first response): jenny's P0 must be
	// answered within 30 min, around the clock.
	if _, _, err := r.svc.Incidents.OpenAutomatic(t.Context(), service.Outage{ComponentID: "api", MonitorID: "api-health", Severity: incidents.P0,
		Since: r.clock.Now(), Reason: "refused"}); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(14 * time.Minute)
	if n := r.tick(t); n != 0 {
		t.Fatalf("at 14 min: %d warnings", n)
	}
	r.clock.Advance(time.Minute)
	if n := r.tick(t); n != 1 {
		t.Fatalf("at 15 min: %d warnings, want first response at 50%%", n)
	}
	r.clock.Advance(9 * time.Minute)
	if n := r.tick(t); n != 1 {
		t.Fatalf("at 24 min: %d warnings, want first response at 80%%", n)
	}
	r.deliver(t)
	texts := ""
	for _, d := range recv.Accepted() {
		texts += d.Decode(t).Upstate.Text + "\n"
	}
	if !strings.Contains(texts, "used 50% of its 30m0s target") || !strings.Contains(texts, "used 80% of its 30m0s target") {
		t.Errorf("warnings:\n%s", texts)
	}
}

// TestOneDispatcherAtATime: two notifiers on one store; the lease lets one dispatch, and the
// other takes over once the first stops renewing.
func TestOneDispatcherAtATime(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	targets := []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.URL}}
	a := newRig(t, t0, targets, notify.Rules{})
	b := rigOn(t, a.st, t0, targets, notify.Rules{}, "b")
	ctx := t.Context()
	if err := a.n.IsLeader(ctx); err != nil {
		t.Fatalf("a: %v", err)
	}
	if err := b.n.IsLeader(ctx); !errors.Is(err, notify.ErrNotLeader) {
		t.Fatalf("b while a leads: %v, want ErrNotLeader", err)
	}
	a.clock.Advance(10 * time.Second) // a renews (a third of 15 s has passed)
	if err := a.n.IsLeader(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(20 * time.Second) // 10 s after a's renewal: still a's
	if err := b.n.IsLeader(ctx); !errors.Is(err, notify.ErrNotLeader) {
		t.Fatalf("b before a's renewed lease ran out: %v", err)
	}
	b.clock.Advance(5 * time.Second) // a stopped renewing; its lease ran out at 25 s
	if err := b.n.IsLeader(ctx); err != nil {
		t.Fatalf("b after a's lease ran out: %v", err)
	}
}

var _ = events.MonitorState
var _ context.Context

// TestRouteKindsMatchTheConfig: the kinds a config's route may name are those the router knows.
func TestRouteKindsMatchTheConfig(t *testing.T) {
	if !slices.Equal(notify.RouteKinds, configs.RouteKinds) {
		t.Errorf("notify.RouteKinds %v\nconfigs.RouteKinds %v", notify.RouteKinds, configs.RouteKinds)
	}
	if !slices.Equal(notify.GroupFields, []string{"component", "kind", "severity", "monitor", "incident"}) {
		t.Errorf("group fields %v", notify.GroupFields)
	}
}

// TestTeamHearsTheAutomaticIncidentsDetail: an automatic incident's public text names the
// component only; the monitor and the probe's reason are an internal update. The team's
// messages (a route's webhook, an escalation's PagerDuty page) carry both, while the
// Statuspage-shaped incident in the webhook keeps to the public update.
func TestTeamHearsTheAutomaticIncidentsDetail(t *testing.T) {
	ops := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	pd := notifytest.StartPagerDuty(t)
	targets := []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: ops.URL}, {ID: "oncall", Kind: notify.KindPagerDuty, URL: pd.URL, RoutingKey: "key"}}
	r := newRig(t, at("2026-11-20 10:00"), targets, notify.Rules{})
	rules := escalationRules(r.cfg)
	rules.Routes = []notify.Route{{Name: "incidents", Kinds: []string{"incident.declared"}, Targets: []string{"ops"}}}
	r.n, _ = notify.New(notify.Options{Store: r.st, Door: r.svc.Notifications, Channels: mustTargets(t, r, targets), Rules: rules, Page: page, Clock: r.clock})
	if _, _, err := r.svc.Incidents.OpenAutomatic(t.Context(), service.Outage{ComponentID: "api", Name: "API", MonitorID: "api-health", Severity: incidents.P0,
		Since: r.clock.Now(), Reason: "connect: dial tcp 10.0.0.7:443: connect: connection refused"}); err != nil {
		t.Fatal(err)
	}
	r.route(t)
	r.tick(t)
	r.deliver(t)
	const detail, public = "Automatic: monitor api-health failed (connect: dial tcp 10.0.0.7:443: connect: connection refused).", "API is not responding as expected. We are investigating."
	got := ops.Accepted()
	if len(got) != 1 {
		t.Fatalf("ops received %d deliveries, want the declaration", len(got))
	}
	p := got[0].Decode(t)
	if !strings.Contains(p.Upstate.Text, detail) || !strings.Contains(p.Upstate.Text, public) {
		t.Errorf("the team's text: %q", p.Upstate.Text)
	}
	if p.Incident == nil || len(p.Incident.IncidentUpdates) != 1 || p.Incident.IncidentUpdates[0]["body"] != public {
		t.Errorf("the payload's incident: %+v", p.Incident)
	}
	evs := pd.Events()
	if len(evs) != 1 || evs[0].Payload == nil || !strings.Contains(fmt.Sprint(evs[0].Payload.CustomDetails["text"]), detail) {
		t.Errorf("the page: %+v", evs)
	}
}
