package service_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

func newSubscriberFixture(t *testing.T, o service.SubscriberOptions) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus := events.NewBus(nil)
	ch, stop := bus.Subscribe(100)
	t.Cleanup(stop)
	clock := clockwork.NewFakeClockAt(t0)
	if o.Languages == nil {
		o.Languages = []string{"en", "zh-Hans"}
	}
	f := &fixture{svc: service.New(service.Options{Store: st, Clock: clock, Bus: bus, Subscribers: o}), store: st, clock: clock, events: ch}
	err = f.svc.Components.Sync(t.Context(), []component.Component{{ID: "core", Name: "Core", IsGroup: true},
		{ID: "api", Name: "API", GroupID: "core"}, {ID: "db", Name: "Database"}})
	if err != nil {
		t.Fatal(err)
	}
	f.drain()
	return f
}

func (f *fixture) subscribers(t *testing.T) []store.Subscriber {
	t.Helper()
	subs, err := f.store.ListSubscribers(t.Context(), store.SubscriberQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

func kindsOf(evs []events.Event) []events.Kind {
	var out []events.Kind
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

// TestSubscriberLifecycle walks a subscription from the page to its deletion: every change
// writes one audit entry and publishes one event, the audit log and the events never hold the
// address, and asking again never shows whether the address was subscribed.
func TestSubscriberLifecycle(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{})
	ctx := t.Context()
	door := f.svc.Subscribers
	page := service.Actor{Name: "page", RemoteAddr: "198.51.100.7"}
	req := service.SubscribeRequest{Address: "Ada.Lovelace@Example.com", Components: []string{"core"}, Language: "zh-hans"}

	step := func(name string, wantKind events.Kind, wantAction string, fn func() error) {
		t.Helper()
		before := len(f.audit(t))
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		evs := f.drain()
		entries := f.audit(t)
		if len(evs) != 1 || evs[0].Kind != wantKind || evs[0].SubscriberID == "" {
			t.Errorf("%s: events %v, want one %s naming the subscriber", name, kindsOf(evs), wantKind)
		}
		if len(entries) != before+1 || entries[0].Action != wantAction {
			t.Errorf("%s: %d audit entries (newest %q), want one more, %s", name, len(entries)-before, entries[0].Action, wantAction)
		}
	}
	step("subscribe", events.SubscriberRequested, "subscriber.subscribe", func() error { return door.Subscribe(ctx, page, req) })
	subs := f.subscribers(t)
	if len(subs) != 1 || subs[0].State != store.SubscriberPending || subs[0].Language != "zh-Hans" || subs[0].Source != "page" {
		t.Fatalf("after subscribing: %+v, want one pending subscriber in zh-Hans", subs)
	}
	sub := subs[0]
	// Asked again while pending: new choices, a new confirmation mail.
	req.Components = []string{"db"}
	step("subscribe again while pending", events.SubscriberRequested, "subscriber.subscribe", func() error { return door.Subscribe(ctx, page, req) })
	if got := f.subscribers(t); len(got) != 1 || got[0].Components[0] != "db" {
		t.Errorf("a pending subscription takes the new choices: %+v", got)
	}
	step("confirm", events.SubscriberConfirmed, "subscriber.confirm", func() error {
		_, first, err := door.Confirm(ctx, page, door.ConfirmToken(sub, t0))
		if err == nil && !first {
			t.Error("the confirmation that confirmed says it was not the first")
		}
		return err
	})
	// Confirming again changes nothing and is no error (a mail client that opens links twice),
	// and is not the first.
	if got, first, err := door.Confirm(ctx, page, door.ConfirmToken(sub, t0)); err != nil || got.State != store.SubscriberConfirmed || first {
		t.Errorf("confirm again: %v, first %v, %v; want confirmed, not first", got.State, first, err)
	}
	if evs := f.drain(); len(evs) != 0 {
		t.Errorf("confirming again published %v", kindsOf(evs))
	}
	// Asked again once subscribed: the choices stay; the manage link is mailed.
	req.Components = []string{"api"}
	step("subscribe again once subscribed", events.SubscriberReminded, "subscriber.remind", func() error { return door.Subscribe(ctx, page, req) })
	if got := f.subscribers(t); got[0].Components[0] != "db" || got[0].State != store.SubscriberConfirmed {
		t.Errorf("someone asking again changed a confirmed subscription: %+v", got[0])
	}
	token := service.ManageToken(sub)
	step("change", events.SubscriberUpdated, "subscriber.update", func() error {
		_, err := door.Change(ctx, page, token, service.SubscriberChange{Components: []string{"api", "db"}, ComponentUpdates: true, Language: "en"})
		return err
	})
	if got, err := door.Open(ctx, token); err != nil || len(got.Components) != 2 || !got.ComponentUpdates || got.Language != "en" {
		t.Errorf("after the change: %+v, %v", got, err)
	}
	step("unsubscribe", events.SubscriberRemoved, "subscriber.unsubscribe", func() error { return door.Unsubscribe(ctx, page, token) })
	if got := f.subscribers(t); len(got) != 0 {
		t.Errorf("after unsubscribing: %+v, want nothing kept", got)
	}
	// The same link again: nothing to do, no error (RFC 8058 one-click may be sent twice).
	if err := door.Unsubscribe(ctx, page, token); !errors.Is(err, service.ErrBadLink) {
		t.Errorf("unsubscribe with a dead link: %v, want ErrBadLink", err)
	}
	// Nothing kept names the address: the audit log has its hash.
	hash := service.AddressHash(store.SubscriberEmail, "ada.lovelace@example.COM")
	found := false
	for _, e := range f.audit(t) {
		all := strings.ToLower(string(e.Before) + string(e.After) + e.Target)
		if strings.Contains(all, "lovelace") {
			t.Errorf("audit entry %d %s names the address: %s", e.ID, e.Action, all)
		}
		found = found || strings.Contains(all, hash)
	}
	if !found {
		t.Errorf("no audit entry holds the address's hash %s", hash)
	}
	js, _ := f.store.ReadJournal(ctx, 0, 100)
	for _, j := range js {
		if strings.Contains(strings.ToLower(string(j.Body)), "lovelace") {
			t.Errorf("journal entry %s names the address: %s", j.Kind, j.Body)
		}
	}
}

func TestSubscribeRefusesBadInputAndStoresNothing(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{})
	audited := len(f.audit(t))
	tests := []struct {
		name  string
		req   service.SubscribeRequest
		field string
		msg   string
	}{
		{"no address", service.SubscribeRequest{}, "address", "is required"},
		{"not an address", service.SubscribeRequest{Address: "ada.example.com"}, "address", "is not a mail address"},
		{"a display name", service.SubscribeRequest{Address: "Ada <ada@example.com>"}, "address", "must not contain spaces"},
		{"header injection", service.SubscribeRequest{Address: "ada@example.com\r\nBcc: all@example.com"}, "address", "must not contain spaces, line breaks"},
		{"header injection in a name", service.SubscribeRequest{Address: "\"Ada\r\nBcc: x@example.com\" <ada@example.com>"}, "address", "must not contain"},
		{"no domain dot", service.SubscribeRequest{Address: "root@localhost"}, "address", "is not a mail address"},
		{"too long", service.SubscribeRequest{Address: strings.Repeat("a", 250) + "@example.com"}, "address", "longer than 254"},
		{"unknown component", service.SubscribeRequest{Address: "ada@example.com", Components: []string{"nope"}}, "components", `no component or group "nope"`},
		{"unknown language", service.SubscribeRequest{Address: "ada@example.com", Language: "xx"}, "language", `unknown language "xx"`},
		{"unknown channel", service.SubscribeRequest{Address: "ada@example.com", Channel: "sms"}, "channel", `unknown channel "sms"`},
		{"url for email", service.SubscribeRequest{Address: "ada@example.com", URL: "https://example.com"}, "url", "only for a webhook"},
		{"webhook without url", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com"}, "url", "is required"},
		{"ftp", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "ftp://example.com/x"}, "url", `scheme "ftp" is not allowed`},
		{"javascript", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "javascript:alert(1)"}, "url", "not an absolute URL"},
		{"file", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "file:///etc/passwd"}, "url", "not an absolute URL"},
		{"gopher", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "gopher://example.com/"}, "url", `scheme "gopher"`},
		{"loopback", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://127.0.0.1:8080/hook"}, "url", "127.0.0.1 is not a public address"},
		{"localhost", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://localhost/hook"}, "url", "host localhost does not resolve to a public address"},
		{"private", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "https://10.1.2.3/hook"}, "url", "10.1.2.3 is not a public address"},
		{"metadata", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://169.254.169.254/latest"}, "url", "not a public address"},
		{"ipv6 loopback", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://[::1]/hook"}, "url", "not a public address"},
		{"mapped", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://[::ffff:192.168.1.1]/hook"}, "url", "not a public address"},
		{"credentials", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "https://u:p@93.184.215.14/hook"}, "url", "must not carry a user name"},
		{"bad contact", service.SubscribeRequest{Channel: "webhook", Address: "ops", URL: "https://93.184.215.14/hook"}, "address", "is not a mail address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, tt.req)
			var ve *service.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a validation error on %s", err, tt.field)
			}
			hit := false
			for _, fe := range ve.Fields {
				hit = hit || fe.Field == tt.field && strings.Contains(fe.Message, tt.msg)
			}
			if !hit {
				t.Errorf("got %v, want %s: ...%s...", ve, tt.field, tt.msg)
			}
		})
	}
	if subs := f.subscribers(t); len(subs) != 0 {
		t.Errorf("refused requests stored %d subscribers", len(subs))
	}
	if n := len(f.audit(t)) - audited; n != 0 {
		t.Errorf("refused requests wrote %d audit entries", n)
	}
	if evs := f.drain(); len(evs) != 0 {
		t.Errorf("refused requests published %v", kindsOf(evs))
	}
	// A public address passes; allowed private ones too when the config says so.
	if err := f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"},
		service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "https://93.184.215.14/hook"}); err != nil {
		t.Errorf("a public webhook: %v", err)
	}
	g := newSubscriberFixture(t, service.SubscriberOptions{AllowPrivateWebhooks: true})
	if err := g.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"},
		service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://127.0.0.1:9099/hook"}); err != nil {
		t.Errorf("a loopback webhook with private ones allowed: %v", err)
	}
}

// TestPublicFormHidesResolvedAddresses: the page's form, which anyone may use, says a name is
// not public without the address it resolved to; the admin API (Add) keeps the detail.
func TestPublicFormHidesResolvedAddresses(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{SelfHostedChats: true})
	urlError := func(err error) string {
		t.Helper()
		var ve *service.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "url" {
			t.Fatalf("got %v, want a validation error on url", err)
		}
		return ve.Fields[0].Message
	}
	for _, tt := range []struct {
		name string
		req  service.SubscribeRequest
	}{
		{"webhook", service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://localhost/hook"}},
		{"chat", service.SubscribeRequest{Channel: "chat", Address: "ops@example.com", URL: "mattermost://localhost:8065/token"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := urlError(f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, tt.req))
			if want := "host localhost does not resolve to a public address"; got != want || strings.Contains(got, "127.0.0.1") {
				t.Errorf("the form's words: %q, want %q", got, want)
			}
			_, err := f.svc.Subscribers.Add(t.Context(), service.Actor{Name: "ops"}, tt.req, true)
			if got := urlError(err); !strings.Contains(got, "resolves to 127.0.0.1") && !strings.Contains(got, "resolves to ::1") {
				t.Errorf("the admin API's words: %q, want the resolved address", got)
			}
		})
	}
}

// TestPublicFormRefusesSelfHostedChats: the page's form refuses a chat whose service posts to
// the URL's host through a client Upstate cannot give it (mattermost, generic...) unless
// SelfHostedChats; the admin API takes it either way; the vendors' services stay offered.
func TestPublicFormRefusesSelfHostedChats(t *testing.T) {
	for _, tt := range []struct {
		name, url string
		refused   bool
	}{
		{"generic", "generic://203.0.113.9/hook?disabletls=yes", true},
		{"mattermost", "mattermost://203.0.113.9/token", true},
		{"zulip", "zulip://bot%40example.com:key@203.0.113.9/?stream=ops", true},
		{"gotify", "gotify://203.0.113.9/Aaa.bbb.ccc.ddd", true},
		{"slack", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", false},
		{"discord", "discord://token@123456", false},
		{"ntfy", "ntfy://203.0.113.9/alerts", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := service.SubscribeRequest{Channel: "chat", Address: "ops@example.com", URL: tt.url}
			f := newSubscriberFixture(t, service.SubscriberOptions{})
			err := f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, req)
			var ve *service.ValidationError
			switch {
			case tt.refused && (!errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "url" || ve.Fields[0].Message != service.ErrSelfHostedChat.Error()):
				t.Errorf("the form, by default: %v, want url refused: %v", err, service.ErrSelfHostedChat)
			case !tt.refused && err != nil:
				t.Errorf("the form, by default: %v, want it taken", err)
			}
			admin := newSubscriberFixture(t, service.SubscriberOptions{})
			if _, err := admin.svc.Subscribers.Add(t.Context(), service.Actor{Name: "ops"}, req, true); err != nil {
				t.Errorf("the admin API: %v, want it taken", err)
			}
			on := newSubscriberFixture(t, service.SubscriberOptions{SelfHostedChats: true})
			if err := on.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, req); err != nil {
				t.Errorf("the form with self_hosted_chats: %v, want it taken", err)
			}
		})
	}
}

func TestPublicAddr(t *testing.T) {
	for _, tt := range []struct {
		name, addr string
		want       bool
	}{
		{"public IPv4", "93.184.215.14", true},
		{"public IPv6", "2606:4700::1111", true},
		{"loopback", "127.0.0.1", false},
		{"private 10/8", "10.0.0.1", false},
		{"private 172.16/12", "172.16.0.1", false},
		{"private 192.168/16", "192.168.0.1", false},
		{"link-local (cloud metadata)", "169.254.169.254", false},
		{"shared 100.64/10", "100.64.0.1", false},
		{"unspecified IPv4", "0.0.0.0", false},
		{"IPv6 loopback", "::1", false},
		{"IPv6 unspecified", "::", false},
		{"IPv6 link-local", "fe80::1", false},
		{"IPv6 link-local with a zone", "fe80::1%eth0", false},
		{"public IPv6 with a zone", "2606:4700::1111%eth0", false},
		{"unique local", "fc00::1", false},
		{"multicast", "224.0.0.1", false},
		{"benchmarking 198.18/15", "198.18.0.1", false},
		{"IPv4-mapped loopback", "::ffff:127.0.0.1", false},
		{"IPv4-mapped public", "::ffff:93.184.215.14", true},
		{"IPv4-compatible loopback", "::7f00:1", false},
		{"IPv4-compatible public (deprecated form)", "::93.184.215.14", false},
		{"IPv4-translated loopback", "::ffff:0:7f00:1", false},
		{"IPv4-translated public", "::ffff:0:5db8:d70e", false},
		{"NAT64 well-known prefix, loopback", "64:ff9b::7f00:1", false},
		{"NAT64 well-known prefix, private", "64:ff9b::a00:1", false},
		{"NAT64 well-known prefix, metadata", "64:ff9b::a9fe:a9fe", false},
		{"NAT64 well-known prefix, public (DNS64)", "64:ff9b::5db8:d70e", true},
		{"NAT64 local-use prefix", "64:ff9b:1::7f00:1", false},
		{"NAT64 local-use prefix, public", "64:ff9b:1::5db8:d70e", false},
		{"6to4 of loopback", "2002:7f00:1::", false},
		{"6to4 of private", "2002:c0a8:1::1", false},
		{"6to4 of public", "2002:5db8:d70e::1", true},
		{"site-local", "fec0::1", false},
		{"site-local, top of the range", "feff::1", false},
		{"Teredo", "2001::1", false},
		{"Teredo with a public server", "2001:0:5db8:d70e::1", false},
		{"benchmarking IPv6", "2001:2::1", false},
		{"ORCHIDv2", "2001:20::1", false},
		{"documentation IPv6", "2001:db8::1", false},
		{"discard-only", "100::1", false},
		{"multicast IPv6", "ff02::1", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := service.PublicAddr(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
}

func TestSubscriberLinks(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{ConfirmWithin: time.Hour})
	ctx := t.Context()
	door := f.svc.Subscribers
	if err := door.Subscribe(ctx, service.Actor{Name: "page"}, service.SubscribeRequest{Address: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	sub := f.subscribers(t)[0]
	good := door.ConfirmToken(sub, t0)
	for name, tok := range map[string]string{
		"tampered":          good[:len(good)-2] + "AA",
		"manage as confirm": service.ManageToken(sub),
		"other id":          strings.Replace(good, sub.ID, "sub-aaaaaaaaaaaaaaaa", 1),
		"garbage":           "../../etc/passwd",
		"empty":             "",
	} {
		if _, _, err := door.Confirm(ctx, service.Actor{Name: "page"}, tok); !errors.Is(err, service.ErrBadLink) {
			t.Errorf("%s: %v, want ErrBadLink", name, err)
		}
	}
	if _, err := door.Open(ctx, good); !errors.Is(err, service.ErrBadLink) {
		t.Errorf("a confirm link opens the manage page: %v", err)
	}
	f.clock.Advance(time.Hour)
	if _, _, err := door.Confirm(ctx, service.Actor{Name: "page"}, good); !errors.Is(err, service.ErrBadLink) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an hour-old link with a one-hour life: %v, want expired", err)
	}
	// Not confirmed in time: deleted.
	if n, err := door.Expire(ctx); err != nil || n != 1 {
		t.Errorf("Expire = %d, %v; want 1", n, err)
	}
	if subs := f.subscribers(t); len(subs) != 0 {
		t.Errorf("an expired request is kept: %+v", subs)
	}
}

func TestSubscribeLimitsMailsPerRecipient(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{RecipientLimit: 3, RecipientWindow: time.Hour})
	ctx := t.Context()
	for range 5 {
		if err := f.svc.Subscribers.Subscribe(ctx, service.Actor{Name: "page"}, service.SubscribeRequest{Address: "victim@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := f.drain(); len(evs) != 3 {
		t.Errorf("five requests in a minute for one address owe %d mails, want 3", len(evs))
	}
	// The count is per hour of the clock (a fixed window from the Unix epoch): the next hour
	// has its own three, whatever the case of the address.
	_, end := store.RateWindow(time.Hour, f.clock.Now())
	f.clock.Advance(end.Sub(f.clock.Now()))
	for range 4 {
		if err := f.svc.Subscribers.Subscribe(ctx, service.Actor{Name: "page"}, service.SubscribeRequest{Address: "VICTIM@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := f.drain(); len(evs) != 3 {
		t.Errorf("the next hour: %d mails, want 3", len(evs))
	}
}

// TestSubscribeLimitsMailsPerInbox: the variants of one inbox (a tag after '+', dots, case)
// share its budget, so plus-addressing does not multiply the mails one inbox gets.
func TestSubscribeLimitsMailsPerInbox(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{RecipientLimit: 3, RecipientWindow: time.Hour})
	for _, a := range []string{"victim+1@gmail.com", "victim+2@gmail.com", "Victim+3@Gmail.com", "v.i.c.t.i.m@gmail.com", "victim+5@googlemail.com", "victim@gmail.com"} {
		if err := f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, service.SubscribeRequest{Address: a}); err != nil {
			t.Fatal(err)
		}
	}
	if evs := f.drain(); len(evs) != 3 {
		t.Errorf("six requests for variants of one inbox owe %d mails, want 3", len(evs))
	}
	if err := f.svc.Subscribers.Subscribe(t.Context(), service.Actor{Name: "page"}, service.SubscribeRequest{Address: "someone.else@gmail.com"}); err != nil {
		t.Fatal(err)
	}
	if evs := f.drain(); len(evs) != 1 {
		t.Errorf("another inbox: %d mails, want 1", len(evs))
	}
}

func TestRecipientKey(t *testing.T) {
	for _, tt := range []struct{ name, address, want string }{
		{"plain", "victim@example.com", "victim@example.com"},
		{"case", "Victim@EXAMPLE.com", "victim@example.com"},
		{"tag", "victim+news@example.com", "victim@example.com"},
		{"tags", "victim+a+b@example.com", "victim@example.com"},
		{"dots at Gmail", "v.ic.tim@gmail.com", "victim@gmail.com"},
		{"dots and a tag at Gmail", "V.ictim+1@gmail.com", "victim@gmail.com"},
		{"dots elsewhere are kept", "v.ictim@example.com", "v.ictim@example.com"},
		{"googlemail", "vic.tim@googlemail.com", "victim@gmail.com"},
		{"trailing dot", "victim@example.com.", "victim@example.com"},
		{"another domain", "victim@example.org", "victim@example.org"},
		{"a dash is kept", "victim-1@example.com", "victim-1@example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := service.RecipientKey(tt.address); got != tt.want {
				t.Errorf("RecipientKey(%q) = %q, want %q", tt.address, got, tt.want)
			}
		})
	}
}

func TestClientNetwork(t *testing.T) {
	for _, tt := range []struct{ name, addr, want string }{
		{"IPv4", "198.51.100.7", "198.51.100.7"},
		{"IPv4-mapped", "::ffff:198.51.100.7", "198.51.100.7"},
		{"IPv6", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"IPv6, same /64", "2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"IPv6 with a zone", "fe80::1%eth0", "fe80::/64"},
		{"not an address", "unknown", "unknown"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := service.ClientNetwork(tt.addr); got != tt.want {
				t.Errorf("ClientNetwork(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}

func TestWebhookSubscriberSuspended(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{AllowPrivateWebhooks: true, SuspendAfter: 6 * time.Hour})
	ctx := t.Context()
	door := f.svc.Subscribers
	sub, err := door.Add(ctx, ops, service.SubscribeRequest{Channel: "webhook", Address: "ops@example.com", URL: "http://127.0.0.1:1/hook"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Errorf("a webhook subscriber's secret: %q", sub.Secret)
	}
	f.drain()
	before := len(f.audit(t))
	for _, step := range []struct {
		advance       time.Duration
		ok, suspended bool
	}{{0, false, false}, {time.Hour, true, false}, {time.Hour, false, false}, {5 * time.Hour, false, false}, {time.Hour, false, true}} {
		f.clock.Advance(step.advance)
		got, err := door.Delivered(ctx, sub.ID, step.ok)
		if err != nil || got != step.suspended {
			t.Fatalf("after %v (ok %v): suspended %v, %v; want %v", step.advance, step.ok, got, err, step.suspended)
		}
	}
	evs := f.drain()
	if len(evs) != 1 || evs[0].Kind != events.SubscriberSuspended {
		t.Errorf("events: %v, want one subscriber.suspended", kindsOf(evs))
	}
	if entries := f.audit(t); len(entries) != before+1 || entries[0].Action != "subscriber.suspend" || entries[0].Actor != "system" {
		t.Errorf("audit: %d new entries, newest %q; want one subscriber.suspend by system (the failure bookkeeping is not audited)", len(entries)-before, entries[0].Action)
	}
	// Its owner resumes it from the manage page.
	got, err := door.Change(ctx, service.Actor{Name: "page"}, service.ManageToken(sub), service.SubscriberChange{Resume: true})
	if err != nil || got.State != store.SubscriberConfirmed || !got.FailingSince.IsZero() {
		t.Errorf("resumed: %+v, %v", got, err)
	}
}

func TestAddAndImportSubscribers(t *testing.T) {
	f := newSubscriberFixture(t, service.SubscriberOptions{})
	ctx := t.Context()
	door := f.svc.Subscribers
	if _, err := door.Add(ctx, ops, service.SubscribeRequest{Address: "ada@example.com"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := door.Add(ctx, ops, service.SubscribeRequest{Address: "ADA@example.com"}, true); !errors.Is(err, store.ErrConflict) {
		t.Errorf("adding a subscribed address: %v, want ErrConflict", err)
	}
	res, err := door.Import(ctx, ops, []service.SubscribeRequest{{Address: "bob@example.com"}, {Address: "ada@example.com"}, {Address: "broken"},
		{Address: "cy@example.com", Components: []string{"api"}}}, true)
	if err != nil || res.Added != 2 || res.Skipped != 1 || len(res.Errors) != 1 || res.Errors[0].Row != 3 {
		t.Errorf("import: %+v, %v; want 2 added, 1 skipped, row 3 refused", res, err)
	}
	evs := f.drain()
	want := []events.Kind{events.SubscriberRequested, events.SubscriberConfirmed, events.SubscriberConfirmed}
	if got := kindsOf(evs); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("events %v, want %v (a pending add owes a confirmation mail; confirmed ones owe none)", got, want)
	}
	for _, sub := range f.subscribers(t) {
		if sub.Address != "ada@example.com" && (sub.Source != "import" || sub.State != store.SubscriberConfirmed) {
			t.Errorf("imported %+v", sub)
		}
	}
}
