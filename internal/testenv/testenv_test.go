package testenv

import "testing"

func TestCI(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{
		{"true", true}, {"TRUE", true}, {"1", true}, {"yes", true}, {"On", true}, {" true ", true},
		{"", false}, {"false", false}, {"0", false}, {"no", false}, {"off", false}, {"maybe", false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("CI", tt.value)
			if got := CI(); got != tt.want {
				t.Errorf("CI() with CI=%q = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}
