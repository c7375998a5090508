package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// syncComponentsAt syncs the declared components as the config would at the instant at.
func (f *fixture) syncComponentsAt(at time.Time, declared []component.Component) error {
	f.clock.Advance(at.Sub(f.clock.Now()))
	return f.svc.Components.Sync(context.Background(), declared)
}

// syncWindowsAt syncs the declared windows as the config would at the instant at.
func (f *fixture) syncWindowsAt(at time.Time, specs []maintenance.Spec) error {
	f.clock.Advance(at.Sub(f.clock.Now()))
	return f.svc.Maintenance.Sync(context.Background(), specs)
}

func TestSyncComponents(t *testing.T) {
	f := newFixture(t)
	s := f.store
	ctx := t.Context()
	api := component.Component{ID: "api", Name: "API", Source: component.SourceAPI, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateComponent(ctx, api, store.AuditEntry{At: t0, Actor: "ops", Action: "component.create"}); err != nil {
		t.Fatal(err)
	}
	declared := []component.Component{
		{ID: "core", Name: "Core", IsGroup: true, Source: component.SourceConfig},
		{ID: "web", Name: "Web", GroupID: "core", Position: 1, Source: component.SourceConfig},
	}
	if err := f.syncComponentsAt(t0, declared); err != nil {
		t.Fatal(err)
	}
	// Syncing the same thing again changes nothing and writes no audit entry.
	if err := f.syncComponentsAt(t0.Add(time.Hour), declared); err != nil {
		t.Fatal(err)
	}
	declared[1].Name = "Website"
	declared = declared[1:] // the group is no longer declared
	declared[0].GroupID = ""
	if err := f.syncComponentsAt(t0.Add(2*time.Hour), declared); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListComponents(ctx)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID+":"+c.Name)
	}
	if want := []string{"api:API", "web:Website"}; !slices.Equal(ids, want) {
		t.Errorf("components = %v, want %v (API-made ones kept, config ones synced)", ids, want)
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Actor: "config"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" "+e.Target)
	}
	want := []string{"component.delete component/core", "component.update component/web", "component.create component/web", "component.create component/core"}
	if !slices.Equal(actions, want) {
		t.Errorf("config audit = %v, want %v", actions, want)
	}
}

func TestSyncWindowsNeverRewritesHistory(t *testing.T) {
	f := newFixture(t)
	s := f.store
	ctx := t.Context()
	if err := f.svc.Components.Sync(ctx, []component.Component{{ID: "api", Name: "API"}}); err != nil {
		t.Fatal(err)
	}
	nightly := func(start string) []maintenance.Spec {
		return []maintenance.Spec{{ID: "nightly", Title: "Nightly", Components: []string{"api"}, TimeZone: "Asia/Shanghai",
			Daily: true, StartTime: start, EndTime: "08:00", FirstDate: "2026-11-01"}}
	}
	day1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := f.syncWindowsAt(day1, nightly("20:00")); err != nil {
		t.Fatal(err)
	}
	// A restart with the same config changes nothing.
	if err := f.syncWindowsAt(day1.Add(24*time.Hour), nightly("20:00")); err != nil {
		t.Fatal(err)
	}
	ws, _ := s.ListWindows(ctx)
	if len(ws) != 1 || !ws[0].AnnouncedAt.Equal(day1) {
		t.Fatalf("after an unchanged restart: %+v", ws)
	}
	// Moving the start to 21:00 on day 10 keeps the old series for days 1-9.
	day10 := day1.Add(9 * 24 * time.Hour)
	if err := f.syncWindowsAt(day10, nightly("21:00")); err != nil {
		t.Fatal(err)
	}
	ws, _ = s.ListWindows(ctx)
	if len(ws) != 2 {
		t.Fatalf("windows = %d, want the new one and the archived one", len(ws))
	}
	cur, old := ws[0], ws[1]
	if cur.ID != "nightly" {
		cur, old = old, cur
	}
	if !strings.HasPrefix(old.ID, "nightly-r") || !old.CancelledAt.Equal(day10) || !cur.AnnouncedAt.Equal(day10) {
		t.Fatalf("archived %s cancelled at %s; current announced %s", old.ID, old.CancelledAt, cur.AnnouncedAt)
	}
	// Day 5's night is still the old 20:00 occurrence.
	if o := old.Occurrences(day1.Add(4*24*time.Hour+12*time.Hour), day1.Add(4*24*time.Hour+13*time.Hour)); len(o) != 1 || o[0].Cancelled {
		t.Errorf("past occurrence lost: %+v", o)
	}
	// Removing the window cancels it from then on.
	if err := f.syncWindowsAt(day10.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	w, _ := s.GetWindow(ctx, "nightly")
	if !w.CancelledAt.Equal(day10.Add(time.Hour)) {
		t.Errorf("removed window CancelledAt = %s", w.CancelledAt)
	}
}
