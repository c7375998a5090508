package service_test

import (
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// TestKeepDailyStatus has the store keep daily aggregates in the page's zone through the door:
// the page then reads them (the same figures as the timeline), and nothing is audited or
// published, since nothing anyone sees changed; a status recorded afterwards updates them.
func TestKeepDailyStatus(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.CreateComponent(ctx, component.Component{ID: "api", Name: "API", Source: component.SourceAPI, CreatedAt: t0, UpdatedAt: t0}, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Monitors.RecordStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(-30 * time.Hour), Status: component.Operational}, component.Unknown, false); err != nil {
		t.Fatal(err)
	}
	f.drain()
	before := len(f.audit(t))
	if err := f.svc.Monitors.KeepDailyStatus(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if events, entries := f.drain(), len(f.audit(t)); len(events) != 0 || entries != before {
		t.Errorf("KeepDailyStatus published %d events and wrote %d audit entries: want none", len(events), entries-before)
	}
	if err := f.svc.Monitors.RecordStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(-time.Hour), Status: component.MajorOutage}, component.Operational, false); err != nil {
		t.Fatal(err)
	}
	today := calendar.DateOf(t0, sh)
	q := store.DaysQuery{Location: sh, First: today.AddDays(-2), Last: today, ComponentIDs: []string{"api"}}
	got, err := f.store.StatusDays(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := f.store.StatusTimeline(ctx, "api", q.Span().Start, q.Span().End)
	if err != nil {
		t.Fatal(err)
	}
	if want := store.DaysFromTimeline("api", tl, q); len(got) != 1 || len(got[0].Days) != 2 || len(want.Days) != 2 || got[0].Days[1] != want.Days[1] {
		t.Errorf("StatusDays = %+v, want %+v", got, want)
	}
}
