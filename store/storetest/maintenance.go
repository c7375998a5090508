package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// testDeleteWindow: DeleteWindow removes the window as it was read, with its audit entry and
// event in the same transaction; a missing id is ErrNotFound, a window changed since it was read
// is ErrConflict and stays, and the refused deletes leave no audit entry and no event.
func testDeleteWindow(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := maintenance.Window{ID: "mistake", Title: "Database", Components: []string{"db"}, TimeZone: "America/Los_Angeles",
		Rule: "FREQ=WEEKLY;BYDAY=TU", FirstDate: calendar.Date{Year: 2026, Month: 12, Day: 1}, StartClock: 21 * 60, Duration: 2 * time.Hour,
		AnnouncedAt: t0, Source: "api", CreatedAt: t0, UpdatedAt: t0}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	kept := w
	kept.ID = "a-kept"
	for _, x := range []maintenance.Window{w, kept} {
		if err := s.CreateWindow(ctx, x, audit("maintenance.create", "maintenance/"+x.ID)); err != nil {
			t.Fatal(err)
		}
	}
	ghost := w
	ghost.ID = "ghost"
	if err := s.DeleteWindow(ctx, ghost, audit("maintenance.delete", "maintenance/ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWindow of a missing id: %v, want ErrNotFound", err)
	}

	// Read, then changed by someone else: the delete of what was read is refused.
	read, err := s.GetWindow(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	changed := read
	changed.Title, changed.UpdatedAt = "Database upgrade", t0.Add(time.Minute)
	if err := s.UpdateWindow(ctx, changed, audit("maintenance.update", "maintenance/"+w.ID)); err != nil {
		t.Fatal(err)
	}
	stale := audit("maintenance.delete", "maintenance/"+w.ID)
	stale.Event = ptr(store.JournalEntry{ID: "ev-window-stale", Kind: "maintenance.deleted", At: t0, Body: []byte(`{"id":"ev-window-stale"}`)})
	if err := s.DeleteWindow(ctx, read, stale); !errors.Is(err, store.ErrConflict) {
		t.Errorf("DeleteWindow of a window changed since it was read: %v, want ErrConflict", err)
	}
	if got, err := s.GetWindow(ctx, w.ID); err != nil || got.Title != "Database upgrade" {
		t.Fatalf("after a refused delete: %+v, %v; want the changed window kept", got, err)
	}

	// Read again: deleted, with its audit entry (Before: the stored window) and its event.
	read, err = s.GetWindow(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	da := audit("maintenance.delete", "maintenance/"+w.ID)
	da.Event = ptr(store.JournalEntry{ID: "ev-window-deleted", Kind: "maintenance.deleted", At: t0, Body: []byte(`{"id":"ev-window-deleted"}`)})
	if err := s.DeleteWindow(ctx, read, da); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWindow(ctx, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetWindow after the delete: %v, want ErrNotFound", err)
	}
	if list, err := s.ListWindows(ctx); err != nil || len(list) != 1 || list[0].ID != "a-kept" {
		t.Errorf("ListWindows after the delete = %+v, %v; want a-kept only", list, err)
	}
	if err := s.DeleteWindow(ctx, read, audit("maintenance.delete", "maintenance/"+w.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteWindow twice: %v, want ErrNotFound", err)
	}

	entries, _ := s.ListAudit(ctx, store.AuditQuery{Target: "maintenance/" + w.ID})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if want := []string{"maintenance.delete", "maintenance.update", "maintenance.create"}; !slices.Equal(actions, want) {
		t.Fatalf("audit = %v, want %v", actions, want)
	}
	if del := entries[0]; !strings.Contains(string(del.Before), `"title":"Database upgrade"`) || string(del.After) != "null" {
		t.Errorf("the delete's audit entry: before %s, after %s; want the stored window, then null", del.Before, del.After)
	}
	if ids, _ := journalIDs(t, s, 0, 10); !slices.Equal(ids, []string{"ev-window-deleted"}) {
		t.Errorf("journal = %v, want the delete's event only", ids)
	}

	// The id is free again.
	if err := s.CreateWindow(ctx, w, audit("maintenance.create", "maintenance/"+w.ID)); err != nil {
		t.Errorf("CreateWindow after the delete: %v", err)
	}
}
