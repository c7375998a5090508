package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// mattermostRoom is a chat room on loopback speaking Mattermost's incoming webhook (Slack's
// format): POST /hooks/<token> with {"text": ...}, answered 200, or fail while failing is set.
type mattermostRoom struct {
	mu      sync.Mutex
	texts   []string
	failing bool
	URL     string // the room's shoutrrr URL
	token   string
}

func startMattermost(t *testing.T) *mattermostRoom {
	t.Helper()
	room := &mattermostRoom{token: "room7token"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Text string `json:"text"`
		}
		raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.Method != http.MethodPost || r.URL.Path != "/hooks/"+room.token || json.Unmarshal(raw, &body) != nil || body.Text == "" {
			http.Error(w, "not a Mattermost webhook", http.StatusBadRequest)
			return
		}
		room.mu.Lock()
		defer room.mu.Unlock()
		if room.failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		room.texts = append(room.texts, body.Text)
	}))
	t.Cleanup(srv.Close)
	room.URL = "mattermost://" + strings.TrimPrefix(srv.URL, "http://") + "/" + room.token + "?disabletls=yes"
	return room
}

func (m *mattermostRoom) posts() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.texts...)
}

// TestChatSubscriberConfirmedThenPosted: a chat subscription asked from the page (a
// self-hosted one: the operator opted in with self_hosted_chats) mails its
// contact the confirmation (naming the service, never the URL's token) and posts nothing; once
// confirmed, each notice is posted to the room in the subscriber's language, with the manage and
// unsubscribe links.
func TestChatSubscriberConfirmedThenPosted(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true, SelfHostedChats: true}, notify.SubscriberOptions{AllowPrivateWebhooks: true})
	ctx := t.Context()
	room := startMattermost(t)
	req := service.SubscribeRequest{Channel: store.SubscriberChat, Address: "ops@example.com", URL: room.URL, Language: "zh-Hans"}
	if err := r.svc.Subscribers.Subscribe(ctx, service.Actor{Name: "page"}, req); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	seen := 0
	ms := r.mails(t, &seen)
	if len(ms) != 1 || ms[0].To[0] != "ops@example.com" || !strings.Contains(ms[0].Text, "mattermost://127.0.0.1") ||
		strings.Contains(ms[0].Text, room.token) || ms[0].Link("/subscriptions/confirm?t=") == "" {
		t.Fatalf("the confirmation: %+v", ms)
	}
	if len(room.posts()) != 0 {
		t.Fatalf("the room got %d posts before the confirmation", len(room.posts()))
	}
	sub, err := r.st.FindSubscriber(ctx, store.SubscriberLookup(store.SubscriberChat, room.URL))
	if err != nil {
		t.Fatal(err)
	}
	link := ms[0].Link("/subscriptions/confirm?t=")
	if _, _, err := r.svc.Subscribers.Confirm(ctx, service.Actor{Name: "page"}, link[strings.Index(link, "t=")+2:]); err != nil {
		t.Fatal(err)
	}
	inc, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "API errors", Severity: incidents.P1, Body: "We are **investigating**."})
	if err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	posts := room.posts()
	if len(posts) != 1 {
		t.Fatalf("the room got %d posts, want the incident", len(posts))
	}
	for _, want := range []string{"[Example Status] 事件：API errors", "We are **investigating**.", "https://status.example.com/incidents/" + inc.ID,
		"/subscriptions/manage?t=" + sub.ID, "/subscriptions/unsubscribe?t=" + sub.ID, "此聊天订阅了 Example Status"} {
		if !strings.Contains(posts[0], want) {
			t.Errorf("the post lacks %q:\n%s", want, posts[0])
		}
	}
	if ms := r.mails(t, &seen); len(ms) != 0 {
		t.Errorf("the incident mailed %d messages to the chat's contact", len(ms))
	}
	r.f.Stats(ctx)
	if got := testutil.ToFloat64(gauge(t, r.reg, "chat", "confirmed")); got != 1 {
		t.Errorf("upstate_subscribers{channel=chat,state=confirmed} = %v, want 1", got)
	}
}

// TestFailingChatSuspendedAndItsContactMailed: a room whose posts fail for longer than the
// suspension time is suspended as a webhook is, and its contact mailed without the URL's token.
func TestFailingChatSuspendedAndItsContactMailed(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true, SuspendAfter: 2 * time.Hour}, notify.SubscriberOptions{AllowPrivateWebhooks: true})
	ctx := t.Context()
	room := startMattermost(t)
	room.failing = true
	chat := r.add(t, service.SubscribeRequest{Channel: store.SubscriberChat, Address: "ops@example.com", URL: room.URL})
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Down", Severity: incidents.P1, Body: "Down."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	for range 20 {
		r.deliver(t)
		r.clock.Advance(20 * time.Minute)
	}
	sub, err := r.st.GetSubscriber(ctx, chat.ID)
	if err != nil || sub.State != store.SubscriberSuspended {
		t.Fatalf("after failing for hours: %+v, %v; want suspended", sub.State, err)
	}
	r.fan(t)
	r.deliver(t)
	seen := 0
	ms := r.mails(t, &seen)
	if len(ms) != 1 || ms[0].To[0] != "ops@example.com" || ms[0].Subject != "[Example Status] Posts to your chat are suspended" ||
		ms[0].Link("/subscriptions/manage?t="+chat.ID) == "" || strings.Contains(ms[0].Text, room.token) {
		t.Fatalf("the contact's mail: %+v", ms)
	}
	room.mu.Lock()
	room.failing = false
	room.mu.Unlock()
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Again", Severity: incidents.P1, Body: "Again."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	if n := len(room.posts()); n != 0 {
		t.Errorf("a suspended chat got %d posts", n)
	}
}

// TestChatToAPrivateAddressIsRefusedWhenSent: a chat accepted while private addresses were
// allowed is refused when sent once they are not: shoutrrr is never asked to post.
func TestChatToAPrivateAddressIsRefusedWhenSent(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true}, notify.SubscriberOptions{AllowPrivateWebhooks: false})
	ctx := t.Context()
	room := startMattermost(t)
	r.add(t, service.SubscribeRequest{Channel: store.SubscriberChat, Address: "ops@example.com", URL: strings.Replace(room.URL, "127.0.0.1", "localhost", 1)})
	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Down", Severity: incidents.P1, Body: "Down."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	rows, _ := r.st.ListNotifications(ctx, store.NotificationQuery{})
	if len(rows) != 1 || !strings.Contains(rows[0].LastError, "not a public address") || len(room.posts()) != 0 {
		t.Errorf("rows %+v, posts %d; want the post refused before it was made", rows, len(room.posts()))
	}
}

// TestSelfHostedChatFromThePageSuspendedOnceRefused: a self-hosted chat (mattermost) subscribed
// on the page while subscribers.self_hosted_chats was on is, once it is off, suspended when next
// owed a post, not posted to, its contact mailed why, and cannot be resumed; a self-hosted chat
// the operator added (the admin API) is still posted to.
func TestSelfHostedChatFromThePageSuspendedOnceRefused(t *testing.T) {
	r := newSubRig(t, service.SubscriberOptions{AllowPrivateWebhooks: true}, notify.SubscriberOptions{AllowPrivateWebhooks: true})
	ctx := t.Context()
	before := service.New(service.Options{Store: r.st, Clock: r.clock,
		Subscribers: service.SubscriberOptions{AllowPrivateWebhooks: true, SelfHostedChats: true, Languages: []string{"en", "zh-Hans"}}})
	room := startMattermost(t)
	if err := before.Subscribers.Subscribe(ctx, service.Actor{Name: "page"}, service.SubscribeRequest{Channel: store.SubscriberChat, Address: "ops@example.com", URL: room.URL}); err != nil {
		t.Fatal(err)
	}
	sub, err := r.st.FindSubscriber(ctx, store.SubscriberLookup(store.SubscriberChat, room.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := before.Subscribers.Confirm(ctx, service.Actor{Name: "page"}, before.Subscribers.ConfirmToken(sub, sub.UpdatedAt)); err != nil {
		t.Fatal(err)
	}
	operators := startMattermost(t)
	r.add(t, service.SubscribeRequest{Channel: store.SubscriberChat, Address: "team@example.com", URL: operators.URL})
	r.fan(t)
	r.deliver(t)
	seen := 0
	r.mails(t, &seen) // the page's subscription's confirmation

	if _, err := r.svc.Incidents.Declare(ctx, service.Actor{Name: "sre"}, incidents.Declaration{Title: "Down", Severity: incidents.P1, Body: "Down."}); err != nil {
		t.Fatal(err)
	}
	r.fan(t)
	r.deliver(t)
	if n := len(room.posts()); n != 0 {
		t.Errorf("the page's self-hosted chat got %d posts, want none", n)
	}
	if n := len(operators.posts()); n != 1 {
		t.Errorf("the operator's self-hosted chat got %d posts, want the incident", n)
	}
	got, err := r.st.GetSubscriber(ctx, sub.ID)
	if err != nil || got.State != store.SubscriberSuspended {
		t.Fatalf("the page's self-hosted chat: %v, %v; want suspended", got.State, err)
	}
	r.fan(t)
	r.deliver(t)
	ms := r.mails(t, &seen)
	if len(ms) != 1 || ms[0].To[0] != "ops@example.com" || !strings.Contains(ms[0].Text, "no longer posts to self-hosted chat services") ||
		strings.Contains(ms[0].Text, room.token) {
		t.Fatalf("the contact's mail: %+v", ms)
	}
	if _, err := r.svc.Subscribers.Change(ctx, service.Actor{Name: "page"}, service.ManageToken(got), service.SubscriberChange{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.st.GetSubscriber(ctx, sub.ID); got.State != store.SubscriberSuspended {
		t.Errorf("resumed by its subscriber: %v, want still suspended", got.State)
	}
}
