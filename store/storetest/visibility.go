package storetest

import (
	"testing"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// testComponentVisibility: a component's visibility is kept, changed, listed and carried
// through export and import into another store (to).
func testComponentVisibility(t *testing.T, s, to store.Store) {
	ctx := t.Context()
	ops := newComponent("ops", 0)
	ops.IsGroup, ops.Visibility = true, component.Internal
	db := newComponent("db", 1)
	db.GroupID, db.Visibility = "ops", component.Internal
	api := newComponent("api", 2)
	for _, c := range []component.Component{ops, db, api} {
		mustCreate(t, s, c)
	}
	check := func(s store.Store, when string, want map[string]component.Visibility) {
		t.Helper()
		list, err := s.ListComponents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			if c.Visibility != want[c.ID] {
				t.Errorf("%s: ListComponents: %s is %q, want %q", when, c.ID, c.Visibility, want[c.ID])
			}
			got, err := s.GetComponent(ctx, c.ID)
			if err != nil || got.Visibility != want[c.ID] {
				t.Errorf("%s: GetComponent(%s) = %q, %v; want %q", when, c.ID, got.Visibility, err, want[c.ID])
			}
		}
		if len(list) != len(want) {
			t.Errorf("%s: %d components, want %d", when, len(list), len(want))
		}
	}
	check(s, "created", map[string]component.Visibility{"ops": component.Internal, "db": component.Internal, "api": component.Public})

	db.Visibility, api.Visibility = component.Public, component.Internal
	for _, c := range []component.Component{db, api} {
		if err := s.UpdateComponent(ctx, c, audit("component.update", "component/"+c.ID)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]component.Visibility{"ops": component.Internal, "db": component.Public, "api": component.Internal}
	check(s, "updated", want)

	var records []store.Record
	if err := s.Export(ctx, func(r store.Record) error { records = append(records, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := to.Import(ctx, records); err != nil {
		t.Fatal(err)
	}
	check(to, "imported", want)
}
