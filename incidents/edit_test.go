package incidents

import (
	"errors"
	"testing"
)

func TestCanMove(t *testing.T) {
	tests := []struct {
		from, next Status
		ok         bool
	}{
		{Investigating, Identified, true},
		{Identified, Investigating, true}, // a wrong diagnosis goes back
		{Monitoring, Resolved, true},
		{Investigating, "", true}, // an update that keeps the status
		{Identified, Identified, true},
		{Resolved, Investigating, false}, // reopen, not update
		{Resolved, "", false},
		{Resolved, Resolved, false},
		{Investigating, "postmortem", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.next), func(t *testing.T) {
			err := CanMove(tt.from, tt.next)
			if (err == nil) != tt.ok {
				t.Fatalf("CanMove = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidState) {
				t.Errorf("%v is not ErrInvalidState", err)
			}
		})
	}
}
