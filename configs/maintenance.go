package configs

import (
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

var weekdays = map[string]string{"mon": "MO", "tue": "TU", "wed": "WE", "thu": "TH", "fri": "FR", "sat": "SA", "sun": "SU"}

// placeholderAnnounced stands in for "when Upstate first sees the window" during validation.
var placeholderAnnounced = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// toWindow builds the domain window; problems are reported against the config's keys.
func (w Window) toWindow(announcedAt time.Time) (maintenance.Window, []*component.FieldError) {
	mw := maintenance.Window{ID: w.ID, Title: w.Title, Description: w.Description, Components: w.Components,
		TimeZone: w.TimeZone, Start: w.StartsAt.UTC(), End: w.EndsAt.UTC(), Duration: w.Duration,
		AnnouncedAt: announcedAt, Source: string(component.SourceConfig)}
	if !w.AnnouncedAt.IsZero() {
		mw.AnnouncedAt = w.AnnouncedAt.UTC()
	}
	if w.StartsAt.IsZero() {
		mw.Start = time.Time{}
	}
	if w.EndsAt.IsZero() {
		mw.End = time.Time{}
	}
	var errs []*component.FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	forms := 0
	for _, set := range []bool{len(w.Days) > 0, w.Daily, w.RRule != ""} {
		if set {
			forms++
		}
	}
	recurring := forms > 0
	switch {
	case forms > 1:
		add("days", "give one of days, daily or rrule")
	case len(w.Days) > 0:
		var codes []string
		for i, d := range w.Days {
			code, ok := weekdays[strings.ToLower(d)]
			if !ok {
				add(fmt.Sprintf("days[%d]", i), "unknown day %q (want mon, tue, wed, thu, fri, sat or sun)", d)
			}
			codes = append(codes, code)
		}
		mw.Rule = "FREQ=WEEKLY;BYDAY=" + strings.Join(codes, ",")
	case w.Daily:
		mw.Rule = "FREQ=DAILY"
	case w.RRule != "":
		mw.Rule = w.RRule
	}
	if recurring {
		if !w.StartsAt.IsZero() || !w.EndsAt.IsZero() {
			add("starts_at", "a recurring window takes start and end (or duration), not starts_at and ends_at")
		}
		if w.Start == "" {
			add("start", "is required for a recurring window")
		} else if c, err := calendar.ParseClock(w.Start); err != nil {
			add("start", "%v", err)
		} else {
			mw.StartClock = c
		}
		switch {
		case w.End != "" && w.Duration != 0:
			add("duration", "give end or duration, not both")
		case w.End == "" && w.Duration == 0:
			add("end", "give end (a time of day) or duration")
		case w.End != "":
			if c, err := calendar.ParseClock(w.End); err != nil {
				add("end", "%v", err)
			} else {
				mw.EndClock = c
			}
		}
		if w.From != "" {
			d, err := calendar.ParseDate(w.From)
			if err != nil {
				add("from", "%v", err)
			}
			mw.FirstDate = d
		}
	} else {
		if w.Start != "" || w.End != "" || w.Duration != 0 || w.From != "" {
			add("start", "start, end, duration and from belong to recurring windows (days, daily or rrule); a one-off window takes starts_at and ends_at")
		}
		if w.StartsAt.IsZero() || w.EndsAt.IsZero() {
			add("starts_at", "give starts_at and ends_at for a one-off window, or days, daily or rrule for a recurring one")
		}
	}
	if len(errs) > 0 {
		return mw, errs
	}
	if mw.FirstDate == (calendar.Date{}) && recurring {
		if loc, err := time.LoadLocation(w.TimeZone); err == nil && w.TimeZone != "" {
			mw.FirstDate = calendar.DateOf(mw.AnnouncedAt, loc)
		} else {
			mw.FirstDate = calendar.DateOf(mw.AnnouncedAt, time.UTC)
		}
	}
	for _, fe := range mw.Prepare() {
		fe.Field = configField(fe.Field, w)
		errs = append(errs, fe)
	}
	return mw, errs
}

// configField names a domain field by the config key that set it.
func configField(field string, w Window) string {
	switch field {
	case "start_time":
		return "start"
	case "end_time":
		return "end"
	case "first_date":
		return "from"
	case "start":
		return "starts_at"
	case "end":
		if w.End != "" || w.Duration != 0 {
			return "end"
		}
		return "ends_at"
	case "rule":
		switch {
		case len(w.Days) > 0:
			return "days"
		case w.Daily:
			return "daily"
		}
		return "rrule"
	}
	return field
}

func (c *Config) validateMaintenance(d *decoder) {
	m := c.Maintenance
	if m.NoticePeriod < 0 {
		d.at("maintenance.notice_period", "must not be negative")
	}
	if m.Horizon < time.Hour {
		d.at("maintenance.horizon", "must be at least 1h")
	}
	for i, r := range m.Reminders {
		if r <= 0 || r > 30*24*time.Hour {
			d.at(fmt.Sprintf("maintenance.reminders[%d]", i), "must be between 1s and 720h")
		}
	}
	components := map[string]bool{}
	for _, cm := range c.Components {
		components[cm.ID] = true
	}
	ids := map[string]int{}
	for i, w := range m.Windows {
		path := fmt.Sprintf("maintenance.windows[%d]", i)
		if prev, dup := ids[w.ID]; dup && w.ID != "" {
			d.at(path+".id", "duplicate id %q (also used by maintenance.windows[%d])", w.ID, prev)
		}
		ids[w.ID] = i
		for j, comp := range w.Components {
			if component.ValidID(comp) && !components[comp] {
				d.at(fmt.Sprintf("%s.components[%d]", path, j), "unknown component %q", comp)
			}
		}
		badTime := false
		for _, e := range d.errs {
			badTime = badTime || e.Field == path+".starts_at" || e.Field == path+".ends_at"
		}
		_, errs := w.toWindow(placeholderAnnounced)
		for _, fe := range errs {
			if badTime && fe.Field == "starts_at" {
				continue // follows from a time already reported as unreadable
			}
			d.at(path+"."+fe.Field, "%s", fe.Message)
		}
	}
}

// MaintenanceWindows returns the windows the config declares, prepared. A window without
// announced_at is stamped with firstSeen, which the caller sets to when Upstate first stored it.
func (c *Config) MaintenanceWindows(firstSeen func(id string) time.Time) []maintenance.Window {
	out := make([]maintenance.Window, 0, len(c.Maintenance.Windows))
	for _, w := range c.Maintenance.Windows {
		mw, _ := w.toWindow(firstSeen(w.ID).UTC()) // validated at load
		out = append(out, mw)
	}
	return out
}
