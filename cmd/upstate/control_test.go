package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
)

const e2eToken = "e2e-heartbeat-token-abcdefghijk"

type e2e struct {
	t    *testing.T
	base string
	key  string
}

func (e e2e) do(method, path string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, nil)
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error() // not listening yet
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls fn until it returns true, for up to 15 s.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if fn() {
			return
		}
	}
	t.Fatalf("%s: not within 15s", what)
}

// TestHeartbeatPauseAndReload runs the whole product: a job checks in at /ping/{token}; an
// admin pauses, resumes and runs a monitor; the config is reloaded through the API (a bad file
// keeps the running one) and by SIGHUP.
func TestHeartbeatPauseAndReload(t *testing.T) {
	addr := freeAddr(t)
	base := fmt.Sprintf(`server:
  listen: %s
  shutdown_timeout: 5s
components:
  - id: jobs
    name: Jobs
monitors:
  - id: backup
    component: jobs
    kind: heartbeat
    interval: 1s
    heartbeat:
      token: %s
      period: 1h
`, addr, e2eToken)
	path := writeConfig(t, base)
	code, token, stderr := runCLI("keys", "create", "-config", path, "--name", "ops", "--scope", "admin,read")
	if code != 0 {
		t.Fatalf("keys create: %s", stderr)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveConfig(ctx, cfg, "", slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	c := e2e{t: t, base: "http://" + addr, key: strings.TrimSpace(token)}
	anon := e2e{t: t, base: c.base}

	monitor := func() map[string]any {
		_, body := c.do("GET", "/api/v1/monitors/backup")
		var v map[string]any
		_ = json.Unmarshal([]byte(body), &v)
		return v
	}
	eventually(t, "backup up (waiting for its first check-in)", func() bool { return monitor()["state"] == "up" })
	if target, _ := monitor()["target"].(string); strings.Contains(target, e2eToken) || !strings.Contains(target, "1h0m0s") {
		t.Errorf("target %q: want the period and never the token", target)
	}

	// Check-ins need no key; a failure exit code is down at once, a success up again.
	for _, tc := range []struct {
		path  string
		code  int
		state string
	}{
		{"/ping/" + e2eToken + "/start", 200, "up"},
		{"/ping/" + e2eToken + "/3", 200, "down"},
		{"/ping/" + e2eToken, 200, "up"},
		{"/ping/" + e2eToken + "/fail", 200, "down"},
		{"/ping/" + e2eToken + "/0", 200, "up"},
	} {
		if code, body := anon.do("POST", tc.path); code != tc.code {
			t.Fatalf("POST %s: %d %s", tc.path, code, body)
		}
		eventually(t, tc.path+" → "+tc.state, func() bool { return monitor()["state"] == tc.state })
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/ping/not-the-token-at-all-xxxxx"}, {"POST", "/ping/" + e2eToken + "/256"}, {"POST", "/ping/" + e2eToken + "/explode"},
	} {
		if code, body := anon.do(tc.method, tc.path); code != 404 || !strings.Contains(body, `"error"`) {
			t.Errorf("%s %s: %d %s; want a JSON 404", tc.method, tc.path, code, body)
		}
	}

	// Controls need an admin key.
	if code, _ := anon.do("POST", "/api/admin/v1/monitors/backup/pause"); code != 401 {
		t.Errorf("pause without a key: %d, want 401", code)
	}
	if code, body := c.do("POST", "/api/admin/v1/monitors/backup/pause"); code != 202 {
		t.Fatalf("pause: %d %s", code, body)
	}
	if v := monitor(); v["paused"] != true || v["state"] != "unknown" {
		t.Errorf("after pause: paused %v state %v", v["paused"], v["state"])
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/admin/v1/monitors/backup/pause", 409}, {"/api/admin/v1/monitors/backup/run", 409},
		{"/api/admin/v1/monitors/nope/run", 404}, {"/api/admin/v1/monitors/backup/resume", 202},
		{"/api/admin/v1/monitors/backup/resume", 409}, {"/api/admin/v1/monitors/backup/run", 202},
	} {
		if code, body := c.do("POST", tc.path); code != tc.code || !strings.HasPrefix(body, "{") {
			t.Errorf("POST %s: %d %s; want %d with JSON", tc.path, code, body, tc.code)
		}
	}
	eventually(t, "backup up after resume", func() bool { return monitor()["state"] == "up" })
	if _, body := c.do("GET", "/api/admin/v1/audit?action=monitor.pause"); !strings.Contains(body, `"target":"monitor/backup"`) {
		t.Errorf("pause not audited: %s", body)
	}

	// A bad file on reload: 422 naming the field, nothing changes.
	if err := os.WriteFile(path, []byte(base+"  - id: extra\n    component: nowhere\n    kind: http\n    http:\n      url: http://127.0.0.1:1/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := c.do("POST", "/api/admin/v1/reload"); code != 422 || !strings.Contains(body, `monitors[1].component: unknown component \"nowhere\"`) {
		t.Errorf("bad reload: %d %s", code, body)
	}
	if _, body := c.do("GET", "/api/v1/monitors"); strings.Contains(body, `"extra"`) {
		t.Errorf("a failed reload added a monitor: %s", body)
	}
	// A good file through the API adds a monitor.
	good := base + "  - id: extra\n    component: jobs\n    kind: heartbeat\n    heartbeat:\n      token: second-token-abcdefghijklmnop\n      period: 1h\n"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := c.do("POST", "/api/admin/v1/reload"); code != 200 || !strings.Contains(body, `"added":["extra"]`) {
		t.Errorf("reload: %d %s", code, body)
	}
	eventually(t, "extra monitor running", func() bool {
		_, body := c.do("GET", "/api/v1/monitors/extra")
		return strings.Contains(body, `"state":"up"`)
	})
	// SIGHUP removes it again.
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "extra monitor removed by SIGHUP", func() bool {
		code, _ := c.do("GET", "/api/v1/monitors/extra")
		return code == 404
	})
	// The reload applies the file, then writes its audit entry: the entry follows the 404.
	eventually(t, "SIGHUP reload audited", func() bool {
		_, body := c.do("GET", "/api/admin/v1/audit?action=config.reload")
		return strings.Contains(body, `"actor":"signal"`)
	})
}
