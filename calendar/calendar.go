package calendar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Date is a civil date, without a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// AddDays returns the date n days later (earlier if n < 0).
func (d Date) AddDays(n int) Date {
	y, m, dd := time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// Weekday is the date's day of the week.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Weekday()
}

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmp(d.Year, e.Year)
	case d.Month != e.Month:
		return cmp(int(d.Month), int(e.Month))
	}
	return cmp(d.Day, e.Day)
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t, time.UTC), nil
}

// Clock is a wall-clock time of day in minutes after midnight, 0 to 1440 (24:00 is the end of
// the day).
type Clock int

// ParseClock reads HH:MM, 00:00 to 24:00.
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("invalid time of day %q: want HH:MM between 00:00 and 24:00", s)
	}
	return Clock(hh*60 + mm), nil
}

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Local returns the instant at which the wall clock in loc shows date d at time c, following
// RFC 5545: a time that occurs twice is its first occurrence, and a time inside a gap (which does
// not occur) is shifted forward by the gap's length, so it is read with the offset in force
// before the gap. 24:00 is 00:00 of the next day.
func Local(d Date, c Clock, loc *time.Location) time.Time {
	// The wall clock we want, written as if it were UTC.
	naive := time.Date(d.Year, d.Month, d.Day, 0, int(c), 0, 0, time.UTC)
	// Every offset in force within two days either side: no zone changes offset twice in less.
	offsets := make([]int, 0, 5)
	for _, h := range []int{-48, -24, 0, 24, 48} {
		_, off := naive.Add(time.Duration(h) * time.Hour).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	var best time.Time
	for _, off := range offsets {
		t := naive.Add(-time.Duration(off) * time.Second)
		if wallEqual(t.In(loc), naive) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if !best.IsZero() {
		return best
	}
	// In a gap: use the offset in force before it, which lands after the gap.
	_, before := naive.Add(-48 * time.Hour).In(loc).Zone()
	return naive.Add(-time.Duration(before) * time.Second)
}

func wallEqual(t, naive time.Time) bool {
	y, m, d := t.Date()
	ny, nm, nd := naive.Date()
	return y == ny && m == nm && d == nd && t.Hour() == naive.Hour() && t.Minute() == naive.Minute() && t.Second() == naive.Second()
}

// Interval is the half-open span [Start, End) of real time.
type Interval struct {
	Start, End time.Time
}

// Duration is the interval's length (zero if empty).
func (i Interval) Duration() time.Duration {
	if !i.End.After(i.Start) {
		return 0
	}
	return i.End.Sub(i.Start)
}

// Empty reports whether the interval holds no instant.
func (i Interval) Empty() bool { return !i.End.After(i.Start) }

// Contains reports whether t is in [Start, End).
func (i Interval) Contains(t time.Time) bool { return !t.Before(i.Start) && t.Before(i.End) }

// Overlaps reports whether the intervals share an instant.
func (i Interval) Overlaps(j Interval) bool { return i.Start.Before(j.End) && j.Start.Before(i.End) }

// Intersect returns the common part of i and j (empty if none).
func (i Interval) Intersect(j Interval) Interval {
	s, e := i.Start, i.End
	if j.Start.After(s) {
		s = j.Start
	}
	if j.End.Before(e) {
		e = j.End
	}
	if !e.After(s) {
		return Interval{Start: s, End: s}
	}
	return Interval{Start: s, End: e}
}

// Union merges intervals into a sorted list of disjoint, non-adjacent intervals.
func Union(is []Interval) []Interval {
	var in []Interval
	for _, i := range is {
		if !i.Empty() {
			in = append(in, i)
		}
	}
	slices.SortFunc(in, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	var out []Interval
	for _, i := range in {
		if n := len(out); n > 0 && !i.Start.After(out[n-1].End) {
			if i.End.After(out[n-1].End) {
				out[n-1].End = i.End
			}
			continue
		}
		out = append(out, i)
	}
	return out
}

// Total is the summed length of the union of is.
func Total(is []Interval) time.Duration {
	var d time.Duration
	for _, i := range Union(is) {
		d += i.Duration()
	}
	return d
}
