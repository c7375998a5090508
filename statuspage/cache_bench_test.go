package statuspage

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// BenchmarkCacheBustingClient is a client that adds a random query parameter to every request
// for / (the page of BenchmarkStatusPage: 20 groups of 10 components), with the cache on as
// `upstate serve` runs it: every request is a cache hit, where the cache keyed by the whole URI
// rendered each one.
func BenchmarkCacheBustingClient(b *testing.B) {
	f := newFixture(b)
	for g := range 20 {
		gid := fmt.Sprintf("g%d", g)
		mustOK(b, f.store.CreateComponent(b.Context(), component.Component{ID: gid, Name: "Group " + gid, IsGroup: true, Position: g * 11, CreatedAt: t0, UpdatedAt: t0}, store.AuditEntry{At: t0}))
		for c := range 10 {
			id := fmt.Sprintf("%s-c%d", gid, c)
			mustOK(b, f.store.CreateComponent(b.Context(), component.Component{ID: id, Name: "Component " + id, GroupID: gid, Position: g*11 + c + 1, CreatedAt: t0, UpdatedAt: t0}, store.AuditEntry{At: t0}))
			mustOK(b, f.store.AppendStatus(b.Context(), component.Change{ComponentID: id, At: t0, Status: component.Operational}))
		}
	}
	srv := cachedServer(b, f, f.store, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("/?r=%d", i), nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
