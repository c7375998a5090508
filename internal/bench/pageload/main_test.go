package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
)

// TestSmoke runs the tool for a second a path at a tiny scale and checks that its report parses:
// every path loaded without an error, with sizes, rates and percentiles.
func TestSmoke(t *testing.T) {
	out := benchtest.Run(t, ".", "-components", "5", "-duration", "1s", "-concurrency", "2")
	loads := regexp.MustCompile(`(?m)^  (\d+) requests in 1s with 2 clients: (\d+) req/s, (\d+) errors$`).FindAllStringSubmatch(out, -1)
	if len(loads) != 2 {
		t.Fatalf("%d load lines, want one for / and one for summary.json:\n%s", len(loads), out)
	}
	for _, l := range loads {
		if n, _ := strconv.Atoi(l[1]); n == 0 || l[3] != "0" {
			t.Errorf("load %q: want requests and no errors", l[0])
		}
	}
	for _, want := range []string{
		`(?m)^/  \(5 components\)$`, `(?m)^/api/v2/summary.json  \(5 components\)$`,
		`(?m)^  size: [1-9]\d* bytes, [1-9]\d* gzipped; first \(cold\) render and transfer \S+$`,
		`(?m)^  latency p50 \S+, p90 \S+, p99 \S+, max \S+$`, `(?m)^peak RSS: [1-9]\d* kB$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
