package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentOverrides(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"UPSTATE_SERVER_LISTEN":           "0.0.0.0:9090",
		"UPSTATE_SERVER_SHUTDOWN_TIMEOUT": "3s",
		"UPSTATE_SERVER_PUBLIC_MONITORS":  "true",
		"UPSTATE_STORAGE_BACKEND":         "redis",
		"UPSTATE_STORAGE_REDIS_ADDRS":     "10.0.0.1:6379, 10.0.0.2:6379",
		"UPSTATE_STORAGE_REDIS_PASSWORD":  "s3cret",
		"UPSTATE_LOG_LEVEL":               "debug",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Parse("upstate.example.yaml", data, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "0.0.0.0:9090" || cfg.Server.ShutdownTimeout != 3*time.Second || !cfg.Server.PublicMonitors ||
		cfg.Storage.Backend != "redis" || strings.Join(cfg.Storage.Redis.Addrs, ",") != "10.0.0.1:6379,10.0.0.2:6379" ||
		cfg.Storage.Redis.Password != "s3cret" || cfg.Log.Level != "debug" {
		t.Errorf("overrides not applied: server %+v storage %+v log %+v", cfg.Server, cfg.Storage, cfg.Log)
	}
	// The file's value stays where no variable is set.
	if cfg.Server.Title == "" || cfg.Location.String() != "Asia/Shanghai" {
		t.Errorf("a key without a variable lost the file's value: %q %v", cfg.Server.Title, cfg.Location)
	}

	tests := []struct {
		name, key, value, want string
	}{
		{"unparsable duration", "UPSTATE_SERVER_SHUTDOWN_TIMEOUT", "soon",
			`$UPSTATE_SERVER_SHUTDOWN_TIMEOUT: server.shutdown_timeout: invalid duration "soon"`},
		{"unparsable bool", "UPSTATE_SERVER_PUBLIC_MONITORS", "maybe",
			`$UPSTATE_SERVER_PUBLIC_MONITORS: server.public_monitors: invalid value "maybe": must be true or false`},
		{"a value the rules refuse", "UPSTATE_SERVER_LISTEN", "nowhere",
			`$UPSTATE_SERVER_LISTEN: server.listen: invalid address "nowhere"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("upstate.example.yaml", data, func(k string) (string, bool) {
				if k == tt.key {
					return tt.value, true
				}
				return "", false
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestEnvKeysAreUniqueAndCoverTheScalars(t *testing.T) {
	keys := EnvKeys()
	seen := map[string]string{}
	for _, k := range keys {
		if prev, dup := seen[k[1]]; dup {
			t.Errorf("%s names both %s and %s", k[1], prev, k[0])
		}
		seen[k[1]] = k[0]
	}
	for _, want := range []string{"UPSTATE_SERVER_LISTEN", "UPSTATE_STORAGE_REDIS_ADDRS", "UPSTATE_STORAGE_SQLITE_PATH", "UPSTATE_SERVER_PUBLIC_URL"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("%s is not an override", want)
		}
	}
}

// TestEnvTableInDocs keeps docs/configuration.md's table of variables equal to the code.
func TestEnvTableInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range EnvKeys() {
		if row := "| `" + k[1] + "` | `" + k[0] + "` |"; !strings.Contains(string(doc), row) {
			t.Errorf("docs/configuration.md lacks the row %s", row)
		}
	}
}
