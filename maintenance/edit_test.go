package maintenance

import (
	"errors"
	"testing"
	"time"
)

func TestCanUpdate(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	announced := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tuesday := func(edit func(*Spec)) Window {
		sp := Spec{ID: "db", Title: "Database", Components: []string{"db"}, TimeZone: "America/Los_Angeles",
			Days: []string{"tue"}, StartTime: "21:00", Duration: 2 * time.Hour, FirstDate: "2026-11-03"}
		if edit != nil {
			edit(&sp)
		}
		w, errs := sp.Window(announced)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return w
	}
	firstStart := time.Date(2026, 11, 3, 21, 0, 0, 0, la)
	before, during := firstStart.Add(-time.Minute), firstStart.Add(time.Minute)
	cancelled := tuesday(nil)
	if err := cancelled.CancelSeries(before); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		old     Window
		next    Window
		now     time.Time
		wantErr bool
	}{
		{"text before the start", tuesday(nil), tuesday(func(s *Spec) { s.Title = "DB upgrade" }), before, false},
		{"text while running", tuesday(nil), tuesday(func(s *Spec) { s.Description = "Longer" }), during, false},
		{"time before the start", tuesday(nil), tuesday(func(s *Spec) { s.StartTime = "22:00" }), before, false},
		{"time once started", tuesday(nil), tuesday(func(s *Spec) { s.StartTime = "22:00" }), during, true},
		{"zone once started", tuesday(nil), tuesday(func(s *Spec) { s.TimeZone = "America/Denver" }), during, true},
		{"components once started", tuesday(nil), tuesday(func(s *Spec) { s.Components = []string{"db", "api"} }), during, true},
		{"components before the start", tuesday(nil), tuesday(func(s *Spec) { s.Components = []string{"api"} }), before, false},
		{"duration once started, a week later", tuesday(nil), tuesday(func(s *Spec) { s.Duration = time.Hour }), firstStart.Add(7 * 24 * time.Hour), true},
		{"id", tuesday(nil), tuesday(func(s *Spec) { s.ID = "other" }), before, true},
		{"a cancelled series uncancelled", cancelled, tuesday(nil), before, true},
		{"a cancelled series' text", cancelled, func() Window { w := cancelled; w.Title = "Renamed"; return w }(), before, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CanUpdate(&tt.old, &tt.next, tt.now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanUpdate = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidState) {
				t.Errorf("error %v is not ErrInvalidState", err)
			}
		})
	}
}

// TestCanDelete: a window may be deleted until its first occurrence starts (the instant of
// the start included), whether it repeats or not; after that it is history.
func TestCanDelete(t *testing.T) {
	announced := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	window := func(sp Spec) Window {
		t.Helper()
		w, errs := sp.Window(announced)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return w
	}
	// Every Tuesday 21:00 in Los Angeles from 2026-11-03: 2026-11-04T05:00Z (PST).
	tuesday := window(Spec{ID: "db", Title: "Database", Components: []string{"db"}, TimeZone: "America/Los_Angeles",
		Days: []string{"tue"}, StartTime: "21:00", Duration: 2 * time.Hour, FirstDate: "2026-11-03"})
	firstStart := time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC)
	once := window(Spec{ID: "once", Title: "Once", Components: []string{"db"}, TimeZone: "UTC",
		Start: firstStart, End: firstStart.Add(time.Hour)})
	tests := []struct {
		name    string
		w       Window
		now     time.Time
		wantErr bool
	}{
		{"recurring, before its first start", tuesday, firstStart.Add(-time.Nanosecond), false},
		{"recurring, at its first start", tuesday, firstStart, true},
		{"recurring, after its first occurrence", tuesday, firstStart.Add(3 * time.Hour), true},
		{"one-off, before its start", once, firstStart.Add(-time.Minute), false},
		{"one-off, running", once, firstStart.Add(time.Minute), true},
		{"one-off, over", once, firstStart.Add(2 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CanDelete(&tt.w, tt.now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanDelete = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidState) {
				t.Errorf("error %v is not ErrInvalidState", err)
			}
		})
	}
}

func TestSameAccounting(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	sp := Spec{ID: "n", Title: "Nightly", Components: []string{"api"}, TimeZone: "Asia/Shanghai", Daily: true, StartTime: "20:00", EndTime: "08:00", FirstDate: "2026-11-01"}
	a, _ := sp.Window(at)
	text := sp
	text.Title, text.Description = "Nightly releases", "Deploys"
	b, _ := text.Window(at)
	later := sp
	later.EndTime = "09:00"
	c, _ := later.Window(at)
	reannounced, _ := sp.Window(at.Add(time.Hour))
	if !SameAccounting(&a, &b) {
		t.Error("a text change changed the accounting")
	}
	if SameAccounting(&a, &c) || SameAccounting(&a, &reannounced) {
		t.Error("a new end or a new announcement kept the same accounting")
	}
}
