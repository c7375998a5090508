package service_test

import (
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/service"
)

func TestCheckChatURL(t *testing.T) {
	for _, tt := range []struct {
		raw, want, err      string
		private, selfHosted bool
	}{
		{raw: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: " https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: "https://discord.com/api/webhooks/123456/tok-en", want: "discord://tok-en@123456"},
		{raw: "mattermost://203.0.113.9/token", selfHosted: true, want: "mattermost://203.0.113.9/token"},
		{raw: "mattermost://127.0.0.1:8065/token?disabletls=yes", selfHosted: true, err: "not a public address"},
		{raw: "mattermost://127.0.0.1:8065/token?disabletls=yes", private: true, selfHosted: true, want: "mattermost://127.0.0.1:8065/token?disabletls=yes"},
		{raw: "generic://10.0.0.7/hook", selfHosted: true, err: "not a public address"},
		// Self-hosted services are refused unless asked for, before any name is looked up.
		{raw: "mattermost://203.0.113.9/token", err: service.ErrSelfHostedChat.Error()},
		{raw: "mattermost://chat.invalid/token", private: true, err: service.ErrSelfHostedChat.Error()},
		{raw: "generic://203.0.113.9/hook?disabletls=yes", err: service.ErrSelfHostedChat.Error()},
		{raw: "zulip://bot%40example.com:key@203.0.113.9/?stream=ops", err: service.ErrSelfHostedChat.Error()},
		{raw: "gotify://203.0.113.9/Aaa.bbb.ccc.ddd", err: service.ErrSelfHostedChat.Error()},
		{raw: "googlechat://203.0.113.9/v1/spaces/FOO/messages?key=bar&token=baz", err: service.ErrSelfHostedChat.Error()},
		{raw: "ntfy://203.0.113.9/alerts", want: "ntfy://203.0.113.9/alerts"},
		{raw: "rocketchat://203.0.113.9/tokenA/tokenB/ops", want: "rocketchat://203.0.113.9/tokenA/tokenB/ops"},
		{raw: "rocketchat://127.0.0.1/tokenA/tokenB/ops", err: "not a public address"},
		{raw: "matrix://user:pass@203.0.113.9", err: `service "matrix" is not offered`},
		{raw: "https://example.com/hook", err: `service "https" is not offered`},
		{raw: "smtp://mail.example.com", err: "not offered"},
		{raw: "slack://", err: "shoutrrr accepts"},
		{raw: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook\n", want: "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook"},
		{raw: "slack://hook:T00000000-B00000000\r\nX@webhook", err: "control characters"},
		{raw: "", err: "is required"},
		{raw: "slack://" + strings.Repeat("a", 2100), err: "longer than"},
	} {
		got, err := service.CheckChatURL(t.Context(), nil, tt.raw, tt.private, tt.selfHosted)
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

// TestSelfHostedChat: the services whose host the URL chooses and whose connections are not
// ours are self-hosted; the vendors' (at the vendor's host) and the ones given our client are not.
func TestSelfHostedChat(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook", false},
		{"slack://xoxb:1234-5678@C001", false},
		{"discord://token@123456", false},
		{"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@ops", false},
		{"teams://group@tenant/altId/groupOwner/extraId?host=example.webhook.office.com", false},
		{"teams://group@tenant/altId/groupOwner/extraId?host=127.0.0.1", true},
		{"googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=bar&token=baz", false},
		{"googlechat://CHAT.googleapis.com/v1/spaces/FOO/messages?key=bar&token=baz", false},
		{"googlechat://evil.example/v1/spaces/FOO/messages?key=bar&token=baz", true},
		{"ntfy://ntfy.example.com/alerts", false},
		{"ntfy:///alerts", false},
		{"rocketchat://chat.example.com/tokenA/tokenB/ops", false},
		{"mattermost://chat.example.com/token", true},
		{"zulip://bot%40example.com:key@chat.example.com/?stream=ops", true},
		{"gotify://push.example.com/token", true},
		{"generic://hooks.example.com/hook", true},
		{"generic+https://hooks.example.com/hook", true},
		{"%%", true},
	} {
		if got := service.SelfHostedChat(tt.raw); got != tt.want {
			t.Errorf("SelfHostedChat(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}
