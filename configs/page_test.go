package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
)

// TestPageKeys: the language (a tag that matches a language is kept as that language's),
// framing, the brand's files read at load time, and visibility on groups and components.
func TestPageKeys(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"brand/logo.svg":      `<svg xmlns="http://www.w3.org/2000/svg"/>`,
		"brand/logo-dark.svg": `<svg xmlns="http://www.w3.org/2000/svg"></svg>`,
		"brand/icon.png":      "\x89PNG",
		"brand/site.css":      ".banner { border-radius: 0; }",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "upstate.yaml")
	yaml := `server:
  language: zh-CN
  frame_ancestors: ["'self'", "https://app.example.com", "https://*.example.org:8443", "*"]
  brand:
    logo: brand/logo.svg
    logo_dark: brand/logo-dark.svg
    favicon: brand/icon.png
    css: brand/site.css
    footer: "© Example Ltd · [Terms](https://example.com/terms)"
    colors: {accent: "#0a7d4f", header_background: "#102A43"}
    dark_colors: {background: "#000"}
groups:
  - {id: ops, name: Operations, visibility: internal}
  - {id: core, name: Core, visibility: public}
components:
  - {id: runner, name: Runner, group: ops}
  - {id: db, name: Database, group: core, visibility: internal}
  - {id: api, name: API, group: core}
`
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Language != "zh-Hans" {
		t.Errorf("language %q, want zh-Hans (zh-CN matched)", cfg.Server.Language)
	}
	if got := strings.Join(cfg.Server.FrameAncestors, " "); got != "'self' https://app.example.com https://*.example.org:8443 *" {
		t.Errorf("frame_ancestors %s", got)
	}
	files := cfg.BrandFiles()
	for name, f := range map[string]*configs.BrandFile{"logo": files.Logo, "logo_dark": files.LogoDark, "favicon": files.Favicon, "css": files.CSS} {
		if f == nil || len(f.Data) == 0 {
			t.Errorf("brand %s not read: %+v", name, f)
		}
	}
	if files.Favicon.ContentType != "image/png" || files.CSS.ContentType != "text/css; charset=utf-8" || files.Logo.ContentType != "image/svg+xml" {
		t.Errorf("content types: %s %s %s", files.Favicon.ContentType, files.CSS.ContentType, files.Logo.ContentType)
	}
	vis := map[string]component.Visibility{}
	for _, c := range cfg.ComponentList(time.Time{}) {
		vis[c.ID] = c.Visibility
	}
	want := map[string]component.Visibility{"ops": component.Internal, "core": component.Public, "runner": component.Public,
		"db": component.Internal, "api": component.Public}
	for id, v := range want {
		if vis[id] != v {
			t.Errorf("%s: visibility %q, want %q", id, vis[id], v)
		}
	}
	if h := component.Hidden(cfg.ComponentList(time.Time{})); !h["runner"] || !h["ops"] || !h["db"] || h["api"] || h["core"] {
		t.Errorf("hidden %v: runner is in an internal group", h)
	}

	// Unset, the page is English, not framed, unbranded.
	cfg, err = configs.Parse("plain.yaml", []byte("server:\n  title: Plain\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Language != "en" || cfg.Server.FrameAncestors != nil || cfg.BrandFiles() != (configs.BrandFiles{}) {
		t.Errorf("defaults: %q %v %+v", cfg.Server.Language, cfg.Server.FrameAncestors, cfg.BrandFiles())
	}
}
