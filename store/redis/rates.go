package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// rateKey is one window's count of key: <prefix>:rate:<key>:<window ms>:<window index>. A key
// of its own (no hash tag: one command each), expiring when its window ends.
func (s *Store) rateKey(key string, window time.Duration, idx int64) string {
	return s.prefix + ":rate:" + key + ":" + strconv.FormatInt(window.Milliseconds(), 10) + ":" + strconv.FormatInt(idx, 10)
}

// countRate increments the window's count and, when it is new, sets it to expire when its
// window ends (by the caller's clock, plus a second against clocks a little apart), in one
// round trip.
var countRate = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// CountRate counts one more for key in the window holding now, shared by every instance on
// this Redis.
func (s *Store) CountRate(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error) {
	idx, end := store.RateWindow(window, now)
	n, err := countRate.Run(ctx, s.rdb, []string{s.rateKey(key, window, idx)}, end.Sub(now).Milliseconds()+1000).Int64()
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("count rate: %w", err)
	}
	return n, end, nil
}
