package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/store"
)

// exampleConfig copies the example config and its policies into a temporary directory, with
// edit applied to the config and policyEdit to the jenny policy, and returns the config's path.
func exampleConfig(t *testing.T, edit, policyEdit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "configs")
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"policies/jenny-7x12.yaml", "policies/zenput.yaml", "policies/jungleworks.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "jenny") {
			b = []byte(policyEdit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(src, "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "upstate.yaml")
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the example no longer holds %q", old)
	}
	return strings.ReplaceAll(s, old, new)
}

// TestExamplePagesEscalatesAndResolves is the notifications' "done when", through serve: the
// example config, with its deliberately failing check pointed at a target this test switches
// off and on, its webhook targets at loopback receivers that verify signatures, and its P0
// escalation's second step after 3 s instead of 10 min. Switching the target off pages oncall
// within seconds of the outage being confirmed; nobody acknowledges, so the second step pages
// oncall-secondary; switching it on resolves the incident, and both pages are resolved.
func TestExamplePagesEscalatesAndResolves(t *testing.T) {
	var up atomic.Bool
	up.Store(true)
	legacy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "switched off", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("reports"))
	}))
	t.Cleanup(legacy.Close)
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "example-webhook-secret"})
	addr := freeAddr(t)
	dir := t.TempDir()
	path := exampleConfig(t, func(s string) string {
		s = mustReplace(t, s, "127.0.0.1:8080", addr) // the server and the monitors of its own endpoints
		s = mustReplace(t, s, "path: ../data/upstate.db", "path: "+filepath.Join(dir, "upstate.db"))
		s = mustReplace(t, s, "http://127.0.0.1:9099", recv.Base)
		s = mustReplace(t, s, `    interval: 20s
    failures: 2
    http:
      url: http://`+addr+`/legacy/reports`, `    interval: 2s
    timeout: 1s
    failures: 2
    severity: P0              # jenny's P0 is answered around the clock: the test pages at any hour
    http:
      url: `+legacy.URL+`/legacy/reports`)
		s = mustReplace(t, s, "  sla_warnings: [0.5, 0.8]", "  sla_warnings: [0.5, 0.8]\n  poll: 100ms\n  escalation_every: 250ms")
		return s
	}, func(s string) string {
		return mustReplace(t, s, "{after: 10m, notify: [oncall-secondary]}", "{after: 3s, notify: [oncall-secondary]}")
	})
	token := createKey(t, path, "e2e", "read")
	serveInProcess(t, path)
	get := func(path string) string {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	legacyStatus := func() string {
		var v struct {
			Components []struct{ ID, Status string } `json:"components"`
		}
		_ = json.Unmarshal([]byte(get("/api/v1/components")), &v)
		for _, c := range v.Components {
			if c.ID == "legacy-reports" {
				return c.Status
			}
		}
		return ""
	}
	notifytest.Eventually(t, 20*time.Second, "legacy-reports to be operational", func() bool { return legacyStatus() == "operational" })

	pages := func(path, kind string) []notifytest.Payload {
		var out []notifytest.Payload
		for _, d := range recv.Accepted() {
			if p := d.Decode(t); d.Path == path && (kind == "" || p.Upstate.Kind == kind) {
				out = append(out, p)
			}
		}
		return out
	}
	off := time.Now()
	up.Store(false)
	notifytest.Eventually(t, 20*time.Second, "oncall to be paged", func() bool { return len(pages("/oncall", "escalation")) > 0 })
	paged := time.Now()
	first := pages("/oncall", "escalation")[0]
	if first.Incident == nil || first.Incident.Status != "investigating" || first.Incident.Impact != "critical" || first.Upstate.Step != 1 ||
		first.Upstate.Action != "trigger" || !strings.Contains(first.Incident.Name, "Legacy reports") {
		t.Fatalf("the page: %+v %+v", first.Incident, first.Upstate)
	}
	t.Logf("oncall paged %s after the target was switched off (interval 2s, 2 failures a second apart to confirm): %s after the first failed check, %s after the outage was confirmed",
		paged.Sub(off).Round(time.Millisecond), pageAt(recv).Sub(first.Incident.StartedAt).Round(time.Millisecond),
		pageAt(recv).Sub(first.Incident.CreatedAt).Round(time.Millisecond))

	notifytest.Eventually(t, 20*time.Second, "the escalation to oncall-secondary", func() bool { return len(pages("/secondary", "escalation")) > 0 })
	if p := pages("/secondary", "escalation")[0]; p.Upstate.Step != 2 || p.Incident.ID != first.Incident.ID {
		t.Errorf("the second step: %+v", p.Upstate)
	}
	if n := len(pages("/lead", "")); n != 0 {
		t.Errorf("support-lead paged %d times before its step (75%% of 30 min)", n)
	}

	up.Store(true)
	notifytest.Eventually(t, 30*time.Second, "both pages to be resolved", func() bool {
		return len(pages("/oncall", "incident.resolved")) > 0 && len(pages("/secondary", "incident.resolved")) > 0
	})
	for _, target := range []string{"/oncall", "/secondary"} {
		p := pages(target, "incident.resolved")[0]
		if p.Upstate.Action != "resolve" || p.Incident.ID != first.Incident.ID || p.Incident.Status != "resolved" || p.Upstate.DedupKey != "incident/"+first.Incident.ID {
			t.Errorf("%s resolution: %+v", target, p.Upstate)
		}
	}
	// The team heard the monitor go down and up, grouped per component.
	teamEvents := func() int {
		n := 0
		for _, p := range pages("/team", "monitor.state") {
			n += len(p.Upstate.Events)
		}
		return n
	}
	if !waitFor(30*time.Second, func() bool { return teamEvents() >= 2 }) {
		for _, d := range recv.Log() {
			p := d.Decode(t)
			t.Logf("%s %d %s %s", d.Path, d.Status, p.Upstate.Kind, p.Upstate.Subject)
		}
		t.Log(get("/api/admin/v1/notifications"))
		t.Fatal("the team heard nothing")
	}
	body := get("/api/admin/v1/notifications?state=delivered")
	if !strings.Contains(body, `"kind":"escalation"`) || !strings.Contains(body, `"target":"oncall-secondary"`) {
		t.Errorf("the notifications API: %s", body)
	}
	if metrics := get("/metrics"); !strings.Contains(metrics, `upstate_notifications_total{channel="webhook",result="delivered"}`) {
		t.Error("no upstate_notifications_total on /metrics")
	}
}

func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// pageAt is when the first page reached oncall.
func pageAt(recv *notifytest.WebhookReceiver) time.Time {
	for _, d := range recv.Accepted() {
		if d.Path == "/oncall" && d.Event == "escalation" {
			return d.At
		}
	}
	return time.Time{}
}

// TestNotifyTestCommand: `upstate notify test` sends a test message to a configured target and
// records it in the audit log; a failing target exits 1 saying why, an unknown one 2.
func TestNotifyTestCommand(t *testing.T) {
	ok := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "s3cret"})
	down := notifytest.StartWebhook(t, notifytest.WebhookOptions{FailFirst: 100})
	path := writeConfig(t, `storage:
  sqlite:
    path: `+filepath.Join(t.TempDir(), "upstate.db")+`
notify:
  targets:
    - id: ops
      kind: webhook
      url: `+ok.URL+`
      secret: s3cret
    - id: down
      kind: webhook
      url: `+down.URL+`
`)
	if code, stdout, stderr := runCLI("notify", "test", "-config", path, "ops"); code != 0 || !strings.Contains(stdout, "ops: delivered in") {
		t.Fatalf("exit %d, %q, %q", code, stdout, stderr)
	}
	if got := ok.Accepted(); len(got) != 1 || got[0].Decode(t).Upstate.Kind != "test" {
		t.Errorf("the receiver got %+v", got)
	}
	if code, _, stderr := runCLI("notify", "test", "-config", path, "down"); code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("a failing target: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI("notify", "test", "-config", path, "nope"); code != 2 || !strings.Contains(stderr, `no target "nope"`) {
		t.Errorf("an unknown target: exit %d, %q", code, stderr)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if entries, _ := st.ListAudit(t.Context(), store.AuditQuery{Action: "notification.test"}); len(entries) != 2 || entries[0].Actor != "cli" {
		t.Errorf("audit entries %+v, want the two tests by cli", entries)
	}
	code, stdout, _ := runCLI("notify", "bogus")
	if code != 2 || stdout != "" {
		t.Errorf("an unknown subcommand: exit %d", code)
	}
}

// TestNotifyReceive: the local receiver accepts what is signed with its secret, refuses what is
// not, and prints the subject.
func TestNotifyReceive(t *testing.T) {
	var out strings.Builder
	srv := httptest.NewServer(receiver("s3cret", &out))
	t.Cleanup(srv.Close)
	body := `{"upstate":{"subject":"[P0 Escalation 1] API is down","action":"trigger"}}`
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/oncall", strings.NewReader(body))
		req.Header.Set(notify.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(notify.Sign([]byte("s3cret"), time.Now(), []byte(body))); code != http.StatusNoContent {
		t.Errorf("signed: %d", code)
	}
	if code := post(notify.Sign([]byte("wrong"), time.Now(), []byte(body))); code != http.StatusUnauthorized {
		t.Errorf("badly signed: %d", code)
	}
	// A chat post (Mattermost's format, unsigned: the chat services sign nothing) is printed and
	// answered 200, as Mattermost answers.
	resp, err := http.Post(srv.URL+"/hooks/room", "application/json", strings.NewReader(`{"text":"[Example Status] Incident: API errors\n\nWe are investigating."}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(out.String(), "chat post\n  [Example Status] Incident: API errors\n  \n  We are investigating.") {
		t.Errorf("a chat post: %d, printed:\n%s", resp.StatusCode, out.String())
	}
	if !strings.Contains(out.String(), "[P0 Escalation 1] API is down") || !strings.Contains(out.String(), "REFUSED") {
		t.Errorf("printed:\n%s", out.String())
	}
}
