package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
)

// serveInProcess runs `upstate serve` on the config at path, in this process, until the test
// ends; the test fails if serve ends with an error or does not stop within 20 s of its end.
func serveInProcess(t *testing.T, path string) {
	t.Helper()
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serveConfig(ctx, cfg, "", slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
}

// createKey makes an API key with the scopes given (comma-separated) in the store of the config
// at path, as `upstate keys create` does, and returns its token.
func createKey(t *testing.T, path, name, scopes string) string {
	t.Helper()
	code, token, stderr := runCLI("keys", "create", "-config", path, "-name", name, "-scope", scopes)
	if code != 0 {
		t.Fatalf("keys create: %s", stderr)
	}
	return strings.TrimSpace(token)
}
