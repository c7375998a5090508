package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/probe"
)

// BenchmarkScrape10k gathers the metrics of 10,000 monitors that have run: what one Prometheus
// scrape costs the engine.
func BenchmarkScrape10k(b *testing.B) {
	reg := prometheus.NewRegistry()
	var monitors []probe.Monitor
	for i := range 10000 {
		monitors = append(monitors, probe.Monitor{ID: fmt.Sprintf("m%05d", i), ComponentID: "c", Kind: probe.KindHTTP,
			Interval: 10 * time.Second, Timeout: 5 * time.Second, HTTP: &probe.HTTPSpec{URL: "http://127.0.0.1/"}})
	}
	clock := clockwork.NewFakeClock()
	e, err := New(Options{Store: nopStore{}, Clock: clock, Registerer: reg, Monitors: monitors})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range e.monitors {
		r.stats.observe(probe.Result{At: clock.Now(), OK: true, Duration: 3 * time.Millisecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// nopStore satisfies Store for an engine that is built but never run.
type nopStore struct{ Store }
