package statuspage

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/internal/testenv"
)

// chromium finds Debian's Chromium. Nothing downloads a browser: without one the test is
// skipped on a developer's machine and fails under CI=true.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.CI() {
		t.Fatal("chromium is not installed and CI=true: apt-get install -y chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); under CI=true this fails")
	return ""
}

// TestPageInRealBrowser loads a page with an incident and maintenance in headless Chromium:
// it must render with no console errors, no uncaught exceptions and no Content-Security-Policy
// violation (Chromium logs those as errors too, and a listener registered before each document
// loads counts securitypolicyviolation events); so must the history, the incident's page and a
// badge opened on its own. A screenshot is saved in the test's artifact directory (go test
// -artifacts keeps it).
func TestPageInRealBrowser(t *testing.T) {
	bin := chromium(t)
	f := newFixture(t)
	f.addComponents("api", "db")
	ctx := t.Context()
	for _, id := range []string{"api", "db"} {
		mustOK(t, f.store.AppendStatus(ctx, component.Change{ComponentID: id, At: t0.Add(-30 * 24 * time.Hour), Status: component.Operational}))
	}
	mustOK(t, f.store.AppendStatus(ctx, component.Change{ComponentID: "db", At: t0.Add(-3 * 24 * time.Hour), Status: component.MajorOutage}))
	mustOK(t, f.store.AppendStatus(ctx, component.Change{ComponentID: "db", At: t0.Add(-3*24*time.Hour + 90*time.Minute), Status: component.Operational}))
	r := f.do("POST", "/api/admin/v1/incidents", f.tokens[apikey.ScopeIncidents],
		`{"title":"Elevated errors on the API <script>alert(1)</script>","severity":"P1","message":"We are **investigating**.","components":[{"id":"api","impact":"partial_outage"}]}`)
	if r.code != 201 {
		t.Fatal(r.body)
	}
	incidentID := r.incident(t).ID
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance], tuesdayBody); r.code != 201 {
		t.Fatal(r.body)
	}
	srv := httptest.NewServer(f.srv)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 1400))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				problems = append(problems, "console."+string(e.Type))
			}
		case *cdplog.EventEntryAdded: // the browser's own messages: CSP violations, failed loads
			if e.Entry.Level == cdplog.EntryLevelError {
				problems = append(problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	}
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	defer cancelTimeout()
	// Runs in every document before its own content, whatever the page's policy allows.
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline")));`}); err != nil {
		t.Fatalf("browser: %v", err)
	}
	violations := func(what string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`window.__csp || ["the listener did not run"]`))
		if err != nil {
			t.Fatalf("browser: %s: CSP violations: %v", what, err)
		}
		if len(got) > 0 {
			t.Errorf("%s: Content-Security-Policy violations: %v", what, got)
		}
	}
	url := srv.URL + "/"
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	run := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	run("title", err)
	banner, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".banner h1")))
	run("banner", err)
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("main")))
	run("text", err)
	bars, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(".bars i").length`))
	run("bars", err)
	// The stylesheet loaded and applied: the banner has the outage colour, not the default.
	styled, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector(".banner")).backgroundColor !== "rgba(0, 0, 0, 0)"`))
	run("style", err)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // quality 100 writes PNG
	run("screenshot", err)
	if !styled {
		t.Error("the stylesheet did not apply")
	}
	path := filepath.Join(t.ArtifactDir(), "status-page.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	violations("/")
	for _, p := range []string{"/history", "/incidents/" + incidentID} {
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+p), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatalf("browser: %s: %v", p, err)
		}
		violations(p)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/badge/api/status.svg"), chromedp.WaitReady(chromedp.CSS("svg"))); err != nil {
		t.Fatalf("browser: badge: %v", err)
	}
	violations("the badge")
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors: %v", problems)
	}
	if title != "Acme Status" || banner != "Partial System Outage" || bars != 180 {
		t.Errorf("title %q, banner %q, %d bars", title, banner, bars)
	}
	for _, want := range []string{"Elevated errors on the API <script>alert(1)</script>", "Scheduled maintenance", "Database", "investigating"} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if len(shot) < 10_000 {
		t.Errorf("the screenshot is suspiciously small (%d bytes)", len(shot))
	}
}
