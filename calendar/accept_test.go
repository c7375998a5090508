package calendar_test

import (
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
)

func TestLoadZone(t *testing.T) {
	tests := []struct {
		name, zone, want string
	}{
		{"IANA", "America/Los_Angeles", ""},
		{"UTC", "UTC", ""},
		{"empty", "", "is required (use an IANA name such as Asia/Shanghai)"},
		{"Local", "Local", `"Local" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`},
		{"localtime", "localtime", `"localtime" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`},
		{"posixrules", "posixrules", `"posixrules" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`},
		{"posix copy", "posix/Europe/London", `"posix/Europe/London" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`},
		{"unknown", "Mars/Olympus", `unknown time zone "Mars/Olympus" (use an IANA name such as Asia/Shanghai)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := calendar.LoadZone(tt.zone)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if err == nil && loc.String() != tt.zone {
				t.Errorf("got zone %s, want %s", loc, tt.zone)
			}
		})
	}
}

func TestCheckDate(t *testing.T) {
	for _, tt := range []struct {
		d  calendar.Date
		ok bool
	}{
		{calendar.Date{Year: 1, Month: 1, Day: 1}, false},
		{calendar.Date{Year: 1999, Month: 12, Day: 31}, false},
		{calendar.Date{Year: 2000, Month: 1, Day: 1}, true},
		{calendar.Date{Year: 2199, Month: 12, Day: 31}, true},
		{calendar.Date{Year: 2200, Month: 1, Day: 1}, false},
	} {
		if err := calendar.CheckDate(tt.d); (err == nil) != tt.ok {
			t.Errorf("CheckDate(%s) = %v, want ok=%v", tt.d, err, tt.ok)
		}
	}
	if err := calendar.CheckTime(time.Date(1999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -2*3600))); err != nil {
		t.Errorf("1999-12-31T23:00-02:00 is 2000-01-01 in UTC: %v", err)
	}
	if err := calendar.CheckTime(time.Time{}); err == nil || err.Error() != "must be between 2000-01-01 and 2199-12-31" {
		t.Errorf("the zero time: got %v", err)
	}
}
