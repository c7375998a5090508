package engine

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store/sqlite"
)

// The helpers here serve the tests of both packages, engine and engine_test: the exported
// names exist only in test builds.

// StartForTest runs e until stop is called or the test ends. stop cancels the run, waits for Run
// to return and returns its error; it may be called more than once. An error is also reported
// when the test ends.
func StartForTest(t testing.TB, e *Engine) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// WaitFor polls cond in real time, without moving any fake clock, for up to 10 s.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

// OpenStoreForTest opens a SQLite store in the test's temporary directory. It is closed when the
// test ends, after an engine started later by StartForTest has stopped.
func OpenStoreForTest(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
