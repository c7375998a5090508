package configs

import (
	"fmt"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
)

// placeholderAnnounced stands in for "when Upstate first sees the window" during validation.
// It is a day after calendar.FirstAccepted, so its date is accepted in every zone.
var placeholderAnnounced = time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)

func (w Window) spec() maintenance.Spec {
	return maintenance.Spec{ID: w.ID, Title: w.Title, Description: w.Description, Components: w.Components, TimeZone: w.TimeZone,
		Days: w.Days, Daily: w.Daily, RRule: w.RRule, StartTime: w.Start, EndTime: w.End, Duration: w.Duration, FirstDate: w.From,
		Start: w.StartsAt, End: w.EndsAt, AnnouncedAt: w.AnnouncedAt}
}

// configKeys renames the API's field names to this file's keys.
var configKeys = map[string]string{"start_time": "start", "end_time": "end", "first_date": "from", "start": "starts_at", "end": "ends_at", "rule": "rrule"}

// configField names a domain field by the config key that set it.
func configField(field string, w Window) string {
	if field == "rule" {
		switch {
		case len(w.Days) > 0:
			return "days"
		case w.Daily:
			return "daily"
		}
	}
	if field == "end" && (w.End != "" || w.Duration != 0) {
		return "end" // a recurring window's end is its end time
	}
	if k, ok := configKeys[field]; ok {
		return k
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
		_, errs := w.spec().Window(placeholderAnnounced)
		for _, fe := range errs {
			field := configField(fe.Field, w)
			if badTime && field == "starts_at" {
				continue // follows from a time already reported as unreadable
			}
			d.at(path+"."+field, "%s", fe.Message)
		}
	}
}

// MaintenanceSpecs returns the windows the config declares, validated at load. A spec without
// announced_at is announced when Upstate first stores it (service.Maintenance.Sync).
func (c *Config) MaintenanceSpecs() []maintenance.Spec {
	out := make([]maintenance.Spec, 0, len(c.Maintenance.Windows))
	for _, w := range c.Maintenance.Windows {
		out = append(out, w.spec())
	}
	return out
}
