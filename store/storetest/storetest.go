// Package storetest is the conformance suite every store backend passes, unchanged. A backend's
// test calls Run with a constructor that returns a fresh, empty store.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Run runs every conformance test against stores made by newStore. newStore must return an empty
// store and arrange its cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ComponentsCRUD", testComponentsCRUD},
		{"ComponentsOrder", testComponentsOrder},
		{"ComponentsAuditedAtomically", testComponentsAudited},
		{"ComponentVisibility", func(t *testing.T, s store.Store) { testComponentVisibility(t, s, newStore(t)) }},
		{"Timeline", testTimeline},
		{"TimelineUnknownComponent", testTimelineUnknownComponent},
		{"CurrentStatus", testCurrentStatus},
		{"Transitions", testTransitions},
		{"Rollups", testRollups},
		{"Keys", testKeys},
		{"AuditQuery", testAuditQuery},
		{"ConcurrentWriters", testConcurrentWriters},
		{"MaintenanceWindows", testMaintenanceWindows},
		{"DeleteWindow", testDeleteWindow},
		{"Cursors", testCursors},
		{"Incidents", testIncidents},
		{"UnavailableAfterClose", testUnavailableAfterClose},
		{"IncidentIndexes", testIncidentIndexes},
		{"StatusDays", testStatusDays},
		{"StatusDaysImport", func(t *testing.T, s store.Store) { testStatusDaysImport(t, s, newStore(t)) }},
		{"Journal", testJournal},
		{"JournalConcurrent", testJournalConcurrent},
		{"Outbox", testOutbox},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"Leases", testLeases},
		{"ExportImport", func(t *testing.T, s store.Store) { testExportImport(t, s, newStore(t)) }},
		{"Subscribers", testSubscribers},
		{"SubscriberList", testSubscriberList},
		{"SubscribersConcurrent", testSubscribersConcurrent},
		{"SubscriptionRates", testSubscriptionRates},
		{"SubscribersExportImport", func(t *testing.T, s store.Store) { testSubscribersExportImport(t, s, newStore(t)) }},
		{"NotifyTargets", testNotifyTargets},
		{"NotificationsExportImport", func(t *testing.T, s store.Store) { testNotificationsExportImport(t, s, newStore(t)) }},
		{"Ping", func(t *testing.T, s store.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// t0 is a fixed instant with sub-millisecond digits, to check that stores keep milliseconds.
var t0 = time.Date(2026, 3, 29, 0, 59, 59, 123456789, time.UTC)

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func audit(action, target string) store.AuditEntry {
	return store.AuditEntry{At: t0, Actor: "tester", Action: action, Target: target,
		After: store.Null, RemoteAddr: "127.0.0.1", RequestID: "req-1"}
}

func mustCreate(t *testing.T, s store.Store, c component.Component) {
	t.Helper()
	if err := s.CreateComponent(t.Context(), c, audit("component.create", "component/"+c.ID)); err != nil {
		t.Fatalf("CreateComponent(%s): %v", c.ID, err)
	}
}

func newComponent(id string, pos int) component.Component {
	return component.Component{ID: id, Name: "Component " + id, Description: "d-" + id, Position: pos,
		Source: component.SourceAPI, CreatedAt: t0, UpdatedAt: t0}
}

func testComponentsCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetComponent(ctx, "api"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetComponent of a missing id: got %v, want ErrNotFound", err)
	}
	c := newComponent("api", 1)
	c.GroupID = "core"
	mustCreate(t, s, c)
	if err := s.CreateComponent(ctx, c, audit("component.create", "component/api")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateComponent of an existing id: got %v, want ErrConflict", err)
	}
	got, err := s.GetComponent(ctx, "api")
	if err != nil {
		t.Fatalf("GetComponent: %v", err)
	}
	want := c
	want.CreatedAt, want.UpdatedAt = ms(t0), ms(t0)
	want.Status = component.Unknown
	if got != want {
		t.Errorf("GetComponent:\n got  %+v\n want %+v", got, want)
	}

	upd := c
	upd.Name, upd.Description, upd.GroupID, upd.Position = "API v2", "", "", 7
	upd.CreatedAt = t0.Add(time.Hour) // must be ignored
	upd.UpdatedAt = t0.Add(2 * time.Hour)
	if err := s.UpdateComponent(ctx, upd, audit("component.update", "component/api")); err != nil {
		t.Fatalf("UpdateComponent: %v", err)
	}
	got, _ = s.GetComponent(ctx, "api")
	want = upd
	want.CreatedAt, want.UpdatedAt, want.Status = ms(t0), ms(t0.Add(2*time.Hour)), component.Unknown
	if got != want {
		t.Errorf("after UpdateComponent:\n got  %+v\n want %+v", got, want)
	}
	missing := newComponent("nope", 0)
	if err := s.UpdateComponent(ctx, missing, audit("component.update", "component/nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateComponent of a missing id: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteComponent(ctx, "api", audit("component.delete", "component/api")); err != nil {
		t.Fatalf("DeleteComponent: %v", err)
	}
	if _, err := s.GetComponent(ctx, "api"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetComponent after delete: got %v, want ErrNotFound", err)
	}
	if err := s.DeleteComponent(ctx, "api", audit("component.delete", "component/api")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteComponent twice: got %v, want ErrNotFound", err)
	}
	list, err := s.ListComponents(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("ListComponents after delete = %v, %v; want empty", list, err)
	}
}

func testComponentsOrder(t *testing.T, s store.Store) {
	for _, c := range []component.Component{newComponent("c", 2), newComponent("b", 1), newComponent("a", 2), newComponent("z", 0)} {
		mustCreate(t, s, c)
	}
	group := newComponent("grp", 3)
	group.IsGroup = true
	mustCreate(t, s, group)
	list, err := s.ListComponents(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if want := []string{"z", "b", "a", "c", "grp"}; !slices.Equal(ids, want) {
		t.Errorf("ListComponents order = %v, want %v (position, then id)", ids, want)
	}
	if !list[4].IsGroup {
		t.Errorf("group flag lost: %+v", list[4])
	}
	// The result is the caller's own.
	list[0].Name = "changed"
	again, _ := s.ListComponents(t.Context())
	if again[0].Name == "changed" {
		t.Error("ListComponents returned memory the store shares")
	}
}

func testComponentsAudited(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newComponent("web", 0)
	a := audit("component.create", "component/web")
	a.After = store.MustJSON(c)
	if err := s.CreateComponent(ctx, c, a); err != nil {
		t.Fatal(err)
	}
	// A failed change writes no audit entry.
	_ = s.CreateComponent(ctx, c, audit("component.create", "component/web"))
	_ = s.UpdateComponent(ctx, newComponent("ghost", 0), audit("component.update", "component/ghost"))

	upd := c
	upd.Name = "Website"
	ua := audit("component.update", "component/web")
	ua.After = store.MustJSON(upd)
	if err := s.UpdateComponent(ctx, upd, ua); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteComponent(ctx, "web", audit("component.delete", "component/web")); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if want := []string{"component.delete", "component.update", "component.create"}; !slices.Equal(actions, want) {
		t.Fatalf("audit actions = %v, want %v (newest first, failed changes not recorded)", actions, want)
	}
	create, update, del := entries[2], entries[1], entries[0]
	if string(create.Before) != "null" {
		t.Errorf("create.Before = %s, want null", create.Before)
	}
	var before component.Component
	if err := json.Unmarshal(update.Before, &before); err != nil || before.Name != "Component web" {
		t.Errorf("update.Before = %s (%v), want the stored component named %q", update.Before, err, "Component web")
	}
	var after component.Component
	if err := json.Unmarshal(update.After, &after); err != nil || after.Name != "Website" {
		t.Errorf("update.After = %s, want the new component", update.After)
	}
	if err := json.Unmarshal(del.Before, &before); err != nil || before.Name != "Website" {
		t.Errorf("delete.Before = %s, want the deleted component", del.Before)
	}
	if !(create.ID < update.ID && update.ID < del.ID) {
		t.Errorf("audit ids not increasing: %d, %d, %d", create.ID, update.ID, del.ID)
	}
	if create.Actor != "tester" || create.RemoteAddr != "127.0.0.1" || create.RequestID != "req-1" || !create.At.Equal(ms(t0)) || create.At.Location() != time.UTC {
		t.Errorf("audit entry fields not kept: %+v", create)
	}
}

func testTimeline(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newComponent("api", 0))
	changes := []component.Change{
		{ComponentID: "api", At: t0, Status: component.Operational, Reason: "first result"},
		{ComponentID: "api", At: t0.Add(time.Hour), Status: component.MajorOutage, Reason: "down"},
		{ComponentID: "api", At: t0.Add(2 * time.Hour), Status: component.DegradedPerformance, Reason: "slow"},
		{ComponentID: "api", At: t0.Add(3 * time.Hour), Status: component.Operational, Reason: "ok"},
	}
	// Appended out of order, and one twice: the store orders by time and ignores the repeat.
	for _, i := range []int{0, 2, 1, 3, 1} {
		if err := s.AppendStatus(ctx, changes[i]); err != nil {
			t.Fatalf("AppendStatus(%d): %v", i, err)
		}
	}
	for i := range changes {
		changes[i].At = ms(changes[i].At)
	}
	got, err := s.StatusTimeline(ctx, "api", t0.Add(90*time.Minute), t0.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := changes[1:3]; !slices.Equal(got, want) {
		t.Errorf("StatusTimeline(1h30, 3h) =\n %+v\nwant the change before 1h30 and those inside:\n %+v", got, want)
	}
	got, _ = s.StatusTimeline(ctx, "api", t0.Add(-time.Hour), t0.Add(24*time.Hour))
	if !slices.Equal(got, changes) {
		t.Errorf("StatusTimeline(all) = %+v, want %+v", got, changes)
	}
	got, _ = s.StatusTimeline(ctx, "api", t0.Add(-2*time.Hour), t0.Add(-time.Hour))
	if len(got) != 0 {
		t.Errorf("StatusTimeline before the first change = %+v, want none", got)
	}
	c, _ := s.GetComponent(ctx, "api")
	if c.Status != component.Operational || !c.StatusSince.Equal(changes[3].At) {
		t.Errorf("component status = %s since %s, want operational since %s", c.Status, c.StatusSince, changes[3].At)
	}
	// A back-dated change older than the latest does not become the current status.
	if err := s.AppendStatus(ctx, component.Change{ComponentID: "api", At: t0.Add(150 * time.Minute), Status: component.PartialOutage}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.ListComponents(ctx)
	if list[0].Status != component.Operational {
		t.Errorf("ListComponents status = %s, want operational (latest by time)", list[0].Status)
	}
}

// testCurrentStatus: a component's current status is its timeline's latest change however the
// changes arrived (a tie at one instant is broken the same way on every backend), a component
// created again after a delete finds its timeline (history outlives the component), and
// ListComponents, GetComponent and the timeline agree.
func testCurrentStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, id := range []string{"api", "db", "web"} {
		mustCreate(t, s, newComponent(id, i))
	}
	appendAll := func(changes ...component.Change) {
		t.Helper()
		for _, ch := range changes {
			if err := s.AppendStatus(ctx, ch); err != nil {
				t.Fatalf("AppendStatus(%+v): %v", ch, err)
			}
		}
	}
	at := t0.Add(time.Hour)
	appendAll(
		component.Change{ComponentID: "api", At: at, Status: component.MajorOutage, Reason: "down"},
		component.Change{ComponentID: "api", At: at.Add(-time.Minute), Status: component.Operational, Reason: "back-dated"},
		// Two changes of db at one instant: the later by status (then reason) is current.
		component.Change{ComponentID: "db", At: at, Status: component.PartialOutage, Reason: "b"},
		component.Change{ComponentID: "db", At: at, Status: component.DegradedPerformance, Reason: "a"},
		component.Change{ComponentID: "db", At: at, Status: component.PartialOutage, Reason: "a"},
	)
	want := map[string]component.Status{"api": component.MajorOutage, "db": component.PartialOutage, "web": component.Unknown}
	check := func(when string) {
		t.Helper()
		list, err := s.ListComponents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(want) {
			t.Fatalf("%s: %d components listed, want %d", when, len(list), len(want))
		}
		for _, c := range list {
			one, err := s.GetComponent(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantSince := time.Time{}
			if want[c.ID] != component.Unknown {
				wantSince = ms(at)
			}
			if c.Status != want[c.ID] || !c.StatusSince.Equal(wantSince) || one.Status != c.Status || !one.StatusSince.Equal(c.StatusSince) {
				t.Errorf("%s: %s listed %s since %s, got %s since %s; want %s since %s", when, c.ID, c.Status, c.StatusSince,
					one.Status, one.StatusSince, want[c.ID], wantSince)
			}
		}
	}
	check("after the changes")

	if err := s.DeleteComponent(ctx, "api", audit("component.delete", "api")); err != nil {
		t.Fatal(err)
	}
	delete(want, "api")
	check("after a delete")
	mustCreate(t, s, newComponent("api", 0))
	want["api"] = component.MajorOutage
	check("created again")
}

func testTimelineUnknownComponent(t *testing.T, s store.Store) {
	err := s.AppendStatus(t.Context(), component.Change{ComponentID: "ghost", At: t0, Status: component.MajorOutage})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendStatus for a missing component: got %v, want ErrNotFound", err)
	}
}

func testTransitions(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.LastTransition(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LastTransition with none: got %v, want ErrNotFound", err)
	}
	trs := []probe.Transition{
		{MonitorID: "m1", At: t0, From: probe.StateUnknown, To: probe.StateUp, Reason: "check passed"},
		{MonitorID: "m1", At: t0.Add(time.Minute), From: probe.StateUp, To: probe.StateDown, Reason: "connect: refused"},
		{MonitorID: "m1", At: t0.Add(5 * time.Minute), From: probe.StateDown, To: probe.StateUp, Reason: "check passed"},
		{MonitorID: "m2", At: t0.Add(2 * time.Minute), From: probe.StateUnknown, To: probe.StateDown, Reason: "x"},
	}
	for _, i := range []int{1, 0, 2, 3, 2} {
		if err := s.AppendTransition(ctx, trs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range trs {
		trs[i].At = ms(trs[i].At)
	}
	got, err := s.MonitorTransitions(ctx, "m1", t0, t0.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := trs[:2]; !slices.Equal(got, want) {
		t.Errorf("MonitorTransitions([0, 5m)) = %+v, want %+v", got, want)
	}
	last, err := s.LastTransition(ctx, "m1")
	if err != nil || last != trs[2] {
		t.Errorf("LastTransition = %+v, %v; want %+v", last, err, trs[2])
	}
}

func testRollups(t *testing.T, s store.Store) {
	ctx := t.Context()
	start := probe.Minute.Truncate(t0)
	var a, b probe.Rollup
	a = probe.Rollup{MonitorID: "m1", Resolution: probe.Minute, Start: start}
	a.Add(probe.Result{OK: true, Duration: 3 * time.Millisecond})
	a.Add(probe.Result{OK: false, Duration: 700 * time.Millisecond})
	b = probe.Rollup{MonitorID: "m1", Resolution: probe.Minute, Start: start}
	b.Add(probe.Result{OK: true, Duration: 20 * time.Second})
	later := probe.Rollup{MonitorID: "m1", Resolution: probe.Minute, Start: start.Add(time.Minute)}
	later.Add(probe.Result{OK: true, Duration: time.Millisecond})
	hour := probe.Rollup{MonitorID: "m1", Resolution: probe.Hour, Start: probe.Hour.Truncate(t0)}
	hour.Add(probe.Result{OK: true, Duration: time.Millisecond})
	other := probe.Rollup{MonitorID: "m2", Resolution: probe.Minute, Start: start}
	other.Add(probe.Result{OK: true})

	if err := s.AddRollups(ctx, []probe.Rollup{a, later, hour, other}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRollups(ctx, []probe.Rollup{b}); err != nil {
		t.Fatal(err)
	}
	got, err := s.MonitorRollups(ctx, "m1", probe.Minute, start, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	merged := a
	merged.Merge(b)
	if want := []probe.Rollup{merged, later}; !slices.Equal(got, want) {
		t.Fatalf("MonitorRollups =\n %+v\nwant\n %+v", got, want)
	}
	if merged.Runs != 3 || merged.Failures != 1 || merged.Histogram[0] != 1 || merged.Histogram[probe.HistogramBuckets-1] != 1 {
		t.Errorf("merge arithmetic wrong: %+v", merged)
	}
	if err := s.PruneRollups(ctx, probe.Minute, start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.MonitorRollups(ctx, "m1", probe.Minute, start.Add(-time.Hour), start.Add(time.Hour))
	if want := []probe.Rollup{later}; !slices.Equal(got, want) {
		t.Errorf("after PruneRollups = %+v, want %+v", got, want)
	}
	got, _ = s.MonitorRollups(ctx, "m1", probe.Hour, start.Add(-time.Hour), start.Add(time.Hour))
	if want := []probe.Rollup{hour}; !slices.Equal(got, want) {
		t.Errorf("other resolutions must survive pruning: got %+v, want %+v", got, want)
	}
	// A bucket pruned and then added to again (a late flush, an import) reads back: what a
	// backend remembers of its own writes (Redis's index memo) follows the prune. And a bucket
	// added to again and again reads back once, merged.
	if err := s.AddRollups(ctx, []probe.Rollup{a}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.AddRollups(ctx, []probe.Rollup{later}); err != nil {
			t.Fatal(err)
		}
	}
	var laterTimes4 probe.Rollup
	for range 4 {
		laterTimes4.Merge(later)
	}
	laterTimes4.MonitorID, laterTimes4.Resolution, laterTimes4.Start = later.MonitorID, later.Resolution, later.Start
	got, _ = s.MonitorRollups(ctx, "m1", probe.Minute, start.Add(-time.Hour), start.Add(time.Hour))
	if want := []probe.Rollup{a, laterTimes4}; !slices.Equal(got, want) {
		t.Errorf("added again after PruneRollups = %+v, want %+v", got, want)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := apikey.Key{ID: "aaaaaaaaaaaaaaaa", Name: "ops", Scopes: []apikey.Scope{apikey.ScopeAdmin}, Hash: []byte("$2a$10$hash1"), CreatedAt: t0}
	k2 := apikey.Key{ID: "bbbbbbbbbbbbbbbb", Name: "reader", Scopes: []apikey.Scope{apikey.ScopeRead, apikey.ScopeIncidents}, Hash: []byte("$2a$10$hash2"), CreatedAt: t0.Add(time.Second)}
	for _, k := range []apikey.Key{k2, k1} {
		if err := s.CreateKey(ctx, k, audit("key.create", "key/"+k.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, k1, audit("key.create", "key/"+k1.ID)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey twice: got %v, want ErrConflict", err)
	}
	got, err := s.GetKey(ctx, k2.ID)
	if err != nil {
		t.Fatal(err)
	}
	k2.CreatedAt = ms(k2.CreatedAt)
	if got.ID != k2.ID || got.Name != k2.Name || !slices.Equal(got.Scopes, k2.Scopes) || string(got.Hash) != string(k2.Hash) || !got.CreatedAt.Equal(k2.CreatedAt) || got.Revoked() {
		t.Errorf("GetKey = %+v, want %+v", got, k2)
	}
	if _, err := s.GetKey(ctx, "zzzzzzzzzzzzzzzz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey of a missing id: got %v, want ErrNotFound", err)
	}
	list, _ := s.ListKeys(ctx)
	if len(list) != 2 || list[0].ID != k1.ID || list[1].ID != k2.ID {
		t.Errorf("ListKeys = %+v, want k1 then k2 (oldest first)", list)
	}
	revokedAt := t0.Add(time.Hour)
	if err := s.RevokeKey(ctx, k1.ID, revokedAt, audit("key.revoke", "key/"+k1.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k1.ID, revokedAt, audit("key.revoke", "key/"+k1.ID)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RevokeKey twice: got %v, want ErrConflict", err)
	}
	if err := s.RevokeKey(ctx, "zzzzzzzzzzzzzzzz", revokedAt, audit("key.revoke", "key/z")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeKey of a missing id: got %v, want ErrNotFound", err)
	}
	got, _ = s.GetKey(ctx, k1.ID)
	if !got.RevokedAt.Equal(ms(revokedAt)) {
		t.Errorf("RevokedAt = %v, want %v", got.RevokedAt, revokedAt)
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Action: "key.revoke"})
	if len(entries) != 1 {
		t.Errorf("audit has %d key.revoke entries, want 1", len(entries))
	}
}

func testAuditQuery(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 25 {
		a := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: fmt.Sprintf("actor%d", i%3),
			Action: "reload", Target: fmt.Sprintf("config/%d", i%2), Before: store.Null, After: store.MustJSON(map[string]int{"n": i})}
		if err := s.AppendAudit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(all) != 25 {
		t.Fatalf("ListAudit = %d entries, %v; want 25", len(all), err)
	}
	page1, _ := s.ListAudit(ctx, store.AuditQuery{Limit: 10})
	page2, _ := s.ListAudit(ctx, store.AuditQuery{Limit: 10, BeforeID: page1[9].ID})
	ids := func(es []store.AuditEntry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if len(page1) != 10 || len(page2) != 10 || !slices.Equal(append(ids(page1), ids(page2)...), ids(all[:20])) {
		t.Errorf("paging: page1 %d entries, page2 %d entries, not consecutive", len(page1), len(page2))
	}
	filtered, _ := s.ListAudit(ctx, store.AuditQuery{Actor: "actor1", Target: "config/1", Since: t0.Add(5 * time.Minute), Until: t0.Add(20 * time.Minute)})
	var ns []int
	for _, e := range filtered {
		var v map[string]int
		_ = json.Unmarshal(e.After, &v)
		ns = append(ns, v["n"])
	}
	// i%3 == 1 and i%2 == 1, 5 <= i < 20: 7, 13, 19; newest first.
	if want := []int{19, 13, 7}; !slices.Equal(ns, want) {
		t.Errorf("filtered audit = %v, want %v", ns, want)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each*2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("c%d-%d", w, i)
				if err := s.CreateComponent(ctx, newComponent(id, i), audit("component.create", "component/"+id)); err != nil {
					errs <- err
					continue
				}
				ch := component.Change{ComponentID: id, At: t0.Add(time.Duration(i) * time.Second), Status: component.MajorOutage}
				if err := s.AppendStatus(ctx, ch); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	list, _ := s.ListComponents(ctx)
	if len(list) != writers*each {
		t.Errorf("%d components stored, want %d", len(list), writers*each)
	}
	for _, c := range list {
		if c.Status != component.MajorOutage {
			t.Errorf("component %s status %s, want major_outage", c.ID, c.Status)
		}
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{})
	seen := map[int64]bool{}
	for _, e := range entries {
		if seen[e.ID] {
			t.Errorf("audit id %d used twice", e.ID)
		}
		seen[e.ID] = true
	}
	if len(entries) != writers*each {
		t.Errorf("%d audit entries, want %d", len(entries), writers*each)
	}
}

func testMaintenanceWindows(t *testing.T, s store.Store) {
	ctx := t.Context()
	w := maintenance.Window{ID: "tuesday-db", Title: "Database", Components: []string{"db", "api"}, TimeZone: "America/Los_Angeles",
		Rule: "FREQ=WEEKLY;BYDAY=TU", FirstDate: calendar.Date{Year: 2026, Month: 1, Day: 1}, StartClock: 21 * 60, Duration: 2 * time.Hour,
		AnnouncedAt: t0, Source: "api", CreatedAt: t0, UpdatedAt: t0}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := s.GetWindow(ctx, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetWindow of a missing id: %v", err)
	}
	if err := s.CreateWindow(ctx, w, audit("maintenance.create", "maintenance/"+w.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWindow(ctx, w, audit("maintenance.create", "maintenance/"+w.ID)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateWindow twice: %v", err)
	}
	// A window read back is prepared: it expands to the same occurrences.
	got, err := s.GetWindow(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if a, b := got.Occurrences(from, to), w.Occurrences(from, to); !slices.Equal(a, b) || len(a) != 8 {
		t.Errorf("occurrences after a round trip differ:\n%+v\n%+v", a, b)
	}
	if err := got.CancelOccurrence(time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got.Title = "Database upgrade"
	if err := s.UpdateWindow(ctx, got, audit("maintenance.cancel_occurrence", "maintenance/"+w.ID)); err != nil {
		t.Fatal(err)
	}
	ghost := w
	ghost.ID = "ghost"
	if err := s.UpdateWindow(ctx, ghost, audit("maintenance.update", "maintenance/ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateWindow of a missing id: %v", err)
	}
	other := w
	other.ID, other.Rule = "a-first", "FREQ=DAILY"
	other.Duration = time.Hour
	if err := s.CreateWindow(ctx, other, audit("maintenance.create", "maintenance/a-first")); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWindows(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "a-first" || list[1].Title != "Database upgrade" {
		t.Fatalf("ListWindows = %+v, %v", list, err)
	}
	if o, _ := list[1].Find(time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)); !o.Cancelled {
		t.Error("the override was not kept")
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Target: "maintenance/tuesday-db"})
	if len(entries) != 2 || !strings.Contains(string(entries[0].Before), `"title":"Database"`) {
		t.Errorf("window audit = %d entries, before %s", len(entries), entries[0].Before)
	}
}

func testCursors(t *testing.T, s store.Store) {
	ctx := t.Context()
	if c, err := s.Cursor(ctx, "maintenance"); err != nil || !c.IsZero() {
		t.Fatalf("unset cursor = %v, %v; want zero", c, err)
	}
	for _, at := range []time.Time{t0, t0.Add(time.Minute)} {
		if err := s.SetCursor(ctx, "maintenance", at); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := s.Cursor(ctx, "maintenance"); !c.Equal(ms(t0.Add(time.Minute))) {
		t.Errorf("cursor = %v, want %v", c, t0.Add(time.Minute))
	}
}

func testIncidents(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id string, opened time.Time, sev incidents.Severity, comp string) incidents.Incident {
		return incidents.Incident{ID: id, Title: "Incident " + id, Severity: sev, Status: incidents.Investigating, OpenedAt: opened, StartedAt: opened,
			Components: []incidents.Affected{{ComponentID: comp, Impact: component.MajorOutage}}, Clocks: []incidents.Clock{},
			Updates: []incidents.Update{{ID: id + "-1", At: opened, Author: "ops", Status: incidents.Investigating, Body: "Looking."}}, UpdatedAt: opened}
	}
	a := mk("inc-a", t0, incidents.P1, "api")
	b := mk("inc-b", t0.Add(time.Hour), incidents.P0, "db")
	c := mk("inc-c", t0.Add(2*time.Hour), incidents.P1, "api")
	for _, inc := range []incidents.Incident{b, a, c} {
		if err := s.CreateIncident(ctx, inc, audit("incident.declare", "incident/"+inc.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateIncident(ctx, a, audit("incident.declare", "incident/inc-a")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateIncident twice: %v", err)
	}
	if _, err := s.GetIncident(ctx, "inc-zzz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIncident of a missing id: %v", err)
	}
	got, err := s.GetIncident(ctx, "inc-a")
	if err != nil || got.Version != 1 || got.Title != a.Title || len(got.Updates) != 1 || !got.OpenedAt.Equal(t0) {
		t.Fatalf("GetIncident = %+v, %v", got, err)
	}
	// An update from the current version succeeds; one from a stale copy is a conflict.
	stale := got
	got.Status, got.ResolvedAt, got.Version = incidents.Resolved, t0.Add(3*time.Hour), got.Version+1
	if err := s.UpdateIncident(ctx, got, audit("incident.resolve", "incident/inc-a")); err != nil {
		t.Fatal(err)
	}
	stale.Title, stale.Version = "lost update", stale.Version+1
	if err := s.UpdateIncident(ctx, stale, audit("incident.update", "incident/inc-a")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	ghost := mk("inc-ghost", t0, incidents.P3, "api")
	ghost.Version = 2
	if err := s.UpdateIncident(ctx, ghost, audit("incident.update", "incident/inc-ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("updating a missing incident: %v", err)
	}
	ids := func(q store.IncidentQuery) string {
		list, err := s.ListIncidents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, inc := range list {
			out = append(out, inc.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		q    store.IncidentQuery
		want string
	}{
		{store.IncidentQuery{}, "inc-c,inc-b,inc-a"},
		{store.IncidentQuery{OpenOnly: true}, "inc-c,inc-b"},
		{store.IncidentQuery{ResolvedOnly: true}, "inc-a"},
		{store.IncidentQuery{Severity: incidents.P1}, "inc-c,inc-a"},
		{store.IncidentQuery{ComponentID: "db"}, "inc-b"},
		{store.IncidentQuery{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}, "inc-b"},
		{store.IncidentQuery{Limit: 2}, "inc-c,inc-b"},
		{store.IncidentQuery{StartedFrom: t0.Add(30 * time.Minute), StartedBefore: t0.Add(3 * time.Hour)}, "inc-c,inc-b"},
	} {
		if got := ids(tt.q); got != tt.want {
			t.Errorf("ListIncidents(%+v) = %s, want %s", tt.q, got, tt.want)
		}
	}
	entries, _ := s.ListAudit(ctx, store.AuditQuery{Target: "incident/inc-a"})
	if len(entries) != 2 || entries[0].Action != "incident.resolve" || !strings.Contains(string(entries[0].Before), `"status":"investigating"`) {
		t.Errorf("incident audit = %d entries", len(entries))
	}
}

// Seed fills a store with one of everything, for export tests.
func Seed(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	mustCreate(t, s, component.Component{ID: "core", Name: "Core", IsGroup: true, Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0})
	mustCreate(t, s, component.Component{ID: "api", Name: "API", GroupID: "core", Position: 1, Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0})
	mustCreate(t, s, component.Component{ID: "api-v2", Name: "API v2", Position: 2, Source: component.SourceAPI, CreatedAt: t0, UpdatedAt: t0})
	for i, st := range []component.Status{component.Operational, component.MajorOutage, component.Operational} {
		for _, id := range []string{"api", "api-v2"} {
			if err := s.AppendStatus(ctx, component.Change{ComponentID: id, At: t0.Add(time.Duration(i) * time.Hour), Status: st, Reason: "r"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tr := range []probe.Transition{
		{MonitorID: "m1", At: t0, From: probe.StateUnknown, To: probe.StateUp, Reason: "ok"},
		{MonitorID: "m1", At: t0.Add(time.Hour), From: probe.StateUp, To: probe.StateDown, Reason: "refused"},
	} {
		if err := s.AppendTransition(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	ru := probe.Rollup{MonitorID: "m1", Resolution: probe.Hour, Start: probe.Hour.Truncate(t0)}
	ru.Add(probe.Result{OK: true, Duration: 12 * time.Millisecond})
	ru2 := ru
	ru2.Resolution, ru2.Start = probe.Day, probe.Day.Truncate(t0)
	if err := s.AddRollups(ctx, []probe.Rollup{ru, ru2}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, apikey.Key{ID: "aaaaaaaaaaaaaaaa", Name: "ops", Scopes: []apikey.Scope{apikey.ScopeAdmin}, Hash: []byte("$2a$04$x"), CreatedAt: t0}, audit("key.create", "key/a")); err != nil {
		t.Fatal(err)
	}
	w := maintenance.Window{ID: "nightly", Title: "Nightly", Components: []string{"api"}, TimeZone: "Asia/Shanghai", Rule: "FREQ=DAILY",
		FirstDate: calendar.Date{Year: 2026, Month: 3, Day: 1}, StartClock: 20 * 60, EndClock: 8 * 60, AnnouncedAt: t0, Source: "config", CreatedAt: t0, UpdatedAt: t0}
	if errs := w.Prepare(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if err := s.CreateWindow(ctx, w, audit("maintenance.create", "maintenance/nightly")); err != nil {
		t.Fatal(err)
	}
	inc := incidents.Incident{ID: "inc-1", Title: "Down", Severity: incidents.P1, Status: incidents.Resolved, OpenedAt: t0, StartedAt: t0, ResolvedAt: t0.Add(time.Hour),
		Components: []incidents.Affected{{ComponentID: "api", Impact: component.MajorOutage}}, Clocks: []incidents.Clock{},
		Updates: []incidents.Update{{ID: "inc-1-1", At: t0, Status: incidents.Investigating, Body: "x", Kind: "declare"}}, UpdatedAt: t0}
	if err := s.CreateIncident(ctx, inc, audit("incident.declare", "incident/inc-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCursor(ctx, "maintenance-events", t0); err != nil {
		t.Fatal(err)
	}
}

// Lines exports a store as the JSON lines an export file would hold (without the header).
func Lines(t *testing.T, s store.Store) []string {
	t.Helper()
	var out []string
	err := s.Export(t.Context(), func(r store.Record) error {
		b, err := json.Marshal(r)
		out = append(out, string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testExportImport(t *testing.T, from, to store.Store) {
	ctx := t.Context()
	Seed(t, from)
	var records []store.Record
	if err := from.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range records {
		counts[r.Type]++
	}
	want := map[string]int{"component": 3, "status": 6, "transition": 2, "rollup": 2, "key": 1, "audit": 6, "window": 1, "incident": 1, "cursor": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d %s records exported, want %d", counts[k], k, n)
		}
	}
	if err := to.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	if a, b := Lines(t, from), Lines(t, to); !slices.Equal(a, b) {
		t.Errorf("export after import differs:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	// The imported components have their timelines' current statuses.
	before, _ := from.ListComponents(ctx)
	after, err := to.ListComponents(ctx)
	if err != nil || !slices.EqualFunc(before, after, func(a, b component.Component) bool {
		return a.ID == b.ID && a.Status == b.Status && a.StatusSince.Equal(b.StatusSince)
	}) {
		t.Errorf("components after import = %+v (%v), want the statuses of %+v", after, err, before)
	}
	// The audit log continues after the imported ids; a second import is refused.
	if err := to.AppendAudit(ctx, audit("reload", "config")); err != nil {
		t.Fatal(err)
	}
	entries, _ := to.ListAudit(ctx, store.AuditQuery{Limit: 1})
	if entries[0].ID <= 6 {
		t.Errorf("new audit id %d reuses an imported one", entries[0].ID)
	}
	if err := to.Import(ctx, records); !errors.Is(err, store.ErrConflict) {
		t.Errorf("import into a store with data: %v, want ErrConflict", err)
	}
}
