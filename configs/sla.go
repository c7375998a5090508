package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

// Calendar is a business calendar.
type Calendar struct {
	ID       string              `yaml:"id"`
	TimeZone string              `yaml:"time_zone"`
	Hours    map[string][]string `yaml:"hours"`    // mon ... sun or ranges (mon-fri) -> ["08:00-20:00", "22:00-02:00"]
	Holidays []string            `yaml:"holidays"` // YYYY-MM-DD local dates
}

// Policy is a service-level policy.
type Policy struct {
	ID          string              `yaml:"id"`
	Description string              `yaml:"description"`
	Calendar    string              `yaml:"calendar"` // default calendar of its targets; default 24x7
	WarnAt      float64             `yaml:"warn_at"`  // default warning point as a fraction of each target; default 0.75
	Default     bool                `yaml:"default"`  // the policy incidents follow unless they name one
	Severities  map[string]Severity `yaml:"severities"`
	// Escalation pages, per severity, who must respond (notify.go; docs/notifications.md).
	Escalation map[string]Escalation `yaml:"escalation"`
}

// Severity is one severity's targets. Targets are durations of working time ("30m", "2h") or
// business days ("1bd", on a calendar whose working days are all the same length).
type Severity struct {
	Label                 string `yaml:"label"`
	FirstResponse         string `yaml:"first_response"`
	FirstResponseWarn     string `yaml:"first_response_warn"`
	FirstResponseCalendar string `yaml:"first_response_calendar"`
	Resolution            string `yaml:"resolution"`
	ResolutionWarn        string `yaml:"resolution_warn"`
	ResolutionCalendar    string `yaml:"resolution_calendar"`
	WorkaroundResolves    bool   `yaml:"workaround_resolves"`
}

// policyFile is what an included file may hold.
type policyFile struct {
	Calendars []Calendar `yaml:"calendars"`
	Policies  []Policy   `yaml:"policies"`
}

// AroundTheClockID names the built-in calendar of every instant.
const AroundTheClockID = "24x7"

var dayIndex = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// parseDays reads "mon", "mon-fri" or "fri-mon" (wrapping) into weekdays.
func parseDays(key string) ([]time.Weekday, bool) {
	from, to, isRange := strings.Cut(strings.ToLower(key), "-")
	a, ok1 := dayIndex[from]
	if !isRange {
		return []time.Weekday{time.Weekday(a)}, ok1
	}
	b, ok2 := dayIndex[to]
	if !ok1 || !ok2 {
		return nil, false
	}
	var out []time.Weekday
	for d := a; ; d = (d + 1) % 7 {
		out = append(out, time.Weekday(d))
		if d == b {
			return out, true
		}
	}
}

func parseSpan(s string) (calendar.Span, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return calendar.Span{}, fmt.Errorf("invalid span %q: want HH:MM-HH:MM, such as 08:00-20:00", s)
	}
	start, err1 := calendar.ParseClock(a)
	end, err2 := calendar.ParseClock(b)
	if err1 != nil || err2 != nil || start == 1440 {
		return calendar.Span{}, fmt.Errorf("invalid span %q: want HH:MM-HH:MM, such as 08:00-20:00", s)
	}
	if start == end {
		return calendar.Span{}, fmt.Errorf("invalid span %q: it is empty", s)
	}
	return calendar.Span{Start: start, End: end}, nil
}

// buildCalendar turns a config calendar into a domain one, reporting problems through d.
func buildCalendar(d *decoder, path string, c Calendar) *calendar.Calendar {
	cal := &calendar.Calendar{Name: c.ID, Holidays: map[calendar.Date]bool{}}
	if c.TimeZone == "" {
		d.at(path+".time_zone", "is required")
	} else if loc, err := calendar.LoadZone(c.TimeZone); err != nil {
		d.at(path+".time_zone", "%v", err)
	} else {
		cal.Location = loc
	}
	keys := make([]string, 0, len(c.Hours))
	for k := range c.Hours {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		days, ok := parseDays(k)
		if !ok {
			d.at(path+".hours."+k, "unknown day %q (want mon ... sun, or a range such as mon-fri)", k)
			continue
		}
		for i, s := range c.Hours[k] {
			sp, err := parseSpan(s)
			if err != nil {
				d.at(fmt.Sprintf("%s.hours.%s[%d]", path, k, i), "%v", err)
				continue
			}
			for _, wd := range days {
				cal.Weekly[wd] = append(cal.Weekly[wd], sp)
			}
		}
	}
	if err := cal.Validate(); err != nil {
		d.at(path+".hours", "%v", err)
	}
	if !cal.HasWorkingTime() {
		d.at(path+".hours", "the calendar has no working time")
	}
	for i, h := range c.Holidays {
		date, err := calendar.ParseDate(h)
		if err != nil {
			d.at(fmt.Sprintf("%s.holidays[%d]", path, i), "%v", err)
			continue
		}
		cal.Holidays[date] = true
	}
	return cal
}

var businessDays = regexp.MustCompile(`^(\d+(?:\.\d+)?)bd$`)

// parseGoal reads "30m", "2h" or "1bd".
func parseGoal(s string, cal *calendar.Calendar) (time.Duration, error) {
	if m := businessDays.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		n, _ := strconv.ParseFloat(m[1], 64)
		length, ok := cal.WorkdayLength()
		if !ok {
			return 0, fmt.Errorf("%q counts business days, but the working days of calendar %s are not all the same length: give hours", s, cal.Name)
		}
		return time.Duration(n * float64(length)), nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid target %q: want a duration such as 30m or 4h, or business days such as 1bd", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("invalid target %q: must be positive", s)
	}
	return d, nil
}

// slaSource is the calendars and policies of one file, with the decoder that knows its lines.
type slaSource struct {
	d         *decoder
	calendars []Calendar
	policies  []Policy
}

// loadIncludes decodes the included policy files.
func (c *Config) loadIncludes(main *decoder) []slaSource {
	sources := []slaSource{{d: main, calendars: c.Calendars, policies: c.Policies}}
	for i, inc := range c.Include {
		path := inc
		if !filepath.IsAbs(path) {
			path = filepath.Join(c.Dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			main.at(fmt.Sprintf("include[%d]", i), "cannot read %s: %v", inc, err)
			continue
		}
		d := &decoder{file: path, positions: map[string]position{}, lookupEnv: main.lookupEnv, budget: maxNodes}
		var root yaml.Node
		if err := yaml.Unmarshal(data, &root); err != nil {
			if ve, ok := syntaxError(path, err).(*ValidationError); ok {
				main.add(ve)
			}
			continue
		}
		var pf policyFile
		if len(root.Content) > 0 {
			d.decode(&root, reflectValueOf(&pf), "", false)
		}
		sources = append(sources, slaSource{d: d, calendars: pf.Calendars, policies: pf.Policies})
	}
	return sources
}

// validateSLA builds every calendar and policy, reporting problems in the file that holds them.
func (c *Config) validateSLA(main *decoder) {
	sources := c.loadIncludes(main)
	c.calendars = map[string]*calendar.Calendar{AroundTheClockID: calendar.AroundTheClock()}
	c.policies = map[string]*incidents.Policy{}
	for _, src := range sources {
		for i, cc := range src.calendars {
			path := fmt.Sprintf("calendars[%d]", i)
			switch {
			case !component.ValidID(cc.ID):
				src.d.at(path+".id", "invalid id %q: %s", cc.ID, idRule)
				continue
			case c.calendars[cc.ID] != nil:
				src.d.at(path+".id", "duplicate calendar %q", cc.ID)
				continue
			}
			c.calendars[cc.ID] = buildCalendar(src.d, path, cc)
		}
	}
	defaults := 0
	for _, src := range sources {
		for i, p := range src.policies {
			path := fmt.Sprintf("policies[%d]", i)
			if !component.ValidID(p.ID) {
				src.d.at(path+".id", "invalid id %q: %s", p.ID, idRule)
				continue
			}
			if c.policies[p.ID] != nil {
				src.d.at(path+".id", "duplicate policy %q", p.ID)
				continue
			}
			if p.Default {
				defaults++
				c.DefaultPolicy = p.ID
				if defaults > 1 {
					src.d.at(path+".default", "only one policy may be the default")
				}
			}
			c.policies[p.ID] = c.buildPolicy(src.d, path, p)
			c.checkEscalation(src.d, path, p)
		}
	}
	if c.DefaultPolicy == "" && len(c.policies) == 1 {
		for id := range c.policies {
			c.DefaultPolicy = id
		}
	}
	for _, src := range sources[1:] {
		main.errs = append(main.errs, src.d.errs...)
	}
}

func (c *Config) buildPolicy(d *decoder, path string, p Policy) *incidents.Policy {
	pol := &incidents.Policy{Name: p.ID, Description: p.Description, Severities: map[incidents.Severity]incidents.Targets{}}
	warnAt := p.WarnAt
	if warnAt == 0 {
		warnAt = 0.75
	}
	if warnAt <= 0 || warnAt >= 1 {
		d.at(path+".warn_at", "must be between 0 and 1 (a fraction of each target)")
	}
	base := p.Calendar
	if base == "" {
		base = AroundTheClockID
	}
	lookup := func(field, id string) *calendar.Calendar {
		if id == "" {
			id = base
		}
		cal, ok := c.calendars[id]
		if !ok {
			d.at(field, "unknown calendar %q", id)
			return nil
		}
		return cal
	}
	if p.Calendar != "" {
		lookup(path+".calendar", p.Calendar)
	}
	if len(p.Severities) == 0 {
		d.at(path+".severities", "at least one severity is required")
	}
	for key, s := range p.Severities {
		sp := path + ".severities." + key
		sev := incidents.Severity(key)
		if !sev.Valid() {
			d.at(sp, "unknown severity %q (want P0, P1, P2 or P3)", key)
			continue
		}
		t := incidents.Targets{Label: s.Label, WorkaroundResolves: s.WorkaroundResolves}
		t.FirstResponse = c.buildTarget(d, sp, "first_response", s.FirstResponse, s.FirstResponseWarn, lookup(sp+".first_response_calendar", s.FirstResponseCalendar), warnAt)
		t.Resolution = c.buildTarget(d, sp, "resolution", s.Resolution, s.ResolutionWarn, lookup(sp+".resolution_calendar", s.ResolutionCalendar), warnAt)
		if t.FirstResponse == nil && t.Resolution == nil && s.FirstResponse == "" && s.Resolution == "" {
			d.at(sp, "give first_response, resolution or both")
		}
		pol.Severities[sev] = t
	}
	return pol
}

func (c *Config) buildTarget(d *decoder, path, name, goal, warn string, cal *calendar.Calendar, warnAt float64) *incidents.Target {
	if goal == "" {
		if warn != "" {
			d.at(path+"."+name+"_warn", "a warning needs a target")
		}
		return nil
	}
	if cal == nil {
		return nil
	}
	g, err := parseGoal(goal, cal)
	if err != nil {
		d.at(path+"."+name, "%v", err)
		return nil
	}
	t := &incidents.Target{Goal: g, Warn: time.Duration(float64(g) * warnAt), Calendar: cal}
	if warn != "" {
		w, err := parseGoal(warn, cal)
		switch {
		case err != nil:
			d.at(path+"."+name+"_warn", "%v", err)
		case w >= g:
			d.at(path+"."+name+"_warn", "must be shorter than the target (%s)", goal)
		default:
			t.Warn = w
		}
	}
	return t
}

// SLAPolicies returns the service-level policies by id, included files' too.
func (c *Config) SLAPolicies() map[string]*incidents.Policy { return c.policies }

// BusinessCalendars returns the business calendars by id, the built-in 24x7 included.
func (c *Config) BusinessCalendars() map[string]*calendar.Calendar { return c.calendars }
