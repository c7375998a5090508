package component_test

import (
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/component"
)

func TestWorst(t *testing.T) {
	tests := []struct {
		in   []component.Status
		want component.Status
	}{
		{nil, component.Unknown},
		{[]component.Status{component.Unknown, component.Unknown}, component.Unknown},
		{[]component.Status{component.Unknown, component.Operational}, component.Operational},
		{[]component.Status{component.Operational, component.DegradedPerformance}, component.DegradedPerformance},
		{[]component.Status{component.MajorOutage, component.PartialOutage, component.Operational}, component.MajorOutage},
		{[]component.Status{component.UnderMaintenance, component.Operational}, component.Operational},
	}
	for _, tt := range tests {
		if got := component.Worst(tt.in...); got != tt.want {
			t.Errorf("Worst(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		c      component.Component
		fields []string
	}{
		{"valid", component.Component{ID: "api-v2_x", Name: "API"}, nil},
		{"everything wrong", component.Component{ID: "-API", Description: strings.Repeat("d", 2001), GroupID: "G!", Position: -1},
			[]string{"id", "name", "description", "group_id", "position"}},
		{"group in group", component.Component{ID: "g", Name: "G", IsGroup: true, GroupID: "h"}, []string{"group_id"}},
		{"long id", component.Component{ID: strings.Repeat("a", 64), Name: "x"}, []string{"id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range tt.c.Validate() {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("invalid fields = %v, want %v", got, tt.fields)
			}
		})
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind component.TextKind
		want string // the message, or "" when the text is fine
	}{
		{"plain", "API (EU) – Zürich 🚦", component.SingleLine, ""},
		{"empty", "", component.SingleLine, ""},
		{"U+FFFD itself", "a\uFFFDb", component.SingleLine, ""},
		{"U+00A0 after the C1 range", "a\u00a0b", component.SingleLine, ""},
		{"U+FFFD's neighbour U+FFFC", "\ufffc", component.SingleLine, ""},
		{"U+0001", "a\x01b", component.SingleLine, "holds the control character U+0001 at byte 1 (no control characters)"},
		{"U+000B", "\vx", component.SingleLine, "holds the control character U+000B at byte 0 (no control characters)"},
		{"U+001B", "x\x1b[31m", component.SingleLine, "holds the control character U+001B at byte 1 (no control characters)"},
		{"U+0000", "\x00", component.SingleLine, "holds the control character U+0000 at byte 0 (no control characters)"},
		{"U+001F", "\x1f", component.MultiLine, "holds the control character U+001F at byte 0 (no control characters other than tab and newline)"},
		{"DEL", "a\x7f", component.MultiLine, "holds the control character U+007F at byte 1 (no control characters other than tab and newline)"},
		{"C1 U+0085", "é\u0085", component.MultiLine, "holds the control character U+0085 at byte 2 (no control characters other than tab and newline)"},
		{"C1 U+009F", "\u009f", component.SingleLine, "holds the control character U+009F at byte 0 (no control characters)"},
		{"U+FFFE", "a\ufffe", component.MultiLine, "holds the noncharacter U+FFFE at byte 1 (no control characters other than tab and newline)"},
		{"U+FFFF", "\uffff", component.SingleLine, "holds the noncharacter U+FFFF at byte 0 (no control characters)"},
		{"tab in a name", "a\tb", component.SingleLine, "holds the control character U+0009 at byte 1 (no control characters)"},
		{"newline in a title", "a\nb", component.SingleLine, "holds the control character U+000A at byte 1 (no control characters)"},
		{"tab, newline and CRLF in a message", "a\tb\nc\r\nd", component.MultiLine, ""},
		{"invalid UTF-8", "ok\xffno", component.SingleLine, "is not valid UTF-8 (at byte 2)"},
		{"invalid UTF-8 in a message", "caf\xe9", component.MultiLine, "is not valid UTF-8 (at byte 3)"},
		{"an encoded surrogate", "\xed\xa0\x80", component.MultiLine, "is not valid UTF-8 (at byte 0)"},
		{"a truncated rune", "ab\xe2\x82", component.MultiLine, "is not valid UTF-8 (at byte 2)"},
		{"the first problem is named", "\x01\x02", component.SingleLine, "holds the control character U+0001 at byte 0 (no control characters)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := component.CheckText("title", tt.in, tt.kind)
			got := ""
			if fe != nil {
				if fe.Field != "title" {
					t.Errorf("field = %q, want title", fe.Field)
				}
				got = fe.Message
			}
			if got != tt.want {
				t.Errorf("CheckText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			// What CheckText refuses in multi-line text, CleanText removes; what it accepts stays.
			clean := component.CleanText(tt.in, tt.kind)
			if component.CheckText("title", clean, tt.kind) != nil {
				t.Errorf("CleanText(%q) = %q, which is still refused", tt.in, clean)
			}
			if fe == nil && clean != tt.in {
				t.Errorf("CleanText(%q) = %q, but the text was fine", tt.in, clean)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		in   string
		kind component.TextKind
		want string
	}{
		{"Database", component.SingleLine, "Database"},
		{"a\x01b\vc\x1bd", component.SingleLine, "abcd"},
		{"\x00API\x00", component.MultiLine, "API"},
		{"line\none\r\n\ttwo", component.MultiLine, "line\none\r\n\ttwo"},
		{"line\none\r\n\ttwo", component.SingleLine, "lineonetwo"},
		{"caf\xe9 ok", component.SingleLine, "caf\uFFFD ok"},
		{"\xff\xfe\xfd", component.MultiLine, "\uFFFD"}, // one replacement per run
		{"x\ufffey\uffff", component.MultiLine, "xy"},
		{"]]>", component.MultiLine, "]]>"}, // escaping is the writer's job
		{"\u0085next\u009f", component.SingleLine, "next"},
	}
	for _, tt := range tests {
		if got := component.CleanText(tt.in, tt.kind); got != tt.want {
			t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidateRefusesControlCharacters(t *testing.T) {
	c := component.Component{ID: "api", Name: "API\x1b[0m", Description: "first line\nsecond\x00"}
	var got []string
	for _, e := range c.Validate() {
		got = append(got, e.Error())
	}
	want := []string{"name: holds the control character U+001B at byte 3 (no control characters)",
		"description: holds the control character U+0000 at byte 17 (no control characters other than tab and newline)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
	c = component.Component{ID: "api", Name: "API", Description: "first line\r\n\tsecond"}
	if errs := c.Validate(); len(errs) > 0 {
		t.Errorf("a multi-line description was refused: %v", errs)
	}
}
