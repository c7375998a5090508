package component

import "fmt"

// Visibility says who may see a component or group.
type Visibility string

// The visibilities. Public is the zero value: a component is public unless it says otherwise.
const (
	Public   Visibility = ""         // everyone: the page, the feeds, the JSON, the badges
	Internal Visibility = "internal" // only the internal page (/internal) and the admin API
)

// ParseVisibility reads a visibility as the config and the API spell it: "public" (or
// nothing) or "internal".
func ParseVisibility(s string) (Visibility, error) {
	switch s {
	case "", "public":
		return Public, nil
	case "internal":
		return Internal, nil
	}
	return Public, fmt.Errorf("unknown visibility %q (want public or internal)", s)
}

// Valid reports whether v is a known visibility.
func (v Visibility) Valid() bool { return v == Public || v == Internal }

// String is the visibility's word: public or internal.
func (v Visibility) String() string {
	if v == Public {
		return "public"
	}
	return string(v)
}

// Hidden is the one rule for what the public may not see: the ids of the components and groups
// marked internal, and of every component of an internal group (a group's visibility covers its
// components, whatever theirs says). Every public surface leaves these out, and computes what
// the rest shows (component.Shown: a group's worst child) from the rest alone, so an internal
// component's outage never shows through its group or the page's banner.
func Hidden(cs []Component) map[string]bool {
	hidden := map[string]bool{}
	for _, c := range cs {
		if c.Visibility == Internal {
			hidden[c.ID] = true
		}
	}
	for _, c := range cs {
		if c.GroupID != "" && hidden[c.GroupID] {
			hidden[c.ID] = true
		}
	}
	return hidden
}

// OnlyHidden reports whether ids names at least one component and all of them are hidden: what
// an incident or a maintenance window that touches only internal components is (it stays
// internal). Nothing named is the whole page's business, not an internal one.
func OnlyHidden(ids []string, hidden map[string]bool) bool {
	for _, id := range ids {
		if !hidden[id] {
			return false
		}
	}
	return len(ids) > 0
}
