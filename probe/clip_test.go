package probe

import (
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven char", 10, "eleven cha…"},
		{"ééééé", 5, "éé…"},               // 2-byte runes: a cut at 5 falls inside the third
		{"a\xffb", 10, "a\uFFFDb"},        // invalid bytes become U+FFFD
		{"\xff\xff\xff\xff", 3, "\uFFFD"}, // a run of invalid bytes becomes one U+FFFD
		{"日本語", 2, "…"},
	} {
		got := clip(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
