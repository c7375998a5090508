package calendar

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Span is a working span of a day, [Start, End) in wall-clock time. An End at or before Start
// means the span runs past midnight into the next day; it belongs to the day it starts.
// 00:00-24:00 is the whole day.
type Span struct {
	Start, End Clock
}

// Minutes is the span's nominal length in wall-clock minutes.
func (s Span) Minutes() int {
	if s.End > s.Start {
		return int(s.End - s.Start)
	}
	return int(s.End) + 1440 - int(s.Start)
}

func (s Span) String() string { return s.Start.String() + "-" + s.End.String() }

// Calendar is a business calendar: working spans per weekday, holidays, in one zone. Around the
// clock is a calendar too (every day 00:00-24:00).
type Calendar struct {
	Name     string
	Location *time.Location
	Weekly   [7][]Span     // by time.Weekday
	Holidays map[Date]bool // local dates whose spans do not count
}

// ErrNoWorkingTime is returned by Add when the calendar never works (or not within years).
var ErrNoWorkingTime = errors.New("the calendar has no working time")

// AroundTheClock is the calendar of every instant, in UTC.
func AroundTheClock() *Calendar {
	c := &Calendar{Name: "24x7", Location: time.UTC}
	for d := range c.Weekly {
		c.Weekly[d] = []Span{{0, 1440}}
	}
	return c
}

// Validate checks the spans: within 00:00-24:00, not empty, and not overlapping on a day.
func (c *Calendar) Validate() error {
	var errs []error
	for wd, spans := range c.Weekly {
		for i, s := range spans {
			if s.Start < 0 || s.Start >= 1440 || s.End < 0 || s.End > 1440 || s.Start == s.End%1440 && s.Start != 0 {
				errs = append(errs, fmt.Errorf("%s span %s is empty or out of range", time.Weekday(wd), s))
				continue
			}
			for _, o := range spans[i+1:] {
				if s.Start < o.Start+Clock(o.Minutes()) && o.Start < s.Start+Clock(s.Minutes()) {
					errs = append(errs, fmt.Errorf("%s spans %s and %s overlap", time.Weekday(wd), s, o))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// day returns the working intervals that start on date d, in time order.
func (c *Calendar) day(d Date) []Interval {
	if c.Holidays[d] {
		return nil
	}
	spans := c.Weekly[d.Weekday()]
	out := make([]Interval, 0, len(spans))
	for _, s := range spans {
		start := Local(d, s.Start, c.Location)
		endDate := d
		if s.End <= s.Start {
			endDate = d.AddDays(1)
		}
		end := Local(endDate, s.End, c.Location)
		if end.After(start) {
			out = append(out, Interval{start, end})
		}
	}
	slices.SortFunc(out, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	return out
}

// Elapsed is the working time in [t1, t2), summed over real instants, so it is exact across
// daylight-saving changes (a span of 01:00-03:00 lasts 1 h on the spring night).
func (c *Calendar) Elapsed(t1, t2 time.Time) time.Duration {
	if !t2.After(t1) {
		return 0
	}
	window := Interval{t1, t2}
	var sum time.Duration
	last := DateOf(t2, c.Location)
	for d := DateOf(t1, c.Location).AddDays(-1); !last.Before(d); d = d.AddDays(1) {
		for _, iv := range c.day(d) {
			sum += iv.Intersect(window).Duration()
		}
	}
	return sum
}

// maxScanDays bounds Add's search: a target due more than three years of working time away is
// treated as unreachable.
const maxScanDays = 3 * 366

// Add returns the earliest instant t' with Elapsed(t, t') = d: t plus d of working time. A
// deadline that falls exactly at the end of a span is that closing time, not the next opening.
func (c *Calendar) Add(t time.Time, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return t, nil
	}
	remaining := d
	start := DateOf(t, c.Location).AddDays(-1)
	for i := range maxScanDays {
		for _, iv := range c.day(start.AddDays(i)) {
			if !iv.End.After(t) {
				continue
			}
			s := iv.Start
			if t.After(s) {
				s = t
			}
			avail := iv.End.Sub(s)
			if remaining <= avail {
				return s.Add(remaining), nil
			}
			remaining -= avail
		}
	}
	return time.Time{}, fmt.Errorf("calendar %s: adding %s: %w", c.Name, d, ErrNoWorkingTime)
}

// WorkdayLength is the nominal working length of the calendar's working days, if every working
// weekday has the same; "N business days" means N times it. ok is false for a calendar whose
// days differ (use hours there) or that never works.
func (c *Calendar) WorkdayLength() (length time.Duration, ok bool) {
	minutes := -1
	for _, spans := range c.Weekly {
		if len(spans) == 0 {
			continue
		}
		m := 0
		for _, s := range spans {
			m += s.Minutes()
		}
		if minutes >= 0 && m != minutes {
			return 0, false
		}
		minutes = m
	}
	if minutes <= 0 {
		return 0, false
	}
	return time.Duration(minutes) * time.Minute, true
}

// HasWorkingTime reports whether any weekday has a span.
func (c *Calendar) HasWorkingTime() bool {
	for _, spans := range c.Weekly {
		if len(spans) > 0 {
			return true
		}
	}
	return false
}
