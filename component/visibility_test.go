package component_test

import (
	"testing"

	"github.com/upstate-dev/upstate/component"
)

func TestHidden(t *testing.T) {
	cs := []component.Component{
		{ID: "core", IsGroup: true},
		{ID: "ops", IsGroup: true, Visibility: component.Internal},
		{ID: "api", GroupID: "core"},
		{ID: "db", GroupID: "core", Visibility: component.Internal},
		{ID: "runner", GroupID: "ops"}, // public itself, but its group is internal
		{ID: "web"},
	}
	hidden := component.Hidden(cs)
	want := map[string]bool{"ops": true, "db": true, "runner": true}
	if len(hidden) != len(want) {
		t.Errorf("Hidden = %v, want %v", hidden, want)
	}
	for id := range want {
		if !hidden[id] {
			t.Errorf("Hidden misses %s: %v", id, hidden)
		}
	}
	tests := []struct {
		name string
		ids  []string
		want bool
	}{
		{"nothing named: the whole page's", nil, false},
		{"only hidden", []string{"db", "runner"}, true},
		{"one public among hidden", []string{"db", "api"}, false},
		{"only public", []string{"web"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := component.OnlyHidden(tt.ids, hidden); got != tt.want {
				t.Errorf("OnlyHidden(%v) = %v, want %v", tt.ids, got, tt.want)
			}
		})
	}
}

func TestParseVisibility(t *testing.T) {
	tests := []struct {
		in   string
		want component.Visibility
		ok   bool
	}{
		{"", component.Public, true},
		{"public", component.Public, true},
		{"internal", component.Internal, true},
		{"private", component.Public, false},
		{"Internal", component.Public, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := component.ParseVisibility(tt.in)
			if got != tt.want || (err == nil) != tt.ok {
				t.Errorf("ParseVisibility(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
	if errs := (component.Component{ID: "x", Name: "X", Visibility: "secret"}).Validate(); len(errs) != 1 || errs[0].Field != "visibility" {
		t.Errorf("Validate of an unknown visibility = %v", errs)
	}
}
