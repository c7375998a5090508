package maintenance

import (
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// Spec is a window as people write it, in the config file and in API requests. Its field
// names in errors are the API's JSON names; the config renames them to its own keys.
type Spec struct {
	ID          string
	Title       string
	Description string
	Components  []string
	TimeZone    string
	// Recurring: exactly one of Days, Daily or RRule, with StartTime and EndTime or Duration.
	Days      []string // mon ... sun
	Daily     bool
	RRule     string
	StartTime string // HH:MM local
	EndTime   string // HH:MM local; at or before StartTime means the next day
	Duration  time.Duration
	FirstDate string // YYYY-MM-DD; default: the day it was announced, in its zone
	// One-off.
	Start, End time.Time
	// AnnouncedAt defaults to the time passed to Window.
	AnnouncedAt time.Time
}

var weekdayCodes = map[string]string{"mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH", "fri": "FR", "sat": "SA", "sun": "SU"}

// Window builds and prepares the window the spec describes, announced at announced unless the
// spec says otherwise. It returns every problem.
func (s Spec) Window(announced time.Time) (Window, []*component.FieldError) {
	w := Window{ID: s.ID, Title: s.Title, Description: s.Description, Components: s.Components, TimeZone: s.TimeZone,
		Start: s.Start.UTC(), End: s.End.UTC(), Duration: s.Duration, AnnouncedAt: announced.UTC()}
	if !s.AnnouncedAt.IsZero() {
		w.AnnouncedAt = s.AnnouncedAt.UTC()
	}
	if s.Start.IsZero() {
		w.Start = time.Time{}
	}
	if s.End.IsZero() {
		w.End = time.Time{}
	}
	var errs []*component.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	forms := 0
	for _, set := range []bool{len(s.Days) > 0, s.Daily, s.RRule != ""} {
		if set {
			forms++
		}
	}
	switch {
	case forms > 1:
		add("days", "give one of days, daily or rrule")
	case len(s.Days) > 0:
		var codes []string
		for i, d := range s.Days {
			code, ok := weekdayCodes[strings.ToLower(d)]
			if !ok {
				add(fmt.Sprintf("days[%d]", i), "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)
			}
			codes = append(codes, code)
		}
		w.Rule = "FREQ=WEEKLY;BYDAY=" + strings.Join(codes, ",")
	case s.Daily:
		w.Rule = "FREQ=DAILY"
	case s.RRule != "":
		w.Rule = s.RRule
	}
	if forms > 0 {
		if !s.Start.IsZero() || !s.End.IsZero() {
			add("start", "a recurring window takes start_time and end_time (or duration), not start and end")
		}
		if s.StartTime == "" {
			add("start_time", "is required for a recurring window")
		} else if c, err := calendar.ParseClock(s.StartTime); err != nil {
			add("start_time", "%v", err)
		} else {
			w.StartClock = c
		}
		switch {
		case s.EndTime != "" && s.Duration != 0:
			add("duration", "give end_time or duration, not both")
		case s.EndTime == "" && s.Duration == 0:
			add("end_time", "give end_time (a time of day) or duration")
		case s.EndTime != "":
			if c, err := calendar.ParseClock(s.EndTime); err != nil {
				add("end_time", "%v", err)
			} else {
				w.EndClock = c
			}
		}
		if s.FirstDate != "" {
			d, err := calendar.ParseDate(s.FirstDate)
			if err != nil {
				add("first_date", "%v", err)
			}
			w.FirstDate = d
		}
	} else {
		if s.StartTime != "" || s.EndTime != "" || s.Duration != 0 || s.FirstDate != "" {
			add("start_time", "start_time, end_time, duration and first_date belong to recurring windows (days, daily or rrule); a one-off window takes start and end")
		}
		if s.Start.IsZero() || s.End.IsZero() {
			add("start", "give start and end for a one-off window, or days, daily or rrule for a recurring one")
		}
	}
	if len(errs) > 0 {
		return w, errs
	}
	if forms > 0 && w.FirstDate == (calendar.Date{}) {
		loc := time.UTC
		if l, err := calendar.LoadZone(s.TimeZone); err == nil {
			loc = l
		}
		w.FirstDate = calendar.DateOf(w.AnnouncedAt, loc)
	}
	return w, w.Prepare()
}

var dayNames = map[string]string{"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday", "SA": "Saturday", "SU": "Sunday"}

// Describe says in words how a recurring window repeats ("every day", "every Tuesday",
// "every Monday and Friday"); rules it cannot put simply come back as the rule itself.
func (w *Window) Describe() string {
	if !w.Recurring() {
		return ""
	}
	switch {
	case w.Rule == "FREQ=DAILY":
		return "every day"
	case strings.HasPrefix(w.Rule, "FREQ=WEEKLY;BYDAY=") && !strings.Contains(w.Rule[len("FREQ=WEEKLY;BYDAY="):], ";"):
		var names []string
		for code := range strings.SplitSeq(w.Rule[len("FREQ=WEEKLY;BYDAY="):], ",") {
			n, ok := dayNames[code]
			if !ok {
				return "repeating (" + w.Rule + ")"
			}
			names = append(names, n)
		}
		if len(names) == 7 {
			return "every day"
		}
		if len(names) == 1 {
			return "every " + names[0]
		}
		return "every " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return "repeating (" + w.Rule + ")"
}
