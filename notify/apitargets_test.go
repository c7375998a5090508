package notify_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// TestAPITargetsSync: the channels follow the store's targets at each Sync: a new one is
// sent to, signed with its secret read from the environment; a changed one is built again; one
// whose variable this instance lacks fails and is retried, saying why; a deleted one fails for
// good. The config file's target keeps its id whatever the store holds.
func TestAPITargetsSync(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recv := notifytest.StartWebhook(t, notifytest.WebhookOptions{Secret: "from-env"})
	env := map[string]string{"HOOK_SECRET": "from-env"}
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, APITargets: st, LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok },
		Targets: []notify.Target{{ID: "ops", Kind: notify.KindWebhook, URL: recv.Base + "/ops", Secret: "from-env"}}})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: st, Targets: chans, LookupEnv: func(n string) (string, bool) { v, ok := env[n]; return v, ok }})
	by := service.Actor{Name: "tester"}
	send := func(target string) error {
		n := store.Notification{ID: "ntf-" + target + time.Now().Format("150405.000000000"), Target: target, Channel: "webhook", Kind: "test", Attempts: 1,
			State: store.NotificationSending, CreatedAt: time.Now()}
		return chans.Send(t.Context(), notify.Delivery{Notification: n, Message: notify.Message{Kind: "test", Subject: "hello"}})
	}
	if _, err := svc.NotifyTargets.Create(t.Context(), by, service.TargetSpec{ID: "hook", Kind: "webhook", URL: recv.Base + "/one", Secret: "${HOOK_SECRET}"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := chans.Target("hook"); ok {
		t.Fatal("known before a Sync")
	}
	if err := chans.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := send("hook"); err != nil || len(recv.Accepted()) != 1 || recv.Accepted()[0].Path != "/one" {
		t.Fatalf("a new target: %v, accepted %d", err, len(recv.Accepted()))
	}
	url := recv.Base + "/two"
	if _, err := svc.NotifyTargets.Update(t.Context(), by, "hook", service.TargetPatch{URL: &url}); err != nil {
		t.Fatal(err)
	}
	if err := chans.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := send("hook"); err != nil || recv.Accepted()[len(recv.Accepted())-1].Path != "/two" {
		t.Errorf("a changed target: %v, %v", err, recv.Accepted())
	}
	// This instance lacks the variable now: deliveries fail, to be retried, naming it.
	delete(env, "HOOK_SECRET")
	secret := "${OTHER_SECRET}"
	env["OTHER_SECRET"] = "x"
	if _, err := svc.NotifyTargets.Update(t.Context(), by, "hook", service.TargetPatch{Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	delete(env, "OTHER_SECRET")
	if err := chans.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	var permanent *notify.Permanent
	if err := send("hook"); err == nil || errors.As(err, &permanent) || !strings.Contains(err.Error(), "environment variable OTHER_SECRET is not set") {
		t.Errorf("a target this instance cannot build: %v, want a retried failure naming the variable", err)
	}
	if err := svc.NotifyTargets.Delete(t.Context(), by, "hook"); err != nil {
		t.Fatal(err)
	}
	if err := chans.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := send("hook"); !errors.As(err, &permanent) {
		t.Errorf("a deleted target: %v, want a permanent failure", err)
	}
	if err := send("ops"); err != nil {
		t.Errorf("the config's target: %v", err)
	}
}
