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
