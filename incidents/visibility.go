package incidents

import "github.com/upstate-dev/upstate/component"

// ComponentIDs lists every component the incident names, now or in any of its updates, each
// once, in the order first named.
func (inc *Incident) ComponentIDs() []string {
	var ids []string
	seen := map[string]bool{}
	add := func(as []Affected) {
		for _, a := range as {
			if !seen[a.ComponentID] {
				seen[a.ComponentID] = true
				ids = append(ids, a.ComponentID)
			}
		}
	}
	add(inc.Components)
	for _, u := range inc.Updates {
		add(u.Components)
	}
	return ids
}

// Internal reports whether the incident stays internal: every component it has ever named is
// hidden from the public (component.Hidden), and it named at least one. An incident naming
// no component is the whole page's; one naming a public component is public, and shows
// without its internal components (Public).
func (inc *Incident) Internal(hidden map[string]bool) bool {
	return component.OnlyHidden(inc.ComponentIDs(), hidden)
}

// Public is the incident as the public sees it: without its hidden components, in its
// affected list and in its updates'. The updates' text stays as written: an SRE who names an
// internal system in a public incident's text has published it.
func (inc *Incident) Public(hidden map[string]bool) Incident {
	out := *inc
	keep := func(as []Affected) []Affected {
		if as == nil {
			return nil
		}
		out := make([]Affected, 0, len(as))
		for _, a := range as {
			if !hidden[a.ComponentID] {
				out = append(out, a)
			}
		}
		return out
	}
	out.Components = keep(inc.Components)
	if len(inc.Updates) > 0 {
		out.Updates = make([]Update, len(inc.Updates))
		for i, u := range inc.Updates {
			u.Components = keep(u.Components)
			out.Updates[i] = u
		}
	}
	return out
}
