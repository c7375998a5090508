package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/redistest"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// The writer half of the crash tests runs in a child process: the test binary started again
// with UPSTATE_CRASH_WRITER set. It writes components one by one and prints "ack N" after each
// write the store acknowledged, until it is killed.
func TestMain(m *testing.M) {
	if backend := os.Getenv("UPSTATE_CRASH_WRITER"); backend != "" {
		os.Exit(crashWriter(backend, os.Getenv("UPSTATE_CRASH_TARGET")))
	}
	os.Exit(m.Run())
}

func openBackend(ctx context.Context, backend, target string) (store.Store, error) {
	if backend == "sqlite" {
		return sqlite.Open(ctx, target)
	}
	return redis.Open(ctx, redis.Options{Addrs: []string{target}, KeyPrefix: "crash"})
}

func crashWriter(backend, target string) int {
	ctx := context.Background()
	s, err := openBackend(ctx, backend, target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		return 1
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; ; i++ {
		id := "c" + strconv.Itoa(i)
		c := component.Component{ID: id, Name: id, Source: component.SourceAPI, CreatedAt: at, UpdatedAt: at}
		if err := s.CreateComponent(ctx, c, store.AuditEntry{At: at, Actor: "crash", Action: "component.create", Target: "component/" + id}); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
		if err := s.AppendStatus(ctx, component.Change{ComponentID: id, At: at, Status: component.MajorOutage}); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			return 1
		}
		fmt.Printf("ack %d\n", i) // os.Stdout is unbuffered: the ack leaves before the next write
	}
}

// killWriterAfter starts the writer, waits for n acknowledged writes, kills it with SIGKILL and
// returns the last acknowledged index.
func killWriterAfter(t *testing.T, backend, target string, n int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "UPSTATE_CRASH_WRITER="+backend, "UPSTATE_CRASH_TARGET="+target)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			last, _ = strconv.Atoi(v)
			if last+1 >= n {
				break
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Acks already in the pipe were acknowledged too.
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			last, _ = strconv.Atoi(v)
		}
	}
	_ = cmd.Wait()
	if last+1 < n {
		t.Fatalf("the writer acknowledged only %d writes before it ended", last+1)
	}
	return last
}

func checkAcknowledged(t *testing.T, s store.Store, last int) {
	t.Helper()
	ctx := t.Context()
	for i := 0; i <= last; i++ {
		c, err := s.GetComponent(ctx, "c"+strconv.Itoa(i))
		if err != nil {
			t.Fatalf("acknowledged write %d of %d lost: %v", i, last+1, err)
		}
		if c.Status != component.MajorOutage {
			t.Fatalf("acknowledged status of c%d lost: %s", i, c.Status)
		}
	}
	entries, err := s.ListAudit(ctx, store.AuditQuery{Actor: "crash", Limit: store.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < min(last+1, store.MaxAuditLimit) {
		t.Fatalf("%d audit entries survived, want at least %d", len(entries), last+1)
	}
}

func TestSQLiteSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "upstate.db")
	last := killWriterAfter(t, "sqlite", path, 200)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	checkAcknowledged(t, s, last)
}

func TestRedisSurvivesKill9(t *testing.T) {
	// appendfsync always: every acknowledged write is on disk, so even killing Redis itself loses
	// nothing. (With everysec, the documented default, at most about a second could be lost if
	// the Redis host crashes; a crash of an Upstate process loses nothing either way.)
	srv := redistest.Start(t, redistest.Options{AppendFsync: "always"})
	last := killWriterAfter(t, "redis", srv.Addr, 200)

	t.Run("upstate killed", func(t *testing.T) {
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkAcknowledged(t, s, last)
	})
	t.Run("redis killed too", func(t *testing.T) {
		srv.Kill9()
		srv.Restart()
		s, err := redis.Open(t.Context(), redis.Options{Addrs: []string{srv.Addr}, KeyPrefix: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		checkAcknowledged(t, s, last)
	})
}
