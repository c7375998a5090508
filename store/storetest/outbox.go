package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// The notification parts of the store: the journal, the outbox and the lease.

func entry(id string, at time.Time) store.JournalEntry {
	return store.JournalEntry{ID: id, Kind: "incident.declared", At: at, Body: json.RawMessage(`{"id":"` + id + `"}`)}
}

func journalIDs(t *testing.T, s store.Store, after int64, limit int) ([]string, []int64) {
	t.Helper()
	es, err := s.ReadJournal(t.Context(), after, limit)
	if err != nil {
		t.Fatalf("ReadJournal(%d): %v", after, err)
	}
	var ids []string
	var seqs []int64
	for _, e := range es {
		ids, seqs = append(ids, e.ID), append(seqs, e.Seq)
	}
	return ids, seqs
}

func testJournal(t *testing.T, s store.Store) {
	ctx := t.Context()
	if ids, _ := journalIDs(t, s, 0, 10); len(ids) != 0 {
		t.Fatalf("a new journal holds %v", ids)
	}
	// Appended twice (a retry after a crash): kept once.
	if err := s.AppendEvents(ctx, []store.JournalEntry{entry("ev-1", t0), entry("ev-2", t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, []store.JournalEntry{entry("ev-2", t0.Add(time.Second)), entry("ev-3", t0.Add(2*time.Second))}); err != nil {
		t.Fatal(err)
	}
	ids, seqs := journalIDs(t, s, 0, 10)
	if want := []string{"ev-1", "ev-2", "ev-3"}; !slices.Equal(ids, want) {
		t.Fatalf("journal = %v, want %v (in order, each id once)", ids, want)
	}
	if !(seqs[0] > 0 && seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Errorf("seqs = %v, want increasing from above 0", seqs)
	}
	es, _ := s.ReadJournal(ctx, 0, 1)
	if len(es) != 1 || es[0].ID != "ev-1" || es[0].Kind != "incident.declared" || !es[0].At.Equal(ms(t0)) || es[0].At.Location() != time.UTC ||
		string(es[0].Body) != `{"id":"ev-1"}` {
		t.Errorf("ReadJournal(0, 1) = %+v, want ev-1 with its kind, time (ms, UTC) and body", es)
	}
	if ids, _ := journalIDs(t, s, seqs[1], 10); !slices.Equal(ids, []string{"ev-3"}) {
		t.Errorf("ReadJournal after ev-2 = %v, want [ev-3]", ids)
	}

	// An audited change carries its event into the journal in its transaction; a refused one
	// writes neither.
	c := newComponent("api", 0)
	a := audit("component.create", "component/api")
	ev := entry("ev-4", t0.Add(3*time.Second))
	a.Event = &ev
	if err := s.CreateComponent(ctx, c, a); err != nil {
		t.Fatal(err)
	}
	ev5 := entry("ev-5", t0.Add(4*time.Second))
	a.Event = &ev5
	if err := s.CreateComponent(ctx, c, a); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateComponent twice: %v, want ErrConflict", err)
	}
	inc := incidents.Incident{ID: "inc-1", Title: "Down", Severity: incidents.P1, Status: incidents.Investigating, OpenedAt: t0, StartedAt: t0,
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}, Clocks: []incidents.Clock{}, Updates: []incidents.Update{}}
	ia := audit("incident.declare", "incident/inc-1")
	ev6 := entry("ev-6", t0.Add(5*time.Second))
	ia.Event = &ev6
	if err := s.CreateIncident(ctx, inc, ia); err != nil {
		t.Fatal(err)
	}
	stale := inc
	stale.Version = 5
	ua := audit("incident.update", "incident/inc-1")
	ev7 := entry("ev-7", t0.Add(6*time.Second))
	ua.Event = &ev7
	if err := s.UpdateIncident(ctx, stale, ua); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateIncident from a stale copy: %v, want ErrConflict", err)
	}
	inc.Version = 2
	if err := s.UpdateIncident(ctx, inc, ua); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, store.AuditEntry{At: t0, Actor: "tester", Action: "config.reload", Target: "config", Event: ptr(entry("ev-8", t0))}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := journalIDs(t, s, seqs[2], 10); !slices.Equal(ids, []string{"ev-4", "ev-6", "ev-7", "ev-8"}) {
		t.Errorf("journal after the changes = %v, want [ev-4 ev-6 ev-7 ev-8] (refused changes leave none)", ids)
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{})
	for _, e := range entries {
		if e.Event != nil {
			t.Errorf("audit entry %d reads back with an event: the journal is not part of the audit log", e.ID)
		}
	}

	// Cursors.
	if seq, err := s.JournalCursor(ctx, "notify"); err != nil || seq != 0 {
		t.Errorf("JournalCursor of a new reader = %d, %v; want 0", seq, err)
	}
	if err := s.SetJournalCursor(ctx, "notify", seqs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetJournalCursor(ctx, "other", 1); err != nil {
		t.Fatal(err)
	}
	if seq, _ := s.JournalCursor(ctx, "notify"); seq != seqs[1] {
		t.Errorf("JournalCursor = %d, want %d", seq, seqs[1])
	}

	// Prune: only entries both passed (seq <= upTo) and old (At < cutoff).
	n, err := s.PruneJournal(ctx, seqs[1], t0.Add(time.Second))
	if err != nil || n != 1 {
		t.Errorf("PruneJournal = %d, %v; want 1 (ev-1: ev-2 is not old enough, ev-3 not passed)", n, err)
	}
	if ids, _ := journalIDs(t, s, 0, 10); !slices.Equal(ids, []string{"ev-2", "ev-3", "ev-4", "ev-6", "ev-7", "ev-8"}) {
		t.Errorf("journal after prune = %v", ids)
	}
	// A pruned id stays out of the way of nothing: appending it again appends it anew, later.
	if err := s.AppendEvents(ctx, []store.JournalEntry{entry("ev-1", t0)}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := journalIDs(t, s, 0, 10); ids[len(ids)-1] != "ev-1" {
		t.Errorf("journal after re-appending a pruned id = %v", ids)
	}
}

func ptr[T any](v T) *T { return &v }

// testJournalConcurrent: entries appended from many writers at once all arrive, with distinct
// increasing seqs, and a reader that pages along meanwhile never sees a seq below one it saw.
func testJournalConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("ev-%d-%d", w, i)
				var err error
				if i%2 == 0 {
					err = s.AppendEvents(ctx, []store.JournalEntry{entry(id, t0)})
				} else {
					a := store.AuditEntry{At: t0, Actor: "tester", Action: "x", Target: "x", Event: ptr(entry(id, t0))}
					err = s.AppendAudit(ctx, a)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var seen []store.JournalEntry
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var last int64
	read := func() {
		es, err := s.ReadJournal(ctx, last, 1000)
		if err != nil {
			t.Error(err)
			return
		}
		for _, e := range es {
			if e.Seq <= last {
				t.Errorf("read seq %d after %d", e.Seq, last)
			}
			last = e.Seq
		}
		seen = append(seen, es...)
	}
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			read()
		}
	}
	read()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, _ := s.ReadJournal(ctx, 0, 1000)
	if len(all) != writers*each {
		t.Fatalf("journal holds %d entries, want %d", len(all), writers*each)
	}
	if len(seen) != len(all) {
		t.Errorf("a reader paging along saw %d entries, the journal holds %d: one committed below a seq already read", len(seen), len(all))
	}
}

func notification(id string, created, next time.Time) store.Notification {
	return store.Notification{ID: id, Target: "ops", Channel: "webhook", Kind: "incident.declared", EventID: "ev-" + id,
		IncidentID: "inc-1", DedupKey: "inc-1", Action: "trigger", Payload: json.RawMessage(`{"title":"` + id + `"}`),
		State: store.NotificationPending, CreatedAt: created, NextAt: next, UpdatedAt: created, Version: 1}
}

func listIDs(t *testing.T, s store.Store, q store.NotificationQuery) []string {
	t.Helper()
	ns, err := s.ListNotifications(t.Context(), q)
	if err != nil {
		t.Fatalf("ListNotifications(%+v): %v", q, err)
	}
	ids := []string{}
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	return ids
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetNotification(ctx, "n-x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetNotification of a missing id: %v, want ErrNotFound", err)
	}
	now := t0.Add(5 * time.Second)
	until := now.Add(time.Minute)
	a := notification("n-a", t0, t0)
	b := notification("n-b", t0.Add(time.Second), until)
	c := notification("n-c", t0.Add(time.Second), t0.Add(2*time.Second))
	c.Target, c.IncidentID, c.DedupKey, c.Channel, c.Recipient = "mail", "inc-2", "inc-2", "email", "sre@example.com"
	added, err := s.EnqueueNotifications(ctx, []store.Notification{a, b})
	if err != nil || added != 2 {
		t.Fatalf("EnqueueNotifications = %d, %v; want 2", added, err)
	}
	// Enqueued again (the router replaying after a crash), with a change: kept as first stored.
	again := a
	again.Payload = json.RawMessage(`{"title":"changed"}`)
	added, err = s.EnqueueNotifications(ctx, []store.Notification{again, c})
	if err != nil || added != 1 {
		t.Fatalf("EnqueueNotifications again = %d, %v; want 1 (n-a is stored)", added, err)
	}
	got, err := s.GetNotification(ctx, "n-a")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.CreatedAt, want.NextAt, want.UpdatedAt = ms(t0), ms(t0), ms(t0)
	if gotJSON, wantJSON := string(store.MustJSON(got)), string(store.MustJSON(want)); gotJSON != wantJSON {
		t.Errorf("GetNotification:\n got  %s\n want %s", gotJSON, wantJSON)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("times read back in %v, want UTC", got.CreatedAt.Location())
	}

	// Lists: newest created first, then id descending; filters.
	if ids := listIDs(t, s, store.NotificationQuery{}); !slices.Equal(ids, []string{"n-c", "n-b", "n-a"}) {
		t.Errorf("ListNotifications = %v, want [n-c n-b n-a]", ids)
	}
	if ids := listIDs(t, s, store.NotificationQuery{Target: "mail"}); !slices.Equal(ids, []string{"n-c"}) {
		t.Errorf("by target = %v", ids)
	}
	if ids := listIDs(t, s, store.NotificationQuery{IncidentID: "inc-1", Limit: 1}); !slices.Equal(ids, []string{"n-b"}) {
		t.Errorf("by incident, limit 1 = %v", ids)
	}
	if ids := listIDs(t, s, store.NotificationQuery{Before: t0.Add(time.Second)}); !slices.Equal(ids, []string{"n-a"}) {
		t.Errorf("before t0+1s = %v", ids)
	}
	if ids := listIDs(t, s, store.NotificationQuery{DedupKey: "inc-1"}); !slices.Equal(ids, []string{"n-b", "n-a"}) {
		t.Errorf("by dedup key = %v, want [n-b n-a]", ids)
	}
	if ids := listIDs(t, s, store.NotificationQuery{DedupKey: "inc-1", Target: "ops", States: []store.NotificationState{store.NotificationPending}, Limit: 1}); !slices.Equal(ids, []string{"n-b"}) {
		t.Errorf("by dedup key, target, state, limit 1 = %v, want [n-b]", ids)
	}

	// Claims: what is due, earliest next try first, each once.
	claimed, err := s.ClaimNotifications(ctx, now, until, 10)
	if err != nil {
		t.Fatal(err)
	}
	var cids []string
	for _, n := range claimed {
		cids = append(cids, n.ID)
		if n.State != store.NotificationSending || n.Attempts != 1 || n.Version != 2 || !n.NextAt.Equal(ms(until)) || !n.UpdatedAt.Equal(ms(now)) {
			t.Errorf("claimed %s = %+v, want sending, attempt 1, version 2, next %v", n.ID, n, until)
		}
	}
	if !slices.Equal(cids, []string{"n-a", "n-c"}) {
		t.Fatalf("claimed %v, want [n-a n-c] (n-b is not due)", cids)
	}
	if again, _ := s.ClaimNotifications(ctx, now, until, 10); len(again) != 0 {
		t.Errorf("claimed again at once: %v", again)
	}
	stats, err := s.OutboxStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.ByState[store.NotificationSending] != 2 || stats.ByState[store.NotificationPending] != 1 || !stats.OldestWaiting.Equal(ms(t0)) {
		t.Errorf("OutboxStats = %+v, want 2 sending, 1 pending, oldest %v", stats, ms(t0))
	}

	// The outcome: delivered; a stale copy is refused.
	done := claimed[0]
	done.State, done.DeliveredAt, done.UpdatedAt, done.Version = store.NotificationDelivered, now, now, done.Version+1
	if err := s.FinishNotification(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishNotification(ctx, done); !errors.Is(err, store.ErrConflict) {
		t.Errorf("FinishNotification from a stale copy: %v, want ErrConflict", err)
	}
	ghost := notification("n-ghost", t0, t0)
	ghost.Version = 2
	if err := s.FinishNotification(ctx, ghost); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishNotification of a missing one: %v, want ErrNotFound", err)
	}
	// A dispatcher that died holding n-c: it is due again when its claim runs out.
	if got, _ := s.ClaimNotifications(ctx, until.Add(-time.Millisecond), until.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claimed before the claim ran out: %v", got)
	}
	reclaimed, err := s.ClaimNotifications(ctx, until, until.Add(time.Minute), 10)
	if err != nil || len(reclaimed) != 2 || reclaimed[0].ID != "n-b" || reclaimed[1].ID != "n-c" || reclaimed[1].Attempts != 2 {
		t.Fatalf("claim after the claim ran out = %+v, %v; want n-b (due then), then n-c (attempt 2)", reclaimed, err)
	}
	retry := reclaimed[1]
	retry.State, retry.NextAt, retry.LastError, retry.UpdatedAt, retry.Version = store.NotificationPending, until.Add(time.Hour), "500 Internal Server Error", until, retry.Version+1
	if err := s.FinishNotification(ctx, retry); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetNotification(ctx, "n-c"); got.State != store.NotificationPending || got.LastError != "500 Internal Server Error" || !got.NextAt.Equal(ms(until.Add(time.Hour))) {
		t.Errorf("after a failed attempt: %+v", got)
	}
	if ids := listIDs(t, s, store.NotificationQuery{States: []store.NotificationState{store.NotificationPending, store.NotificationDelivered}}); !slices.Equal(ids, []string{"n-c", "n-a"}) {
		t.Errorf("by states pending, delivered = %v, want [n-c n-a]", ids)
	}

	// An operator's change is audited with the stored value as before; a stale one refused.
	cancel := reclaimed[0]
	cancel.State, cancel.UpdatedAt, cancel.Version = store.NotificationCancelled, until, cancel.Version+1
	ca := audit("notification.cancel", "notification/n-b")
	ca.After = store.MustJSON(cancel)
	if err := s.ChangeNotification(ctx, cancel, ca); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeNotification(ctx, cancel, ca); !errors.Is(err, store.ErrConflict) {
		t.Errorf("ChangeNotification from a stale copy: %v, want ErrConflict", err)
	}
	if err := s.ChangeNotification(ctx, ghost, ca); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ChangeNotification of a missing one: %v, want ErrNotFound", err)
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Action: "notification.cancel"})
	if len(entries) != 1 {
		t.Fatalf("audit entries of the cancel = %d, want 1 (the refused ones write none)", len(entries))
	}
	var before store.Notification
	if err := json.Unmarshal(entries[0].Before, &before); err != nil || before.State != store.NotificationSending {
		t.Errorf("audit Before = %s, want the stored notification (sending)", entries[0].Before)
	}
	stats, _ = s.OutboxStats(ctx)
	if stats.ByState[store.NotificationDelivered] != 1 || stats.ByState[store.NotificationCancelled] != 1 || stats.ByState[store.NotificationPending] != 1 ||
		stats.ByState[store.NotificationSending] != 0 || !stats.OldestWaiting.Equal(ms(c.CreatedAt)) {
		t.Errorf("OutboxStats = %+v, want 1 delivered, 1 cancelled, 1 pending (n-c, the oldest waiting)", stats)
	}

	// Prune: finished and last changed before the cutoff.
	n, err := s.PruneNotifications(ctx, until)
	if err != nil || n != 1 {
		t.Errorf("PruneNotifications(until) = %d, %v; want 1 (n-a; n-b changed at until)", n, err)
	}
	n, _ = s.PruneNotifications(ctx, until.Add(time.Millisecond))
	if n != 1 {
		t.Errorf("PruneNotifications(until+1ms) = %d, want 1 (n-b)", n)
	}
	if ids := listIDs(t, s, store.NotificationQuery{}); !slices.Equal(ids, []string{"n-c"}) {
		t.Errorf("after prune = %v, want [n-c]", ids)
	}
	stats, _ = s.OutboxStats(ctx)
	if stats.ByState[store.NotificationDelivered] != 0 || stats.ByState[store.NotificationPending] != 1 {
		t.Errorf("OutboxStats after prune = %+v", stats)
	}
	if _, err := s.GetNotification(ctx, "n-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a pruned notification: %v, want ErrNotFound", err)
	}
	if ids := listIDs(t, s, store.NotificationQuery{DedupKey: "inc-1"}); len(ids) != 0 {
		t.Errorf("by dedup key after prune = %v, want none", ids)
	}
}

// testOutboxConcurrentClaims: claims racing each other never hand one attempt out twice.
func testOutboxConcurrentClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ns []store.Notification
	for i := range 200 {
		ns = append(ns, notification(fmt.Sprintf("n-%03d", i), t0, t0.Add(time.Duration(i)*time.Millisecond)))
	}
	if _, err := s.EnqueueNotifications(ctx, ns); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Second)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimNotifications(ctx, now, now.Add(time.Hour), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					seen[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != len(ns) {
		t.Errorf("claimed %d distinct notifications, want %d", len(seen), len(ns))
	}
	for id, times := range seen {
		if times != 1 {
			t.Errorf("%s claimed %d times", id, times)
		}
	}
}

func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ttl = 15 * time.Second
	l, held, err := s.AcquireLease(ctx, "notify", "a", t0, ttl)
	if err != nil || !held || l.Holder != "a" || l.Token != 1 || !l.Expires.Equal(ms(t0.Add(ttl))) {
		t.Fatalf("first AcquireLease = %+v, %v, %v; want a holds token 1 until t0+15s", l, held, err)
	}
	l, held, _ = s.AcquireLease(ctx, "notify", "b", t0.Add(time.Second), ttl)
	if held || l.Holder != "a" {
		t.Errorf("b while a holds it = %+v, %v; want refused, naming a", l, held)
	}
	l, held, _ = s.AcquireLease(ctx, "notify", "a", t0.Add(10*time.Second), ttl)
	if !held || l.Token != 1 || !l.Expires.Equal(ms(t0.Add(25*time.Second))) {
		t.Errorf("renewal = %+v, %v; want the same token, extended", l, held)
	}
	if _, held, _ := s.AcquireLease(ctx, "other", "b", t0, ttl); !held {
		t.Error("another lease's name is its own")
	}
	l, held, _ = s.AcquireLease(ctx, "notify", "b", t0.Add(25*time.Second), ttl)
	if !held || l.Holder != "b" || l.Token != 2 {
		t.Errorf("b once a's lease ran out = %+v, %v; want b with token 2", l, held)
	}
	if err := s.ReleaseLease(ctx, "notify", "a"); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := s.AcquireLease(ctx, "notify", "a", t0.Add(26*time.Second), ttl); held {
		t.Error("a's release of b's lease let a take it")
	}
	if err := s.ReleaseLease(ctx, "notify", "b"); err != nil {
		t.Fatal(err)
	}
	l, held, _ = s.AcquireLease(ctx, "notify", "a", t0.Add(27*time.Second), ttl)
	if !held || l.Token != 3 {
		t.Errorf("a after b released = %+v, %v; want a with token 3", l, held)
	}
}
