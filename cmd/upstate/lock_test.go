package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSecondServeOnSQLiteRefuses starts two real `upstate serve` processes on one SQLite file:
// the second exits at once with a clear error, while the first keeps serving, and keys, report
// and export work beside it. After a kill -9 of the first, a new serve starts: the lock dies
// with its process.
func TestSecondServeOnSQLiteRefuses(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(target.Close)
	addr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf(`server:
  listen: %s
components:
  - id: api
    name: API
monitors:
  - id: api
    component: api
    kind: http
    interval: 1s
    timeout: 500ms
    http:
      url: %s
`, addr, target.URL))
	db := filepath.Join(filepath.Dir(cfg), "upstate.db")
	first := startUpstate(t, "first serve", "serve", "-config", cfg)
	waitUntil(t, 30*time.Second, "the first serve answers", func() bool {
		code, body := get("http://" + addr + "/api/v1/components")
		return code == 200 && strings.Contains(body, `"operational"`)
	})

	second := startUpstate(t, "second serve", "serve", "-config", cfg, "-listen", freeAddr(t))
	waitUntil(t, 30*time.Second, "the second serve exits", func() bool { done, _ := second.Exited(); return done })
	if _, code := second.Exited(); code != 1 {
		t.Errorf("second serve exited %d, want 1", code)
	}
	if out := second.out.String(); !contains(out, "in use by another upstate process", db+".lock", "storage.backend: redis") {
		t.Errorf("second serve's error does not explain the lock:\n%s", out)
	}
	if done, _ := first.Exited(); done {
		t.Fatalf("the first serve stopped:\n%s", first.out.String())
	}

	// Commands that read, or write short transactions, work beside the server.
	code, out := runUpstate(t, "keys", "create", "-config", cfg, "-name", "ops", "-scope", "read")
	if code != 0 || !strings.Contains(out, "up_") {
		t.Errorf("keys create beside serve: exit %d\n%s", code, out)
	}
	if code, out := runUpstate(t, "keys", "list", "-config", cfg); code != 0 || !strings.Contains(out, "ops") {
		t.Errorf("keys list beside serve: exit %d\n%s", code, out)
	}
	if code, out := runUpstate(t, "report", "-config", cfg, "-month", time.Now().UTC().Format("2006-01")); code != 0 || !strings.Contains(out, `"api"`) {
		t.Errorf("report beside serve: exit %d\n%s", code, out)
	}
	dump := filepath.Join(t.TempDir(), "dump.jsonl")
	if code, out := runUpstate(t, "export", "-config", cfg, "-o", dump); code != 0 || !strings.Contains(out, "exported") {
		t.Errorf("export beside serve: exit %d\n%s", code, out)
	}
	// Import writes everything at once: it takes the lock, so it refuses while serve runs.
	if code, out := runUpstate(t, "import", "-config", cfg, "-i", dump); code != 1 || !strings.Contains(out, "in use by another upstate process") {
		t.Errorf("import beside serve: exit %d, want 1 and the lock's error\n%s", code, out)
	}

	first.Kill9()
	third := startUpstate(t, "serve after kill -9", "serve", "-config", cfg)
	waitUntil(t, 30*time.Second, "a new serve answers after the first was killed", func() bool {
		code, _ := get("http://" + addr + "/api/v1/components")
		return code == 200
	})
	if err := third.Stop(20 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
}
