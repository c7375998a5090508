package statuspage

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

// newSubscribeFixture is the fixture with subscriptions offered, its service door configured.
func newSubscribeFixture(t *testing.T, o service.SubscriberOptions, clientLimit int) *fixture {
	t.Helper()
	f := newFixture(t)
	o.Languages = []string{"en", "zh-Hans"}
	o.ClientLimit = clientLimit
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Subscribers: o})
	srv, err := New(Options{Store: f.store, Service: svc, Clock: f.clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test",
		MaxBodyBytes: 4096, CacheTTL: -1, Page: Page{Title: "Acme Status", Location: mustZone(t, "Asia/Shanghai"), PublicURL: "https://status.example.com"},
		Subscriptions: Subscriptions{Enabled: true, Webhooks: true, Chats: true}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	for _, c := range []component.Component{{ID: "core", Name: "Core", IsGroup: true}, {ID: "api", Name: "API", GroupID: "core"},
		{ID: "db", Name: "Database", GroupID: "core"}, {ID: "cdn", Name: "CDN"}} {
		c.Source, c.CreatedAt, c.UpdatedAt = component.SourceConfig, t0, t0
		mustOK(t, f.store.CreateComponent(t.Context(), c, store.AuditEntry{At: t0}))
	}
	return f
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// post sends a form as a browser does.
func (f *fixture) post(path, body string, hdr ...string) response {
	return f.do("POST", path, "", body, append([]string{"Content-Type", "application/x-www-form-urlencoded", "Accept", "text/html"}, hdr...)...)
}

func (f *fixture) subscribers() []store.Subscriber {
	f.t.Helper()
	subs, err := f.store.ListSubscribers(f.t.Context(), store.SubscriberQuery{})
	if err != nil {
		f.t.Fatal(err)
	}
	return subs
}

func TestSubscribeForm(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 0)
	r := f.do("GET", "/subscribe", "", "", "Accept", "text/html")
	if r.code != 200 {
		t.Fatalf("GET /subscribe: %d %s", r.code, r.body)
	}
	page := string(r.body)
	for _, want := range []string{`<form method="post" action="/subscribe"`, `name="address" type="email"`, `name="url" type="url"`,
		`value="core"> All of Core`, `value="api"> API`, `value="cdn"> CDN`, `<option value="zh-Hans" lang="zh-Hans">简体中文</option>`,
		`<p class="field" hidden><label for="website">`, `name="component_updates"`, `href="/history.atom"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q: want forms to post here only and no script", csp)
	}
	if strings.Contains(page, "<script") {
		t.Error("the form has a script")
	}
	zh := f.do("GET", "/subscribe?lang=zh-Hans", "", "", "Accept", "text/html")
	if !strings.Contains(string(zh.body), "订阅更新") || !strings.Contains(string(zh.body), `<option value="zh-Hans" lang="zh-Hans" selected>`) {
		t.Errorf("the form in Chinese: %s", zh.body)
	}
	// The page links to it.
	if home := f.do("GET", "/", "", "", "Accept", "text/html"); !strings.Contains(string(home.body), `<a href="/subscribe">by email or webhook</a>`) {
		t.Errorf("the page does not link to /subscribe")
	}
	golden(t, "subscribe.html", r.body)
}

// golden compares got with testdata/golden/name, rewritten with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		mustOK(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./statuspage -run %s -update)", err, t.Name())
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from its golden file (go test ./statuspage -run %s -update, then read the diff):\n%s", name, t.Name(), got)
	}
}

func TestSubscribeWithoutMailOffersFeedsOnly(t *testing.T) {
	f := newFixture(t)
	r := f.do("GET", "/subscribe", "", "", "Accept", "text/html")
	if r.code != 200 || strings.Contains(string(r.body), "<form") || !strings.Contains(string(r.body), "does not offer subscriptions") ||
		!strings.Contains(string(r.body), `href="/history.rss"`) {
		t.Errorf("GET /subscribe without mail: %d %s", r.code, r.body)
	}
	if r := f.post("/subscribe", form("address", "ada@example.com")); r.code != 404 {
		t.Errorf("POST /subscribe without mail: %d, want 404", r.code)
	}
	if home := f.do("GET", "/", "", "", "Accept", "text/html"); strings.Contains(string(home.body), `href="/subscribe"`) {
		t.Errorf("the page links to a subscription it does not offer")
	}
}

// TestSubscribeRefusesBadInput: each invalid form is answered 422 with the form again and its
// error beside the field; nothing is stored and nothing is mailed.
func TestSubscribeRefusesBadInput(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	for _, tt := range []struct {
		name, body, want string
	}{
		{"bad address", form("address", "not-an-address"), "Give a mail address such as name@example.com. (is not a mail address"},
		{"header injection", form("address", "ada@example.com\r\nBcc: everyone@example.com"), "must not contain spaces, line breaks"},
		{"header injection in a name", form("address", "Ada\r\nBcc: x@example.com <ada@example.com>"), "must not contain spaces, line breaks"},
		{"ftp webhook", form("channel", "webhook", "address", "ops@example.com", "url", "ftp://example.com/hook"), "scheme &#34;ftp&#34; is not allowed"},
		{"javascript webhook", form("channel", "webhook", "address", "ops@example.com", "url", "javascript:alert(1)"), "is not an absolute URL"},
		{"loopback webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://127.0.0.1:9099/hook"), "127.0.0.1 is not a public address"},
		{"private webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://192.168.1.10/hook"), "is not a public address"},
		{"IPv4-compatible loopback webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[::7f00:1]/hook"), "is not a public address"},
		{"NAT64 loopback webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[64:ff9b::7f00:1]/hook"), "is not a public address"},
		{"local-use NAT64 webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[64:ff9b:1::7f00:1]/hook"), "is not a public address"},
		{"6to4 loopback webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[2002:7f00:1::]/hook"), "is not a public address"},
		{"site-local webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[fec0::1]/hook"), "is not a public address"},
		{"Teredo webhook", form("channel", "webhook", "address", "ops@example.com", "url", "http://[2001::1]/hook"), "is not a public address"},
		{"loopback chat", form("channel", "chat", "address", "ops@example.com", "chat_url", "ntfy://127.0.0.1:8080/alerts?scheme=http"), `id="chat-url-error">Give the chat room&#39;s webhook address or shoutrrr URL. (127.0.0.1 is not a public address`},
		{"self-hosted generic chat", form("channel", "chat", "address", "ops@example.com", "chat_url", "generic://203.0.113.9/hook?disabletls=yes"), `id="chat-url-error">This page does not post to self-hosted chat services (generic://)`},
		{"self-hosted mattermost chat", form("channel", "chat", "address", "ops@example.com", "chat_url", "mattermost://127.0.0.1:8065/token?disabletls=yes"), `id="chat-url-error">This page does not post to self-hosted chat services (mattermost://)`},
		{"unknown chat service", form("channel", "chat", "address", "ops@example.com", "chat_url", "smtp://mail.example.com"), "service &#34;smtp&#34; is not offered"},
		{"chat without its URL", form("channel", "chat", "address", "ops@example.com", "url", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"), `id="chat-url-error"`},
		{"unknown component", form("address", "ada@example.com", "scope", "some", "components", "billing"), "no component or group &#34;billing&#34;"},
		{"none chosen", form("address", "ada@example.com", "scope", "some"), "Choose at least one component"},
		{"unknown language", form("address", "ada@example.com", "language", "tlh"), "unknown language"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.post("/subscribe", tt.body)
			if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), tt.want) || !strings.Contains(string(r.body), "<form") {
				t.Errorf("%d, want 422 with the form and %q:\n%s", r.code, tt.want, r.body)
			}
		})
	}
	if subs := f.subscribers(); len(subs) != 0 {
		t.Errorf("refused forms stored %d subscribers", len(subs))
	}
	if js, _ := f.store.ReadJournal(t.Context(), 0, 100); len(js) != 0 {
		t.Errorf("refused forms journaled %d events (mails owed)", len(js))
	}
}

// TestSubscribeFormSelfHostedChats: the form refuses a self-hosted chat (generic://,
// mattermost://: Upstate cannot choose how their posts connect) in the visitor's language, and
// takes it when the operator opts in (subscribers.self_hosted_chats).
func TestSubscribeFormSelfHostedChats(t *testing.T) {
	urls := []string{"generic://203.0.113.9/hook?disabletls=yes", "mattermost://203.0.113.9/token"}
	off := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	for _, u := range urls {
		r := off.post("/subscribe?lang=zh-Hans", form("channel", "chat", "address", "ops@example.com", "chat_url", u, "language", "zh-Hans"))
		if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), `id="chat-url-error">本页面不向自托管的聊天服务`) {
			t.Errorf("%s in Chinese: %d, want 422 saying why in Chinese:\n%s", u, r.code, r.body)
		}
	}
	if subs := off.subscribers(); len(subs) != 0 {
		t.Errorf("refused self-hosted chats stored %d subscribers", len(subs))
	}
	on := newSubscribeFixture(t, service.SubscriberOptions{SelfHostedChats: true}, 1000)
	for _, u := range urls {
		if r := on.post("/subscribe", form("channel", "chat", "address", "ops@example.com", "chat_url", u)); r.code != http.StatusOK {
			t.Errorf("%s with self_hosted_chats: %d, want 200:\n%s", u, r.code, r.body)
		}
	}
	if subs := on.subscribers(); len(subs) != 2 {
		t.Errorf("with self_hosted_chats: %d subscribers, want 2", len(subs))
	}
}

// TestSubscribeFormTellsNoResolvedAddress: the public form refuses a webhook whose name resolves
// to a loopback address without saying what it resolved to.
func TestSubscribeFormTellsNoResolvedAddress(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	r := f.post("/subscribe", form("channel", "webhook", "address", "ops@example.com", "url", "http://localhost/hook"))
	body := string(r.body)
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(body, "host localhost does not resolve to a public address") ||
		strings.Contains(body, "127.0.0.1") || strings.Contains(body, "resolves to") {
		t.Errorf("%d, want 422 saying the host is not public, without its address:\n%s", r.code, body)
	}
}

// stripped is a page without what differs between two requests by design (none here: a fixed
// clock renders the same page).
var requestID = regexp.MustCompile(`req-[a-zA-Z0-9]+`)

// TestSubscribeAnswerRevealsNothing: a new address, a pending one, a subscribed one and a
// filled honeypot get the same page.
func TestSubscribeAnswerRevealsNothing(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{AllowPrivateWebhooks: true}, 1000)
	ctx := t.Context()
	if _, err := f.srv.svc.Subscribers.Add(ctx, service.Actor{Name: "ops"}, service.SubscribeRequest{Address: "known@example.com"}, true); err != nil {
		t.Fatal(err)
	}
	answers := map[string]string{}
	for name, body := range map[string]string{
		"new":        form("address", "new@example.com"),
		"pending":    form("address", "new@example.com"),
		"subscribed": form("address", "KNOWN@example.com"),
		"honeypot":   form("address", "bot@example.com", "website", "http://spam.example.com"),
	} {
		r := f.post("/subscribe", body)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", name, r.code, r.body)
		}
		answers[name] = requestID.ReplaceAllString(string(r.body), "")
		if cc := r.hdr.Get("Cache-Control"); cc != "private, no-store" {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
	}
	for name, a := range answers {
		if a != answers["new"] {
			t.Errorf("the answer for %s differs from a new address's", name)
		}
	}
	if !strings.Contains(answers["new"], "a mail with a confirmation link is on its way") {
		t.Errorf("the answer: %s", answers["new"])
	}
	for _, sub := range f.subscribers() {
		if sub.Address == "bot@example.com" {
			t.Error("the honeypot's request was stored")
		}
	}
	// The subscribed address was not changed by someone else's request.
	if subs := f.subscribers(); len(subs) != 2 {
		t.Errorf("%d subscribers, want known and new", len(subs))
	}
}

func TestSubscribeLimitedPerClientAddress(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 3)
	for i := range 3 {
		if r := f.post("/subscribe", form("address", "a"+string(rune('a'+i))+"@example.com")); r.code != 200 {
			t.Fatalf("request %d: %d", i+1, r.code)
		}
	}
	r := f.post("/subscribe", form("address", "ad@example.com"))
	if r.code != http.StatusTooManyRequests || r.hdr.Get("Retry-After") == "" {
		t.Errorf("the fourth request in an hour from one address: %d, Retry-After %q; want 429 with Retry-After", r.code, r.hdr.Get("Retry-After"))
	}
	// IPv6: a host gets a /64, so the limit counts the /64, whichever of its addresses asks.
	from := func(ip, address string) int {
		req := httptest.NewRequest("POST", "/subscribe", strings.NewReader(form("address", address)))
		req.RemoteAddr = "[" + ip + "]:4321"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		return rec.Code
	}
	for i, ip := range []string{"2001:db8:a:b::1", "2001:db8:a:b::2", "2001:db8:a:b:ffff:ffff:ffff:ffff"} {
		if code := from(ip, "v6-"+string(rune('a'+i))+"@example.com"); code != http.StatusOK {
			t.Fatalf("request %d from the /64: %d", i+1, code)
		}
	}
	if code := from("2001:db8:a:b:1234::9", "v6-d@example.com"); code != http.StatusTooManyRequests {
		t.Errorf("a fourth request from another address of the same /64: %d, want 429", code)
	}
	if code := from("2001:db8:a:c::1", "v6-e@example.com"); code != http.StatusOK {
		t.Errorf("a request from the next /64: %d, want 200", code)
	}
}

// TestConfirmManageAndOneClickUnsubscribe follows a subscription's links as the mails give them.
func TestConfirmManageAndOneClickUnsubscribe(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	door := f.srv.svc.Subscribers
	if r := f.post("/subscribe", form("address", "ada@example.com", "scope", "some", "components", "api", "language", "zh-Hans")); r.code != 200 {
		t.Fatal(r.code)
	}
	sub := f.subscribers()[0]
	confirm := door.ConfirmToken(sub, t0)
	// Fetching the link confirms nothing: it shows a button.
	r := f.do("GET", "/subscriptions/confirm?t="+url.QueryEscape(confirm), "", "", "Accept", "text/html")
	if r.code != 200 || !strings.Contains(string(r.body), `<input type="hidden" name="t" value="`+confirm+`">`) || !strings.Contains(string(r.body), "Components: API") {
		t.Fatalf("the confirm page: %d %s", r.code, r.body)
	}
	if f.subscribers()[0].State != store.SubscriberPending {
		t.Fatal("fetching the link confirmed the subscription")
	}
	r = f.post("/subscriptions/confirm", form("t", confirm))
	if r.code != 200 || !strings.Contains(string(r.body), "You are subscribed") || f.subscribers()[0].State != store.SubscriberConfirmed {
		t.Fatalf("confirm: %d %s", r.code, r.body)
	}
	manage := service.ManageToken(sub)
	r = f.do("GET", "/subscriptions/manage?t="+manage, "", "", "Accept", "text/html")
	if r.code != 200 || !strings.Contains(string(r.body), `value="api" checked`) || r.hdr.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("manage page: %d %s", r.code, r.body)
	}
	r = f.post("/subscriptions/manage", form("t", manage, "scope", "some", "components", "core", "components", "cdn", "component_updates", "1", "language", "en"))
	got := f.subscribers()[0]
	if r.code != 200 || strings.Join(got.Components, ",") != "cdn,core" || !got.ComponentUpdates || got.Language != "en" {
		t.Errorf("manage: %d, %+v", r.code, got)
	}
	// RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the header's URL, no cookie.
	r = f.post("/subscriptions/unsubscribe?t="+url.QueryEscape(manage), "List-Unsubscribe=One-Click", "Accept", "*/*")
	if r.code != 200 || len(f.subscribers()) != 0 {
		t.Fatalf("one-click unsubscribe: %d, %d subscribers left", r.code, len(f.subscribers()))
	}
	// Again (a client that retries): the same answer.
	if r := f.post("/subscriptions/unsubscribe?t="+url.QueryEscape(manage), "List-Unsubscribe=One-Click"); r.code != 200 {
		t.Errorf("a second one-click: %d", r.code)
	}
	// The manage link is dead with the subscription, and a forged one never worked.
	for _, tok := range []string{manage, "sub-aaaaaaaaaaaaaaaa.m.AAAAAAAAAAAAAAAAAAAAAA", "garbage"} {
		if r := f.do("GET", "/subscriptions/manage?t="+tok, "", "", "Accept", "text/html"); r.code != 404 || !strings.Contains(string(r.body), "This link does not work") {
			t.Errorf("manage with %q: %d %s", tok, r.code, r.body)
		}
	}
}

// TestSubscriptionFormsRefuseOtherSites: a form posted from another site (its Origin) is
// refused with 403 and changes nothing; this page's own origin, the request's host and a client
// that sends no Origin pass; RFC 8058's one-click unsubscribe passes whatever it sends.
func TestSubscriptionFormsRefuseOtherSites(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	door := f.srv.svc.Subscribers
	for _, tt := range []struct {
		name, origin string
		want         int
	}{
		{"another site", "https://evil.example", http.StatusForbidden},
		{"a sandboxed frame", "null", http.StatusForbidden},
		{"a look-alike", "https://status.example.com.evil.example", http.StatusForbidden},
		{"the page's public origin", "https://status.example.com", http.StatusOK},
		{"the request's host", "http://example.com", http.StatusOK},
		{"no Origin (not a browser)", "", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.post("/subscribe", form("address", "ada@example.com"), "Origin", tt.origin)
			if r.code != tt.want {
				t.Errorf("POST /subscribe with Origin %q: %d, want %d", tt.origin, r.code, tt.want)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(string(r.body), "this form was sent from another site") {
				t.Errorf("the refusal does not say why: %s", r.body)
			}
		})
	}
	sub := f.subscribers()[0]
	evil := []string{"Origin", "https://evil.example"}
	confirm := door.ConfirmToken(sub, t0)
	if r := f.post("/subscriptions/confirm", form("t", confirm), evil...); r.code != http.StatusForbidden || f.subscribers()[0].State != store.SubscriberPending {
		t.Errorf("a confirmation posted from another site: %d, state %s; want 403, pending", r.code, f.subscribers()[0].State)
	}
	if r := f.post("/subscriptions/confirm", form("t", confirm), "Origin", "https://status.example.com"); r.code != http.StatusOK {
		t.Fatalf("confirm from the page: %d", r.code)
	}
	manage := service.ManageToken(sub)
	if r := f.post("/subscriptions/manage", form("t", manage, "scope", "some", "components", "cdn"), evil...); r.code != http.StatusForbidden || len(f.subscribers()[0].Components) != 0 {
		t.Errorf("a change posted from another site: %d, components %v; want 403, unchanged", r.code, f.subscribers()[0].Components)
	}
	if r := f.post("/subscriptions/unsubscribe", form("t", manage), evil...); r.code != http.StatusForbidden || len(f.subscribers()) != 1 {
		t.Errorf("the unsubscribe button posted from another site: %d, %d subscribers; want 403, 1", r.code, len(f.subscribers()))
	}
	if r := f.post("/subscriptions/unsubscribe?t="+url.QueryEscape(manage), "List-Unsubscribe=One-Click", evil...); r.code != http.StatusOK || len(f.subscribers()) != 0 {
		t.Errorf("a one-click unsubscribe (RFC 8058): %d, %d subscribers; want 200, 0", r.code, len(f.subscribers()))
	}
}

// TestUsedConfirmLinkShowsNothing: the answer that confirms a webhook shows its manage link and
// its secret once; the confirmation link, used again by GET or POST (a forwarded mail, a proxy's
// log), says it is confirmed and shows neither, nor the address; the manage page (whose token
// every delivery carries) does not show the secret either.
func TestUsedConfirmLinkShowsNothing(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	door := f.srv.svc.Subscribers
	if r := f.post("/subscribe", form("channel", "webhook", "address", "ops@example.com", "url", "https://93.184.215.14/hook")); r.code != 200 {
		t.Fatalf("subscribe: %d %s", r.code, r.body)
	}
	sub := f.subscribers()[0]
	confirm, manage := door.ConfirmToken(sub, t0), service.ManageToken(sub)
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("the webhook's secret: %q", sub.Secret)
	}
	shows := func(r response) []string {
		var got []string
		for what, s := range map[string]string{"the secret": sub.Secret, "the manage link": url.QueryEscape(manage), "the address": "ops@example.com", "the URL": "93.184.215.14"} {
			if strings.Contains(string(r.body), s) {
				got = append(got, what)
			}
		}
		return got
	}
	r := f.do("GET", "/subscriptions/confirm?t="+url.QueryEscape(confirm), "", "", "Accept", "text/html")
	if r.code != 200 || strings.Contains(string(r.body), sub.Secret) || strings.Contains(string(r.body), url.QueryEscape(manage)) {
		t.Errorf("the confirm page before confirming: %d, shows %v", r.code, shows(r))
	}
	r = f.post("/subscriptions/confirm", form("t", confirm))
	if r.code != 200 || !strings.Contains(string(r.body), "You are subscribed") || !strings.Contains(string(r.body), sub.Secret) || !strings.Contains(string(r.body), url.QueryEscape(manage)) {
		t.Fatalf("the confirmation: %d, shows %v; want the secret and the manage link\n%s", r.code, shows(r), r.body)
	}
	for name, again := range map[string]func() response{
		"GET": func() response {
			return f.do("GET", "/subscriptions/confirm?t="+url.QueryEscape(confirm), "", "", "Accept", "text/html")
		},
		"POST": func() response { return f.post("/subscriptions/confirm", form("t", confirm)) },
	} {
		r := again()
		if r.code != 200 || !strings.Contains(string(r.body), "Already confirmed") || len(shows(r)) != 0 {
			t.Errorf("the used confirmation link by %s: %d, shows %v; want \"Already confirmed\" and nothing of the subscription\n%s", name, r.code, shows(r), r.body)
		}
	}
	if r := f.do("GET", "/subscriptions/manage?t="+url.QueryEscape(manage), "", "", "Accept", "text/html"); r.code != 200 || strings.Contains(string(r.body), sub.Secret) {
		t.Errorf("the manage page: %d, shows the secret: %v", r.code, strings.Contains(string(r.body), sub.Secret))
	}
}

func TestSubscribersAdminAPI(t *testing.T) {
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 1000)
	admin := f.tokens[apikey.ScopeAdmin]
	r := f.do("POST", "/api/admin/v1/subscribers", admin, `{"address":"ada@example.com","components":["api"],"confirmed":true}`)
	if r.code != 201 {
		t.Fatalf("add: %d %s", r.code, r.body)
	}
	var added subscriberView
	mustOK(t, json.Unmarshal(r.body, &added))
	if r := f.do("POST", "/api/admin/v1/subscribers", admin, `{"address":"ADA@example.com"}`); r.code != 409 {
		t.Errorf("adding a subscribed address: %d, want 409", r.code)
	}
	if r := f.do("POST", "/api/admin/v1/subscribers", admin, `{"address":"x@example.com","channel":"webhook","url":"ftp://x"}`); r.code != 422 || r.apiErr(t).Field != "url" {
		t.Errorf("a bad webhook URL: %d %s", r.code, r.body)
	}
	// A chat: its whole URL (the room's token) on a single read only; lists show its service.
	r = f.do("POST", "/api/admin/v1/subscribers", admin, `{"address":"ops@example.com","channel":"chat","url":"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX","confirmed":true}`)
	var chat subscriberView
	if r.code != 201 || json.Unmarshal(r.body, &chat) != nil || chat.URL != "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook" {
		t.Fatalf("add a chat: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/subscribers?channel=chat", admin, ""); r.code != 200 || !strings.Contains(string(r.body), `"url":"slack://hooks.slack.com"`) || strings.Contains(string(r.body), "XXXX") {
		t.Errorf("the chats' list: %d %s", r.code, r.body)
	}
	if r := f.do("DELETE", "/api/admin/v1/subscribers/"+chat.ID, admin, ""); r.code != 204 {
		t.Errorf("delete the chat: %d", r.code)
	}
	if r := f.do("GET", "/api/admin/v1/subscribers", f.tokens[apikey.ScopeRead], ""); r.code != 403 {
		t.Errorf("a read key lists subscribers: %d, want 403 (addresses need the admin scope)", r.code)
	}
	imp := "address,components,language\nbob@example.com,cdn,zh-Hans\nada@example.com,,\nbroken,,\ncy@example.com,core,\n"
	r = f.do("POST", "/api/admin/v1/subscribers/import?confirmed=true", admin, imp, "Content-Type", "text/csv")
	if r.code != 200 || !strings.Contains(string(r.body), `"added":2,"skipped":1`) || !strings.Contains(string(r.body), `"row":3`) {
		t.Errorf("import: %d %s", r.code, r.body)
	}
	r = f.do("GET", "/api/admin/v1/subscribers?component=db", admin, "")
	var list subscriberList
	mustOK(t, json.Unmarshal(r.body, &list))
	if len(list.Subscribers) != 1 || list.Subscribers[0].Address != "cy@example.com" {
		t.Errorf("subscribers of db (through its group core): %s", r.body)
	}
	r = f.do("GET", "/api/admin/v1/subscribers?limit=2", admin, "")
	mustOK(t, json.Unmarshal(r.body, &list))
	if len(list.Subscribers) != 2 || list.Next == "" {
		t.Errorf("a page of 2: %s", r.body)
	}
	r = f.do("GET", "/api/admin/v1/subscribers/export?state=confirmed", admin, "")
	if r.code != 200 || !strings.HasPrefix(string(r.body), "id,channel,address,url,state,components,component_updates,language,created_at,confirmed_at\n") ||
		strings.Count(string(r.body), "\n") != 4 || !strings.Contains(string(r.body), ",bob@example.com,,confirmed,cdn,false,zh-Hans,") {
		t.Errorf("export: %d\n%s", r.code, r.body)
	}
	if r := f.do("DELETE", "/api/admin/v1/subscribers/"+added.ID, admin, ""); r.code != 204 {
		t.Errorf("delete: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/subscribers/"+added.ID, admin, ""); r.code != 404 {
		t.Errorf("after delete: %d", r.code)
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Target: "subscriber/" + added.ID})
	if len(entries) != 2 || entries[0].Action != "subscriber.remove" || strings.Contains(string(entries[0].Before), "ada@") || entries[0].Actor != "admin-key" {
		t.Errorf("audit of the deletion: %+v", entries)
	}
}

// TestSubscribeLimitsSharedThroughRedis: two instances (two servers, two services, two Redis
// clients) behind one balancer share both limits: a client's requests and an address's mails
// count wherever they land.
func TestSubscribeLimitsSharedThroughRedis(t *testing.T) {
	rs := redistest.Start(t, redistest.Options{})
	clock := clockwork.NewFakeClockAt(t0)
	var srvs []*Server
	var st store.Store
	for range 2 {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{rs.Addr}, KeyPrefix: "shared"})
		mustOK(t, err)
		t.Cleanup(func() { s.Close() })
		st = s
		svc := service.New(service.Options{Store: s, Clock: clock, Subscribers: service.SubscriberOptions{Languages: []string{"en", "zh-Hans"}, ClientLimit: 5, RecipientLimit: 2}})
		srv, err := New(Options{Store: s, Service: svc, Clock: clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test",
			MaxBodyBytes: 4096, CacheTTL: -1, Page: Page{Title: "Acme Status", Location: mustZone(t, "Asia/Shanghai"), PublicURL: "https://status.example.com"},
			Subscriptions: Subscriptions{Enabled: true}})
		mustOK(t, err)
		srvs = append(srvs, srv)
	}
	post := func(srv *Server, ip string, kv ...string) int {
		req := httptest.NewRequest("POST", "/subscribe", strings.NewReader(form(kv...)))
		req.RemoteAddr = ip + ":4321"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code
	}
	language := func() string {
		sub, err := st.FindSubscriber(t.Context(), store.Subscriber{Channel: store.SubscriberEmail, Address: "ada@example.com"}.Lookup())
		mustOK(t, err)
		return sub.Language
	}
	// The address's two mails an hour: the first on one instance, the second on the other; the
	// third (on either) changes nothing.
	for i, tt := range []struct {
		srv      int
		lang     string
		wantLang string
	}{{0, "en", "en"}, {1, "zh-Hans", "zh-Hans"}, {0, "en", "zh-Hans"}, {1, "en", "zh-Hans"}} {
		if code := post(srvs[tt.srv], "198.51.100.1", "address", "ada@example.com", "language", tt.lang); code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, code)
		}
		if got := language(); got != tt.wantLang {
			t.Errorf("after request %d (on instance %d): language %q, want %q", i+1, tt.srv+1, got, tt.wantLang)
		}
	}
	// The client's five requests an hour: four made above, one more on instance 2, then 429 on
	// either; another client is not limited.
	if code := post(srvs[1], "198.51.100.1", "address", "bob@example.com"); code != http.StatusOK {
		t.Fatalf("the fifth request: %d", code)
	}
	for i, srv := range srvs {
		if code := post(srv, "198.51.100.1", "address", "eve@example.com"); code != http.StatusTooManyRequests {
			t.Errorf("a sixth request on instance %d: %d, want 429", i+1, code)
		}
	}
	if code := post(srvs[0], "198.51.100.2", "address", "eve@example.com"); code != http.StatusOK {
		t.Errorf("another client: %d", code)
	}
}

// TestManageRefusedSelfHostedChat: the manage page of a self-hosted chat subscribed on the page,
// suspended since subscribers.self_hosted_chats is off, says why and offers no Resume; with the
// setting on it is a chat suspended for failing, which may be resumed.
func TestManageRefusedSelfHostedChat(t *testing.T) {
	for _, on := range []bool{false, true} {
		f := newSubscribeFixture(t, service.SubscriberOptions{SelfHostedChats: on}, 1000)
		sub := store.Subscriber{ID: "sub-selfhosted", LinkKey: "00112233445566778899aabbccddeeff", Channel: store.SubscriberChat, Address: "ops@example.com",
			URL: "mattermost://203.0.113.9/token", State: store.SubscriberSuspended, Source: "page", CreatedAt: t0, UpdatedAt: t0, SuspendedAt: t0, Version: 1}
		mustOK(t, f.store.CreateSubscriber(t.Context(), sub, store.AuditEntry{At: t0}))
		r := f.do("GET", "/subscriptions/manage?t="+url.QueryEscape(service.ManageToken(sub)), "", "", "Accept", "text/html")
		body := string(r.body)
		refused := strings.Contains(body, "this page no longer posts to self-hosted chat services")
		resume := strings.Contains(body, `name="resume"`)
		if r.code != 200 || refused == on || resume != on {
			t.Errorf("self_hosted_chats %v: %d, says refused %v, offers resume %v; want refused and resume %v, %v:\n%s", on, r.code, refused, resume, !on, on, body)
		}
	}
}
