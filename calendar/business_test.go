package calendar_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
)

func span(a, b string) calendar.Span {
	s, _ := calendar.ParseClock(a)
	e, _ := calendar.ParseClock(b)
	return calendar.Span{Start: s, End: e}
}

func daily(loc *time.Location, spans ...calendar.Span) *calendar.Calendar {
	c := &calendar.Calendar{Name: "daily", Location: loc}
	for d := range c.Weekly {
		c.Weekly[d] = spans
	}
	return c
}

func weekdays(loc *time.Location, spans ...calendar.Span) *calendar.Calendar {
	c := &calendar.Calendar{Name: "mon-fri", Location: loc}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Weekly[d] = spans
	}
	return c
}

func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAddHandChecked(t *testing.T) {
	la := zone(t, "America/Los_Angeles")
	sh := zone(t, "Asia/Shanghai")
	thanksgiving := weekdays(la, span("09:00", "17:00"))
	thanksgiving.Holidays = map[calendar.Date]bool{{Year: 2026, Month: 11, Day: 26}: true}
	tests := []struct {
		name  string
		cal   *calendar.Calendar
		start string
		add   time.Duration
		want  string
	}{
		{"P1 opened an hour before closing, over the DST night", daily(la, span("08:00", "20:00")), "2026-11-01 19:00", 2 * time.Hour, "2026-11-02 09:00"},
		{"opened after hours", daily(la, span("08:00", "20:00")), "2026-11-02 22:00", 2 * time.Hour, "2026-11-03 10:00"},
		{"due exactly at closing time", daily(la, span("08:00", "20:00")), "2026-11-02 18:00", 2 * time.Hour, "2026-11-02 20:00"},
		{"over a holiday and a weekend", thanksgiving, "2026-11-25 16:00", 24 * time.Hour, "2026-12-01 16:00"},
		{"Friday afternoon, Mon-Fri", weekdays(la, span("09:00", "17:00")), "2026-11-20 16:30", 2 * time.Hour, "2026-11-23 10:30"},
		{"Jenny 7x12: 1 business day = 12 h", daily(sh, span("08:00", "20:00")), "2026-11-20 19:00", 12 * time.Hour, "2026-11-21 19:00"},
		{"Jenny 7x12: 3 business days from 21:00", daily(sh, span("08:00", "20:00")), "2026-11-20 21:00", 36 * time.Hour, "2026-11-23 20:00"},
		{"around the clock over fall back: real hours", calendar.AroundTheClock(), "2026-11-01 07:30", 4 * time.Hour, "2026-11-01 11:30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := at(t, tt.cal.Location, tt.start)
			got, err := tt.cal.Add(start, tt.add)
			if err != nil {
				t.Fatal(err)
			}
			if want := at(t, tt.cal.Location, tt.want); !got.Equal(want) {
				t.Errorf("Add(%s, %s) = %s, want %s", tt.start, tt.add, got.In(tt.cal.Location), want)
			}
			if el := tt.cal.Elapsed(start, got); el != tt.add {
				t.Errorf("Elapsed back = %s, want %s", el, tt.add)
			}
		})
	}
}

func TestAroundTheClockIsRealTimeAcrossDST(t *testing.T) {
	la := zone(t, "America/Los_Angeles")
	c := daily(la, span("00:00", "24:00"))
	// 00:30 PDT on the fall-back night + 4h of real time = 03:30 PST.
	start := time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC) // 00:30 PDT
	got, _ := c.Add(start, 4*time.Hour)
	if want := time.Date(2026, 11, 1, 11, 30, 0, 0, time.UTC); !got.Equal(want) || got.In(la).Hour() != 3 {
		t.Errorf("got %s (%s), want 03:30 PST", got, got.In(la))
	}
	if d := c.Elapsed(at(t, la, "2026-11-01 00:00"), at(t, la, "2026-11-02 00:00")); d != 25*time.Hour {
		t.Errorf("the fall-back day lasts %s, want 25h", d)
	}
	short := daily(la, span("01:00", "03:00"))
	if d := short.Elapsed(at(t, la, "2026-03-08 00:00"), at(t, la, "2026-03-09 00:00")); d != time.Hour {
		t.Errorf("01:00-03:00 on the spring day lasts %s, want 1h", d)
	}
}

// TestAddElapsedProperty: adding working time and measuring it gives the same amount back, and
// a second earlier would not be enough, in several zones, with split days, an overnight span
// and holidays.
func TestAddElapsedProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for _, name := range []string{"America/Los_Angeles", "Asia/Shanghai", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo"} {
		loc := zone(t, name)
		cals := []*calendar.Calendar{
			daily(loc, span("08:00", "20:00")),
			weekdays(loc, span("09:00", "12:00"), span("13:00", "17:00")),
			daily(loc, span("00:00", "24:00")),
			daily(loc, span("01:00", "03:00")),
		}
		odd := weekdays(loc, span("09:00", "17:00"))
		odd.Weekly[time.Saturday] = []calendar.Span{span("22:00", "02:00")}
		odd.Holidays = map[calendar.Date]bool{{Year: 2026, Month: 12, Day: 25}: true, {Year: 2027, Month: 1, Day: 1}: true}
		cals = append(cals, odd)
		for _, c := range cals {
			for range 600 {
				start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(2 * 365 * 24 * time.Hour))))
				start = start.Truncate(time.Second)
				add := time.Duration(1+r.Int64N(int64(200*time.Hour/time.Second))) * time.Second
				due, err := c.Add(start, add)
				if err != nil {
					t.Fatal(err)
				}
				if got := c.Elapsed(start, due); got != add {
					t.Fatalf("%s %s: Elapsed(%s, Add(+%s)) = %s", name, c.Name, start, add, got)
				}
				if got := c.Elapsed(start, due.Add(-time.Second)); got >= add {
					t.Fatalf("%s %s: a second before the deadline already has %s of %s", name, c.Name, got, add)
				}
			}
		}
	}
}

func TestWorkdayLengthAndErrors(t *testing.T) {
	la := zone(t, "America/Los_Angeles")
	if d, ok := daily(la, span("08:00", "20:00")).WorkdayLength(); !ok || d != 12*time.Hour {
		t.Errorf("7x12 workday = %s %v", d, ok)
	}
	uneven := weekdays(la, span("09:00", "17:00"))
	uneven.Weekly[time.Saturday] = []calendar.Span{span("09:00", "12:00")}
	if _, ok := uneven.WorkdayLength(); ok {
		t.Error("a calendar with a short Saturday has no single workday length")
	}
	empty := &calendar.Calendar{Name: "never", Location: la}
	if _, err := empty.Add(time.Now(), time.Hour); !errors.Is(err, calendar.ErrNoWorkingTime) {
		t.Errorf("Add on an empty calendar: %v", err)
	}
	bad := weekdays(la, span("09:00", "13:00"), span("12:00", "17:00"))
	if err := bad.Validate(); err == nil {
		t.Error("overlapping spans accepted")
	}
}
