package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
	"github.com/upstate-dev/upstate/internal/redistest"
)

// TestSmoke runs the tool for a second a path at a tiny scale and checks that its report parses:
// every path loaded without an error, with sizes, rates and percentiles.
func TestSmoke(t *testing.T) {
	out := benchtest.Run(t, ".", "-components", "5", "-duration", "1s", "-concurrency", "2")
	checkReport(t, out, "5")
}

// TestSmokeHistory runs the tool with the history-heavy store (resolved incidents, one with many
// updates), a cache-busting client mix and timed uncached renders, on SQLite and on a real
// redis-server it starts itself.
func TestSmokeHistory(t *testing.T) {
	for _, backend := range []string{"sqlite", "redis"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "redis" {
				redistest.Binary(t) // skips without redis-server, fails under CI=true
			}
			out := benchtest.Run(t, ".", "-backend", backend, "-components", "12", "-groups", "3", "-incidents", "40", "-big-incidents", "2",
				"-big-updates", "30", "-duration", "1s", "-concurrency", "2", "-bust", "0.5", "-renders", "2")
			checkReport(t, out, "12")
			for _, want := range []string{
				`(?m)^seeded ` + backend + ` with 12 components in 3 groups, 90 days of history each, 40 resolved incidents over 1000 days and 2 with 30 updates, daily aggregates built, in \S+$`,
				`(?m)^  1 clients with random query strings: [1-9]\d* requests, 0 errors, latency p50 \S+, p99 \S+, max \S+$`,
				`(?m)^  1 clients with the plain path: [1-9]\d* requests, 0 errors, latency p50 \S+, p99 \S+, max \S+$`,
				`(?m)^uncached renders of / \(12 components\): 2, min \S+, median \S+, max \S+; CPU \S+ a render$`,
				`(?m)^uncached renders of /api/v2/summary.json \(12 components\): 2, min \S+, median \S+, max \S+; CPU \S+ a render$`,
			} {
				if !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("report lacks %s:\n%s", want, out)
				}
			}
		})
	}
}

func checkReport(t *testing.T, out, n string) {
	t.Helper()
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
		`(?m)^/  \(` + n + ` components\)$`, `(?m)^/api/v2/summary.json  \(` + n + ` components\)$`,
		`(?m)^  size: [1-9]\d* bytes, [1-9]\d* gzipped; first \(cold\) render and transfer \S+$`,
		`(?m)^  latency p50 \S+, p90 \S+, p99 \S+, max \S+$`, `(?m)^peak RSS: [1-9]\d* kB$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
