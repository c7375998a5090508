// Package layout holds the test that keeps the dependency rules of STYLE.md section 1.
package layout

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/upstate-dev/upstate"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// The domain packages: standard library and each other only, plus the few pure libraries each is
// explicitly allowed (no I/O, no infrastructure).
var domain = []string{"calendar", "component", "probe", "incidents", "maintenance", "availability", "apikey"}

var domainAllowed = map[string][]string{
	"apikey":      {"golang.org/x/crypto/"},                                                                                                                                          // bcrypt
	"maintenance": {"github.com/teambition/rrule-go"},                                                                                                                                // RRULE parsing and expansion (floating mode)
	"probe":       {"github.com/miekg/dns", "golang.org/x/", "github.com/robfig/cron/", "github.com/prometheus-community/pro-bing", "github.com/google/uuid", "github.com/tidwall/"}, // probers do network I/O: DNS messages (and x/net, x/sys under it); heartbeats expect cron schedules; ICMP via pro-bing (and its uuid); JSON assertions via gjson
}

func allowed(pkg, dep string) bool {
	for _, prefix := range domainAllowed[pkg] {
		if strings.HasPrefix(dep, prefix) {
			return true
		}
	}
	return false
}

// Packages only one place may import directly.
var soleImporter = map[string]string{
	"github.com/labstack/echo/v4":  "statuspage",
	"github.com/gorilla/feeds":     "statuspage",
	"github.com/redis/go-redis/v9": "store/redis",
	"modernc.org/sqlite":           "store/sqlite",
}

func TestDependencyRules(t *testing.T) {
	pkgs := listPackages(t)
	for _, name := range []string{"cmd/upstate", "configs", "engine", "statuspage", "store", "store/sqlite", "store/redis", "store/storetest", "assets", "notify"} {
		if _, ok := pkgs[name]; !ok {
			t.Errorf("package %s is missing from the layout", name)
		}
	}
	for _, name := range domain {
		p, ok := pkgs[name]
		if !ok {
			t.Errorf("domain package %s is missing", name)
			continue
		}
		for _, d := range p.Deps {
			local, isLocal := strings.CutPrefix(d, module+"/")
			switch {
			case isLocal && !slices.Contains(domain, local):
				t.Errorf("domain package %s depends on %s: the domain never imports %s", name, local, local)
			case !isLocal && strings.Contains(strings.SplitN(d, "/", 2)[0], ".") && !allowed(name, d):
				t.Errorf("domain package %s depends on %s: the domain uses the standard library only", name, d)
			}
		}
	}
	for name, p := range pkgs {
		for _, imp := range p.Imports {
			if owner, ok := soleImporter[imp]; ok && name != owner && !strings.HasSuffix(name, "_test") {
				t.Errorf("%s imports %s; only %s may", name, imp, owner)
			}
			if imp == module+"/cmd/upstate" {
				t.Errorf("%s imports cmd/upstate; nothing may", name)
			}
		}
	}
	for _, d := range pkgs["configs"].Deps {
		for _, banned := range []string{"/engine", "/statuspage", "/store"} {
			if strings.HasPrefix(d, module+banned) {
				t.Errorf("configs depends on %s; config structs must not pull in the runtime", d)
			}
		}
	}
}
