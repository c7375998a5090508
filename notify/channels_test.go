package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/store"
)

var t0 = time.Date(2026, 11, 20, 11, 50, 0, 0, time.UTC) // 19:50 in Shanghai, a Friday

var page = notify.Page{Title: "Example Status", PublicURL: "https://status.example.com", Location: shanghai()}

func shanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}

func testIncident() incidents.Incident {
	return incidents.Incident{ID: "inc-1", Title: "API is down", Severity: incidents.P1, Status: incidents.Investigating, Policy: "jenny",
		StartedAt: t0.Add(-time.Minute), OpenedAt: t0, UpdatedAt: t0, Automatic: true, MonitorID: "api-health",
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}},
		Updates:    []incidents.Update{{ID: "u1", At: t0, Author: "monitor:api-health", Status: incidents.Investigating, Body: "Automatic: <b>refused</b>. We are investigating.", Kind: "automatic"}},
		Clocks:     []incidents.Clock{}}
}

func delivery(kind, action string, ev events.Event, id string, attempt int) notify.Delivery {
	m := notify.Message{Kind: kind, Action: action, Subject: "[P1 Incident opened] API is down", Text: "API is down.\n\nAutomatic: <b>refused</b>.",
		Severity: "P1", URL: page.PublicURL + "/incidents/inc-1", Events: []events.Event{ev}, At: ev.At, Components: map[string]string{"api": "API"}}
	return notify.Delivery{Notification: store.Notification{ID: id, Target: "t", Attempts: attempt, DedupKey: "incident/inc-1", Action: action, Recipient: "sre@example.com"}, Message: m}
}

func channels(t *testing.T, o notify.ChannelOptions) *notify.Channels {
	t.Helper()
	o.Page = page
	if o.Clock == nil {
		o.Clock = clockwork.NewFakeClockAt(t0)
	}
	c, err := notify.NewChannels(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestEmailOverSTARTTLSWithAuth: a real SMTP server (STARTTLS required, AUTH PLAIN) receives a
// multipart/alternative mail whose headers and both parts the test parses.
func TestEmailOverSTARTTLSWithAuth(t *testing.T) {
	cert := notifytest.NewCert(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{Cert: &cert, Username: "upstate", Password: "s3cret"})
	c := channels(t, notify.ChannelOptions{
		SMTP:    notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "starttls", Username: "upstate", Password: "s3cret", From: "Status <status@example.com>", RootCAs: cert.Pool, Timeout: 10 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com"}}},
	})
	inc := testIncident()
	d := delivery("incident.declared", "trigger", events.Event{ID: "ev-1", Kind: events.IncidentDeclared, At: t0, Incident: &inc}, "ntf-abc123", 2)
	if err := c.Send(t.Context(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Mail()
	if len(got) != 1 {
		t.Fatalf("received %d mails, want 1", len(got))
	}
	m := got[0]
	if !m.TLS || m.User != "upstate" || m.From != "status@example.com" || len(m.To) != 1 || m.To[0] != "sre@example.com" {
		t.Errorf("envelope: TLS %v, user %q, from %q, to %v", m.TLS, m.User, m.From, m.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	for name, want := range map[string]string{
		"Message-Id":     "<ntf-abc123@status.example.com>",
		"List-Id":        "Example Status alerts <alerts.status.example.com>",
		"Subject":        "[P1 Incident opened] API is down",
		"To":             "<sre@example.com>",
		"Auto-Submitted": "auto-generated",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "status@example.com" || from.Name != "Status" {
		t.Errorf("From: %q", h.Get("From"))
	}
	if date, err := mail.ParseDate(h.Get("Date")); err != nil || !date.Equal(t0) {
		t.Errorf("Date: %q, want %v", h.Get("Date"), t0)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", h.Get("Content-Type"))
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable
		parts[ct] = string(b)
	}
	text, html := parts["text/plain"], parts["text/html"]
	if !strings.Contains(text, "Automatic: <b>refused</b>.") || !strings.Contains(text, "https://status.example.com/incidents/inc-1") ||
		!strings.Contains(text, "Notification ntf-abc123, attempt 2") {
		t.Errorf("text part:\n%s", text)
	}
	if !strings.Contains(html, "Automatic: &lt;b&gt;refused&lt;/b&gt;.") || strings.Contains(html, "<b>refused</b>") ||
		!strings.Contains(html, `<a href="https://status.example.com/incidents/inc-1">`) {
		t.Errorf("HTML part (the text must be escaped):\n%s", html)
	}
}

// TestEmailImplicitTLSAndPermanentRefusal: implicit TLS (port 465 style) works, and a
// recipient the server refuses for good (550) is a permanent failure, not retried.
func TestEmailImplicitTLSAndPermanentRefusal(t *testing.T) {
	cert := notifytest.NewCert(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{TLS: "implicit", Cert: &cert, RejectRcpt: "gone@example.com"})
	c := channels(t, notify.ChannelOptions{
		SMTP:    notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "tls", From: "status@example.com", RootCAs: cert.Pool, Timeout: 10 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com", "gone@example.com"}}},
	})
	ev := events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}
	if err := c.Send(t.Context(), delivery("monitor.state", "trigger", ev, "ntf-1", 1)); err != nil {
		t.Fatalf("Send over implicit TLS: %v", err)
	}
	if m := srv.Mail(); len(m) != 1 || !m[0].TLS {
		t.Fatalf("received %+v", m)
	}
	d := delivery("monitor.state", "trigger", ev, "ntf-2", 1)
	d.Notification.Recipient = "gone@example.com"
	var perm *notify.Permanent
	if err := c.Send(t.Context(), d); !errors.As(err, &perm) {
		t.Errorf("a refused recipient: %v, want a permanent failure", err)
	}
}

// TestEmailRefusesPlainTextWhenTLSIsRequired: STARTTLS is required by default; a server that
// does not offer it gets nothing, least of all the password.
func TestEmailRefusesPlainTextWhenTLSIsRequired(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	c := channels(t, notify.ChannelOptions{
		SMTP:    notify.SMTP{Host: srv.Host, Port: srv.Port, Username: "u", Password: "p", From: "status@example.com", Timeout: 5 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com"}}},
	})
	ev := events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}
	if err := c.Send(t.Context(), delivery("monitor.state", "", ev, "ntf-1", 1)); err == nil {
		t.Fatal("sent without TLS")
	}
	if m := srv.Mail(); len(m) != 0 {
		t.Errorf("received %d mails", len(m))
	}
}

// TestWebhookSignedStatuspagePayload: the receiver verifies the signature over timestamp and
// body and gets Statuspage's shapes for an incident and for a component update.
func TestWebhookSignedStatuspagePayload(t *testing.T) {
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "whsec"})
	clock := clockwork.NewFakeClockAt(time.Now().Truncate(time.Second)) // the receiver checks the replay window on its own clock
	c := channels(t, notify.ChannelOptions{Clock: clock, Targets: []notify.Target{{ID: "t", Kind: notify.KindWebhook, URL: recv.URL, Secret: "whsec"}}})
	inc := testIncident()
	d := delivery("incident.declared", "trigger", events.Event{ID: "ev-1", Kind: events.IncidentDeclared, At: t0, Incident: &inc}, "ntf-1", 1)
	if err := c.Send(t.Context(), d); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := recv.Accepted()
	if len(got) != 1 || got[0].Key != "ntf-1" || got[0].Attempt != 1 || got[0].Event != "incident.declared" {
		t.Fatalf("accepted %+v", got)
	}
	var raw map[string]any
	if err := json.Unmarshal(got[0].Body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"meta", "page", "incident", "upstate"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("payload has no %q: %s", k, got[0].Body)
		}
	}
	p := got[0].Decode(t)
	if p.Incident == nil || p.Incident.ID != "inc-1" || p.Incident.Status != "investigating" || p.Incident.Impact != "major" ||
		len(p.Incident.IncidentUpdates) != 1 || p.Incident.IncidentUpdates[0]["body"] != "Automatic: <b>refused</b>. We are investigating." ||
		len(p.Incident.Components) != 1 || p.Incident.Components[0]["name"] != "API" || p.Incident.Components[0]["status"] != "major_outage" {
		t.Errorf("incident: %+v", p.Incident)
	}
	// The page's words are status.json's: a major outage is "critical".
	if p.Page["id"] != page.ID() || p.Page["status_indicator"] != "critical" || p.Page["status_description"] != "Major System Outage" || p.Meta["generated_at"] == nil {
		t.Errorf("page %v, meta %v", p.Page, p.Meta)
	}
	if created, _ := p.Incident.IncidentUpdates[0]["created_at"].(string); created != "2026-11-20T19:50:00.000+08:00" {
		t.Errorf("created_at %q: Statuspage's format in the page's zone", created)
	}
	if p.Upstate.NotificationID != "ntf-1" || p.Upstate.Action != "trigger" || p.Upstate.DedupKey != "incident/inc-1" {
		t.Errorf("upstate block %+v", p.Upstate)
	}

	// A component update.
	ev := events.Event{ID: "ev-2", Kind: events.ComponentStatus, At: t0, ComponentID: "api", From: "operational", To: "partial_outage"}
	if err := c.Send(t.Context(), delivery("component.status", "trigger", ev, "ntf-2", 1)); err != nil {
		t.Fatal(err)
	}
	p = recv.Accepted()[1].Decode(t)
	if p.ComponentUpdate["old_status"] != "operational" || p.ComponentUpdate["new_status"] != "partial_outage" || p.ComponentUpdate["component_type"] != "Component" ||
		p.ComponentUpdate["component_id"] != "api" || p.Component["name"] != "API" || p.Incident != nil ||
		p.Page["status_indicator"] != "major" || p.Page["status_description"] != "Partial System Outage" {
		t.Errorf("component update %v, component %v, page %v", p.ComponentUpdate, p.Component, p.Page)
	}

	// A wrong secret: the receiver refuses it, and the channel reports the failure.
	bad := channels(t, notify.ChannelOptions{Clock: clock, Targets: []notify.Target{{ID: "t", Kind: notify.KindWebhook, URL: recv.URL, Secret: "wrong"}}})
	if err := bad.Send(t.Context(), d); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: %v, want a 401 failure", err)
	}
	// A request replayed later than the window is refused.
	clock.Advance(-10 * time.Minute)
	if err := c.Send(t.Context(), d); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a stale signature: %v, want a 401 failure", err)
	}
}

// TestHostileReceiversAreBounded: a receiver that hangs or answers slowly costs one timeout; a
// huge answer is not read; a redirect is not followed; Retry-After is honoured.
func TestHostileReceiversAreBounded(t *testing.T) {
	hang := notifytest.StartWebhook(t, notifytest.WebhookOptions{Hang: true})
	slow := notifytest.StartWebhook(t, notifytest.WebhookOptions{Slow: 5 * time.Second})
	huge := notifytest.StartWebhook(t, notifytest.WebhookOptions{HugeBody: 1 << 30})
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/", http.StatusFound))
	t.Cleanup(redirect.Close)
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(busy.Close)
	c := channels(t, notify.ChannelOptions{Targets: []notify.Target{
		{ID: "hang", Kind: notify.KindWebhook, URL: hang.URL, Timeout: 300 * time.Millisecond},
		{ID: "slow", Kind: notify.KindWebhook, URL: slow.URL, Timeout: 300 * time.Millisecond},
		{ID: "huge", Kind: notify.KindWebhook, URL: huge.URL, Timeout: 10 * time.Second},
		{ID: "redirect", Kind: notify.KindWebhook, URL: redirect.URL},
		{ID: "busy", Kind: notify.KindWebhook, URL: busy.URL},
	}})
	ev := events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}
	send := func(target string) error {
		d := delivery("monitor.state", "trigger", ev, "ntf-"+target, 1)
		d.Notification.Target = target
		return c.Send(context.Background(), d)
	}
	for _, target := range []string{"hang", "slow"} {
		if err := send(target); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the attempt's deadline", target, err)
		}
	}
	if err := send("huge"); err != nil {
		t.Errorf("a 200 with a 1 GiB body: %v, want delivered (the body is not read past %d bytes)", err, notify.MaxResponseBytes)
	}
	if err := send("redirect"); err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("redirect: %v, want a 302 failure", err)
	}
	var ra *notify.RetryAfter
	if err := send("busy"); !errors.As(err, &ra) || ra.After != 2*time.Minute {
		t.Errorf("429 with Retry-After: %v, want to wait 2m", err)
	}
}

// TestPagerDutyLifecycle: trigger, acknowledge and resolve share the dedup key; the receiver
// speaks the Events API v2 and refuses a malformed event, which is not retried.
func TestPagerDutyLifecycle(t *testing.T) {
	pd := notifytest.StartPagerDuty(t)
	c := channels(t, notify.ChannelOptions{Targets: []notify.Target{{ID: "t", Kind: notify.KindPagerDuty, URL: pd.URL, RoutingKey: "R0UT1NGKEY"}}})
	inc := testIncident()
	for _, action := range []string{"trigger", "acknowledge", "resolve"} {
		if err := c.Send(t.Context(), delivery("incident.declared", action, events.Event{ID: "ev-1", Kind: events.IncidentDeclared, At: t0, Incident: &inc}, "ntf-"+action, 1)); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
	got := pd.Events()
	if len(got) != 3 {
		t.Fatalf("received %d events", len(got))
	}
	for i, action := range []string{"trigger", "acknowledge", "resolve"} {
		if got[i].EventAction != action || got[i].DedupKey != "incident/inc-1" || got[i].RoutingKey != "R0UT1NGKEY" {
			t.Errorf("event %d: %+v", i, got[i])
		}
	}
	if pl := got[0].Payload; pl == nil || pl.Severity != "error" || pl.Source != page.PublicURL || pl.Component != "api" || pl.Summary != "[P1 Incident opened] API is down" {
		t.Errorf("trigger payload %+v", got[0].Payload)
	}
	bad := channels(t, notify.ChannelOptions{Targets: []notify.Target{{ID: "t", Kind: notify.KindPagerDuty, URL: pd.URL + "/wrong-path", RoutingKey: "k"}}})
	var perm *notify.Permanent
	if err := bad.Send(t.Context(), delivery("incident.declared", "trigger", events.Event{ID: "ev-1", Kind: events.IncidentDeclared, At: t0, Incident: &inc}, "n", 1)); !errors.As(err, &perm) {
		t.Errorf("a 400: %v, want a permanent failure", err)
	}
}

// TestChatThroughShoutrrr: chat targets are shoutrrr URLs; ntfy:// and generic:// reach loopback
// receivers that speak their wire formats.
func TestChatThroughShoutrrr(t *testing.T) {
	ntfy := notifytest.StartNtfy(t)
	var generic struct {
		body   map[string]string
		header http.Header
	}
	gen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		generic.header = r.Header
		_ = json.NewDecoder(r.Body).Decode(&generic.body)
	}))
	t.Cleanup(gen.Close)
	c := channels(t, notify.ChannelOptions{Targets: []notify.Target{
		{ID: "ntfy", Kind: notify.KindChat, URL: "ntfy://" + ntfy.Host + "/upstate-alerts?scheme=http"},
		{ID: "generic", Kind: notify.KindChat, URL: "generic://" + strings.TrimPrefix(gen.URL, "http://") + "/hook?disabletls=yes&template=json"},
	}})
	ev := events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}
	for _, target := range []string{"ntfy", "generic"} {
		d := delivery("monitor.state", "trigger", ev, "ntf-"+target, 1)
		d.Notification.Target = target
		if err := c.Send(t.Context(), d); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	msgs := ntfy.Messages()
	if len(msgs) != 1 || msgs[0].Topic != "upstate-alerts" || msgs[0].Title != "[P1 Incident opened] API is down" || !strings.Contains(msgs[0].Body, "API is down.") {
		t.Errorf("ntfy received %+v", msgs)
	}
	if generic.body["title"] != "[P1 Incident opened] API is down" || !strings.Contains(generic.body["message"], "https://status.example.com/incidents/inc-1") {
		t.Errorf("generic received %v", generic.body)
	}
	if _, err := notify.NewChannels(notify.ChannelOptions{Targets: []notify.Target{{ID: "x", Kind: notify.KindChat, URL: "nosuch://token"}}}); err == nil ||
		!strings.Contains(err.Error(), "target x") {
		t.Errorf("an unknown chat service: %v, want an error naming the target", err)
	}
}

// TestChatHangingReceiverIsBounded: shoutrrr's generic service has no timeout of its own; the
// attempt still ends at the target's, and hanging sends are capped.
func TestChatHangingReceiverIsBounded(t *testing.T) {
	hang := notifytest.StartWebhook(t, notifytest.WebhookOptions{Hang: true})
	c := channels(t, notify.ChannelOptions{Targets: []notify.Target{{ID: "g", Kind: notify.KindChat, Timeout: 200 * time.Millisecond, MaxInFlight: 1,
		URL: "generic://" + strings.TrimPrefix(hang.URL, "http://") + "?disabletls=yes"}}})
	ev := events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}
	d := delivery("monitor.state", "", ev, "n", 1)
	d.Notification.Target = "g"
	for i := range 3 {
		err := c.Send(context.Background(), d)
		if i < 2 && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("send %d: %v, want the deadline", i, err)
		}
		if i == 2 && (err == nil || !strings.Contains(err.Error(), "still hanging")) {
			t.Errorf("send %d with 2 sends hanging: %v, want a fast refusal", i, err)
		}
	}
}

// TestSignatureVerification: the scheme's rules, for receivers to copy.
func TestSignatureVerification(t *testing.T) {
	secret, body := []byte("whsec"), []byte(`{"a":1}`)
	at := time.Unix(1764230400, 0)
	header := notify.Sign(secret, at, body)
	if !strings.HasPrefix(header, "t=1764230400,v1=") {
		t.Fatalf("header %q", header)
	}
	tests := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, header, body, at.Add(time.Minute), nil},
		{"valid among rotated secrets", secret, header + ",v1=" + strings.Repeat("0", 64), body, at, nil},
		{"body changed", secret, header, []byte(`{"a":2}`), at, notify.ErrBadSignature},
		{"wrong secret", []byte("other"), header, body, at, notify.ErrBadSignature},
		{"replayed after the window", secret, header, body, at.Add(notify.DefaultTolerance + time.Second), notify.ErrStale},
		{"from the future", secret, header, body, at.Add(-notify.DefaultTolerance - time.Second), notify.ErrStale},
		{"timestamp changed", secret, strings.Replace(header, "t=1764230400", "t="+strconv.Itoa(1764230401), 1), body, at, notify.ErrBadSignature},
		{"no header", secret, "", body, at, notify.ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := notify.Verify(tt.secret, tt.header, tt.body, tt.now, notify.DefaultTolerance); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
