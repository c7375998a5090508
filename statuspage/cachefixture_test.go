package statuspage

import (
	"context"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// countingStore is the fixture's real store, counting the reads that show renders: each render
// of /api/v1/incidents and of the v2 JSON lists incidents once.
type countingStore struct {
	Store
	mu    sync.Mutex
	lists int
}

func (c *countingStore) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error) {
	c.mu.Lock()
	c.lists++
	c.mu.Unlock()
	return c.Store.ListIncidents(ctx, q)
}

func (c *countingStore) incidentLists() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists
}

// cachedFixture is the fixture served as `upstate serve` serves: the response cache on with its
// default bounds, changes made through a service that publishes on a bus the server follows.
func cachedFixture(t *testing.T) (*fixture, *countingStore) {
	t.Helper()
	f := newFixture(t)
	cs := &countingStore{Store: f.store}
	f.srv = cachedServer(t, f, cs, events.NewBus(nil))
	return f, cs
}

// cachedServer is a second server on the fixture's store, with its own cache and key cache,
// as another instance would be.
func cachedServer(t testing.TB, f *fixture, st Store, bus *events.Bus) *Server {
	t.Helper()
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Bus: bus, Policies: f.srv.sla.Policies, DefaultPolicy: f.srv.sla.DefaultPolicy})
	srv, err := New(Options{Store: st, Service: svc, Bus: bus, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		Version: "test", MaxBodyBytes: 4096, Page: f.srv.page, SLA: f.srv.sla, Reports: f.srv.reports})
	if err != nil {
		t.Fatal(err)
	}
	stop := srv.followEvents()
	t.Cleanup(func() {
		stop()
		srv.cache.wait()
	})
	return srv
}

// get sends an authenticated GET to srv from addr.
func get(srv *Server, addr, path, token string) response {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = addr + ":4321"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.Bytes(), rec.Header()}
}

// settle waits until the server has applied every event published so far.
func settle(srv *Server) {
	for srv.eventsPending() > 0 {
		runtime.Gosched()
	}
}
