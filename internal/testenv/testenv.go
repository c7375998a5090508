// Package testenv says whether a test runs where every real part it needs must be present.
package testenv

import (
	"os"
	"strconv"
	"strings"
)

// CI reports whether the CI variable is set to a true-ish value ("true", "1", "yes", "on", in
// any case): under CI a missing real part (redis-server, chromium, an ICMP socket) fails the test
// instead of skipping it. Any value a person would mean as yes counts, so `CI=1 .ci/run` by hand
// tests as much as CI does.
func CI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	if b, err := strconv.ParseBool(v); err == nil {
		return b
	}
	return v == "yes" || v == "on" || v == "y"
}
