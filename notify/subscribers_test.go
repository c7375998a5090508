package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// subRig is a notifier with the subscriber fan-out on a real SQLite store, a real SMTP server
// on loopback, on a fake clock; the test drives the fan-out and the dispatcher step by step.
type subRig struct {
	st    *sqlite.Store
	svc   *service.Service
	clock *clockwork.FakeClock
	n     *notify.Notifier
	f     *notify.Fanout
	smtp  *notifytest.SMTPServer
	reg   *prometheus.Registry
}

var subT0 = time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC) // 14:00 in Shanghai

func newSubRig(t *testing.T, so service.SubscriberOptions, fo notify.SubscriberOptions) *subRig {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(subT0)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	smtp := notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", From: "Example Status <status@example.com>", Timeout: 10 * time.Second}
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: clock, SMTP: smtp})
	if err != nil {
		t.Fatal(err)
	}
	so.Languages = []string{"en", "zh-Hans"}
	svc := service.New(service.Options{Store: st, Clock: clock, Subscribers: so})
	reg := prometheus.NewPedanticRegistry()
	n, err := notify.New(notify.Options{Store: st, Door: svc.Notifications, Channels: chans, Page: page, Clock: clock, Registry: reg,
		Retry: notify.Retry{Min: 10 * time.Second, Max: time.Hour, DeadAfter: 48 * time.Hour, Jitter: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	fo.Store, fo.Door, fo.Outbox, fo.Page, fo.SMTP, fo.Clock, fo.Registry = st, svc.Subscribers, svc.Notifications, page, smtp, clock, reg
	fo.NoticePeriod, fo.DefaultLanguage = 24*time.Hour, "en"
	f, err := notify.EnableSubscribers(chans, fo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	err = svc.Components.Sync(t.Context(), []component.Component{{ID: "core", Name: "Core", IsGroup: true},
		{ID: "api", Name: "API", GroupID: "core"}, {ID: "db", Name: "Database"}})
	if err != nil {
		t.Fatal(err)
	}
	return &subRig{st: st, svc: svc, clock: clock, n: n, f: f, smtp: srv, reg: reg}
}

// fan runs the fan-out until it has nothing more to write.
func (r *subRig) fan(t *testing.T) {
	t.Helper()
	for range 1000 {
		more, err := r.f.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			return
		}
	}
	t.Fatal("the fan-out never finished")
}

// deliver claims and delivers everything due now, until nothing is.
func (r *subRig) deliver(t *testing.T) {
	t.Helper()
	for range 1000 {
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

// mails returns the mails received since the last call, parsed.
func (r *subRig) mails(t *testing.T, seen *int) []notifytest.Parsed {
	t.Helper()
	all := r.smtp.Mail()
	var out []notifytest.Parsed
	for _, m := range all[*seen:] {
		out = append(out, notifytest.Parse(t, m))
	}
	*seen = len(all)
	return out
}

func recipients(ms []notifytest.Parsed) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.To...)
	}
	slices.Sort(out)
	return out
}

func (r *subRig) add(t *testing.T, req service.SubscribeRequest) store.Subscriber {
	t.Helper()
	sub, err := r.svc.Subscribers.Add(t.Context(), service.Actor{Name: "ops"}, req, true)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestSubscribersReceiveWhatTheyFollow: a pending subscriber gets its confirmation and nothing
// else; confirmed ones get each public incident event of the components they follow, by mail in
// their language (with the page's title, times in the page's zone and UTC, the update's
// Markdown sanitised, a link to the incident, the one-click unsubscribe headers) or by a signed
// webhook in Statuspage's shape; an acknowledgement without words sends nothing; a row written
// before its subscriber left is cancelled, not sent.
func TestSubscribersReceiveWhatTheyFollow(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true}, notify.SubscriberOptions{AllowPrivateWebhooks: true})
	ctx := t.Context()
	hook := startRecorder(t)
	ada := r.add(t, service.SubscribeRequest{Address: "ada@example.com"})
	r.add(t, service.SubscribeRequest{Address: "bob@example.com", Components: []string{"db"}, Language: "zh-Hans"})
	r.add(t, service.SubscribeRequest{Address: "cy@example.com", Components: []string{"core"}})
	wh := r.add(t, service.SubscribeRequest{Channel: store.SubscriberWebhook, Address: "ops@example.com", URL: hook.URL})
	if err := r.svc.Subscribers.Subscribe(ctx, service.Actor{Name: "page"}, service.SubscribeRequest{Address: "pat@example.com"}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	r.fan(t)
	r.deliver(t)
	ms := r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"pat@example.com"}) {
		t.Fatalf("before any incident: mails to %v, want only pat's confirmation", got)
	}
	confirm := ms[0]
	if confirm.Subject != "[Example Status] Confirm your subscription" || confirm.Header.Get("List-Unsubscribe") != "" ||
		!strings.HasPrefix(confirm.Link("/subscriptions/confirm?t="), "https://status.example.com/subscriptions/confirm?t=sub-") {
		t.Errorf("confirmation: subject %q, List-Unsubscribe %q, link %q", confirm.Subject, confirm.Header.Get("List-Unsubscribe"), confirm.Link("confirm"))
	}

	inc, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "ops-key"}, incidents.Declaration{Title: "API errors", Severity: incidents.P1,
		Body: "We are **investigating** elevated errors. [Details](javascript:alert(1))", Components: []incidents.Affected{{ComponentID: "api", Impact: component.PartialOutage}}})
	if err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	ms = r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"ada@example.com", "cy@example.com"}) {
		t.Fatalf("an incident on api: mails to %v, want ada (every component) and cy (its group)", got)
	}
	m := ms[0]
	if m.To[0] != "ada@example.com" {
		m = ms[1]
	}
	unsub := m.Header.Get("List-Unsubscribe")
	if m.Subject != "[Example Status] Incident: API errors" || !strings.HasPrefix(unsub, "<https://status.example.com/subscriptions/unsubscribe?t="+ada.ID+".m.") ||
		m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.Contains(m.Header.Get("List-Id"), "subscribers.status.example.com") {
		t.Errorf("incident mail headers: subject %q, List-Unsubscribe %q, -Post %q, List-Id %q", m.Subject, unsub, m.Header.Get("List-Unsubscribe-Post"), m.Header.Get("List-Id"))
	}
	for _, want := range []string{"We are **investigating** elevated errors.", "2026-11-24 14:00 CST (2026-11-24 06:00 UTC)", "Investigating",
		"https://status.example.com/incidents/" + inc.ID, "Affects: API", "/subscriptions/manage?t=" + ada.ID, "ada@example.com is subscribed to Example Status (every component)"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the text part lacks %q:\n%s", want, m.Text)
		}
	}
	if !strings.Contains(m.HTML, "<strong>investigating</strong>") || strings.Contains(m.HTML, "javascript:") || strings.Contains(m.HTML, "ops-key") {
		t.Errorf("the HTML part: want the Markdown rendered and sanitised, no author:\n%s", m.HTML)
	}
	got := hook.requests()
	if len(got) != 1 {
		t.Fatalf("the webhook got %d requests, want 1", len(got))
	}
	if err := notify.Verify([]byte(wh.Secret), got[0].header.Get(notify.SignatureHeader), got[0].body, r.clock.Now(), notify.DefaultTolerance); err != nil {
		t.Errorf("the webhook's signature with the subscriber's own secret: %v", err)
	}
	var pl struct {
		Meta struct {
			Unsubscribe string `json:"unsubscribe"`
		} `json:"meta"`
		Incident struct {
			Name    string `json:"name"`
			Updates []struct {
				Body string `json:"body"`
			} `json:"incident_updates"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(got[0].body, &pl); err != nil || pl.Incident.Name != "API errors" || len(pl.Incident.Updates) != 1 ||
		!strings.HasPrefix(pl.Meta.Unsubscribe, "https://status.example.com/subscriptions/unsubscribe?t="+wh.ID) || got[0].header.Get(notify.IdempotencyHeader) == "" {
		t.Errorf("webhook payload %s (%v)", got[0].body, err)
	}
	if strings.Contains(string(got[0].body), "ops-key") {
		t.Errorf("the webhook names who declared the incident: %s", got[0].body)
	}

	// An acknowledgement without words is internal: nothing is sent.
	if _, err := r.svc.Incidents.Acknowledge(ctx, service.Actor{Name: "ops-key"}, inc.ID, ""); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	if ms := r.mails(t, &seen); len(ms) != 0 || len(hook.requests()) != 1 {
		t.Errorf("a silent acknowledgement sent %d mails and %d webhooks", len(ms), len(hook.requests())-1)
	}

	// An incident on db reaches bob in his language.
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "ops-key"}, incidents.Declaration{Title: "Slow queries", Severity: incidents.P2,
		Body: "Looking into it.", Components: []incidents.Affected{{ComponentID: "db", Impact: component.DegradedPerformance}}}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	ms = r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"ada@example.com", "bob@example.com"}) {
		t.Fatalf("an incident on db: mails to %v, want ada and bob", got)
	}
	for _, m := range ms {
		if m.To[0] == "bob@example.com" && (m.Subject != "[Example Status] 事件：Slow queries" || !strings.Contains(m.Text, "调查中") || !strings.Contains(m.Text, "退订")) {
			t.Errorf("bob's mail in Chinese: subject %q\n%s", m.Subject, m.Text)
		}
	}

	// Rows written, then ada leaves before they are sent: hers are cancelled.
	if _, err := r.svc.Incidents.Resolve(ctx, service.Actor{Name: "ops-key"}, inc.ID, "Fixed."); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	if err := r.svc.Subscribers.Unsubscribe(ctx, service.Actor{Name: "page"}, service.ManageToken(ada)); err != nil {
		t.Fatal(err)
	}
	r.deliver(t)
	ms = r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"cy@example.com"}) {
		t.Errorf("resolved after ada left: mails to %v, want cy only", got)
	}
	if len(hook.requests()) != 3 {
		t.Errorf("the webhook got %d requests, want both declarations and the resolution", len(hook.requests()))
	}
	cancelled, _ := r.st.ListNotifications(ctx, store.NotificationQuery{States: []store.NotificationState{store.NotificationCancelled}})
	if len(cancelled) != 1 || !strings.Contains(cancelled[0].LastError, "the subscriber left") || cancelled[0].Recipient != "" {
		t.Errorf("cancelled rows: %+v, want ada's resolution, cancelled because she left, with no address kept", cancelled)
	}
	r.f.Stats(ctx)
	if v := testutil.ToFloat64(gauge(t, r.reg, "email", "confirmed")); v != 2 {
		t.Errorf("upstate_subscribers{channel=email,state=confirmed} = %v, want 2 (bob and cy)", v)
	}
	if v := testutil.ToFloat64(gauge(t, r.reg, "email", "pending")); v != 1 {
		t.Errorf("upstate_subscribers{channel=email,state=pending} = %v, want 1 (pat)", v)
	}
}

// recorder is a real HTTP server on loopback that keeps every request's headers and body.
type recorder struct {
	URL  string
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{r.Header.Clone(), b})
		rec.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL + "/hook"
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func gauge(t *testing.T, reg *prometheus.Registry, channel, state string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != "upstate_subscribers" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["channel"] == channel && labels["state"] == state {
				g.Set(m.GetGauge().GetValue())
			}
		}
	}
	return g
}

// TestFanoutInBoundedBatches: the SRE's update returns before any subscriber's row exists; the
// fan-out writes the rows a batch at a time, stops while the dispatcher has a full backlog to
// start, and goes on as deliveries start.
func TestFanoutInBoundedBatches(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{}, notify.SubscriberOptions{Batch: 100, MaxBacklog: 150})
	ctx := t.Context()
	var rows []service.SubscribeRequest
	for i := range 450 {
		rows = append(rows, service.SubscribeRequest{Address: "s" + strconv.Itoa(i) + "@example.com"})
	}
	if res, err := r.svc.Subscribers.Import(ctx, service.Actor{Name: "ops"}, rows, true); err != nil || res.Added != 450 {
		t.Fatalf("import: %+v, %v", res, err)
	}
	waiting := func() int {
		st, err := r.st.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.ByState[store.NotificationPending] + st.ByState[store.NotificationSending]
	}
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Everything is slow", Severity: incidents.P2,
		Body: "Investigating."}); err != nil {
		t.Fatal(err)
	}
	if n := waiting(); n != 0 {
		t.Fatalf("the SRE's call wrote %d subscriber rows itself; the fan-out writes them", n)
	}
	more, err := r.f.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := waiting(); !more || n != 200 {
		t.Errorf("first step: %d rows (more %v), want two batches of 100, then a stop at the backlog of 150", n, more)
	}
	more, _ = r.f.Step(ctx)
	if n := waiting(); !more || n != 200 {
		t.Errorf("with the backlog full: %d rows, want still 200", n)
	}
	for range 100 { // the dispatcher and the fan-out take turns, as they do when both run
		r.deliver(t)
		if more, err = r.f.Step(ctx); err != nil || !more {
			break
		}
	}
	r.deliver(t)
	delivered, _ := r.st.OutboxStats(ctx)
	if n := delivered.ByState[store.NotificationDelivered]; n != 450 || len(r.smtp.Mail()) != 450 {
		t.Errorf("%d delivered, %d mails; want 450 of each", n, len(r.smtp.Mail()))
	}
	// Fanned out again (a restart behind its cursor): nothing new.
	r.f = mustFanout(t, r)
	r.fan(t)
	if n := waiting(); n != 0 {
		t.Errorf("a second fan-out of the same event wrote %d rows", n)
	}
}

func mustFanout(t *testing.T, r *subRig) *notify.Fanout {
	t.Helper()
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	f, err := notify.EnableSubscribers(chans, notify.SubscriberOptions{Store: r.st, Door: r.svc.Subscribers, Outbox: r.svc.Notifications, Page: page, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFailingWebhookSuspendedAndItsContactMailed: a webhook failing for longer than the
// suspension time is suspended, its pending rows cancelled, its contact mailed with the manage
// link; it gets nothing more until resumed.
func TestFailingWebhookSuspendedAndItsContactMailed(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true, SuspendAfter: 2 * time.Hour}, notify.SubscriberOptions{AllowPrivateWebhooks: true})
	ctx := t.Context()
	hook := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 1000})
	wh := r.add(t, service.SubscribeRequest{Channel: store.SubscriberWebhook, Address: "ops@example.com", URL: hook.URL})
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Down", Severity: incidents.P1, Body: "Down."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	for range 20 {
		r.deliver(t)
		r.clock.Advance(20 * time.Minute)
	}
	sub, err := r.st.GetSubscriber(ctx, wh.ID)
	if err != nil || sub.State != store.SubscriberSuspended {
		t.Fatalf("after failing for hours: %+v, %v; want suspended", sub.State, err)
	}
	rows, _ := r.st.ListNotifications(ctx, store.NotificationQuery{})
	if len(rows) != 1 || rows[0].State != store.NotificationCancelled || !strings.Contains(rows[0].LastError, "suspended") {
		t.Errorf("the failing row: %+v, want cancelled as suspended", rows)
	}
	attempts := len(hook.Log())
	r.fan(t)
	r.deliver(t)
	seen := 0
	ms := r.mails(t, &seen)
	if len(ms) != 1 || ms[0].To[0] != "ops@example.com" || ms[0].Subject != "[Example Status] Deliveries to your webhook are suspended" ||
		ms[0].Link("/subscriptions/manage?t="+wh.ID) == "" || !strings.Contains(ms[0].Text, hook.URL) {
		t.Fatalf("the contact's mail: %+v", ms)
	}
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Again", Severity: incidents.P1, Body: "Again."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	if n := len(hook.Log()); n != attempts {
		t.Errorf("a suspended webhook got %d more requests", n-attempts)
	}
}

// TestSubscriberWebhookToAPrivateAddressIsRefusedWhenSent: a name that resolves to a loopback
// address is refused when the request is made, not only when the subscriber subscribed.
func TestSubscriberWebhookToAPrivateAddressIsRefusedWhenSent(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true}, notify.SubscriberOptions{AllowPrivateWebhooks: false})
	ctx := t.Context()
	hook := notifytest.StartWebhook(t, notifytest.WebhookOptions{})
	r.add(t, service.SubscribeRequest{Channel: store.SubscriberWebhook, Address: "ops@example.com", URL: strings.Replace(hook.URL, "127.0.0.1", "localhost", 1)})
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Down", Severity: incidents.P1, Body: "Down."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	rows, _ := r.st.ListNotifications(ctx, store.NotificationQuery{})
	if len(rows) != 1 || !strings.Contains(rows[0].LastError, "not a public address") || len(hook.Log()) != 0 {
		t.Errorf("rows %+v, receiver log %d; want the request refused before it was made", rows, len(hook.Log()))
	}
}

// TestSubscriberMessagesCoverThePageLanguages: every language the page has, subscribers' mails
// have too.
func TestSubscriberMessagesCoverThePageLanguages(t *testing.T) {
	pageCat, err := locale.Load(assets.FS(), "")
	if err != nil {
		t.Fatal(err)
	}
	mailCat, err := notify.SubscriberMessages("")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := pageCat.Tags(), mailCat.Tags(); !slices.Equal(a, b) {
		t.Errorf("the page's languages %v, the mails' %v: add notify/i18n/<tag>.yaml", a, b)
	}
}

// TestSubscribersMaintenanceAndStatusChanges: a window announced less than the notice period
// ahead says so, reaches the subscribers of its components with its times in the page's zone
// and UTC and a link to the occurrence; a component's status change reaches only those who asked
// for status changes, and never from "no data".
func TestSubscribersMaintenanceAndStatusChanges(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{}, notify.SubscriberOptions{})
	ctx := t.Context()
	r.add(t, service.SubscribeRequest{Address: "ada@example.com", Components: []string{"db"}, ComponentUpdates: true})
	r.add(t, service.SubscribeRequest{Address: "bob@example.com", Components: []string{"db"}})
	r.add(t, service.SubscribeRequest{Address: "cy@example.com", Components: []string{"api"}, ComponentUpdates: true})
	start := subT0.Add(3 * time.Hour) // 17:00 in Shanghai, three hours after it is announced
	w, err := r.svc.Maintenance.Create(ctx, service.Actor{Name: "ops"}, maintenance.Spec{ID: "db-upgrade", Title: "Database upgrade", Components: []string{"db"},
		TimeZone: "Asia/Shanghai", Start: start, End: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	r.fan(t)
	r.deliver(t)
	ms := r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"ada@example.com", "bob@example.com"}) {
		t.Fatalf("a window on db: mails to %v, want ada and bob", got)
	}
	m := ms[0]
	for _, want := range []string{"From 2026-11-24 17:00 CST (2026-11-24 09:00 UTC) to 2026-11-24 18:00 CST (2026-11-24 10:00 UTC).",
		"Announced less than 24 h ahead.", "Affects: Database", "https://status.example.com/maintenance/" + w.ID + "-"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the maintenance mail lacks %q:\n%s", want, m.Text)
		}
	}
	if m.Subject != "[Example Status] Scheduled maintenance: Database upgrade" {
		t.Errorf("subject %q", m.Subject)
	}
	for _, ch := range []struct{ from, to component.Status }{{component.Unknown, component.Operational}, {component.Operational, component.MajorOutage}} {
		r.clock.Advance(time.Minute)
		if err := r.svc.Monitors.RecordStatus(ctx, component.Change{ComponentID: "db", At: r.clock.Now(), Status: ch.to}, ch.from, false); err != nil {
			t.Fatal(err)
		}
	}
	r.fan(t)
	r.deliver(t)
	ms = r.mails(t, &seen)
	if got := recipients(ms); !slices.Equal(got, []string{"ada@example.com"}) || ms[0].Subject != "[Example Status] Database: Major outage" {
		t.Fatalf("db's status change: mails to %v (%v), want ada's only, about the outage", got, ms)
	}
}
