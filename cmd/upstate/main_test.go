package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/service"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckConfigReportsEveryMistake(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "testdata", "bad-three-mistakes.yaml")
	code, _, stderr := runCLI("check-config", path)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 4 || lines[3] != "3 problems" {
		t.Fatalf("stderr:\n%s\nwant three located errors and a count", stderr)
	}
	for i, want := range []string{":3:14: server.time_zone:", ":12:14: monitors[0].timeout:", ":15:7: monitors[0].http.expect_staus:"} {
		if !strings.HasPrefix(lines[i], path) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want %s%s...", i+1, lines[i], path, want)
		}
	}
}

func TestCheckConfigExample(t *testing.T) {
	code, stdout, stderr := runCLI("check-config", filepath.Join("..", "..", "configs", "upstate.example.yaml"))
	if code != 0 || !strings.Contains(stdout, "ok (2 groups, 4 components, 5 monitors, sqlite store)") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"serve", "-help"}, {"check-config", "-help"}, {"keys", "create", "-help"}, {"keys", "list", "-help"}, {"keys", "revoke", "-help"}, {"target", "help"}, {"target", "add", "-help"}, {"target", "change", "-help"}, {"version"}} {
		code, stdout, stderr := runCLI(args...)
		if code != 0 || stdout+stderr == "" {
			t.Errorf("%v: exit %d, output %q", args, code, stdout+stderr)
		}
	}
	if code, _, _ := runCLI("frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "upstate.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeysCommands(t *testing.T) {
	cfg := writeConfig(t, "storage:\n  sqlite:\n    path: data/keys.db\n")
	code, token, stderr := runCLI("keys", "create", "-config", cfg, "--name", "ops", "--scope", "admin,read")
	if code != 0 || !strings.HasPrefix(token, "up_") || !strings.Contains(stderr, "only time the token is shown") {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, token, stderr)
	}
	id := strings.Split(strings.TrimSpace(token), "_")[1]
	code, list, _ := runCLI("keys", "list", "-config", cfg)
	if code != 0 || !strings.Contains(list, id) || !strings.Contains(list, "admin,read") || strings.Contains(list, token[20:]) {
		t.Fatalf("list: exit %d\n%s", code, list)
	}
	if code, _, stderr := runCLI("keys", "revoke", "-config", cfg, id); code != 0 {
		t.Fatalf("revoke: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("keys", "revoke", "-config", cfg, id); code != 1 || !strings.Contains(stderr, "already revoked") {
		t.Fatalf("revoke twice: exit %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("keys", "create", "-config", cfg, "-name", "x", "-scope", "root"); code != 2 || !strings.Contains(stderr, `unknown scope "root"`) {
		t.Fatalf("bad scope: exit %d %s", code, stderr)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeRunsAndStopsCleanly starts the whole product on a temporary config, checks it
// answers, then cancels it as SIGTERM would and checks it stops in bounded time.
func TestServeRunsAndStopsCleanly(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer target.Close()
	addr := freeAddr(t)
	path := writeConfig(t, fmt.Sprintf(`server:
  listen: %s
  shutdown_timeout: 5s
components:
  - id: api
    name: API
monitors:
  - id: api
    component: api
    kind: http
    interval: 2s
    timeout: 1s
    http:
      url: %s
`, addr, target.URL))
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveConfig(ctx, cfg, "", slog.New(slog.DiscardHandler)) }()

	deadline := time.Now().Add(15 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/api/v1/components")
		if err == nil {
			b := new(bytes.Buffer)
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			body = b.String()
			if strings.Contains(body, `"status":"operational"`) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(body, `"status":"operational"`) {
		t.Fatalf("the component never became operational: %s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15s of the signal")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestSLADeadlines(t *testing.T) {
	cfg := filepath.Join("..", "..", "configs", "upstate.example.yaml")
	code, stdout, stderr := runCLI("sla", "deadlines", "-config", cfg, "-policy", "jenny", "-severity", "P1", "-opened", "2026-11-20T19:30:00+08:00")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"first_response_due": "2026-11-21T01:30:00Z"`, `"first_response_due_local": "2026-11-21T09:30:00+08:00"`,
		`"resolution_due": "2026-11-21T11:30:00Z"`, `"resolution_warning": "2026-11-21T08:30:00Z"`, `"first_response_calendar": "jenny-7x12"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %s:\n%s", want, stdout)
		}
	}
	for _, args := range [][]string{
		{"sla", "deadlines", "-config", cfg, "-severity", "P9"},
		{"sla", "deadlines", "-config", cfg, "-policy", "nope", "-severity", "P1"},
		{"sla", "deadlines", "-config", cfg, "-severity", "P1", "-opened", "tuesday"},
		{"sla", "frobnicate"},
	} {
		if code, _, stderr := runCLI(args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, stderr)
		}
	}
}

func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "upstate.yaml")
	if err := os.WriteFile(cfgPath, []byte("server:\n  time_zone: Asia/Shanghai\ncomponents:\n  - id: api\n    name: API\nobjectives:\n  - id: o\n    target: 99.5\n    time_zone: Asia/Shanghai\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := service.New(service.Options{Store: st}).Components.Sync(t.Context(), cfg.ComponentList(time.Now())); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []component.Change{
		{ComponentID: "api", At: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC), Status: component.Operational},
		{ComponentID: "api", At: time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), Status: component.MajorOutage},
		{ComponentID: "api", At: time.Date(2026, 10, 5, 4, 0, 0, 0, time.UTC), Status: component.Operational},
	} {
		if err := st.AppendStatus(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// October 2026 in Shanghai: 31 days, budget 3 h 43 m 12 s = 13,392 s; down 4 h: not met.
	code, stdout, stderr := runCLI("report", "-config", cfgPath, "-month", "2026-10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"budget_seconds": 13392`, `"down_seconds": 14400`, `"met": false`, `"budget_remaining_seconds": -1008`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %s:\n%s", want, stdout)
		}
	}
	code, stdout, _ = runCLI("report", "-config", cfgPath, "-month", "2026-10", "-component", "api", "-format", "csv")
	if code != 0 || !strings.HasPrefix(stdout, "component_id,") || !strings.Contains(stdout, "api,API,o,2026-10-01T00:00:00+08:00") {
		t.Errorf("csv: %d\n%s", code, stdout)
	}
	if code, _, _ := runCLI("report", "-config", cfgPath, "-month", "October"); code != 2 {
		t.Errorf("bad month: exit %d", code)
	}
}
