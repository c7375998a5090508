package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store/storetest"
)

const reportConfig = `components:
  - id: core
    name: Core
  - id: api
    name: API
  - id: api-v2
    name: API v2
objectives:
  - id: o
    target: 99.5
    time_zone: Asia/Shanghai
%s`

func storeConfig(t *testing.T, storage string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upstate.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(reportConfig, storage)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExportImportAcrossBackends: export from SQLite, import into Redis, export again and import
// back into SQLite; the reports are the same at every step.
func TestExportImportAcrossBackends(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	sqliteA := storeConfig(t, "storage:\n  sqlite:\n    path: a.db\n")
	redisCfg := storeConfig(t, fmt.Sprintf("storage:\n  backend: redis\n  redis:\n    addrs: [%q]\n    key_prefix: imported\n", srv.Addr))
	sqliteB := storeConfig(t, "storage:\n  sqlite:\n    path: b.db\n")

	cfg, err := configs.Load(sqliteA)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Seed(t, st)
	storetest.SeedNotifications(t, st) // the targets, journal and outbox move too
	st.Close()

	dir := t.TempDir()
	reportOf := func(cfgPath string) string {
		code, out, stderr := runCLI("report", "-config", cfgPath, "-month", "2026-03", "-format", "csv")
		if code != 0 {
			t.Fatalf("report: %s", stderr)
		}
		return out
	}
	move := func(from, to, file string) {
		if code, _, stderr := runCLI("export", "-config", from, "-o", file); code != 0 {
			t.Fatalf("export: %s", stderr)
		}
		if code, _, stderr := runCLI("import", "-config", to, "-i", file); code != 0 {
			t.Fatalf("import: %s", stderr)
		}
	}
	want := reportOf(sqliteA)
	if !strings.Contains(want, "api,API,o,2026-03-01T00:00:00+08:00") {
		t.Fatalf("seeded report: %s", want)
	}
	move(sqliteA, redisCfg, filepath.Join(dir, "one.jsonl"))
	if got := reportOf(redisCfg); got != want {
		t.Errorf("report from Redis differs:\n%s\nwant\n%s", got, want)
	}
	move(redisCfg, sqliteB, filepath.Join(dir, "two.jsonl"))
	if got := reportOf(sqliteB); got != want {
		t.Errorf("report after the round trip differs:\n%s\nwant\n%s", got, want)
	}
	one, _ := os.ReadFile(filepath.Join(dir, "one.jsonl"))
	two, _ := os.ReadFile(filepath.Join(dir, "two.jsonl"))
	// The files differ only in their header (time and source).
	_, body1, _ := strings.Cut(string(one), "\n")
	_, body2, _ := strings.Cut(string(two), "\n")
	if body1 != body2 {
		t.Error("the export from Redis differs from the export from SQLite")
	}
	// A second import into a store with data is refused.
	if code, _, stderr := runCLI("import", "-config", sqliteB, "-i", filepath.Join(dir, "one.jsonl")); code != 1 || !strings.Contains(stderr, "empty store") {
		t.Errorf("import into a store with data: exit %d, %s", code, stderr)
	}
}

func TestImportRejectsBadFilesWholly(t *testing.T) {
	target := storeConfig(t, "storage:\n  sqlite:\n    path: target.db\n")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := `{"type":"header","header":{"format":"upstate-export","version":1,"exported_at":"2026-11-01T00:00:00Z","source":"sqlite"}}` + "\n"
	good := `{"type":"component","component":{"id":"api","name":"API","description":"","group_id":"","group":false,"position":0,"source":"config","status":"unknown","status_since":"0001-01-01T00:00:00Z","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}` + "\n"
	tests := []struct {
		name, body string
		want       []string
	}{
		{"no header", good, []string{"line 1: not an Upstate export"}},
		{"newer format", strings.Replace(header, `"version":1`, `"version":9`, 1) + good, []string{"export format version 9"}},
		{"bad lines", header + good +
			`{"type":"status","status":{"component_id":"api","at":"2026-01-01T00:00:00Z","status":"on_fire","reason":""}}` + "\n" +
			`{"type":"component","component":{"id":"api","name":"Again","source":"config"}}` + "\n" +
			`{"type":"gizmo"}` + "\n" +
			`not json` + "\n" +
			`{"type":"key","key":{"id":"short","name":"k","scopes":["root"],"hash":"plain","created_at":"2026-01-01T00:00:00Z"},"extra":1}` + "\n",
			[]string{"line 6: invalid character", "line 7: json: unknown field \"extra\""}},
		{"semantic errors", header + good +
			`{"type":"status","status":{"component_id":"api","at":"2026-01-01T00:00:00Z","status":"on_fire","reason":""}}` + "\n" +
			`{"type":"component","component":{"id":"api","name":"Again","source":"config"}}` + "\n" +
			`{"type":"gizmo"}` + "\n",
			[]string{"line 3: status change needs", `line 4: component "api" appears twice (also line 2)`, `line 5: a "gizmo" record must carry exactly its own field`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI("import", "-config", target, "-i", write(strings.ReplaceAll(tt.name, " ", "-")+".jsonl", tt.body))
			if code != 1 || !strings.Contains(stderr, "nothing was written") {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	// Nothing was written: a valid import still works.
	if code, stdout, stderr := runCLI("import", "-config", target, "-i", write("good.jsonl", header+good)); code != 0 || !strings.Contains(stdout, "imported 1 records") {
		t.Errorf("valid import after rejected ones: exit %d %s %s", code, stdout, stderr)
	}
}
