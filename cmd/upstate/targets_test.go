package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/notify/notifytest"
)

// TestAPITargetWithoutRestart: on a running serve of the example config, a webhook target made
// through the admin API receives the example's incidents route, signed, without a restart; a bad
// one is refused naming its field; deleting it stops its deliveries (the config's team target,
// on the same route, is the barrier: once it has the second incident, the router has routed it).
func TestAPITargetWithoutRestart(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("reports")) }))
	t.Cleanup(healthy.Close)
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "example-webhook-secret"})
	addr := freeAddr(t)
	dir := t.TempDir()
	path := exampleConfig(t, func(s string) string {
		s = mustReplace(t, s, "127.0.0.1:8080", addr)
		s = mustReplace(t, s, "path: ../data/upstate.db", "path: "+filepath.Join(dir, "upstate.db"))
		s = mustReplace(t, s, "http://127.0.0.1:9099", recv.Base)
		s = mustReplace(t, s, "url: http://"+addr+"/legacy/reports", "url: "+healthy.URL+"/legacy/reports") // no incident of its own
		s = mustReplace(t, s, "      targets: [team-hook]", "      targets: [team-hook, team]")
		s = mustReplace(t, s, "  sla_warnings: [0.5, 0.8]", "  sla_warnings: [0.5, 0.8]\n  poll: 100ms")
		return s
	}, func(s string) string { return s })
	token := createKey(t, path, "ops", "admin")
	serveInProcess(t, path)
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
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
	notifytest.Eventually(t, 20*time.Second, "serve to answer", func() bool { c, _ := call("GET", "/api/admin/v1/targets", ""); return c == http.StatusOK })

	// As an operator would: the command-line client.
	t.Setenv("UPSTATE_SERVER", "http://"+addr)
	t.Setenv("UPSTATE_TOKEN", token)
	t.Setenv("UPSTATE_CLIENT_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	if r := cli(t, "target", "add", "team-hook", "-kind", "webhook", "-url", "ftp://"+strings.TrimPrefix(recv.Base, "http://")+"/team-hook"); r.code != exitAPI ||
		!strings.Contains(r.stderr, "url: must be an absolute http or https URL [HTTP 422]") {
		t.Errorf("a bad target: %+v", r)
	}
	if r := cli(t, "target", "add", "oncall", "-kind", "webhook", "-url", recv.Base+"/x"); r.code != exitConflict || !strings.Contains(r.stderr, "managed_by_config") {
		t.Errorf("a config target's id: %+v", r)
	}
	if r := cli(t, "target", "add", "team-hook", "-kind", "webhook", "-url", recv.Base+"/team-hook", "-secret", "example-webhook-secret"); r.code != 0 ||
		strings.Contains(r.stdout, "example-webhook-secret") || !strings.Contains(r.stdout, "route incidents") {
		t.Fatalf("add: %+v", r)
	}
	if r := cli(t, "target", "list"); r.code != 0 || !strings.Contains(r.stdout, "team-hook") || !strings.Contains(r.stdout, "config") {
		t.Errorf("list: %+v", r)
	}
	if r := cli(t, "target", "test", "team-hook"); r.code != 0 || !strings.Contains(r.stdout, "delivered") {
		t.Errorf("test: %+v", r)
	}
	declare := func(title string) string {
		t.Helper()
		c, body := call("POST", "/api/admin/v1/incidents", `{"title":"`+title+`","severity":"P3","message":"Looking into it.","components":[{"id":"api","impact":"degraded_performance"}]}`)
		if c != http.StatusCreated {
			t.Fatalf("declare: %d %s", c, body)
		}
		var inc struct{ ID string }
		_ = json.Unmarshal([]byte(body), &inc)
		return inc.ID
	}
	about := func(path, incident string) int {
		n := 0
		for _, d := range recv.Accepted() { // accepted: the signature verified under the secret
			if p := d.Decode(t); d.Path == path && p.Incident != nil && p.Incident.ID == incident {
				n++
			}
		}
		return n
	}
	first := declare("Checkout errors")
	notifytest.Eventually(t, 20*time.Second, "the new target to receive the incident", func() bool { return about("/team-hook", first) > 0 })
	for _, d := range recv.Log() {
		if d.Path == "/team-hook" && (d.Status != http.StatusOK || d.Event != "incident.declared" && d.Event != "test" || !bytes.Contains(d.Body, []byte(`"notification_id"`))) {
			t.Errorf("a delivery to the new target: %d %s %s", d.Status, d.Event, d.Body)
		}
	}

	if r := cli(t, "target", "remove", "team-hook"); r.code != 0 {
		t.Fatalf("remove: %+v", r)
	}
	second := declare("Search errors")
	notifytest.Eventually(t, 20*time.Second, "the config's team target to receive the second incident", func() bool { return about("/team", second) > 0 })
	if n := about("/team-hook", second); n != 0 {
		t.Errorf("the deleted target received the second incident %d times", n)
	}
	if _, body := call("GET", "/api/admin/v1/notifications?target=team-hook", ""); strings.Contains(body, second) {
		t.Errorf("a notification to the deleted target was made: %s", body)
	}
}

// TestAPITargetOnTwoInstances: two serve of the example config share one redis-server. A
// target made through the instance that does not dispatch is sent the next incident by the one
// that does (it reads the change in the journal before the incident); a change made through
// the dispatching instance reaches the other one's channels by the engine's announcement, well
// before their 30 s reload: its test messages go to the new address.
func TestAPITargetOnTwoInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("reports")) }))
	t.Cleanup(healthy.Close)
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "example-webhook-secret"})
	type instance struct{ addr, path string }
	var instances []instance
	for range 2 {
		addr := freeAddr(t)
		path := exampleConfig(t, func(s string) string {
			s = mustReplace(t, s, "127.0.0.1:8080", addr)
			s = mustReplace(t, s, "  backend: sqlite\n  sqlite:\n    path: ../data/upstate.db   # relative to this file",
				"  backend: redis\n  redis:\n    addrs: [\""+srv.Addr+"\"]\n    key_prefix: two\ncluster:\n  heartbeat: 200ms\n  member_timeout: 2s\n  lease: 3s")
			s = mustReplace(t, s, "http://127.0.0.1:9099", recv.Base)
			s = mustReplace(t, s, "url: http://"+addr+"/legacy/reports", "url: "+healthy.URL+"/legacy/reports")
			s = mustReplace(t, s, "  sla_warnings: [0.5, 0.8]", "  sla_warnings: [0.5, 0.8]\n  poll: 100ms")
			return s
		}, func(s string) string { return s })
		instances = append(instances, instance{addr, path})
	}
	token := createKey(t, instances[0].path, "ops", "admin")
	for _, in := range instances {
		serveInProcess(t, in.path)
	}
	call := func(addr, method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
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
	// Which one dispatches: its upstate_notifications_dispatching is 1.
	var leader, other string
	notifytest.Eventually(t, 30*time.Second, "one instance to dispatch", func() bool {
		var leading []string
		for _, in := range instances {
			if _, m := call(in.addr, "GET", "/metrics", ""); strings.Contains(m, "\nupstate_notifications_dispatching 1") {
				leading = append(leading, in.addr)
			}
		}
		if len(leading) != 1 {
			return false
		}
		leader, other = leading[0], instances[0].addr
		if other == leader {
			other = instances[1].addr
		}
		return true
	})

	if c, body := call(other, "POST", "/api/admin/v1/targets", `{"id":"team-hook","kind":"webhook","url":"`+recv.Base+`/team-hook","secret":"example-webhook-secret"}`); c != http.StatusCreated {
		t.Fatalf("create on the other instance: %d %s", c, body)
	}
	c, body := call(other, "POST", "/api/admin/v1/incidents", `{"title":"Checkout errors","severity":"P3","message":"Looking into it.","components":[{"id":"api","impact":"degraded_performance"}]}`)
	if c != http.StatusCreated {
		t.Fatalf("declare: %d %s", c, body)
	}
	var inc struct{ ID string }
	_ = json.Unmarshal([]byte(body), &inc)
	notifytest.Eventually(t, 20*time.Second, "the dispatching instance to send the incident to the new target", func() bool {
		for _, d := range recv.Accepted() {
			if p := d.Decode(t); d.Path == "/team-hook" && p.Incident != nil && p.Incident.ID == inc.ID {
				return true
			}
		}
		return false
	})

	// Changed through the dispatching instance; the other one's test messages follow.
	if c, body := call(leader, "PATCH", "/api/admin/v1/targets/team-hook", `{"url":"`+recv.Base+`/moved"}`); c != http.StatusOK {
		t.Fatalf("change on the dispatching instance: %d %s", c, body)
	}
	notifytest.Eventually(t, 20*time.Second, "the other instance's test message to reach the new address", func() bool {
		if c, body := call(other, "POST", "/api/admin/v1/targets/team-hook/test", ""); c != http.StatusOK {
			t.Errorf("test: %d %s", c, body)
		}
		for _, d := range recv.Accepted() {
			if d.Path == "/moved" && d.Event == "test" {
				return true
			}
		}
		return false
	})
}
