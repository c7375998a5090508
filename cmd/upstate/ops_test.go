package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
)

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		if code, out, _ := runCLI(arg); code != 0 || !strings.HasPrefix(out, "upstate "+version+" (") {
			t.Errorf("%s: exit %d, %q", arg, code, out)
		}
	}
}

// TestHealthcheckAndSystemdNotify runs serve under a fake systemd (a real unixgram socket as
// NOTIFY_SOCKET): it says READY=1 once it accepts requests and STOPPING=1 when it stops; the
// healthcheck command exits 0 against it (by -config, as the container runs it, and by -url),
// and 1 against an address nothing listens on or a server that is not ready.
func TestHealthcheckAndSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	notices := make(chan string, 8)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			notices <- string(buf[:n])
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-notices:
			if got != want {
				t.Fatalf("systemd was told %q, want %q", got, want)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("systemd was not told %q", want)
		}
	}

	addr := freeAddr(t)
	path := writeConfig(t, fmt.Sprintf("server:\n  listen: %s\n  shutdown_timeout: 5s\n", addr))
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveConfig(ctx, cfg, "", slog.New(slog.DiscardHandler)) }()
	expect("READY=1")
	if code, out, stderr := runCLI("healthcheck", "-config", path); code != 0 || !strings.Contains(out, "/readyz") {
		t.Errorf("healthcheck -config: exit %d %s %s", code, out, stderr)
	}
	if code, _, stderr := runCLI("healthcheck", "-url", "http://"+addr+"/readyz"); code != 0 {
		t.Errorf("healthcheck -url: exit %d %s", code, stderr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	expect("STOPPING=1")

	if code, _, stderr := runCLI("healthcheck", "-url", "http://"+addr+"/readyz", "-timeout", "1s"); code != 1 || stderr == "" {
		t.Errorf("healthcheck of a stopped server: exit %d %q, want 1 with a reason", code, stderr)
	}
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"code":"unavailable"}}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(notReady.Close)
	if code, _, stderr := runCLI("healthcheck", "-url", notReady.URL+"/readyz"); code != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("healthcheck of a server answering 503: exit %d %q, want 1 naming the status", code, stderr)
	}
}
