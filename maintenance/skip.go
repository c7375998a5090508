package maintenance

import (
	"time"

	"github.com/teambition/rrule-go"

	"github.com/upstate-dev/upstate/calendar"
)

// Expanding a rule walks every period from its DTSTART (rrule-go has no way to start in the
// middle), so a window whose first date lies years back would cost years of work on every call.
// Window.from starts the walk near the dates asked for instead: at a date, on or before them, from
// which the rule yields exactly the dates it yields from FirstDate. That holds when the new start
// is a whole number of the rule's cycles after FirstDate:
//
//   - DAILY with INTERVAL n: the dates are FirstDate + k·n days, filtered by weekday (BYDAY).
//     Moving the start by 7·n days keeps both the progression and the weekdays.
//   - WEEKLY with INTERVAL n: the weeks (starting on WKST) are FirstDate's week + k·n weeks.
//     Moving by 7·n days keeps that alignment and the weekday. rrule-go takes a missing BYDAY
//     from DTSTART; FirstDate's weekday is written in before the move, which does not change it.
//   - MONTHLY with INTERVAL n: the months are FirstDate's month + k·n months. The new start is
//     the 1st of such a month. A missing BYDAY/BYMONTHDAY is FirstDate's day of the month
//     (rrule-go's default), written in before the move.
//
// Rules are expanded on floating dates (midnight written in UTC; see floating), so daylight
// saving never enters: a date's wall-clock start is resolved in the zone afterwards.
//
// COUNT counts from FirstDate. A DAILY or WEEKLY rule yields the same number of dates in every
// cycle of 7·n days from FirstDate (the set of dates repeats with that period), so the count left
// is COUNT minus cycles × perCycle, and the move stops while some count is left. A MONTHLY rule
// does not repeat exactly short of 400 years (month lengths, leap years, weekdays), so one with
// COUNT is walked from FirstDate; that is at most one step a month since FirstDate, and at most
// COUNT dates. The subset (ParseRule) has no BYSETPOS, BYYEARDAY, BYWEEKNO or YEARLY, which
// would need their own reasoning. UNTIL is applied outside the rule (Window.Until); rrule-go's
// implicit end (ruleLife) is kept. TestFastExpansionMatchesSlow compares both walks.

func (w *Window) prepareSkip(opt rrule.ROption) {
	f := floating(w.FirstDate)
	if len(opt.Byweekday) == 0 && len(opt.Bymonthday) == 0 {
		switch opt.Freq {
		case rrule.WEEKLY:
			opt.Byweekday = []rrule.Weekday{weekdays[f.Weekday()]}
		case rrule.MONTHLY:
			opt.Bymonthday = []int{f.Day()}
		}
	}
	opt.Interval = max(opt.Interval, 1)
	// A DAILY rule whose INTERVAL steps over the weekdays of its BYDAY yields nothing, and
	// rrule-go would look for a date until the year 9999 on every call.
	w.empty = false
	if opt.Freq == rrule.DAILY && len(opt.Byweekday) > 0 {
		w.empty = true
		for k := range 7 {
			wd := weekdays[(int(f.Weekday())+k*opt.Interval)%7]
			for _, b := range opt.Byweekday {
				w.empty = w.empty && b.Day() != wd.Day()
			}
		}
	}
	opt.Until = f.Add(ruleLife) // rrule-go's own end for a rule without UNTIL
	w.opt = opt
	w.perCycle = 0
	if opt.Count > 0 && (opt.Freq == rrule.DAILY || opt.Freq == rrule.WEEKLY) {
		o := opt
		o.Count = 0
		o.Until = f.AddDate(0, 0, 7*opt.Interval-1)
		if r, err := rrule.NewRRule(o); err == nil {
			w.perCycle = len(r.All()) // the dates in [FirstDate, FirstDate + 7n days)
		}
	}
}

var weekdays = [...]rrule.Weekday{rrule.SU, rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA}

// from returns a rule that yields, from lo to hi, exactly the dates the window's rule yields
// there: started as close before lo as the rule allows, and stopped at hi. It is nil for a rule
// known to yield nothing.
func (w *Window) from(lo, hi calendar.Date) *rrule.RRule {
	if w.empty {
		return nil
	}
	opt := w.opt
	start, used, ok := w.skip(lo)
	if ok {
		opt.Dtstart = floating(start)
		opt.Count -= used
	}
	if end := floating(hi); end.Before(opt.Until) {
		opt.Until = end
	}
	r, err := rrule.NewRRule(opt)
	if err != nil {
		return w.rule // cannot happen: the same options built w.rule
	}
	return r
}

// skip finds the new start for lo: a whole number of cycles after FirstDate, on or before lo,
// and how many dates of a COUNT it passes over.
func (w *Window) skip(lo calendar.Date) (calendar.Date, int, bool) {
	f, n := w.FirstDate, w.opt.Interval
	switch w.opt.Freq {
	case rrule.DAILY, rrule.WEEKLY:
		cycle := 7 * n
		k := int((floating(lo).Unix()-floating(f).Unix())/86400) / cycle
		if w.opt.Count > 0 {
			if w.perCycle <= 0 {
				return f, 0, false
			}
			k = min(k, (w.opt.Count-1)/w.perCycle)
		}
		if k <= 0 {
			return f, 0, false
		}
		return f.AddDays(k * cycle), k * w.perCycle, true
	case rrule.MONTHLY:
		if w.opt.Count > 0 {
			return f, 0, false
		}
		k := (lo.Year*12 + int(lo.Month) - f.Year*12 - int(f.Month)) / n
		if k <= 0 {
			return f, 0, false
		}
		t := time.Date(f.Year, f.Month+time.Month(k*n), 1, 0, 0, 0, 0, time.UTC)
		return calendar.Date{Year: t.Year(), Month: t.Month(), Day: 1}, 0, true
	}
	return f, 0, false
}
