package incidents_test

import (
	"testing"

	"github.com/upstate-dev/upstate/incidents"
)

func TestIncidentVisibility(t *testing.T) {
	hidden := map[string]bool{"db": true, "runner": true}
	tests := []struct {
		name     string
		inc      incidents.Incident
		internal bool
		public   []string // the components left in the public copy
	}{
		{"no component: the whole page's", incidents.Incident{}, false, nil},
		{"only internal", incidents.Incident{Components: []incidents.Affected{{ComponentID: "db"}}}, true, []string{}},
		{"internal and public", incidents.Incident{Components: []incidents.Affected{{ComponentID: "db"}, {ComponentID: "api"}}}, false, []string{"api"}},
		{"internal now, public once: public", incidents.Incident{Components: []incidents.Affected{{ComponentID: "db"}},
			Updates: []incidents.Update{{Components: []incidents.Affected{{ComponentID: "api"}}}, {Components: []incidents.Affected{{ComponentID: "db"}}}}}, false, []string{}},
		{"components cleared after naming internal ones: still internal", incidents.Incident{Components: []incidents.Affected{},
			Updates: []incidents.Update{{Components: []incidents.Affected{{ComponentID: "runner"}}}, {Components: []incidents.Affected{}}}}, true, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.inc.Internal(hidden); got != tt.internal {
				t.Errorf("Internal = %v, want %v", got, tt.internal)
			}
			pub := tt.inc.Public(hidden)
			var ids []string
			if pub.Components != nil {
				ids = []string{}
			}
			for _, a := range pub.Components {
				ids = append(ids, a.ComponentID)
			}
			if len(ids) != len(tt.public) || (ids == nil) != (tt.public == nil) {
				t.Fatalf("public components %v, want %v", ids, tt.public)
			}
			for i := range ids {
				if ids[i] != tt.public[i] {
					t.Errorf("public components %v, want %v", ids, tt.public)
				}
			}
			for _, u := range pub.Updates {
				for _, a := range u.Components {
					if hidden[a.ComponentID] {
						t.Errorf("an update still names %s", a.ComponentID)
					}
				}
			}
		})
	}
}
