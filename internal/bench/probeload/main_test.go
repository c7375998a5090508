package main

import (
	"regexp"
	"testing"

	"github.com/upstate-dev/upstate/internal/bench/benchtest"
)

// TestSmoke runs the tool for three seconds with 20 monitors every second (the target is a
// child process on loopback) and checks that its report parses and every monitor was checked.
func TestSmoke(t *testing.T) {
	out := benchtest.Run(t, ".", "-monitors", "20", "-interval", "1s", "-duration", "3s")
	for _, want := range []string{
		`(?m)^monitors 20 on \d+ target addresses, interval 1s, target delay 0s`,
		`(?m)^  monitors checked at least once     20 of 20, `,
		`(?m)^  checks done / expected             [1-9]\d* / [1-9]\d* \(\d+\.\d%\), 0 failed$`,
		`(?m)^  scheduling lag p50 <= \S+, p99 <= \S+, within 1s \d+\.\d\d% `,
		`(?m)^  CPU per check, whole run           \d+\.\d{3} ms`,
		`(?m)^  peak RSS                           \d+\.\d MiB while running`,
		`(?m)^  clean stop took                    \S+`,
		`(?m)^  connections the target accepted   [1-9]\d* on \d+ addresses`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
}
