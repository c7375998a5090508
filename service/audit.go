package service

import (
	"context"
	"fmt"
)

// Audit records the changes that touch no stored value: a monitor paused, resumed or run by
// hand, a configuration reloaded. What they change lives in the running engine; the record of
// who did it lives here. They publish no event (the engine's own events say what followed).
type Audit struct{ *deps }

// Record writes one audit entry for action on target, with after as its new state.
func (s *Audit) Record(ctx context.Context, by Actor, action, target string, after any) error {
	if err := s.store.AppendAudit(ctx, by.audit(s.now(), action, target, after)); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}
