package component

// Shown is the one rule for what each component and group shows, used by the page, both JSON
// APIs, the badges and the feeds, so no two surfaces can disagree:
//
//   - a component shows its measured status (Status, the last change of its timeline: monitors
//     and open incidents' impacts), or under_maintenance while an occurrence of a maintenance
//     window covering it is in progress (inMaintenance: from maintenance.InProgress). The overlay
//     is not stored: the timeline keeps what was measured;
//   - a group shows the worst of what its components show; under_maintenance when that worst is
//     operational (or unknown) and one of them is under maintenance; unknown when it is empty.
//
// The result has an entry for every id in cs.
func Shown(cs []Component, inMaintenance map[string]bool) map[string]Status {
	shown := make(map[string]Status, len(cs))
	children := map[string][]Status{}
	for _, c := range cs {
		if c.IsGroup {
			continue
		}
		s := c.Status
		if inMaintenance[c.ID] {
			s = UnderMaintenance
		}
		shown[c.ID] = s
		if c.GroupID != "" {
			children[c.GroupID] = append(children[c.GroupID], s)
		}
	}
	for _, c := range cs {
		if c.IsGroup {
			shown[c.ID] = WorstOrMaintenance(children[c.ID]...)
		}
	}
	return shown
}

// WorstOrMaintenance is Worst, except that maintenance shows where nothing is worse than
// operational: a group, or a page, whose only news is maintenance says so.
func WorstOrMaintenance(ss ...Status) Status {
	w := Worst(ss...)
	if w == Operational || w == Unknown {
		for _, s := range ss {
			if s == UnderMaintenance {
				return s
			}
		}
	}
	return w
}
