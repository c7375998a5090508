package statuspage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
)

// mailRig is the page on a real HTTP listener with the notifier and the subscriber fan-out
// behind it, mailing a real SMTP server on loopback; the test runs the fan-out and the
// dispatcher step by step.
type mailRig struct {
	f    *fixture
	url  string
	smtp *notifytest.SMTPServer
	n    *notify.Notifier
	fan  *notify.Fanout
}

func newMailRig(t *testing.T) *mailRig {
	t.Helper()
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	srvSMTP := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	mailer := notify.SMTP{Host: srvSMTP.Host, Port: srvSMTP.Port, TLS: "none", From: "Acme Status <status@example.com>", Timeout: 10 * time.Second}
	page := notify.Page{Title: "Acme Status", PublicURL: ts.URL, Location: mustZone(t, "Asia/Shanghai")}
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Subscribers: service.SubscriberOptions{Languages: []string{"en", "zh-Hans"}}})
	srv, err := New(Options{Store: f.store, Service: svc, Clock: f.clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test",
		CacheTTL: -1, Page: Page{Title: "Acme Status", Location: page.Location, PublicURL: ts.URL}, Subscriptions: Subscriptions{Enabled: true, Webhooks: true}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, handler = srv, srv
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: f.clock, SMTP: mailer})
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.New(notify.Options{Store: f.store, Door: svc.Notifications, Channels: chans, Page: page, Clock: f.clock, Registry: prometheus.NewPedanticRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	fan, err := notify.EnableSubscribers(chans, notify.SubscriberOptions{Store: f.store, Door: svc.Subscribers, Outbox: svc.Notifications, Page: page,
		SMTP: mailer, DefaultLanguage: "en", Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fan.Close)
	return &mailRig{f: f, url: ts.URL, smtp: srvSMTP, n: n, fan: fan}
}

// send runs the fan-out and the dispatcher until neither has anything to do.
func (r *mailRig) send(t *testing.T) {
	t.Helper()
	for range 100 {
		more, err := r.fan.Step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		claimed, err := r.n.Dispatcher.Pump(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.n.Dispatcher.Wait()
		if !more && claimed == 0 {
			return
		}
	}
	t.Fatal("the fan-out and the dispatcher never ran dry")
}

// browse makes a request as a browser would, without cookies.
func browse(t *testing.T, method, u, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var hiddenToken = regexp.MustCompile(`<input type="hidden" name="t" value="([^"]+)">`)

// TestSubscribeConfirmReceiveUnsubscribeByMail is the whole path through real parts: the form
// over HTTP, the confirmation mail received by a real SMTP server and parsed, its link
// followed and confirmed, an incident declared through the admin API and its notice received,
// the notice's List-Unsubscribe one-click POST made as a mail client makes it, and nothing
// received after.
func TestSubscribeConfirmReceiveUnsubscribeByMail(t *testing.T) {
	r := newMailRig(t)
	form := url.Values{"address": {"ada@example.com"}, "scope": {"some"}, "components": {"api"}}.Encode()
	if code, body := browse(t, "POST", r.url+"/subscribe", "application/x-www-form-urlencoded", form); code != 200 {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	r.send(t)
	mails := r.smtp.Mail()
	if len(mails) != 1 {
		t.Fatalf("%d mails after subscribing, want the confirmation", len(mails))
	}
	confirm := notifytest.Parse(t, mails[0])
	link := confirm.Link("/subscriptions/confirm?t=")
	if mails[0].To[0] != "ada@example.com" || !strings.HasPrefix(link, r.url+"/subscriptions/confirm?t=") {
		t.Fatalf("the confirmation to %v has no confirm link:\n%s", mails[0].To, confirm.Text)
	}
	// Nothing is sent before the link is followed.
	if _, err := r.f.srv.svc.Incidents.Declare(t.Context(), service.Actor{Name: "sre"}, declaration("Early incident")); err != nil {
		t.Fatal(err)
	}
	r.send(t)
	if n := len(r.smtp.Mail()); n != 1 {
		t.Fatalf("%d mails before confirming, want only the confirmation", n)
	}
	code, page := browse(t, "GET", link, "", "")
	m := hiddenToken.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("the confirm link: %d %s", code, page)
	}
	if code, page := browse(t, "POST", r.url+"/subscriptions/confirm", "application/x-www-form-urlencoded", url.Values{"t": {m[1]}}.Encode()); code != 200 ||
		!strings.Contains(page, "You are subscribed") {
		t.Fatalf("confirm: %d %s", code, page)
	}

	// An incident, declared as an SRE declares it, reaches the subscriber.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", r.url+"/api/admin/v1/incidents",
		strings.NewReader(`{"title":"API errors","severity":"P1","message":"We are **investigating**.","components":[{"id":"api","impact":"partial_outage"}]}`))
	req.Header.Set("Authorization", "Bearer "+r.f.tokens[apikey.ScopeIncidents])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("declare: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	r.send(t)
	mails = r.smtp.Mail()
	if len(mails) != 2 {
		t.Fatalf("%d mails after the incident, want the confirmation and the notice", len(mails))
	}
	notice := notifytest.Parse(t, mails[1])
	if notice.Subject != "[Acme Status] Incident: API errors" || !strings.Contains(notice.Text, "We are **investigating**.") ||
		!strings.Contains(notice.HTML, "<strong>investigating</strong>") {
		t.Errorf("the notice: %q\n%s", notice.Subject, notice.Text)
	}
	unsub := strings.Trim(notice.Header.Get("List-Unsubscribe"), "<>")
	if notice.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || !strings.HasPrefix(unsub, r.url+"/subscriptions/unsubscribe?t=") {
		t.Fatalf("List-Unsubscribe %q, List-Unsubscribe-Post %q", unsub, notice.Header.Get("List-Unsubscribe-Post"))
	}
	// RFC 8058: a POST to that URL with that body, no cookie, no login.
	if code, page := browse(t, "POST", unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); code != 200 || !strings.Contains(page, "You are unsubscribed") {
		t.Fatalf("one-click unsubscribe: %d %s", code, page)
	}
	if subs := r.f.subscribers(); len(subs) != 0 {
		t.Errorf("after unsubscribing %d subscribers are kept", len(subs))
	}
	req, _ = http.NewRequestWithContext(t.Context(), "POST", r.url+"/api/admin/v1/incidents",
		strings.NewReader(`{"title":"API errors again","severity":"P1","message":"Again.","components":[{"id":"api","impact":"major_outage"}]}`))
	req.Header.Set("Authorization", "Bearer "+r.f.tokens[apikey.ScopeIncidents])
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("declare again: %v", err)
	} else {
		resp.Body.Close()
	}
	r.send(t)
	if n := len(r.smtp.Mail()); n != 2 {
		t.Errorf("%d mails after unsubscribing, want none more", n-2)
	}
}

func declaration(title string) incidents.Declaration {
	return incidents.Declaration{Title: title, Severity: incidents.P2, Body: "Investigating.",
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.DegradedPerformance}}}
}
