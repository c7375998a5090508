package sqlite_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

func benchStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppendStatus is one durable (synchronous=FULL) status change.
func BenchmarkAppendStatus(b *testing.B) {
	s := benchStore(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateComponent(b.Context(), component.Component{ID: "api", Name: "API", CreatedAt: at, UpdatedAt: at}, store.AuditEntry{At: at}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.AppendStatus(b.Context(), component.Change{ComponentID: "api", At: at.Add(time.Duration(i) * time.Second), Status: component.Operational}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddRollups1000 writes one flush of 1,000 monitors x 3 resolutions in one transaction.
func BenchmarkAddRollups1000(b *testing.B) {
	s := benchStore(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batch []probe.Rollup
	for m := range 1000 {
		for _, res := range probe.Resolutions {
			r := probe.Rollup{MonitorID: fmt.Sprintf("m%d", m), Resolution: res, Start: res.Truncate(at)}
			r.Add(probe.Result{OK: true, Duration: 20 * time.Millisecond})
			batch = append(batch, r)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.AddRollups(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmallReads is what the engine asks for each component change and each monitor at
// start-up: the open incidents of a component (there are none), the component, and a monitor's
// last transition.
func BenchmarkSmallReads(b *testing.B) {
	s := benchStore(b)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.CreateComponent(b.Context(), component.Component{ID: "api", Name: "API", CreatedAt: at, UpdatedAt: at}, store.AuditEntry{At: at}); err != nil {
		b.Fatal(err)
	}
	if err := s.AppendTransition(b.Context(), probe.Transition{MonitorID: "m", At: at, From: probe.StateUnknown, To: probe.StateUp}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ListIncidents(b.Context(), store.IncidentQuery{OpenOnly: true, ComponentID: "api"}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.GetComponent(b.Context(), "api"); err != nil {
			b.Fatal(err)
		}
		if _, err := s.LastTransition(b.Context(), "m"); err != nil {
			b.Fatal(err)
		}
	}
}
