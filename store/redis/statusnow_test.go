package redis_test

import (
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store/redis"
)

// TestStatusNowFromVersion1 opens a store written by a build before the current-status hash
// (layout version 1: components and timelines only): opening fills the hash from the timelines
// once and records version 2, so the components list with their statuses.
func TestStatusNowFromVersion1(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := t.Context()
	at := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)
	rdb.Set(ctx, "v1:{meta}:schema", 1, 0)
	for _, id := range []string{"api", "db"} {
		rdb.HSet(ctx, "v1:{meta}:components", id, `{"id":"`+id+`","name":"`+id+`","position":0,"source":"config","created_at":0,"updated_at":0}`)
	}
	ms := at.UnixMilli()
	rdb.ZAdd(ctx, "v1:{c:api}:timeline",
		goredis.Z{Score: float64(ms - 60000), Member: `{"at":` + strconv.FormatInt(ms-60000, 10) + `,"status":"operational","reason":""}`},
		goredis.Z{Score: float64(ms), Member: `{"at":` + strconv.FormatInt(ms, 10) + `,"status":"major_outage","reason":"down"}`})

	s, err := redis.Open(ctx, redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.ListComponents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]component.Component{}
	for _, c := range list {
		got[c.ID] = c
	}
	if c := got["api"]; c.Status != component.MajorOutage || !c.StatusSince.Equal(at) {
		t.Errorf("api = %s since %s, want major_outage since %s", c.Status, c.StatusSince, at)
	}
	if c := got["db"]; c.Status != component.Unknown {
		t.Errorf("db (no timeline) = %s, want unknown", c.Status)
	}
	if v, _ := rdb.Get(ctx, "v1:{meta}:schema").Int(); v != redis.SchemaVersion {
		t.Errorf("layout version after open = %d, want %d", v, redis.SchemaVersion)
	}
	if n, _ := rdb.HLen(ctx, "v1:{meta}:status-now").Result(); n != 1 {
		t.Errorf("status-now holds %d ids, want 1 (api)", n)
	}
}
