package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
	"github.com/upstate-dev/upstate/internal/redistest"
)

// TestSmoke runs the tool at a tiny scale (three instances, 30 monitors every second, short
// lease and heartbeat) and checks that its report parses: every monitor checked, no duplicate,
// both take-overs measured.
func TestSmoke(t *testing.T) {
	redisServer := redistest.Binary(t)
	bin := filepath.Join(t.TempDir(), "upstate")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../../cmd/upstate").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/upstate: %v\n%s", err, out)
	}
	out := benchtest.Run(t, ".", "-upstate", bin, "-redis-server", redisServer, "-monitors", "30", "-per-component", "1", "-interval", "1s", "-duration", "3s",
		"-lease", "2s", "-heartbeat", "200ms", "-member-timeout", "1s")
	for _, want := range []string{
		`(?m)^instances 3 on one redis-server, monitors 30 \(1 per component\) every 1s`,
		`(?m)^  checks done / expected             [1-9]\d* / [1-9]\d* \(\d+\.\d\d%\), monitors run 30 of 30$`,
		`(?m)^  duplicate checks                   0 `,
		`(?m)^  instance a                         \d+ checks, CPU \d+\.\d\d s, \d+\.\d{3} ms per check$`,
		`(?m)^  redis commands per check           \d+\.\d\d `,
		`(?m)^kill -9 of leader \w: \w leads \S+ later`,
		`(?m)^kill -9 of leader \w: its \d+ monitors ran elsewhere within \d+\.\d\d s of the kill`,
		`(?m)^kill -9 of prober \w: its \d+ monitors ran elsewhere within \d+\.\d\d s of the kill`,
		`(?m)^after both kills, \w alone over \S+: 30 monitors run, \d+ checks, 0 duplicates$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}

// TestSmokeLocations: three instances in three locations, every monitor checked from all
// three: each monitor is run once per location and interval, none twice.
func TestSmokeLocations(t *testing.T) {
	redisServer := redistest.Binary(t)
	bin := filepath.Join(t.TempDir(), "upstate")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../../cmd/upstate").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/upstate: %v\n%s", err, out)
	}
	out := benchtest.Run(t, ".", "-upstate", bin, "-redis-server", redisServer, "-monitors", "10", "-per-component", "1", "-interval", "1s", "-duration", "3s",
		"-lease", "2s", "-heartbeat", "200ms", "-member-timeout", "1s", "-locations", "3")
	for _, want := range []string{
		`(?m)^  checks done / expected             [1-9]\d* / [1-9]\d* \(\d+\.\d\d%\), monitors run 30 of 30$`,
		`(?m)^  duplicate checks                   0 `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
