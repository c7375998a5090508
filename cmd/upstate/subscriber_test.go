package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// TestSubscriberCommands runs the subscriber client against a real server: add (confirmed and
// not, a webhook refused for its loopback address), list with filters and every page, export,
// import of a file larger than one request, remove, and the hash the audit log keeps.
func TestSubscriberCommands(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeAdmin])
	if r := cli(t, "subscriber", "add", "ada@example.com", "-components", "api", "-confirmed"); r.code != 0 || !strings.Contains(r.stdout, "confirmed") {
		t.Fatalf("add: %+v", r)
	}
	if r := cli(t, "subscriber", "add", "ADA@example.com"); r.code != exitConflict {
		t.Errorf("adding a subscribed address: exit %d (%s), want %d", r.code, r.stderr, exitConflict)
	}
	if r := cli(t, "subscriber", "add", "ops@example.com", "-webhook", "http://127.0.0.1:9/hook"); r.code != exitAPI || !strings.Contains(r.stderr, "not a public address") {
		t.Errorf("a loopback webhook: exit %d, %s", r.code, r.stderr)
	}
	// An import bigger than one request goes in several.
	var b strings.Builder
	b.WriteString("address,components,language\n")
	for i := range importChunk + 5 {
		b.WriteString("s" + strconv.Itoa(i) + "@example.com,db,en\n")
	}
	b.WriteString("not-an-address,,\n")
	file := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cli(t, "subscriber", "import", "-confirmed", file)
	if r.code != 0 || !strings.Contains(r.stdout, strconv.Itoa(importChunk+5)+" added, 0 subscribed already, 1 refused") ||
		!strings.Contains(r.stdout, "row "+strconv.Itoa(importChunk+6)) {
		t.Fatalf("import: %+v", r)
	}
	r = cli(t, "subscriber", "list", "-component", "api")
	if r.code != 0 || !strings.Contains(r.stdout, "ada@example.com") || strings.Contains(r.stdout, "s1@example.com") {
		t.Errorf("list -component api: %+v", r)
	}
	r = cli(t, "subscriber", "list", "-all", "-o", "json")
	var all struct {
		Subscribers []struct{ ID, Address string } `json:"subscribers"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil || len(all.Subscribers) != importChunk+6 {
		t.Errorf("list -all: %d subscribers (%v), want %d", len(all.Subscribers), err, importChunk+6)
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	if r := cli(t, "subscriber", "export", "-state", "confirmed", "-out", out); r.code != 0 {
		t.Fatalf("export: %+v", r)
	}
	csv, _ := os.ReadFile(out)
	if n := strings.Count(string(csv), "\n"); n != importChunk+7 {
		t.Errorf("the export has %d lines, want a header and %d subscribers", n, importChunk+6)
	}
	if info, _ := os.Stat(out); info.Mode().Perm() != 0o600 {
		t.Errorf("the export is readable by others: %v", info.Mode())
	}
	var id string
	for _, sub := range all.Subscribers {
		if sub.Address == "ada@example.com" {
			id = sub.ID
		}
	}
	if r := cli(t, "subscriber", "remove", id); r.code != 0 {
		t.Errorf("remove: %+v", r)
	}
	if r := cli(t, "subscriber", "remove", id); r.code != exitNotFound {
		t.Errorf("remove again: exit %d, want %d", r.code, exitNotFound)
	}
	r = cli(t, "subscriber", "hash", "Ada@Example.com")
	entries, _ := s.store.ListAudit(t.Context(), store.AuditQuery{Target: "subscriber/" + id})
	if r.code != 0 || len(entries) != 2 || !strings.Contains(string(entries[0].Before), strings.TrimSpace(r.stdout)) ||
		strings.TrimSpace(r.stdout) != service.AddressHash(store.SubscriberEmail, "ada@example.com") {
		t.Errorf("hash %q, audit %+v: the removal's entry holds the hash the command prints", r.stdout, entries)
	}
}

var (
	confirmLink = regexp.MustCompile(`http://\S+/subscriptions/confirm\?t=\S+`)
	unsubLink   = regexp.MustCompile(`List-Unsubscribe: <(http://\S+/subscriptions/unsubscribe\?t=\S+)>`)
)

// TestExampleSubscribeConfirmNoticeUnsubscribe is the subscribers' "done when", as a newcomer
// does it: upstate mailcatcher in a process of its own, serve on the example config (whose
// notify.smtp is the catcher), the form on the page, the confirmation printed by the catcher,
// its link followed, an incident declared, its notice printed with its List-Unsubscribe, the
// one-click POST to it, and the subscription gone.
func TestExampleSubscribeConfirmNoticeUnsubscribe(t *testing.T) {
	smtpAddr := freeAddr(t)
	catcher := startUpstate(t, "mailcatcher", "mailcatcher", "-listen", smtpAddr)
	waitUntil(t, 20*time.Second, "the mail catcher listens", func() bool {
		c, err := net.Dial("tcp", smtpAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	_, smtpPort, _ := net.SplitHostPort(smtpAddr)
	addr := freeAddr(t)
	dir := t.TempDir()
	path := exampleConfig(t, func(s string) string {
		s = mustReplace(t, s, "127.0.0.1:8080", addr)
		s = mustReplace(t, s, "path: ../data/upstate.db", "path: "+filepath.Join(dir, "upstate.db"))
		s = mustReplace(t, s, "    port: 1025\n", "    port: "+smtpPort+"\n")
		return mustReplace(t, s, "  sla_warnings: [0.5, 0.8]", "  sla_warnings: [0.5, 0.8]\n  poll: 100ms")
	}, func(s string) string { return s })
	token := createKey(t, path, "e2e", "admin")
	serveInProcess(t, path)
	base := "http://" + addr
	waitUntil(t, 30*time.Second, "serve answers", func() bool { c, _ := get(base + "/healthz"); return c == 200 })
	if c, page := get(base + "/"); c != 200 || !strings.Contains(page, `href="/subscribe"`) {
		t.Fatalf("the example page does not link to /subscribe: %d", c)
	}
	post := func(u, contentType, body string, auth bool) (int, string) {
		req, _ := http.NewRequest("POST", u, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, page := post(base+"/subscribe", "application/x-www-form-urlencoded", url.Values{"address": {"newcomer@example.com"}}.Encode(), false); c != 200 {
		t.Fatalf("subscribe: %d %s", c, page)
	}
	var link string
	waitUntil(t, 30*time.Second, "the catcher prints the confirmation", func() bool {
		link = confirmLink.FindString(catcher.out.String())
		return link != ""
	})
	_, page := get(link)
	m := hiddenToken.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the confirm link's page: %s", page)
	}
	if c, page := post(base+"/subscriptions/confirm", "application/x-www-form-urlencoded", url.Values{"t": {m[1]}}.Encode(), false); c != 200 ||
		!strings.Contains(page, "You are subscribed") {
		t.Fatalf("confirm: %d %s", c, page)
	}
	if c, body := post(base+"/api/admin/v1/incidents", "application/json", `{"title":"Payments are slow","severity":"P2","message":"Looking into it.","components":[{"id":"api","impact":"degraded_performance"}]}`, true); c != 201 {
		t.Fatalf("declare: %d %s", c, body)
	}
	var unsub string
	waitUntil(t, 30*time.Second, "the catcher prints the notice", func() bool {
		out := catcher.out.String()
		if mm := unsubLink.FindStringSubmatch(out); mm != nil && strings.Contains(out, "Subject: [Example Status] Incident: Payments are slow") {
			unsub = mm[1]
		}
		return unsub != ""
	})
	if c, page := post(unsub, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", false); c != 200 || !strings.Contains(page, "You are unsubscribed") {
		t.Fatalf("one-click unsubscribe: %d %s", c, page)
	}
	req, _ := http.NewRequest("GET", base+"/api/admin/v1/subscribers", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"subscribers":[]`) {
		t.Errorf("after the one-click: %s", b)
	}
}

var hiddenToken = regexp.MustCompile(`<input type="hidden" name="t" value="([^"]+)">`)
