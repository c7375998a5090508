package availability_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
)

// realistic makes a component's timeline over [from, to): about perMonth changes a month among
// the outage statuses, mostly operational.
func realistic(r *rand.Rand, from, to time.Time, perMonth int) []component.Change {
	n := int(float64(perMonth) * to.Sub(from).Hours() / (30 * 24))
	out := []component.Change{{ComponentID: "c", At: from.Add(-time.Hour), Status: component.Operational}}
	statuses := []component.Status{component.DegradedPerformance, component.PartialOutage, component.MajorOutage, component.Unknown}
	for i := range n {
		at := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / float64(n)))
		st := component.Operational
		if i%2 == 0 {
			st = statuses[r.IntN(len(statuses))]
		}
		out = append(out, component.Change{ComponentID: "c", At: at.Add(time.Duration(r.IntN(600)) * time.Second), Status: st})
	}
	return out
}

func nightly(loc *time.Location, from calendar.Date, days int) []availability.Maintenance {
	var out []availability.Maintenance
	for d := range days {
		start := calendar.Local(from.AddDays(d), 20*60, loc)
		out = append(out, availability.Maintenance{WindowID: "nightly", Span: calendar.Interval{Start: start, End: calendar.Local(from.AddDays(d+1), 8*60, loc)}, Announced: true})
	}
	return out
}

// BenchmarkMonthlyReport1000 is one op: a month's report for 1,000 components, each with 50
// status changes that month and the nightly 20:00-08:00 maintenance.
func BenchmarkMonthlyReport1000(b *testing.B) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	month := availability.Month(2026, time.March, sh)
	r := rand.New(rand.NewPCG(1, 1))
	timelines := make([][]component.Change, 1000)
	for i := range timelines {
		timelines[i] = realistic(r, month.Start, month.End, 50)
	}
	maint := nightly(sh, calendar.Date{Year: 2026, Month: time.February, Day: 28}, 32)
	b.ReportAllocs()
	for b.Loop() {
		for _, tl := range timelines {
			if _, err := availability.Compute(month, month.End, tl, maint, nil, obj); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkNinetyDayBars200 is one op: 90 daily availabilities (the page's bars) for 200
// components, each day in the page's zone.
func BenchmarkNinetyDayBars200(b *testing.B) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	first := calendar.Date{Year: 2026, Month: time.January, Day: 1}
	from, to := calendar.Local(first, 0, sh), calendar.Local(first.AddDays(90), 0, sh)
	r := rand.New(rand.NewPCG(2, 2))
	timelines := make([][]component.Change, 200)
	for i := range timelines {
		timelines[i] = realistic(r, from, to, 50)
	}
	maint := nightly(sh, first.AddDays(-1), 92)
	days := make([]calendar.Interval, 90)
	for d := range days {
		days[d] = calendar.Interval{Start: calendar.Local(first.AddDays(d), 0, sh), End: calendar.Local(first.AddDays(d+1), 0, sh)}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, tl := range timelines {
			for _, day := range days {
				if _, err := availability.Compute(day, day.End, tl, maint, nil, obj); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
