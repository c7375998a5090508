package probe

import (
	"fmt"
	"time"
)

// Resolution is the width of a rollup bucket.
type Resolution string

// The rollup resolutions and how long each is kept (DESIGN section 8).
const (
	Minute Resolution = "minute"
	Hour   Resolution = "hour"
	Day    Resolution = "day"
)

// Resolutions lists every resolution, finest first.
var Resolutions = []Resolution{Minute, Hour, Day}

// Valid reports whether r is a known resolution.
func (r Resolution) Valid() bool { return r == Minute || r == Hour || r == Day }

// Width is the length of one bucket. Buckets are aligned to UTC: a day bucket is a UTC day.
// Local-day views are computed from the status timeline, not from rollups.
func (r Resolution) Width() time.Duration {
	switch r {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	}
	panic(fmt.Sprintf("probe: unknown resolution %q", string(r)))
}

// Retention is how long buckets of this resolution are kept.
func (r Resolution) Retention() time.Duration {
	switch r {
	case Minute:
		return 48 * time.Hour
	case Hour:
		return 90 * 24 * time.Hour
	case Day:
		return 2 * 366 * 24 * time.Hour
	}
	panic(fmt.Sprintf("probe: unknown resolution %q", string(r)))
}

// Truncate returns the start of the bucket holding t.
func (r Resolution) Truncate(t time.Time) time.Time { return t.UTC().Truncate(r.Width()) }

// LatencyBounds are the upper bounds, inclusive, of the latency histogram's buckets; a last
// bucket counts everything slower.
var LatencyBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// HistogramBuckets is the number of latency buckets: one per bound plus the overflow bucket.
const HistogramBuckets = len(LatencyBounds) + 1

// Rollup summarises the results of one monitor in one bucket of time.
type Rollup struct {
	MonitorID  string                   `json:"monitor_id"`
	Resolution Resolution               `json:"resolution"`
	Start      time.Time                `json:"start"`
	Runs       int64                    `json:"runs"`
	Failures   int64                    `json:"failures"`
	LatencySum time.Duration            `json:"latency_sum"` // of all runs, for the mean
	Histogram  [HistogramBuckets]uint64 `json:"histogram"`   // counts per LatencyBounds bucket
}

// Add counts one result into the rollup.
func (r *Rollup) Add(res Result) {
	r.Runs++
	if !res.OK {
		r.Failures++
	}
	r.LatencySum += res.Duration
	r.Histogram[latencyBucket(res.Duration)]++
}

// Merge adds the counts of o into r. Both must describe the same monitor and bucket.
func (r *Rollup) Merge(o Rollup) {
	r.Runs += o.Runs
	r.Failures += o.Failures
	r.LatencySum += o.LatencySum
	for i := range r.Histogram {
		r.Histogram[i] += o.Histogram[i]
	}
}

func latencyBucket(d time.Duration) int {
	for i, b := range LatencyBounds {
		if d <= b {
			return i
		}
	}
	return len(LatencyBounds)
}

// Quantile returns an upper bound for the q-quantile (0 < q <= 1) of the latencies the rollup
// counts: the bound of the histogram bucket that holds it. ok is false when there are no runs or
// the quantile falls in the overflow bucket (slower than the largest bound).
func (r Rollup) Quantile(q float64) (time.Duration, bool) {
	if r.Runs <= 0 {
		return 0, false
	}
	need := uint64(q*float64(r.Runs) + 0.999999) // the rank of the quantile, rounded up
	var seen uint64
	for i, n := range r.Histogram {
		seen += n
		if seen >= need {
			if i == len(LatencyBounds) {
				return 0, false
			}
			return LatencyBounds[i], true
		}
	}
	return 0, false
}
