package statuspage

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
)

var screenshots = flag.Bool("screenshots", false, "write the README's screenshots (English, Chinese, the embed) to ../docs")

// TestLanguagesAndEmbedInRealBrowser loads the page in Simplified Chinese (/?lang=zh-CN) in
// headless Chromium, then a page of another loopback origin (another port: another origin)
// that embeds /embed in an <iframe>: with server.frame_ancestors naming that origin the widget
// shows in the frame, with no console error or CSP violation; unset, Chromium refuses to
// frame it. -screenshots writes docs/screenshot.png, docs/screenshot-zh.png and
// docs/screenshot-embed.png from the golden fixture.
func TestLanguagesAndEmbedInRealBrowser(t *testing.T) {
	bin := chromium(t)
	f := goldenFixture(t)
	var statusURL string
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme app</title></head>
<body style="font-family: sans-serif; margin: 24px; background: #f3f4f6"><h1 style="font-size: 20px">Acme app: your dashboard</h1>
<p>Our service status, embedded from the status page:</p>
<iframe id="w" src="%s/embed" width="420" height="250" title="Service status" style="border: 1px solid #d1d5db; border-radius: 8px; background: #fff"></iframe>
</body></html>`, statusURL)
	}))
	t.Cleanup(host.Close)

	for _, framed := range []bool{true, false} {
		t.Run(fmt.Sprintf("frame_ancestors=%v", framed), func(t *testing.T) {
			page := f.srv.page
			if framed {
				page.FrameAncestors = []string{host.URL}
			}
			srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), Version: "test",
				Page: page, SLA: f.srv.sla, Reports: f.srv.reports, CacheTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			status := httptest.NewServer(srv)
			t.Cleanup(status.Close)
			statusURL = status.URL
			b := newChromeTab(t, bin)

			if framed { // the page in both languages, once
				shotEN := b.load(status.URL+"/", "main")
				if got := b.eval(`document.documentElement.lang`); got != "en" {
					t.Errorf("/ is in %q", got)
				}
				shotZH := b.load(status.URL+"/?lang=zh-CN", "main")
				if got := b.eval(`document.documentElement.lang`); got != "zh-Hans" {
					t.Errorf("/?lang=zh-CN is in %q", got)
				}
				if got := b.eval(`document.querySelector(".banner h1").textContent`); got != "部分系统中断" {
					t.Errorf("the Chinese banner reads %q", got)
				}
				if got := b.eval(`document.querySelector('link[hreflang="en"]').href`); got != "https://status.example.com/?lang=en" {
					t.Errorf("hreflang en: %q", got)
				}
				b.noProblems("/?lang=zh-CN")
				b.save("screenshot.png", shotEN)
				b.save("screenshot-zh.png", shotZH)
			}

			b.load(host.URL+"/", "iframe#w")
			frame, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSS("iframe#w")))
			if err != nil || len(frame) != 1 {
				t.Fatalf("the iframe: %v", err)
			}
			qctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			defer cancel()
			text, err := chromedp.Run(qctx, chromedp.Text(chromedp.CSS(".now"), chromedp.FromNode(frame[0])))
			refused := b.refusedFrame()
			switch {
			case framed && (err != nil || !strings.Contains(text, "Partial System Outage")):
				t.Errorf("the embed did not show in the frame of %s: %q, %v (%v)", host.URL, text, err, b.problems)
			case framed:
				b.noProblems("the host page with /embed")
				if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(540, 360)); err != nil {
					t.Fatalf("browser: %v", err)
				}
				b.save("screenshot-embed.png", b.screenshot())
			case err == nil || !refused:
				t.Errorf("with frame_ancestors unset, the embed showed in another origin's frame (%q), or the browser did not say it refused it (%v)", text, b.problems)
			}
		})
	}
}

// chromeTab is one headless Chromium tab that collects console errors, exceptions and CSP
// violations.
type chromeTab struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newChromeTab(t *testing.T, bin string) *chromeTab {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1100, 1400))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancelAlloc)
	b := &chromeTab{t: t}
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				b.problems = append(b.problems, "console.error")
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	}))
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	b.ctx = ctx
	return b
}

// load navigates to url, waits for sel and returns a screenshot.
func (b *chromeTab) load(url, sel string) []byte {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("browser: %s: %v", url, err)
	}
	time.Sleep(200 * time.Millisecond) // let frames and images settle before the screenshot
	return b.screenshot()
}

func (b *chromeTab) screenshot() []byte {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser: screenshot: %v", err)
	}
	return shot
}

func (b *chromeTab) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

func (b *chromeTab) noProblems(what string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) > 0 {
		b.t.Errorf("%s: the browser logged errors: %v", what, b.problems)
	}
	b.problems = nil
}

// refusedFrame reports whether the browser said it refused to frame a page.
func (b *chromeTab) refusedFrame() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		if strings.Contains(p, "frame-ancestors") || strings.Contains(p, "X-Frame-Options") {
			return true
		}
	}
	return false
}

// save keeps a screenshot in the test's artifacts, and in docs/ with -screenshots.
func (b *chromeTab) save(name string, shot []byte) {
	b.t.Helper()
	if len(shot) < 5_000 {
		b.t.Errorf("the screenshot %s is suspiciously small (%d bytes)", name, len(shot))
	}
	dirs := []string{b.t.ArtifactDir()}
	if *screenshots {
		dirs = append(dirs, filepath.Join("..", "docs"))
	}
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}
