package locale

import (
	"slices"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/assets"
)

// TestPlainMessagesAreLocalized holds T's direct path (plainMessage) to go-i18n's output: every
// message of every language, with each of its variables a string, an int and a value with a
// String method, and with one variable missing.
func TestPlainMessagesAreLocalized(t *testing.T) {
	c, err := Load(assets.FS(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Locales() {
		if len(l.plain) < len(l.messages)*9/10 {
			t.Errorf("%s: %d of %d messages take the direct path, want nearly all", l.Tag(), len(l.plain), len(l.messages))
		}
		for id := range l.messages {
			pm, ok := l.plain[id]
			if !ok {
				continue
			}
			vars := slices.Compact(slices.Sorted(slices.Values(pm.vars)))
			for _, value := range []func(string) any{
				func(name string) any { return "<" + name + "> & é" },
				func(string) any { return 42 },
				func(string) any { return 90 * time.Minute },
			} {
				var args []any
				for _, v := range vars {
					args = append(args, v, value(v))
				}
				if got, want := l.T(id, args...), l.localize(id, nil, args); got != want {
					t.Errorf("%s %s: T gives %q, go-i18n %q", l.Tag(), id, got, want)
				}
			}
			if len(vars) > 0 {
				args := []any{"Unrelated", 1}
				for _, v := range vars[1:] {
					args = append(args, v, "x")
				}
				if got, want := l.T(id, args...), l.localize(id, nil, args); got != want {
					t.Errorf("%s %s without %s: T gives %q, go-i18n %q", l.Tag(), id, vars[0], got, want)
				}
			}
		}
	}
}
