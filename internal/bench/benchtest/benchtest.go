// Package benchtest builds and runs the load tools under internal/bench at a tiny scale, so a
// change that breaks one (or its report) fails a test instead of the next benchmark run.
package benchtest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Run builds the command in dir (relative to the calling test's package) and runs it with args;
// it returns what it printed to stdout, or fails the test with what it printed to stderr.
func Run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the load tool: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tool")
	if out, err := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	cmd := exec.CommandContext(t.Context(), bin, args...)
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s\n%s", dir, args, err, out, stderr)
	}
	return string(out)
}
