package main

import (
	"regexp"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
)

// TestSmoke fans one update out to 20 webhooks and 20 mail recipients (the receivers are a child
// process on loopback) and checks that the report parses and every delivery was accepted.
func TestSmoke(t *testing.T) {
	out := benchtest.Run(t, ".", "-webhooks", "20", "-emails", "20", "-rows", "600")
	for _, want := range []string{
		`(?m)^fan-out on sqlite: 1 incident update to 20 webhook targets and 20 email recipients`,
		`(?m)^  the SRE's call \(Incidents.Update\)     \S+$`,
		`(?m)^  time until all 40 were accepted     \S+$`,
		`(?m)^  deliveries per second                \d+$`,
		`(?m)^  CPU                                  \S+ \(\d+\.\d{3} ms per delivery\)$`,
		`(?m)^  peak RSS                             \d+\.\d MiB$`,
		`(?m)^  outbox after                         40 delivered, 0 waiting$`,
		`(?m)^  enqueue \(batches of 500\)             \d+ rows/s$`,
		`(?m)^  claim \(256 at a time\) and finish     \d+ rows/s \(600 finished\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
