package engine

import (
	"fmt"
	"maps"
	"testing"

	"github.com/upstate-dev/upstate/store"
)

// TestPlace: a monitor asking for n locations is probed by its component's owner in the
// owner's location and by one instance in each of n-1 other locations; joins and leaves move
// only their share; fewer live locations give fewer places.
func TestPlace(t *testing.T) {
	members := []store.Member{
		{ID: "a1", Location: "eu-west"}, {ID: "a2", Location: "eu-west"},
		{ID: "b1", Location: "us-east"}, {ID: "c1", Location: "ap-south"}, {ID: "d1", Location: "sa-east"},
	}
	ids := memberIDs(members)
	for i := range 200 {
		mon, comp := fmt.Sprintf("m%d", i), fmt.Sprintf("c%d", i%40)
		p := Place(mon, comp, 3, members)
		if len(p) != 3 {
			t.Fatalf("%s placed in %d locations, want 3: %v", mon, len(p), p)
		}
		owner := Owner(comp, ids)
		var ownerLoc string
		for _, m := range members {
			if m.ID == owner {
				ownerLoc = m.Location
			}
		}
		if p[ownerLoc] != owner {
			t.Fatalf("%s: the component's owner %s does not probe from its location %s: %v", mon, owner, ownerLoc, p)
		}
		// A leave moves only what the leaver probed, or what follows the arbiter's move.
		for _, gone := range ids {
			var rest []store.Member
			for _, m := range members {
				if m.ID != gone {
					rest = append(rest, m)
				}
			}
			q := Place(mon, comp, 3, rest)
			stayed := true
			for _, inst := range p {
				stayed = stayed && inst != gone
			}
			if stayed && gone != owner && !maps.Equal(p, q) {
				t.Fatalf("%s: the leave of %s, which did not probe it, moved it from %v to %v", mon, gone, p, q)
			}
		}
	}
	// Fewer live locations than asked: all of them.
	two := []store.Member{{ID: "a1", Location: "eu-west"}, {ID: "b1", Location: "us-east"}}
	if p := Place("m", "c", 3, two); len(p) != 2 || p["eu-west"] != "a1" || p["us-east"] != "b1" {
		t.Errorf("Place over two locations = %v, want both", p)
	}
	// Members without a location share the default one.
	if p := Place("m", "c", 3, []store.Member{{ID: "x", Location: defaultLocation}, {ID: "y", Location: defaultLocation}}); len(p) != 1 {
		t.Errorf("Place over one location = %v, want one place", p)
	}
	if p := Place("m", "c", 3, nil); len(p) != 0 {
		t.Errorf("Place over no members = %v", p)
	}
}
