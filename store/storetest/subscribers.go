package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// Subscribers: create, find by address, versioned updates, deletion for real, paging and
// filters, counts, atomic audit entries with their events, export and import.

func subscriber(id, address string, comps ...string) store.Subscriber {
	return store.Subscriber{ID: id, Channel: store.SubscriberEmail, Address: address, Components: comps, Language: "en",
		State: store.SubscriberPending, LinkKey: "00112233445566778899aabbccddeeff", Source: "page",
		CreatedAt: t0, UpdatedAt: t0, Version: 1}
}

func webhookSubscriber(id, url, contact string) store.Subscriber {
	s := subscriber(id, contact)
	s.Channel, s.URL, s.Secret = store.SubscriberWebhook, url, "whsec_test"
	return s
}

func subscriberIDs(subs []store.Subscriber) []string {
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = s.ID
	}
	return ids
}

func testSubscribers(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := audit("subscriber.subscribe", "subscriber/sub-a")
	a.Event = &store.JournalEntry{ID: "ev-sub-a", Kind: "subscriber.requested", At: t0, Body: []byte(`{"id":"ev-sub-a"}`)}
	want := subscriber("sub-a", "Ada@Example.com", "db", "api", "api")
	if err := s.CreateSubscriber(ctx, want, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetSubscriber(ctx, "sub-a")
	if err != nil {
		t.Fatal(err)
	}
	want = store.NormalizeSubscriber(want)
	if fmt.Sprint(got) != fmt.Sprint(want) || got.CreatedAt.Location() != time.UTC || !slices.Equal(got.Components, []string{"api", "db"}) {
		t.Errorf("GetSubscriber = %+v, want %+v (components sorted, each once; times in ms and UTC)", got, want)
	}
	// Its address, in any case, finds it; the same address again is a conflict, and so is the id.
	found, err := s.FindSubscriber(ctx, store.SubscriberLookup(store.SubscriberEmail, " ada@EXAMPLE.com "))
	if err != nil || found.ID != "sub-a" {
		t.Errorf("FindSubscriber by address = %v, %v; want sub-a", found.ID, err)
	}
	if _, err := s.FindSubscriber(ctx, store.SubscriberLookup(store.SubscriberEmail, "bob@example.com")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindSubscriber of an unknown address: %v, want ErrNotFound", err)
	}
	if err := s.CreateSubscriber(ctx, subscriber("sub-b", "ADA@example.COM"), audit("subscriber.subscribe", "subscriber/sub-b")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second subscription of one address: %v, want ErrConflict", err)
	}
	if err := s.CreateSubscriber(ctx, subscriber("sub-a", "other@example.com"), audit("subscriber.subscribe", "subscriber/sub-a")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a taken id: %v, want ErrConflict", err)
	}
	if _, err := s.GetSubscriber(ctx, "sub-b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused subscription was stored: %v", err)
	}
	// The change and its audit entry and event committed together; refused ones left none.
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Action: "subscriber.subscribe"})
	if len(entries) != 1 || entries[0].Target != "subscriber/sub-a" || string(entries[0].Before) != "null" {
		t.Errorf("audit = %+v, want one entry for sub-a with before null", entries)
	}
	if js, _ := s.ReadJournal(ctx, 0, 10); len(js) != 1 || js[0].ID != "ev-sub-a" {
		t.Errorf("journal = %+v, want the subscription's event", js)
	}

	// Versioned updates: a stale copy is refused; channel and address never change.
	next := got
	next.State, next.ConfirmedAt, next.Version, next.Address = store.SubscriberConfirmed, t0.Add(time.Minute), 2, "mallory@example.com"
	next.Components = nil
	if err := s.UpdateSubscriber(ctx, next, audit("subscriber.confirm", "subscriber/sub-a")); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateSubscriber(ctx, next, audit("subscriber.confirm", "subscriber/sub-a")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("an update from a stale copy: %v, want ErrConflict", err)
	}
	got, _ = s.GetSubscriber(ctx, "sub-a")
	if got.State != store.SubscriberConfirmed || got.Version != 2 || got.Address != "Ada@Example.com" || len(got.Components) != 0 || !got.ConfirmedAt.Equal(ms(t0.Add(time.Minute))) {
		t.Errorf("after the update: %+v, want confirmed, version 2, every component, the address unchanged", got)
	}
	missing := subscriber("sub-x", "x@example.com")
	missing.Version = 2
	if err := s.UpdateSubscriber(ctx, missing, audit("subscriber.update", "subscriber/sub-x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing subscriber: %v, want ErrNotFound", err)
	}
	// Bookkeeping without an Action writes no audit entry.
	got.FailingSince, got.Version = t0.Add(time.Hour), 3
	before, _ := s.ListAudit(ctx, store.AuditQuery{})
	if err := s.UpdateSubscriber(ctx, got, store.AuditEntry{}); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.ListAudit(ctx, store.AuditQuery{}); len(after) != len(before) {
		t.Errorf("an update without an action wrote %d audit entries", len(after)-len(before))
	}

	// Deleted for real: gone by id and by address, and the address may subscribe again.
	if err := s.DeleteSubscriber(ctx, "sub-a", audit("subscriber.unsubscribe", "subscriber/sub-a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSubscriber(ctx, "sub-a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSubscriber after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.FindSubscriber(ctx, want.Lookup()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FindSubscriber after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSubscriber(ctx, "sub-a", audit("subscriber.unsubscribe", "subscriber/sub-a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a second delete: %v, want ErrNotFound", err)
	}
	if subs, _ := s.ListSubscribers(ctx, store.SubscriberQuery{}); len(subs) != 0 {
		t.Errorf("list after delete: %v", subscriberIDs(subs))
	}
	if c, _ := s.CountSubscribers(ctx); c[store.SubscriberEmail][store.SubscriberConfirmed] != 0 || c[store.SubscriberEmail][store.SubscriberPending] != 0 {
		t.Errorf("counts after delete: %v, want none", c)
	}
	if err := s.CreateSubscriber(ctx, subscriber("sub-c", "ada@example.com"), audit("subscriber.subscribe", "subscriber/sub-c")); err != nil {
		t.Errorf("subscribing again after leaving: %v", err)
	}
}

func testSubscriberList(t *testing.T, s store.Store) {
	ctx := t.Context()
	var all []string
	for i := range 25 {
		id := fmt.Sprintf("sub-%02d", 24-i) // created out of order: listed by id
		sub := subscriber(id, id+"@example.com")
		switch i % 3 {
		case 0:
			sub.Components = []string{"api"}
		case 1:
			sub.Components = []string{"db", "core"}
		}
		if i%5 == 0 {
			sub = webhookSubscriber(id, "https://hooks.example.com/"+id, "ops@example.com")
		}
		if i%2 == 0 {
			sub.State = store.SubscriberConfirmed
		}
		if err := s.CreateSubscriber(ctx, sub, audit("subscriber.add", "subscriber/"+id)); err != nil {
			t.Fatal(err)
		}
		all = append(all, id)
	}
	slices.Sort(all)
	page := func(q store.SubscriberQuery) []string {
		t.Helper()
		subs, err := s.ListSubscribers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return subscriberIDs(subs)
	}
	var paged []string
	for after := ""; ; {
		ids := page(store.SubscriberQuery{After: after, Limit: 10})
		paged = append(paged, ids...)
		if len(ids) < 10 {
			break
		}
		after = ids[len(ids)-1]
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paged by 10: %v, want %v", paged, all)
	}
	// Filters, against the same rule applied to everything.
	subs, _ := s.ListSubscribers(ctx, store.SubscriberQuery{})
	for _, q := range []store.SubscriberQuery{
		{State: store.SubscriberConfirmed},
		{State: store.SubscriberPending, Channel: store.SubscriberWebhook},
		{Components: []string{"api"}},
		{Components: []string{"core", "api"}, State: store.SubscriberConfirmed},
		{Components: []string{"nothing"}, Limit: 3},
		{Channel: store.SubscriberEmail, After: "sub-10", Limit: 4},
	} {
		var want []string
		for _, sub := range subs {
			if q.Matches(sub) && len(want) < q.EffectiveLimit() {
				want = append(want, sub.ID)
			}
		}
		if got := page(q); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("ListSubscribers(%+v) = %v, want %v (and not none)", q, got, want)
		}
	}
	counts, err := s.CountSubscribers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.SubscriberCounts{}
	for _, sub := range subs {
		if want[sub.Channel] == nil {
			want[sub.Channel] = map[store.SubscriberState]int{}
		}
		want[sub.Channel][sub.State]++
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("CountSubscribers = %v, want %v", counts, want)
	}
	// Counts follow a change of state.
	sub, _ := s.GetSubscriber(ctx, "sub-01")
	sub.State, sub.Version = store.SubscriberSuspended, sub.Version+1
	if err := s.UpdateSubscriber(ctx, sub, audit("subscriber.suspend", "subscriber/sub-01")); err != nil {
		t.Fatal(err)
	}
	counts, _ = s.CountSubscribers(ctx)
	if counts[sub.Channel][store.SubscriberSuspended] != 1 || counts[sub.Channel][store.SubscriberPending] != want[sub.Channel][store.SubscriberPending]-1 {
		t.Errorf("counts after a suspension: %v (before %v)", counts, want)
	}
	if ids := page(store.SubscriberQuery{State: store.SubscriberSuspended}); !slices.Equal(ids, []string{"sub-01"}) {
		t.Errorf("suspended: %v, want [sub-01]", ids)
	}
}

func testSubscribersConcurrent(t *testing.T, s store.Store) {
	// Ten requests for one address at once: one subscription.
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range 10 {
		wg.Go(func() {
			id := fmt.Sprintf("sub-%d", i)
			err := s.CreateSubscriber(t.Context(), subscriber(id, "same@example.com"), audit("subscriber.subscribe", "subscriber/"+id))
			switch {
			case err == nil:
				mu.Lock()
				created++
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("create %s: %v", id, err)
			}
		})
	}
	wg.Wait()
	subs, _ := s.ListSubscribers(t.Context(), store.SubscriberQuery{})
	if created != 1 || len(subs) != 1 {
		t.Errorf("%d created, %d stored; want one of each", created, len(subs))
	}
}

func testSubscribersExportImport(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	chat := subscriber("sub-3", "c@example.com")
	chat.Channel, chat.URL, chat.State = store.SubscriberChat, "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook", store.SubscriberConfirmed
	for _, sub := range []store.Subscriber{subscriber("sub-1", "a@example.com", "api"), webhookSubscriber("sub-2", "https://h.example.com/x", "b@example.com"), chat} {
		if err := from.CreateSubscriber(ctx, sub, audit("subscriber.add", "subscriber/"+sub.ID)); err != nil {
			t.Fatal(err)
		}
	}
	var records []store.Record
	if err := from.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	var subs []string
	for _, r := range records {
		if r.Type == store.RecordSubscriber {
			subs = append(subs, r.Subscriber.ID)
		}
	}
	if !slices.Equal(subs, []string{"sub-1", "sub-2", "sub-3"}) {
		t.Fatalf("exported subscribers %v, want sub-1, sub-2 and sub-3", subs)
	}
	if errs := store.ValidateRecords(records); len(errs) > 0 {
		t.Fatalf("the export does not validate: %v", errs)
	}
	if err := to.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	if a, b := Lines(t, from), Lines(t, to); !slices.Equal(a, b) {
		t.Errorf("export after import differs:\n%v\n---\n%v", a, b)
	}
	got, err := to.FindSubscriber(ctx, store.SubscriberLookup(store.SubscriberWebhook, "https://h.example.com/x"))
	if err != nil || got.Secret != "whsec_test" || got.LinkKey == "" {
		t.Errorf("imported webhook subscriber = %+v, %v; want it found by its URL with its secret and link key", got, err)
	}
	if got, err := to.FindSubscriber(ctx, chat.Lookup()); err != nil || got.URL != chat.URL || got.Channel != store.SubscriberChat {
		t.Errorf("imported chat subscriber = %+v, %v; want it found by its URL", got, err)
	}
	if c, _ := to.CountSubscribers(ctx); c[store.SubscriberEmail][store.SubscriberPending] != 1 || c[store.SubscriberWebhook][store.SubscriberPending] != 1 ||
		c[store.SubscriberChat][store.SubscriberConfirmed] != 1 {
		t.Errorf("imported counts: %v", c)
	}
	if page, _ := to.ListSubscribers(ctx, store.SubscriberQuery{Components: []string{"api"}}); !slices.Equal(subscriberIDs(page), []string{"sub-1", "sub-2", "sub-3"}) {
		t.Errorf("imported component index: %v", subscriberIDs(page))
	}
}

func testSubscriptionRates(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	// Counts go up within a window, per key, and start again in the next window.
	for i := int64(1); i <= 4; i++ {
		n, end, err := s.CountRate(ctx, "recipient:sha256:aa", time.Hour, at.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatalf("CountRate: %v", err)
		}
		if n != i || !end.Equal(at.Add(time.Hour)) {
			t.Errorf("count %d: %d ending %s; want %d ending %s", i, n, end, i, at.Add(time.Hour))
		}
	}
	if n, _, err := s.CountRate(ctx, "recipient:sha256:bb", time.Hour, at.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("another key: %d, %v; want 1", n, err)
	}
	if n, _, err := s.CountRate(ctx, "recipient:sha256:aa", time.Minute, at.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("another window length: %d, %v; want 1", n, err)
	}
	if n, end, err := s.CountRate(ctx, "recipient:sha256:aa", time.Hour, at.Add(time.Hour)); err != nil || n != 1 || !end.Equal(at.Add(2*time.Hour)) {
		t.Errorf("the next window: %d ending %s, %v; want 1 ending %s", n, end, err, at.Add(2*time.Hour))
	}
	// Concurrent counts lose none.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := s.CountRate(ctx, "client:sha256:cc", time.Hour, at); err != nil {
				t.Errorf("CountRate: %v", err)
			}
		})
	}
	wg.Wait()
	if n, _, err := s.CountRate(ctx, "client:sha256:cc", time.Hour, at); err != nil || n != 21 {
		t.Errorf("after 20 concurrent counts: %d, %v; want 21", n, err)
	}
}
