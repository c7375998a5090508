package statuspage

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/store"
)

// BenchmarkStatusPage renders / for 20 groups of 10 components, read from SQLite each time
// (the fixture turns the page cache off, so this is the cost of one render).
func BenchmarkStatusPage(b *testing.B) {
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
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkAdminAuthCached is an authenticated admin read whose key is already verified: no
// bcrypt comparison, one SHA-256.
func BenchmarkAdminAuthCached(b *testing.B) {
	f := newFixture(b)
	token := f.tokens[apikey.ScopeRead]
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/admin/v1/components", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
