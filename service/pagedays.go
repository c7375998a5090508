package service

import (
	"context"
	"fmt"
	"time"
)

// dayKeeper keeps each component's status time per day (store.PageReads).
type dayKeeper interface {
	KeepStatusDays(ctx context.Context, loc *time.Location) error
}

// KeepDailyStatus has the store keep each component's status time per day in loc, the page's
// zone, from which the page's 90 daily bars are read (docs/storage.md): it builds them from
// every timeline if they are kept in another zone or not at all, and does nothing if they are
// kept in loc already. From then on every status change recorded updates them in its own
// transaction. They are derived from the timelines, as rollups are from results, and change
// nothing anyone sees: no audit entry, no event. A store without them is left as it is.
func (s *Monitors) KeepDailyStatus(ctx context.Context, loc *time.Location) error {
	k, ok := s.store.(dayKeeper)
	if !ok {
		return nil
	}
	if err := k.KeepStatusDays(ctx, loc); err != nil {
		return fmt.Errorf("daily status in %s: %w", loc, err)
	}
	return nil
}
