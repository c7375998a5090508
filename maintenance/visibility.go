package maintenance

import "github.com/upstate-dev/upstate/component"

// Internal reports whether the window stays internal: it names components and all of them are
// hidden from the public (component.Hidden). A window naming none is the whole page's.
func (w *Window) Internal(hidden map[string]bool) bool {
	return component.OnlyHidden(w.Components, hidden)
}

// Public is the window as the public sees it: without its hidden components.
func (w *Window) Public(hidden map[string]bool) Window {
	out := *w
	if len(w.Components) == 0 {
		return out
	}
	ids := make([]string, 0, len(w.Components))
	for _, id := range w.Components {
		if !hidden[id] {
			ids = append(ids, id)
		}
	}
	out.Components = ids
	return out
}
