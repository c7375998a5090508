package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/notify/notifytest"
)

// TestAutomaticIncidentKeepsTheMonitorToTheTeam: monitors and their targets need a key
// (server.public_monitors is off in the example), so an automatic incident must not publish
// them. Through serve on the example config, the failing monitor "reports-backend-probe" of the
// public component "Legacy reports" checks a loopback URL with a secret-looking path; once its
// server is gone the probe's reason names the address ("dial tcp 127.0.0.1:<port>: connect:
// connection refused"). Every public surface (the page, the incident's page, the feeds, the v1
// and v2 JSON, a subscriber's mail and webhook) shows the incident without the monitor's id,
// its address, its path or the reason; the admin API and the team's targets (a webhook and a
// mail) have them.
func TestAutomaticIncidentKeepsTheMonitorToTheTeam(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("reports")) }))
	t.Cleanup(backend.Close)
	backendAddr := strings.TrimPrefix(backend.URL, "http://")
	const monitorID, secretPath = "reports-backend-probe", "/internal/s3cr3t-4f9a1c/reports"
	smtpSrv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	sre := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "example-webhook-secret"})
	subHook := notifytest.StartWebhook(t, notifytest.WebhookOptions{}) // a subscriber's webhook: its own secret
	addr := freeAddr(t)
	dir := t.TempDir()
	path := exampleConfig(t, func(s string) string {
		s = mustReplace(t, s, "127.0.0.1:8080", addr)
		s = mustReplace(t, s, "path: ../data/upstate.db", "path: "+filepath.Join(dir, "upstate.db"))
		s = mustReplace(t, s, "http://127.0.0.1:9099", sre.Base)
		s = mustReplace(t, s, `  - id: legacy-reports
    component: legacy-reports
    kind: http
    interval: 20s
    failures: 2
    http:
      url: http://`+addr+`/legacy/reports`, `  - id: `+monitorID+`
    component: legacy-reports
    kind: http
    interval: 2s
    timeout: 1s
    failures: 2
    http:
      url: `+backend.URL+secretPath)
		s = mustReplace(t, s, "    port: 1025\n", "    port: "+strconv.Itoa(smtpSrv.Port)+"\n")
		s = mustReplace(t, s, "    # - id: sre-mail            # one mail per recipient, through notify.smtp\n    #   kind: email\n    #   to: [sre@example.com]\n",
			"    - id: sre-mail\n      kind: email\n      to: [sre@example.com]\n")
		s = mustReplace(t, s, "      targets: [team-hook]", "      targets: [team, sre-mail]")
		s = mustReplace(t, s, "allow_private_webhooks: false", "allow_private_webhooks: true")
		return mustReplace(t, s, "  sla_warnings: [0.5, 0.8]", "  sla_warnings: [0.5, 0.8]\n  poll: 100ms")
	}, func(s string) string { return s })
	token := createKey(t, path, "e2e", "admin")
	serveInProcess(t, path)
	base := "http://" + addr
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	legacyStatus := func() string {
		var v struct {
			Components []struct{ ID, Status string } `json:"components"`
		}
		_, body := call("GET", "/api/v1/components", "")
		_ = json.Unmarshal([]byte(body), &v)
		for _, c := range v.Components {
			if c.ID == "legacy-reports" {
				return c.Status
			}
		}
		return ""
	}
	notifytest.Eventually(t, 30*time.Second, "legacy-reports to be operational", func() bool { return legacyStatus() == "operational" })
	for _, sub := range []string{`{"address":"reader@example.com","channel":"email","confirmed":true}`,
		`{"address":"ops@example.com","channel":"webhook","url":"` + subHook.Base + `/subscriber","confirmed":true}`} {
		if c, body := call("POST", "/api/admin/v1/subscribers", sub); c != http.StatusCreated {
			t.Fatalf("subscribe: %d %s", c, body)
		}
	}

	backend.Close() // from now on: connect: connection refused, naming the address
	var id string
	notifytest.Eventually(t, 30*time.Second, "the automatic incident", func() bool {
		var v struct {
			Incidents []struct {
				ID        string `json:"id"`
				Automatic bool   `json:"automatic"`
			} `json:"incidents"`
		}
		_, body := get(base + "/api/v1/incidents")
		_ = json.Unmarshal([]byte(body), &v)
		for _, inc := range v.Incidents {
			if inc.Automatic {
				id = inc.ID
			}
		}
		return id != ""
	})
	secrets := []string{monitorID, backendAddr, "s3cr3t", "connection refused", "dial tcp"}
	leaks := func(what, s string) {
		t.Helper()
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows %q:\n%s", what, secret, s)
			}
		}
	}
	const public = "Legacy reports is not responding as expected. We are investigating."

	// The admin API has the monitor and its reason, in an internal update.
	_, admin := call("GET", "/api/admin/v1/incidents/"+id, "")
	if !contains(admin, `"internal":true`, monitorID, "connection refused", backendAddr, public) {
		t.Errorf("the admin API: %s", admin)
	}

	// Every public surface, without a key. Each is waited for until it shows the incident (the
	// response cache may serve a copy made before it for a few seconds).
	for _, p := range []struct{ path, want string }{
		{"/", public},
		{"/incidents/" + id, public},
		{"/history", "Legacy reports is down"},
		{"/history.rss", "Legacy reports is not responding as expected."},
		{"/history.atom", "Legacy reports is not responding as expected."},
		{"/feed.json", "Legacy reports is not responding as expected."},
		{"/api/v1/incidents", public},
		{"/api/v1/incidents/" + id, public},
		{"/api/v2/incidents.json", public},
		{"/api/v2/incidents/unresolved.json", public},
		{"/api/v2/summary.json", public},
		{"/embed", "Legacy reports is down"},
	} {
		var body string
		notifytest.Eventually(t, 30*time.Second, p.path+" to show the incident", func() bool {
			_, body = get(base + p.path)
			return strings.Contains(body, "Legacy reports is down")
		})
		if !strings.Contains(body, p.want) {
			t.Errorf("%s does not show %q:\n%s", p.path, p.want, body)
		}
		leaks(p.path, body)
	}

	// The subscribers: a mail and a webhook.
	mailTo := func(to string) (notifytest.Parsed, bool) {
		for _, m := range smtpSrv.Mail() {
			if len(m.To) == 1 && m.To[0] == to {
				if p := notifytest.Parse(t, m); strings.Contains(p.Subject, "Legacy reports is down") {
					return p, true
				}
			}
		}
		return notifytest.Parsed{}, false
	}
	var mail notifytest.Parsed
	notifytest.Eventually(t, 30*time.Second, "the subscriber's mail", func() (ok bool) { mail, ok = mailTo("reader@example.com"); return ok })
	if !strings.Contains(mail.Text, "Legacy reports is not responding as expected.") {
		t.Errorf("the subscriber's mail does not say what customers see:\n%s", mail.Text)
	}
	leaks("the subscriber's mail (text)", mail.Text)
	leaks("the subscriber's mail (HTML)", mail.HTML)
	var hook []byte
	notifytest.Eventually(t, 30*time.Second, "the subscriber's webhook", func() bool {
		for _, d := range subHook.Log() {
			if d.Path == "/subscriber" && d.Event == "incident.declared" {
				hook = d.Body
			}
		}
		return hook != nil
	})
	if !strings.Contains(string(hook), public) {
		t.Errorf("the subscriber's webhook does not say what customers see:\n%s", hook)
	}
	leaks("the subscriber's webhook", string(hook))

	// The team: its webhook target and its mail have the monitor and the reason.
	var team *notifytest.Payload
	notifytest.Eventually(t, 30*time.Second, "the team's webhook", func() bool {
		for _, d := range sre.Accepted() {
			if p := d.Decode(t); d.Path == "/team" && p.Upstate.Kind == "incident.declared" && p.Incident != nil && p.Incident.ID == id {
				team = &p
			}
		}
		return team != nil
	})
	if !contains(team.Upstate.Text, monitorID, "connection refused", backendAddr, public) {
		t.Errorf("the team's webhook text: %q", team.Upstate.Text)
	}
	var sreMail notifytest.Parsed
	notifytest.Eventually(t, 30*time.Second, "the team's mail", func() (ok bool) { sreMail, ok = mailTo("sre@example.com"); return ok })
	if !contains(sreMail.Text, monitorID, "connection refused", backendAddr) {
		t.Errorf("the team's mail:\n%s", sreMail.Text)
	}
}
