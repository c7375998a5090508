package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// Notification targets made through the admin API, and the notifications' part of an export.

func hookTarget(id string) store.NotifyTarget {
	return store.NotifyTarget{ID: id, Kind: "webhook", URL: "https://hooks.example.com/" + id, Secret: "${HOOK_SECRET}",
		Headers: map[string]string{"X-Team": "sre"}, Timeout: 5 * time.Second, MaxInFlight: 2, CreatedAt: t0, UpdatedAt: t0}
}

func testNotifyTargets(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ts, err := s.ListNotifyTargets(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("ListNotifyTargets of a new store = %v, %v; want none", ts, err)
	}
	if _, err := s.GetNotifyTarget(ctx, "ops"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetNotifyTarget(unknown) = %v, want ErrNotFound", err)
	}
	a := audit("target.create", "target/ops")
	a.After = store.MustJSON(map[string]string{"id": "ops", "secret": "(redacted)"})
	a.Event = ptr(entry("ev-target-1", t0))
	if err := s.CreateNotifyTarget(ctx, hookTarget("ops"), a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNotifyTarget(ctx, hookTarget("ops"), audit("target.create", "target/ops")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateNotifyTarget twice: %v, want ErrConflict", err)
	}
	if err := s.CreateNotifyTarget(ctx, hookTarget("a-first"), audit("target.create", "target/a-first")); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetNotifyTarget(ctx, "ops")
	want := hookTarget("ops")
	want.CreatedAt, want.UpdatedAt, want.Version = ms(t0), ms(t0), 1
	if err != nil || !equalTargets(got, want) {
		t.Fatalf("GetNotifyTarget = %+v, %v; want %+v (secrets as given, times in ms, version 1)", got, err, want)
	}
	ts, _ := s.ListNotifyTargets(ctx)
	if len(ts) != 2 || ts[0].ID != "a-first" || ts[1].ID != "ops" {
		t.Errorf("ListNotifyTargets = %v, want a-first then ops", ts)
	}

	// Updates need the version read; the audit entry is written as the service gives it.
	changed := got
	changed.URL, changed.Version, changed.UpdatedAt = "https://other.example.com/x", 2, t0.Add(time.Minute)
	stale := changed
	stale.Version = 5
	if err := s.UpdateNotifyTarget(ctx, stale, audit("target.update", "target/ops")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("UpdateNotifyTarget from a stale copy: %v, want ErrConflict", err)
	}
	missing := changed
	missing.ID = "nope"
	if err := s.UpdateNotifyTarget(ctx, missing, audit("target.update", "target/nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateNotifyTarget(unknown): %v, want ErrNotFound", err)
	}
	ua := audit("target.update", "target/ops")
	ua.Before = store.MustJSON(map[string]string{"url": "https://hooks.example.com/..."})
	ua.Event = ptr(entry("ev-target-2", t0.Add(time.Minute)))
	if err := s.UpdateNotifyTarget(ctx, changed, ua); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetNotifyTarget(ctx, "ops"); got.URL != changed.URL || got.Version != 2 || !got.UpdatedAt.Equal(ms(changed.UpdatedAt)) {
		t.Errorf("after the update: %+v", got)
	}
	if err := s.DeleteNotifyTarget(ctx, "ops", 1, audit("target.delete", "target/ops")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("DeleteNotifyTarget at an old version: %v, want ErrConflict", err)
	}
	da := audit("target.delete", "target/ops")
	da.Event = ptr(entry("ev-target-3", t0.Add(2*time.Minute)))
	if err := s.DeleteNotifyTarget(ctx, "ops", 2, da); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteNotifyTarget(ctx, "ops", 2, audit("target.delete", "target/ops")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteNotifyTarget twice: %v, want ErrNotFound", err)
	}
	if ts, _ := s.ListNotifyTargets(ctx); len(ts) != 1 || ts[0].ID != "a-first" {
		t.Errorf("after the delete: %v, want a-first only", ts)
	}

	// Each accepted change left its audit entry as given and its event in the journal; the
	// refused ones left neither.
	entries, _ := s.ListAudit(ctx, store.AuditQuery{})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		if e.Action == "target.update" && string(e.Before) != `{"url":"https://hooks.example.com/..."}` {
			t.Errorf("the update's audit entry has before %s, want the one given (no secrets read back from the store)", e.Before)
		}
		if strings.Contains(string(e.Before)+string(e.After), "HOOK_SECRET") {
			t.Errorf("audit entry %s holds the secret field: %s %s", e.Action, e.Before, e.After)
		}
	}
	if want := []string{"target.delete", "target.update", "target.create", "target.create"}; !slices.Equal(actions, want) {
		t.Errorf("audit = %v, want %v", actions, want)
	}
	if ids, _ := journalIDs(t, s, 0, 10); !slices.Equal(ids, []string{"ev-target-1", "ev-target-2", "ev-target-3"}) {
		t.Errorf("journal = %v, want the three changes' events", ids)
	}
}

func equalTargets(a, b store.NotifyTarget) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.URL == b.URL && a.Secret == b.Secret && a.RoutingKey == b.RoutingKey &&
		slices.Equal(a.To, b.To) && len(a.Headers) == len(b.Headers) && a.Headers["X-Team"] == b.Headers["X-Team"] &&
		a.Timeout == b.Timeout && a.MaxInFlight == b.MaxInFlight && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.Version == b.Version && a.CreatedAt.Location() == time.UTC
}

// SeedNotifications stores a target made through the API, a journal read part way by the
// router, and notifications in every state: what an export must move.
func SeedNotifications(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateNotifyTarget(ctx, hookTarget("ops"), audit("target.create", "target/ops")); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, []store.JournalEntry{entry("ev-1", t0), entry("ev-2", t0.Add(time.Second)), entry("ev-3", t0.Add(2*time.Second))}); err != nil {
		t.Fatal(err)
	}
	_, seqs := journalIDs(t, s, 0, 10)
	if err := s.SetJournalCursor(ctx, "notify", seqs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJournalCursor(ctx, "subscribers", seqs[2]); err != nil {
		t.Fatal(err)
	}
	var ns []store.Notification
	for i, st := range []store.NotificationState{store.NotificationDelivered, store.NotificationPending, store.NotificationDead, store.NotificationSending, store.NotificationPending} {
		at := t0.Add(time.Duration(i) * time.Second)
		n := notification(string(rune('a'+i)), at, at)
		n.State, n.Attempts, n.Version = st, i, i+1
		switch st {
		case store.NotificationDelivered:
			n.DeliveredAt, n.UpdatedAt = t0.Add(time.Minute), t0.Add(time.Minute)
		case store.NotificationDead:
			n.LastError = "503 Service Unavailable"
		case store.NotificationSending:
			n.NextAt = t0.Add(10 * time.Minute) // its claim runs out then
		}
		ns = append(ns, n)
	}
	if added, err := s.EnqueueNotifications(ctx, ns); err != nil || added != len(ns) {
		t.Fatalf("EnqueueNotifications = %d, %v", added, err)
	}
}

func testNotificationsExportImport(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	SeedNotifications(t, from)
	var records []store.Record
	if err := from.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range records {
		counts[r.Type]++
	}
	for k, n := range map[string]int{"target": 1, "journal": 3, "journal_cursor": 2, "notification": 5} {
		if counts[k] != n {
			t.Errorf("%d %s records exported, want %d", counts[k], k, n)
		}
	}
	if errs := store.ValidateRecords(records); len(errs) > 0 {
		t.Fatalf("the export does not validate: %v", errs)
	}
	if err := to.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	if a, b := Lines(t, from), Lines(t, to); !slices.Equal(a, b) {
		t.Errorf("export after import differs:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	// The router resumes where it was: after ev-2, it reads ev-3 only; a new event follows.
	cursor, err := to.JournalCursor(ctx, "notify")
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := journalIDs(t, to, cursor, 10); !slices.Equal(ids, []string{"ev-3"}) {
		t.Errorf("after the imported cursor: %v, want [ev-3]", ids)
	}
	if err := to.AppendEvents(ctx, []store.JournalEntry{entry("ev-1", t0), entry("ev-4", t0.Add(3*time.Second))}); err != nil {
		t.Fatal(err)
	}
	if ids, seqs := journalIDs(t, to, cursor, 10); !slices.Equal(ids, []string{"ev-3", "ev-4"}) || seqs[1] <= seqs[0] {
		t.Errorf("after appending ev-1 again and ev-4: %v %v, want [ev-3 ev-4] in order (ev-1 kept once)", ids, seqs)
	}
	// Only what was owed is claimed: the pending ones now, the one being sent when its claim runs
	// out; never the delivered, dead one.
	claimed, err := to.ClaimNotifications(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range claimed {
		ids = append(ids, n.ID)
	}
	slices.Sort(ids)
	if want := []string{"b", "d", "e"}; !slices.Equal(ids, want) {
		t.Errorf("claimed after the import: %v, want %v (pending and sending only)", ids, want)
	}
	// Routing a delivered notification again after the move stores nothing.
	if added, err := to.EnqueueNotifications(ctx, []store.Notification{notification("a", t0, t0)}); err != nil || added != 0 {
		t.Errorf("enqueue of a delivered one again = %d, %v; want 0", added, err)
	}
	if err := to.Import(ctx, records); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second import: %v, want ErrConflict", err)
	}
}
