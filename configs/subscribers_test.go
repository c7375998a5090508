package configs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
)

// TestExampleSubscribers: the example offers subscriptions, its mail going to a local catcher.
func TestExampleSubscribers(t *testing.T) {
	cfg, err := configs.Load("upstate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Subscribers
	if !cfg.SubscribersOn() || !cfg.WebhookSubscriptions() || s.AllowPrivateWebhooks || s.ConfirmWithin != 48*time.Hour ||
		s.SuspendAfter != 24*time.Hour || s.RecipientLimit != 3 || s.ClientLimit != 10 || s.MailConnections != 16 {
		t.Errorf("subscribers %+v (on %v)", s, cfg.SubscribersOn())
	}
	if cfg.Notify.SMTP.Host != "127.0.0.1" || cfg.Notify.SMTP.Port != 1025 {
		t.Errorf("the example's mail goes to %s:%d, want the local catcher", cfg.Notify.SMTP.Host, cfg.Notify.SMTP.Port)
	}
	file := filepath.Join(t.TempDir(), "upstate.yaml")
	if err := os.WriteFile(file, []byte("server:\n  title: Plain\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	off, err := configs.Load(file)
	if err != nil || off.SubscribersOn() {
		t.Errorf("a file without notify.smtp offers subscriptions (%v)", err)
	}
}
