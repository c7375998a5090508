package statuspage

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

func outboxRow(id string, state store.NotificationState, created time.Time) store.Notification {
	return store.Notification{ID: id, Target: "ops", Channel: "webhook", Kind: "incident.declared", IncidentID: "inc-1", Action: "trigger",
		Payload: json.RawMessage(`{"subject":"[P1 Incident] API is down"}`), State: state, CreatedAt: created, NextAt: created, UpdatedAt: created, Version: 1}
}

type notificationPage struct {
	Notifications []map[string]any `json:"notifications"`
	Next          string           `json:"next"`
}

// TestNotificationsAPI: operators list the outbox by state, read one, cancel and retry; bad
// input is a 400 naming the parameter; a change a state forbids is a 409; changes are audited.
func TestNotificationsAPI(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	rows := []store.Notification{outboxRow("ntf-a", store.NotificationPending, t0), outboxRow("ntf-b", store.NotificationPending, t0.Add(time.Second)),
		outboxRow("ntf-c", store.NotificationPending, t0.Add(2*time.Second))}
	rows[2].Target = "mail"
	if _, err := f.srv.svc.Notifications.Enqueue(ctx, rows); err != nil {
		t.Fatal(err)
	}
	read, admin := f.tokens[apikey.ScopeRead], f.tokens[apikey.ScopeAdmin]

	r := f.do("GET", "/api/admin/v1/notifications", read, "")
	var page notificationPage
	if r.code != http.StatusOK || json.Unmarshal(r.body, &page) != nil || len(page.Notifications) != 3 || page.Notifications[0]["id"] != "ntf-c" ||
		page.Notifications[0]["subject"] != "[P1 Incident] API is down" || page.Notifications[0]["next_attempt_at"] == nil {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	r = f.do("GET", "/api/admin/v1/notifications?limit=2&target=ops", read, "")
	page = notificationPage{}
	if json.Unmarshal(r.body, &page) != nil || len(page.Notifications) != 2 || page.Next == "" {
		t.Fatalf("first page: %s", r.body)
	}
	r = f.do("GET", "/api/admin/v1/notifications?limit=2&target=ops&before="+page.Next, read, "")
	page = notificationPage{}
	if json.Unmarshal(r.body, &page) != nil || len(page.Notifications) != 0 {
		t.Fatalf("second page: %s", r.body)
	}
	for _, tt := range []struct{ query, field string }{
		{"state=lost", "state"}, {"limit=0", "limit"}, {"limit=x", "limit"}, {"before=yesterday", "before"}, {"colour=red", "colour"},
	} {
		r := f.do("GET", "/api/admin/v1/notifications?"+tt.query, read, "")
		if e := r.apiErr(t); r.code != http.StatusBadRequest || e.Field != tt.field {
			t.Errorf("?%s: %d %+v, want 400 naming %s", tt.query, r.code, e, tt.field)
		}
	}
	r = f.do("GET", "/api/admin/v1/notifications/ntf-a", read, "")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"message":{"subject"`) {
		t.Errorf("get: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/notifications/ntf-nope", read, ""); r.code != http.StatusNotFound {
		t.Errorf("get a missing one: %d", r.code)
	}

	before := f.auditCount()
	if r := f.do("POST", "/api/admin/v1/notifications/ntf-a/cancel", read, ""); r.code != http.StatusForbidden {
		t.Errorf("cancel with a read key: %d", r.code)
	}
	r = f.do("POST", "/api/admin/v1/notifications/ntf-a/cancel", admin, "")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"state":"cancelled"`) || !strings.Contains(string(r.body), `"next_attempt_at":null`) {
		t.Fatalf("cancel: %d %s", r.code, r.body)
	}
	r = f.do("POST", "/api/admin/v1/notifications/ntf-a/cancel", admin, "")
	if e := r.apiErr(t); r.code != http.StatusConflict || e.Code != "invalid_state" || !strings.Contains(e.Message, "cancelled already") {
		t.Errorf("cancel twice: %d %+v", r.code, e)
	}
	r = f.do("POST", "/api/admin/v1/notifications/ntf-a/retry", admin, "")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"state":"pending"`) {
		t.Fatalf("retry: %d %s", r.code, r.body)
	}
	if got := f.auditCount() - before; got != 2 {
		t.Errorf("%d audit entries for a cancel and a retry, want 2", got)
	}
	entries, _ := f.store.ListAudit(ctx, store.AuditQuery{Action: "notification.cancel"})
	if len(entries) != 1 || entries[0].Actor != "admin-key" || entries[0].Target != "notification/ntf-a" {
		t.Errorf("audit: %+v", entries)
	}
	r = f.do("GET", "/api/admin/v1/notifications?state=pending,cancelled", read, "")
	page = notificationPage{}
	if json.Unmarshal(r.body, &page) != nil || len(page.Notifications) != 3 {
		t.Errorf("by two states: %s", r.body)
	}
}

// TestTargetsAPI: the targets without their secrets, and a test message to one: delivered, a
// receiver's refusal (502 saying why), an unknown target (404).
func TestTargetsAPI(t *testing.T) {
	f := newFixture(t)
	ok := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "whsec"})
	down := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 100})
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: notify.Page{Title: "Acme", PublicURL: "https://status.example.com"}, Targets: []notify.Target{
		{ID: "ops", Kind: notify.KindWebhook, URL: ok.URL + "?token=SECRET", Secret: "whsec"},
		{ID: "down", Kind: notify.KindWebhook, URL: down.URL},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Targets: chans, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy})
	srv, err := New(Options{Store: f.store, Service: svc, Clock: f.clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test", CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	read, admin := f.tokens[apikey.ScopeRead], f.tokens[apikey.ScopeAdmin]
	r := f.do("GET", "/api/admin/v1/targets", read, "")
	if r.code != http.StatusOK || strings.Contains(string(r.body), "SECRET") || strings.Contains(string(r.body), "whsec") ||
		!strings.Contains(string(r.body), `{"id":"ops","kind":"webhook","source":"config","destination":"`+ok.Base+`/...","url":"`+ok.Base+`/...","secret":"(redacted)","timeout":"30s","max_in_flight":4,"used_by":[]}`) {
		t.Errorf("targets: %d %s", r.code, r.body)
	}
	if r := f.do("POST", "/api/admin/v1/targets/ops/test", read, ""); r.code != http.StatusForbidden {
		t.Errorf("a test with a read key: %d", r.code)
	}
	r = f.do("POST", "/api/admin/v1/targets/ops/test", admin, "")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"delivered":true`) || len(ok.Accepted()) != 1 {
		t.Errorf("test: %d %s, receiver accepted %d", r.code, r.body, len(ok.Accepted()))
	}
	if p := ok.Accepted()[0].Decode(t); p.Upstate.Kind != "test" || !strings.Contains(p.Upstate.Text, "asked for by admin-key") {
		t.Errorf("test message %+v", p.Upstate)
	}
	r = f.do("POST", "/api/admin/v1/targets/down/test", admin, "")
	if e := r.apiErr(t); r.code != http.StatusBadGateway || e.Code != "delivery_failed" || !strings.Contains(e.Message, "503") {
		t.Errorf("a failing target: %d %+v", r.code, e)
	}
	if r := f.do("POST", "/api/admin/v1/targets/nope/test", admin, ""); r.code != http.StatusNotFound {
		t.Errorf("an unknown target: %d", r.code)
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Action: "notification.test"})
	if len(entries) != 2 {
		t.Errorf("%d audited tests, want 2 (the unknown target is not one)", len(entries))
	}
}
