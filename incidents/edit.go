package incidents

import "fmt"

// CanMove is the rule for an update's status, a function of the old status and the new one:
// an open incident may move to any status (resolving it included), or keep its own (next empty);
// a resolved one changes only by Reopen, so an update to it is refused whatever it says.
func CanMove(from, next Status) error {
	if from == Resolved {
		return fmt.Errorf("the incident is resolved; reopen it first: %w", ErrInvalidState)
	}
	if next != "" && !next.Valid() {
		return fmt.Errorf("unknown status %q: %w", next, ErrInvalidState)
	}
	return nil
}
