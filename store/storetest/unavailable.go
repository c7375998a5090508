package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// testUnavailableAfterClose: a backend that cannot be reached answers store.ErrUnavailable,
// for reads and writes alike, and never ErrNotFound (which would tell a caller something false
// about the data). A closed store is the one unreachable backend every backend has. (Writes
// under a Redis WATCH are left out: go-redis's Cluster client still runs them after Close, on
// node clients it creates again; store/redis's own test stops a real server instead.)
func testUnavailableAfterClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreate(t, s, newComponent("api", 0))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checks := []struct {
		name string
		err  error
	}{}
	add := func(name string, err error) {
		checks = append(checks, struct {
			name string
			err  error
		}{name, err})
	}
	_, err := s.ListComponents(ctx)
	add("ListComponents", err)
	_, err = s.GetComponent(ctx, "api")
	add("GetComponent", err)
	add("AppendStatus", s.AppendStatus(ctx, component.Change{ComponentID: "api", At: t0, Status: component.MajorOutage}))
	_, err = s.GetKey(ctx, "aaaaaaaaaaaaaaaa")
	add("GetKey", err)
	_, err = s.ListIncidents(ctx, store.IncidentQuery{OpenOnly: true})
	add("ListIncidents", err)
	_, err = s.GetIncident(ctx, "inc-1")
	add("GetIncident", err)
	_, err = s.ListWindows(ctx)
	add("ListWindows", err)
	_, err = s.ListAudit(ctx, store.AuditQuery{Limit: 1})
	add("ListAudit", err)
	_, err = s.StatusTimeline(ctx, "api", t0, t0.Add(time.Hour))
	add("StatusTimeline", err)
	for _, c := range checks {
		if !errors.Is(c.err, store.ErrUnavailable) || errors.Is(c.err, store.ErrNotFound) {
			t.Errorf("%s on a closed store: %v, want store.ErrUnavailable", c.name, c.err)
		}
	}
}
