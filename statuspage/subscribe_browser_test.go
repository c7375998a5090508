package statuspage

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// TestSubscribeFormInRealBrowser submits the subscribe form in headless Chromium with
// JavaScript switched off: choose some components, type the address, press Subscribe. The
// browser shows the answer, logs no error (a Content-Security-Policy violation included), and
// the store holds one pending subscription with what was chosen.
func TestSubscribeFormInRealBrowser(t *testing.T) {
	bin := chromium(t)
	f := newSubscribeFixture(t, service.SubscriberOptions{}, 100)
	srv := httptest.NewServer(f.srv)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 1400))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	var mu sync.Mutex
	var problems []string
	listen := func(ev any) {
		if e, ok := ev.(*cdplog.EventEntryAdded); ok && e.Entry.Level == cdplog.EntryLevelError {
			mu.Lock()
			problems = append(problems, fmt.Sprintf("%s: %s (%s)", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			mu.Unlock()
		}
	}
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancel()
	bctx, cancelTimeout := context.WithTimeout(bctx, 60*time.Second)
	defer cancelTimeout()
	if _, err := chromedp.Call(bctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("browser: no JavaScript: %v", err)
	}
	err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/subscribe"),
		chromedp.WaitVisible(chromedp.CSS("form.subscribe-form")),
		chromedp.Click(chromedp.CSS(`input[name=scope][value=some]`)),
		chromedp.Click(chromedp.CSS(`input[name=components][value=api]`)),
		chromedp.Click(chromedp.CSS(`input[name=components][value=cdn]`)),
		chromedp.SendKeys(chromedp.CSS("#address"), "ada@example.com"),
		chromedp.Click(chromedp.CSS(`form.subscribe-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".form-done")),
	)
	if err != nil {
		t.Fatalf("browser: submit the form: %v", err)
	}
	html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("main")))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err == nil {
		path := filepath.Join(t.ArtifactDir(), "subscribed.png")
		if err := os.WriteFile(path, shot, 0o644); err == nil {
			t.Logf("screenshot: %s", path)
		}
	}
	if !strings.Contains(html, "a mail with a confirmation link is on its way") {
		t.Errorf("the answer in the browser:\n%s", html)
	}
	subs := f.subscribers()
	if len(subs) != 1 || subs[0].Address != "ada@example.com" || subs[0].State != store.SubscriberPending || strings.Join(subs[0].Components, ",") != "api,cdn" {
		t.Errorf("stored %+v, want ada pending for api and cdn", subs)
	}
	// A chat room: its Slack webhook address pasted, a contact for failure notices.
	const slackHook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
	err = chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/subscribe"),
		chromedp.WaitVisible(chromedp.CSS("form.subscribe-form")),
		chromedp.Click(chromedp.CSS(`input[name=channel][value=chat]`)),
		chromedp.SendKeys(chromedp.CSS("#address"), "ops@example.com"),
		chromedp.SendKeys(chromedp.CSS("#chat_url"), slackHook),
		chromedp.Click(chromedp.CSS(`form.subscribe-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".form-done")),
	)
	if err != nil {
		t.Fatalf("browser: submit the form for a chat: %v", err)
	}
	chat, err := f.store.FindSubscriber(t.Context(), store.SubscriberLookup(store.SubscriberChat, "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"))
	if err != nil || chat.Address != "ops@example.com" || chat.State != store.SubscriberPending {
		t.Errorf("the chat subscription: %+v, %v; want it pending with ops as its contact", chat, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the browser logged errors: %v", problems)
	}
}
