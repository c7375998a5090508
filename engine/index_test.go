package engine

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/probe"
)

// The index of monitors by component follows every reload: monitors added, removed, and moved
// from one component to another.
func TestComponentIndexFollowsReloads(t *testing.T) {
	ctx := t.Context()
	s := OpenStoreForTest(t)
	now := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	SyncForTest(t, s, now, component.Component{ID: "a", Name: "A", Source: component.SourceConfig},
		component.Component{ID: "b", Name: "B", Source: component.SourceConfig})
	mon := func(id, comp string) probe.Monitor {
		return probe.Monitor{ID: id, ComponentID: comp, Kind: probe.KindHTTP, Interval: time.Minute, Timeout: time.Second,
			HTTP: &probe.HTTPSpec{URL: "http://127.0.0.1:9/"}}
	}
	e, err := New(Options{Store: s, Clock: clockwork.NewFakeClockAt(now), Monitors: []probe.Monitor{mon("m1", "a"), mon("m2", "a"), mon("m3", "b")}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(want map[string][]string) {
		t.Helper()
		got := map[string][]string{}
		for comp, rs := range e.byComponent {
			for _, r := range rs {
				if e.monitors[r.m.ID] != r {
					t.Errorf("the index holds a runner of %s that is not the running one", r.m.ID)
				}
				got[comp] = append(got[comp], r.m.ID)
			}
			slices.Sort(got[comp])
		}
		if !maps.EqualFunc(got, want, slices.Equal) {
			t.Errorf("monitors by component = %v, want %v", got, want)
		}
	}
	check(map[string][]string{"a": {"m1", "m2"}, "b": {"m3"}})
	// m1 removed, m2 moved to b with a changed interval, m3 changed in place, m4 added to a.
	m3 := mon("m3", "b")
	m3.Interval = 2 * time.Minute
	if _, err := e.Reload(ctx, []probe.Monitor{mon("m2", "b"), m3, mon("m4", "a")}, nil); err != nil {
		t.Fatal(err)
	}
	check(map[string][]string{"a": {"m4"}, "b": {"m2", "m3"}})
	if _, err := e.Reload(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	check(map[string][]string{})
}
