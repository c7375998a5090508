package main

import (
	"regexp"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
)

// TestSmoke tells one update to 200 subscribers (the SMTP server is a child process on
// loopback) and checks the report parses and every mail was accepted.
func TestSmoke(t *testing.T) {
	out := benchtest.Run(t, ".", "-subscribers", "200")
	for _, want := range []string{
		`(?m)^fan-out on sqlite: 1 incident update to 200 confirmed email subscribers`,
		`(?m)^  the SRE's call \(Incidents.Update\)       \S+$`,
		`(?m)^  the SREs' webhook alert delivered after \S+$`,
		`(?m)^  the last mail accepted after            \S+$`,
		`(?m)^  mails per second                        \d+$`,
		`(?m)^  CPU                                     \S+ \(\d+\.\d{3} ms per mail\)$`,
		`(?m)^  peak RSS                                \d+\.\d MiB$`,
		`(?m)^  outbox after                            201 delivered, 0 waiting, 0 dead$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
