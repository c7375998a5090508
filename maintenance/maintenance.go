// Package maintenance models announced maintenance windows, one-off and recurring, and their
// occurrences. Everything here is a pure function of the window and the times passed in.
//
// A recurring window is a start rule (an RRULE subset: DAILY, WEEKLY or MONTHLY with BYDAY,
// BYMONTHDAY, INTERVAL, COUNT, UNTIL) plus a wall-clock start and either a wall-clock end or an
// exact duration, in a named IANA zone. An occurrence that crosses midnight belongs to the day it
// starts. Wall-clock times are resolved with calendar.Local, so they follow RFC 5545 across
// daylight-saving changes: the nightly 20:00-08:00 window in a DST zone lasts 11 h on the spring
// night and 13 h on the autumn night, while a 2 h duration is always 2 h.
package maintenance

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// Sentinel errors.
var (
	ErrNotFound     = errors.New("not found")
	ErrInvalidState = errors.New("invalid state")
)

// State is an occurrence's state at some time.
type State string

// The occurrence states (Statuspage's words, plus cancelled).
const (
	StateScheduled  State = "scheduled"
	StateInProgress State = "in_progress"
	StateCompleted  State = "completed"
	StateCancelled  State = "cancelled"
)

// Limits.
const (
	MaxDuration     = 7 * 24 * time.Hour // of one occurrence
	MaxTitleLength  = 200
	MaxDescLength   = 5000
	maxExpandedDays = 8 // an occurrence starts at most this many days before it is seen
	lookaheadYears  = 2 // how far the period check looks for the closest two starts

	// MaxOccurrences bounds what one call to Window.Occurrences returns: more than 270 years of
	// a daily window, so it never cuts a call over the dates Upstate accepts (calendar.CheckDate),
	// and it caps the work of any span a caller might pass.
	MaxOccurrences = 100_000
)

// ruleLife is how long rrule-go runs a rule without UNTIL: it sets UNTIL to DTSTART plus the
// longest time.Duration (about 292 years). A rule started later (see Window.from) keeps the
// original end, so both expansions agree.
const ruleLife = time.Duration(1<<63 - 1)

// Window is an announced maintenance window. Exactly one of (Start, End) for a one-off window or
// Rule for a recurring one is set.
type Window struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Components  []string `json:"components"`
	TimeZone    string   `json:"time_zone"`

	// One-off windows: absolute instants.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`

	// Recurring windows.
	Rule       string         `json:"rule,omitempty"`      // normalised RRULE, e.g. FREQ=WEEKLY;BYDAY=TU
	FirstDate  calendar.Date  `json:"first_date,omitzero"` // the rule's DTSTART date
	StartClock calendar.Clock `json:"start_clock"`         // minutes after local midnight
	EndClock   calendar.Clock `json:"end_clock"`           // used when Duration is 0; at or before StartClock: next day
	Duration   time.Duration  `json:"duration,omitempty"`  // exact length, instead of EndClock
	Until      time.Time      `json:"until,omitzero"`      // from the rule's UNTIL: no occurrence starts later

	AnnouncedAt time.Time  `json:"announced_at"` // when customers were told; the notice rule counts from here
	CancelledAt time.Time  `json:"cancelled_at,omitzero"`
	Overrides   []Override `json:"overrides,omitempty"`
	Source      string     `json:"source"` // "config" or "api"
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`

	loc  *time.Location
	rule *rrule.RRule // the rule from FirstDate: Started, shortestPeriod, and the reference expansion
	opt  rrule.ROption
	// first is the rule's first date, if it has one in its first lookaheadYears.
	first calendar.Date
	empty bool // the rule yields no date at all (see prepareSkip)
	// perCycle is how many dates a DAILY or WEEKLY rule yields in every cycle (7×INTERVAL days)
	// from FirstDate, for rules with COUNT.
	perCycle int
}

// Override changes one occurrence, named by its scheduled start.
type Override struct {
	Scheduled time.Time `json:"scheduled"`
	Cancelled bool      `json:"cancelled,omitempty"`
	End       time.Time `json:"end,omitzero"` // a new end: ended early or extended
	At        time.Time `json:"at"`           // when the change was made
}

// Recurring reports whether the window repeats.
func (w *Window) Recurring() bool { return w.Rule != "" }

// Location is the window's zone; valid after Prepare.
func (w *Window) Location() *time.Location { return w.loc }

// Prepare checks the window and readies it for expansion: it loads the zone and parses the
// rule. It returns every problem, by field name. A window built from config or from a request
// must be prepared before use; one read from storage, with PrepareStored.
func (w *Window) Prepare() []*component.FieldError { return w.prepare(true) }

// PrepareStored is Prepare for a window read from storage: the title and description are not
// held to the text rule (component.CheckText), so a window stored before the rule still loads;
// output cleans its text instead.
func (w *Window) PrepareStored() []*component.FieldError { return w.prepare(false) }

func (w *Window) prepare(checkText bool) []*component.FieldError {
	var errs []*component.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	text := func(field, s string, kind component.TextKind) {
		if fe := component.CheckText(field, s, kind); checkText && fe != nil {
			errs = append(errs, fe)
		}
	}
	if !component.ValidID(w.ID) {
		add("id", "must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit")
	}
	if w.Title == "" {
		add("title", "is required")
	} else if len(w.Title) > MaxTitleLength {
		add("title", "must be at most %d bytes", MaxTitleLength)
	} else {
		text("title", w.Title, component.SingleLine)
	}
	if len(w.Description) > MaxDescLength {
		add("description", "must be at most %d bytes", MaxDescLength)
	} else {
		text("description", w.Description, component.MultiLine)
	}
	if len(w.Components) == 0 {
		add("components", "at least one component is required")
	}
	for i, c := range w.Components {
		if !component.ValidID(c) {
			add(fmt.Sprintf("components[%d]", i), "invalid component id %q", c)
		}
	}
	loc, err := calendar.LoadZone(w.TimeZone)
	if err != nil {
		add("time_zone", "%v", err)
		return errs
	}
	w.loc = loc
	// Dates before calendar.FirstAccepted are refused from people; a stored window keeps loading.
	date := func(field string, t time.Time) {
		if err := calendar.CheckTime(t); checkText && err != nil && !t.IsZero() {
			add(field, "%v", err)
		}
	}
	if w.AnnouncedAt.IsZero() {
		add("announced_at", "is required")
	} else {
		date("announced_at", w.AnnouncedAt)
	}
	date("start", w.Start)
	date("end", w.End)
	if !w.Recurring() {
		switch {
		case w.Start.IsZero() || w.End.IsZero():
			add("start", "a one-off window needs start and end; a recurring one needs a rule")
		case !w.End.After(w.Start):
			add("end", "must be after start")
		case w.End.Sub(w.Start) > MaxDuration:
			add("end", "a window may last at most %s", MaxDuration)
		}
		return errs
	}
	if !w.Start.IsZero() || !w.End.IsZero() {
		add("start", "give either start and end (one-off) or a rule (recurring), not both")
	}
	if w.StartClock < 0 || w.StartClock >= 1440 {
		add("start_time", "must be between 00:00 and 23:59")
	}
	switch {
	case w.Duration < 0:
		add("duration", "must be positive")
	case w.Duration > MaxDuration:
		add("duration", "must be at most %s", MaxDuration)
	case w.Duration == 0 && (w.EndClock < 0 || w.EndClock > 1440):
		add("end_time", "must be between 00:00 and 24:00")
	case w.Duration == 0 && w.EndClock%1440 == w.StartClock:
		add("end_time", "must differ from the start time")
	}
	if w.FirstDate == (calendar.Date{}) {
		add("first_date", "is required")
	} else if err := calendar.CheckDate(w.FirstDate); checkText && err != nil {
		add("first_date", "%v", err)
	}
	opt, err := ParseRule(w.Rule)
	if err != nil {
		add("rule", "%v", err)
		return errs
	}
	if len(errs) > 0 {
		return errs
	}
	w.Rule = NormalizeRule(opt)
	if !opt.Until.IsZero() {
		w.Until = opt.Until.UTC()
	}
	opt.Until = time.Time{}
	opt.Dtstart = floating(w.FirstDate)
	w.rule, err = rrule.NewRRule(*opt)
	if err != nil {
		add("rule", "%v", err)
		return errs
	}
	w.prepareSkip(*opt)
	horizon := calendar.Date{Year: w.FirstDate.Year + lookaheadYears, Month: w.FirstDate.Month, Day: w.FirstDate.Day}
	var dates []time.Time
	if r := w.from(w.FirstDate, horizon); r != nil {
		dates = r.Between(floating(w.FirstDate), floating(horizon), true)
	}
	w.first = calendar.Date{}
	if len(dates) > 0 {
		w.first = calendar.DateOf(dates[0], time.UTC)
	} else if checkText {
		// Such a rule has no use, and finding that out costs a walk of centuries (rrule-go runs
		// a rule until it yields a date).
		add("rule", "yields no date in the %d years from first_date %s", lookaheadYears, w.FirstDate)
	}
	if gap, ok := w.shortestPeriod(dates); ok && w.longest() > gap {
		add("duration", "an occurrence (%s) would last longer than the time between two occurrences (%s)", w.longest(), gap)
	}
	return errs
}

// ParseRule reads the supported RRULE subset and rejects every other part with a clear message.
func ParseRule(s string) (*rrule.ROption, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "RRULE:")
	if s == "" {
		return nil, errors.New("is empty")
	}
	for part := range strings.SplitSeq(s, ";") {
		name, _, _ := strings.Cut(part, "=")
		switch strings.ToUpper(name) {
		case "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "WKST":
		case "DTSTART":
			return nil, errors.New("DTSTART is not part of the rule: the window's first date gives it")
		default:
			return nil, fmt.Errorf("%s is not supported (supported: FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY)", name)
		}
	}
	opt, err := rrule.StrToROption(s)
	if err != nil {
		return nil, fmt.Errorf("invalid RRULE %q: %v", s, err)
	}
	switch opt.Freq {
	case rrule.DAILY, rrule.WEEKLY, rrule.MONTHLY:
	default:
		return nil, errors.New("FREQ must be DAILY, WEEKLY or MONTHLY")
	}
	if opt.Interval < 0 || opt.Interval > 366 {
		return nil, errors.New("INTERVAL must be between 1 and 366")
	}
	if opt.Count < 0 || opt.Count > 100000 {
		return nil, errors.New("COUNT must be between 1 and 100000")
	}
	if opt.Count > 0 && !opt.Until.IsZero() {
		return nil, errors.New("give COUNT or UNTIL, not both")
	}
	if len(opt.Bymonthday) > 0 && opt.Freq != rrule.MONTHLY {
		return nil, errors.New("BYMONTHDAY needs FREQ=MONTHLY")
	}
	for _, d := range opt.Byweekday {
		if d.N() != 0 && opt.Freq != rrule.MONTHLY {
			return nil, errors.New("a numbered BYDAY (such as 2TU) needs FREQ=MONTHLY")
		}
		// rrule-go indexes past its tables (a panic) for a number no month has.
		if n := d.N(); n < -5 || n > 5 {
			return nil, fmt.Errorf("BYDAY %s: a month has at most five of each weekday (numbers from -5 to 5)", d)
		}
	}
	for _, d := range opt.Bymonthday {
		if d == 0 || d < -31 || d > 31 {
			return nil, fmt.Errorf("BYMONTHDAY %d: days run from 1 to 31, or from -1 (the last) to -31", d)
		}
	}
	return opt, nil
}

// NormalizeRule writes a parsed rule back in a stable form.
func NormalizeRule(opt *rrule.ROption) string {
	o := *opt
	o.Dtstart = time.Time{}
	return strings.TrimPrefix(o.RRuleString(), "RRULE:")
}

// floating is a date at midnight written in UTC: rules are expanded on wall-clock dates and each
// date is resolved in the window's zone afterwards (rrule-go gets DST gaps wrong otherwise).
func floating(d calendar.Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// span returns the scheduled [start, end) of the occurrence on date d.
func (w *Window) span(d calendar.Date) (time.Time, time.Time) {
	start := calendar.Local(d, w.StartClock, w.loc)
	if w.Duration > 0 {
		return start, start.Add(w.Duration)
	}
	endDate := d
	if w.EndClock <= w.StartClock {
		endDate = d.AddDays(1)
	}
	return start, calendar.Local(endDate, w.EndClock, w.loc)
}

func (w *Window) longest() time.Duration {
	if w.Duration > 0 {
		return w.Duration
	}
	// A wall-clock span is longest on the night clocks go back: at most an hour more (Lord Howe:
	// half an hour) than on paper.
	paper := time.Duration(w.EndClock-w.StartClock) * time.Minute
	if w.EndClock <= w.StartClock {
		paper += 24 * time.Hour
	}
	return paper
}

// shortestPeriod is the smallest time between two consecutive starts of dates, the rule's dates
// over its first years.
func (w *Window) shortestPeriod(dates []time.Time) (time.Duration, bool) {
	if len(dates) < 2 {
		return 0, false
	}
	best := time.Duration(1<<63 - 1)
	prev, _ := w.span(calendar.DateOf(dates[0], time.UTC))
	for _, d := range dates[1:] {
		s, _ := w.span(calendar.DateOf(d, time.UTC))
		best = min(best, s.Sub(prev))
		prev = s
	}
	return best, true
}

// Occurrence is one run of a window.
type Occurrence struct {
	WindowID     string    `json:"window_id"`
	Scheduled    time.Time `json:"scheduled"`     // scheduled start: the occurrence's identity
	Start        time.Time `json:"start"`         // equal to Scheduled
	End          time.Time `json:"end"`           // effective end, after an early end or an extension
	ScheduledEnd time.Time `json:"scheduled_end"` // the end as announced
	Cancelled    bool      `json:"cancelled"`
	ChangedAt    time.Time `json:"changed_at,omitzero"` // when an override changed it
}

// Interval is the occurrence's effective span.
func (o Occurrence) Interval() calendar.Interval {
	return calendar.Interval{Start: o.Start, End: o.End}
}

// State is the occurrence's state at t.
func (o Occurrence) State(t time.Time) State {
	switch {
	case o.Cancelled:
		return StateCancelled
	case t.Before(o.Start):
		return StateScheduled
	case t.Before(o.End):
		return StateInProgress
	}
	return StateCompleted
}

// Announced reports whether the occurrence was announced at least notice before it began.
func (w *Window) Announced(o Occurrence, notice time.Duration) bool {
	return !w.AnnouncedAt.After(o.Start.Add(-notice))
}

// Occurrences returns every occurrence whose effective span overlaps [from, to), cancelled ones
// included (flagged), in order of start. The window must be prepared.
func (w *Window) Occurrences(from, to time.Time) []Occurrence { return w.occurrences(from, to, false) }

// occurrences is Occurrences; slow walks the rule from FirstDate, as rrule-go alone would (the
// reference the tests hold the fast walk to).
func (w *Window) occurrences(from, to time.Time, slow bool) []Occurrence {
	var out []Occurrence
	var overrides map[time.Time][]Override // by scheduled start, so a long list costs one look-up
	if len(w.Overrides) > 0 {
		overrides = make(map[time.Time][]Override, len(w.Overrides))
		for _, ov := range w.Overrides {
			k := ov.Scheduled.UTC()
			overrides[k] = append(overrides[k], ov)
		}
	}
	add := func(start, end time.Time) {
		o := Occurrence{WindowID: w.ID, Scheduled: start.UTC(), Start: start.UTC(), End: end.UTC(), ScheduledEnd: end.UTC()}
		if !w.CancelledAt.IsZero() && !o.Start.Before(w.CancelledAt) {
			o.Cancelled, o.ChangedAt = true, w.CancelledAt
		}
		for _, ov := range overrides[o.Scheduled] {
			o.ChangedAt = ov.At
			if ov.Cancelled {
				o.Cancelled = true
			}
			if !ov.End.IsZero() {
				o.End = ov.End.UTC()
			}
		}
		if o.Start.Before(to) && from.Before(o.End) || o.Start.Equal(o.End) && !o.Start.Before(from) && o.Start.Before(to) {
			out = append(out, o)
		}
	}
	if !w.Recurring() {
		add(w.Start, w.End)
		return out
	}
	// Dates whose occurrence could overlap: from a week before from (no occurrence is longer)
	// to the day after to, in the window's zone.
	lo := calendar.DateOf(from, w.loc).AddDays(-maxExpandedDays)
	hi := calendar.DateOf(to, w.loc).AddDays(1)
	if lo.Before(w.FirstDate) {
		lo = w.FirstDate
	}
	if hi.Before(lo) {
		return nil
	}
	r := w.from(lo, hi)
	if slow {
		r = w.rule
	}
	if r == nil {
		return out
	}
	next := r.Iterator()
	for n := 0; n < MaxOccurrences; {
		d, ok := next()
		if !ok || d.After(floating(hi)) {
			break
		}
		if d.Before(floating(lo)) {
			continue
		}
		n++
		start, end := w.span(calendar.DateOf(d, time.UTC))
		if !w.Until.IsZero() && start.After(w.Until) {
			break
		}
		add(start, end)
	}
	return out
}

// Find returns the occurrence scheduled to start at scheduled.
func (w *Window) Find(scheduled time.Time) (Occurrence, error) {
	for _, o := range w.Occurrences(scheduled.Add(-MaxDuration), scheduled.Add(MaxDuration)) {
		if o.Scheduled.Equal(scheduled) {
			return o, nil
		}
	}
	return Occurrence{}, fmt.Errorf("window %s has no occurrence starting at %s: %w", w.ID, scheduled.UTC().Format(time.RFC3339), ErrNotFound)
}

func (w *Window) setOverride(ov Override) {
	for i := range w.Overrides {
		if w.Overrides[i].Scheduled.Equal(ov.Scheduled) {
			if ov.End.IsZero() {
				ov.End = w.Overrides[i].End
			}
			ov.Cancelled = ov.Cancelled || w.Overrides[i].Cancelled
			w.Overrides[i] = ov
			return
		}
	}
	w.Overrides = append(w.Overrides, ov)
	slices.SortFunc(w.Overrides, func(a, b Override) int { return a.Scheduled.Compare(b.Scheduled) })
}

// CancelOccurrence cancels one occurrence that has not started yet.
func (w *Window) CancelOccurrence(scheduled, now time.Time) error {
	o, err := w.Find(scheduled)
	if err != nil {
		return err
	}
	switch o.State(now) {
	case StateCancelled:
		return fmt.Errorf("the occurrence at %s is already cancelled: %w", o.Start.Format(time.RFC3339), ErrInvalidState)
	case StateInProgress:
		return fmt.Errorf("the occurrence at %s has started; end it early instead: %w", o.Start.Format(time.RFC3339), ErrInvalidState)
	case StateCompleted:
		return fmt.Errorf("the occurrence at %s is over; the past cannot be cancelled: %w", o.Start.Format(time.RFC3339), ErrInvalidState)
	}
	w.setOverride(Override{Scheduled: o.Scheduled, Cancelled: true, At: now.UTC()})
	return nil
}

// EndOccurrence ends an occurrence in progress at now.
func (w *Window) EndOccurrence(scheduled, now time.Time) error {
	o, err := w.Find(scheduled)
	if err != nil {
		return err
	}
	if st := o.State(now); st != StateInProgress {
		return fmt.Errorf("the occurrence at %s is %s, not in progress: %w", o.Start.Format(time.RFC3339), st, ErrInvalidState)
	}
	w.setOverride(Override{Scheduled: o.Scheduled, End: now.UTC(), At: now.UTC()})
	return nil
}

// ExtendOccurrence moves the end of a scheduled or running occurrence later, to end.
func (w *Window) ExtendOccurrence(scheduled, end, now time.Time) error {
	o, err := w.Find(scheduled)
	if err != nil {
		return err
	}
	if st := o.State(now); st != StateScheduled && st != StateInProgress {
		return fmt.Errorf("the occurrence at %s is %s; only a scheduled or running one can be extended: %w", o.Start.Format(time.RFC3339), st, ErrInvalidState)
	}
	if !end.After(o.End) {
		return fmt.Errorf("the new end %s is not after the current end %s: %w", end.UTC().Format(time.RFC3339), o.End.Format(time.RFC3339), ErrInvalidState)
	}
	if end.Sub(o.Start) > MaxDuration {
		return fmt.Errorf("an occurrence may last at most %s: %w", MaxDuration, ErrInvalidState)
	}
	for _, next := range w.Occurrences(o.End, end) {
		if next.Scheduled.After(o.Scheduled) && !next.Cancelled {
			return fmt.Errorf("the new end overlaps the next occurrence at %s: %w", next.Start.Format(time.RFC3339), ErrInvalidState)
		}
	}
	w.setOverride(Override{Scheduled: o.Scheduled, End: end.UTC(), At: now.UTC()})
	return nil
}

// CancelSeries cancels every occurrence that starts at or after now. One running now goes on
// until it ends (or is ended early).
func (w *Window) CancelSeries(now time.Time) error {
	if !w.CancelledAt.IsZero() {
		return fmt.Errorf("window %s was already cancelled at %s: %w", w.ID, w.CancelledAt.Format(time.RFC3339), ErrInvalidState)
	}
	if !w.Recurring() && !now.Before(w.Start) {
		return fmt.Errorf("window %s has already started; end it early instead: %w", w.ID, ErrInvalidState)
	}
	w.CancelledAt = now.UTC()
	return nil
}

// Started reports whether any occurrence of the window has begun by now; a window whose timing
// has been seen running may no longer be re-timed (create a new one instead).
func (w *Window) Started(now time.Time) bool {
	if !w.Recurring() {
		return !now.Before(w.Start)
	}
	first := w.first
	if first == (calendar.Date{}) {
		// Only a stored rule with no date in its first years: look for one only up to now (a
		// rule that yields nothing would walk for centuries).
		if now.Before(floating(w.FirstDate).Add(-48 * time.Hour)) {
			return false
		}
		r := w.from(w.FirstDate, calendar.DateOf(now, time.UTC).AddDays(2))
		if r == nil {
			return false
		}
		d, ok := r.Iterator()()
		if !ok {
			return false
		}
		first = calendar.DateOf(d, time.UTC)
	}
	start, _ := w.span(first)
	return !now.Before(start)
}
