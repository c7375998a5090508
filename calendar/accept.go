package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// LoadZone loads a time zone that a person named, in the config file or in an API request: an
// IANA name such as Europe/London. It is the one rule for every zone Upstate accepts (windows,
// calendars, objectives, heartbeat schedules, the page's zone). It refuses the names whose
// meaning depends on the machine Upstate runs on, since a schedule must mean the same on every
// host: "" and "Local" (Go's names for the machine's own zone), "localtime" and "posixrules"
// (files a system's zoneinfo may hold), and the "posix/" and "right/" copies some systems keep
// (the embedded database, time/tzdata, has neither).
func LoadZone(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, errors.New("is required (use an IANA name such as Asia/Shanghai)")
	case name == "Local" || name == "localtime" || name == "posixrules" || strings.HasPrefix(name, "posix/") || strings.HasPrefix(name, "right/"):
		return nil, fmt.Errorf("%q depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Shanghai)", name)
	}
	return loc, nil
}

// The dates Upstate accepts from people, in the config file and the admin API: a window's first
// date, start and end, an incident's start and end. Nothing it records happened before 2000, and
// a rule walked from an earlier date cost every reader (the review that found it used the year 1);
// the upper end keeps every time inside what RFC 3339 and the stores can write.
var (
	FirstAccepted = Date{Year: 2000, Month: time.January, Day: 1}
	LastAccepted  = Date{Year: 2199, Month: time.December, Day: 31}
)

// CheckDate returns an error if d lies outside the accepted dates.
func CheckDate(d Date) error {
	if d.Before(FirstAccepted) || LastAccepted.Before(d) {
		return fmt.Errorf("must be between %s and %s", FirstAccepted, LastAccepted)
	}
	return nil
}

// CheckTime returns an error if t's date in UTC lies outside the accepted dates.
func CheckTime(t time.Time) error { return CheckDate(DateOf(t, time.UTC)) }
