package component

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Free text (names, titles, messages, descriptions) ends up in HTML pages, XML feeds and SVG
// badges, iCalendar and CSV. XML 1.0 forbids the C0 control characters other than tab, newline
// and carriage return (even written as character references) and the noncharacters U+FFFE and
// U+FFFF, so one stored U+0001 would make a whole feed unreadable for every subscriber. The rule
// is kept here once: CheckText refuses such text when it is written, and CleanText strips it
// from text that was stored before the rule, on its way out.

// TextKind says which layout characters a free-text field may hold.
type TextKind int

// The text kinds.
const (
	// SingleLine is a name or a title: no control character at all, not even tab or newline.
	SingleLine TextKind = iota
	// MultiLine is a message, an update or a description: tab, newline and carriage return are
	// allowed (a carriage return comes with every line a Windows client sends).
	MultiLine
)

// textRune reports whether r may appear in text of the given kind. Refused: the C0 controls
// (U+0000-U+001F) but the layout ones multi-line text allows, DEL and the C1 controls
// (U+007F-U+009F), and the noncharacters U+FFFE and U+FFFF, which XML 1.0 forbids.
func textRune(r rune, kind TextKind) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return kind == MultiLine
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0xfffe, r == 0xffff:
		return false
	}
	return true
}

// CheckText returns a problem with field when s is not valid UTF-8 or holds a character its
// kind does not allow, naming the first such character and its byte offset; nil when s is fine.
// Lengths and emptiness are the caller's rules.
func CheckText(field, s string, kind TextKind) *FieldError {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return &FieldError{field, fmt.Sprintf("is not valid UTF-8 (at byte %d)", i)}
			}
		}
		if !textRune(r, kind) {
			what, allowed := "the control character", "no control characters"
			if r == 0xfffe || r == 0xffff {
				what = "the noncharacter"
			}
			if kind == MultiLine {
				allowed = "no control characters other than tab and newline"
			}
			return &FieldError{field, fmt.Sprintf("holds %s %U at byte %d (%s)", what, r, i, allowed)}
		}
	}
	return nil
}

// CleanText is s without the characters text of its kind may not hold, and with each run of
// invalid UTF-8 replaced by U+FFFD: text as it may be shown anywhere. Output that cannot know a
// field's kind cleans it as MultiLine. Text that is already clean comes back as it is, without
// copying.
func CleanText(s string, kind TextKind) string {
	clean := true
	for _, r := range s {
		// A real U+FFFD is fine, but it is rare enough to take the slow path too.
		if r == utf8.RuneError || !textRune(r, kind) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if !textRune(r, kind) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
