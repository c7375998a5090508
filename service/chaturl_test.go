package service_test

import (
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/service"
)

func TestCheckChatURL(t *testing.T) {
	for _, tt := range []struct {
		raw, want, err string
		private        bool
	}{
		{raw: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: " https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: "https://discord.com/api/webhooks/123456/tok-en", want: "discord://tok-en@123456"},
		{raw: "mattermost://203.0.113.9/token", want: "mattermost://203.0.113.9/token"},
		{raw: "mattermost://127.0.0.1:8065/token?disabletls=yes", err: "not a public address"},
		{raw: "mattermost://127.0.0.1:8065/token?disabletls=yes", private: true, want: "mattermost://127.0.0.1:8065/token?disabletls=yes"},
		{raw: "generic://10.0.0.7/hook", err: "not a public address"},
		{raw: "matrix://user:pass@203.0.113.9", err: `service "matrix" is not offered`},
		{raw: "https://example.com/hook", err: `service "https" is not offered`},
		{raw: "smtp://mail.example.com", err: "not offered"},
		{raw: "slack://", err: "shoutrrr accepts"},
		{raw: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook\n", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: "slack://hook:T00000000-B00000000\r\nX@webhook", err: "control characters"},
		{raw: "", err: "is required"},
		{raw: "slack://" + strings.Repeat("a", 2100), err: "longer than"},
	} {
		got, err := service.CheckChatURL(t.Context(), nil, tt.raw, tt.private)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("CheckChatURL(%q) = %q, %v; want an error with %q", tt.raw, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("CheckChatURL(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
	if got := service.ChatDestination("slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"); got != "slack://hooks.slack.com" {
		t.Errorf("ChatDestination(slack) = %q", got)
	}
	if got := service.ChatDestination("mattermost://chat.example.com/secret-token"); got != "mattermost://chat.example.com" || strings.Contains(got, "secret") {
		t.Errorf("ChatDestination(mattermost) = %q", got)
	}
}
