package maintenance_test

import (
	"slices"
	"testing"

	"github.com/upstate-dev/upstate/maintenance"
)

func TestWindowVisibility(t *testing.T) {
	hidden := map[string]bool{"db": true}
	tests := []struct {
		name       string
		components []string
		internal   bool
		public     []string
	}{
		{"the whole page's", nil, false, nil},
		{"only internal", []string{"db"}, true, []string{}},
		{"mixed", []string{"api", "db"}, false, []string{"api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := maintenance.Window{Components: slices.Clone(tt.components)}
			if got := w.Internal(hidden); got != tt.internal {
				t.Errorf("Internal = %v, want %v", got, tt.internal)
			}
			if got := w.Public(hidden).Components; !slices.Equal(got, tt.public) {
				t.Errorf("Public().Components = %v, want %v", got, tt.public)
			}
			if !slices.Equal(w.Components, tt.components) {
				t.Errorf("Public changed the window: %v", w.Components)
			}
		})
	}
}
