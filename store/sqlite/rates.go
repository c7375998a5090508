package sqlite

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// rates are the subscription limits' counts (store.Subscribers.CountRate). SQLite is one
// instance (OpenExclusive's lock), so they live in this process's memory: nothing to share, and
// no disk write per request. A restart forgets them.
type rates struct {
	mu sync.Mutex
	m  map[string]rateCount
}

type rateCount struct {
	n   int64
	end time.Time
}

// maxRateKeys bounds the counts kept: past it, the finished windows are dropped, and under a
// flood of distinct keys (every client address new) everything starts over rather than grows.
const maxRateKeys = 100_000

// CountRate counts one more for key in the window holding now.
func (s *Store) CountRate(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	idx, end := store.RateWindow(window, now)
	k := key + "\x00" + strconv.FormatInt(window.Milliseconds(), 10) + "\x00" + strconv.FormatInt(idx, 10)
	r := &s.rates
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]rateCount{}
	}
	c, ok := r.m[k]
	if !ok && len(r.m) >= maxRateKeys {
		for old, oc := range r.m {
			if !oc.end.After(now) {
				delete(r.m, old)
			}
		}
		if len(r.m) >= maxRateKeys {
			clear(r.m)
		}
	}
	c.n++
	c.end = end
	r.m[k] = c
	return c.n, end, nil
}
