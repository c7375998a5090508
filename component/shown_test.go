package component

import (
	"maps"
	"testing"
)

func TestShown(t *testing.T) {
	cs := []Component{
		{ID: "core", IsGroup: true, Status: Unknown}, // a group's own stored status is never shown
		{ID: "api", GroupID: "core", Status: Operational},
		{ID: "db", GroupID: "core", Status: PartialOutage},
		{ID: "edge", IsGroup: true},
		{ID: "cdn", GroupID: "edge", Status: Operational},
		{ID: "dns", GroupID: "edge", Status: Unknown},
		{ID: "empty", IsGroup: true},
		{ID: "mail", Status: MajorOutage},
	}
	tests := []struct {
		name  string
		maint map[string]bool
		want  map[string]Status
	}{
		{"measured", nil, map[string]Status{"core": PartialOutage, "api": Operational, "db": PartialOutage,
			"edge": Operational, "cdn": Operational, "dns": Unknown, "empty": Unknown, "mail": MajorOutage}},
		{"maintenance hides an outage and a worse sibling still shows", map[string]bool{"db": true, "cdn": true, "mail": true},
			map[string]Status{"core": UnderMaintenance, "api": Operational, "db": UnderMaintenance,
				"edge": UnderMaintenance, "cdn": UnderMaintenance, "dns": Unknown, "empty": Unknown, "mail": UnderMaintenance}},
		{"maintenance beside an outage", map[string]bool{"api": true},
			map[string]Status{"core": PartialOutage, "api": UnderMaintenance, "db": PartialOutage,
				"edge": Operational, "cdn": Operational, "dns": Unknown, "empty": Unknown, "mail": MajorOutage}},
		{"a group in the maintenance set is still the worst of its children", map[string]bool{"core": true},
			map[string]Status{"core": PartialOutage, "api": Operational, "db": PartialOutage,
				"edge": Operational, "cdn": Operational, "dns": Unknown, "empty": Unknown, "mail": MajorOutage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Shown(cs, tt.maint); !maps.Equal(got, tt.want) {
				t.Errorf("Shown = %v, want %v", got, tt.want)
			}
		})
	}
}
