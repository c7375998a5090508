package redis_test

import (
	"errors"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
)

// TestUnavailableWhenRedisStops: with the real server killed mid-test, reads and writes (a
// WATCH transaction and a pipeline among them) answer store.ErrUnavailable, not a bare network
// error the HTTP surface would show as a 500; once it is back, the same client works again.
func TestUnavailableWhenRedisStops(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	api := component.Component{ID: "api", Name: "API", CreatedAt: at, UpdatedAt: at}
	if err := s.CreateComponent(ctx, api, store.AuditEntry{At: at, Action: "component.create"}); err != nil {
		t.Fatal(err)
	}
	srv.Kill9()
	_, getErr := s.GetComponent(ctx, "api")
	_, listErr := s.ListComponents(ctx)
	web := component.Component{ID: "web", Name: "Web", CreatedAt: at, UpdatedAt: at}
	for name, err := range map[string]error{
		"GetComponent":    getErr,
		"ListComponents":  listErr,
		"CreateComponent": s.CreateComponent(ctx, web, store.AuditEntry{At: at, Action: "component.create"}),
		"AppendStatus":    s.AppendStatus(ctx, component.Change{ComponentID: "api", At: at, Status: component.MajorOutage}),
	} {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want store.ErrUnavailable", name, err)
		}
	}
	srv.Restart()
	if _, err := s.GetComponent(ctx, "api"); err != nil {
		t.Errorf("GetComponent after Redis is back: %v", err)
	}
}
