package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
)

// Chat subscriptions (docs/subscribers.md): a shoutrrr URL for a chat room. Only services whose
// setup contacts nobody are offered (matrix's logs in while its URL is parsed: not offered), and
// each one's destination host is known, so the webhook rule applies: the host must be public
// unless subscribers.allow_private_webhooks.

// ChatServices are the shoutrrr services a subscriber may give, by scheme.
var ChatServices = []string{"slack", "teams", "discord", "googlechat", "mattermost", "rocketchat", "zulip", "telegram", "ntfy", "gotify", "generic"}

// fixedChatHosts are the services that always call their own public API, whatever the URL says.
var fixedChatHosts = map[string]string{"slack": "hooks.slack.com", "discord": "discord.com", "telegram": "api.telegram.org"}

// ChatHost is the host a chat URL's service connects to, and whether it is the service's own
// (fixed, public) rather than one the URL names.
func ChatHost(raw string) (host string, fixed bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, errors.New("is not a URL")
	}
	if h, ok := fixedChatHosts[u.Scheme]; ok {
		return h, true, nil
	}
	switch u.Scheme {
	case "teams":
		host = u.Query().Get("host") // the organisation's <org>.webhook.office.com
	case "ntfy":
		host = u.Hostname()
		if host == "" {
			host = "ntfy.sh"
		}
	default:
		host = u.Hostname()
	}
	if host == "" {
		return "", false, errors.New("names no host")
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host, false, nil
}

// chatWebhooks turns the https addresses Slack and Discord hand out into shoutrrr's URLs, so a
// subscriber may paste either.
func chatWebhooks(u *url.URL) (string, bool) {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case u.Scheme == "https" && u.Host == "hooks.slack.com" && len(parts) == 4 && parts[0] == "services":
		return "slack://hook:" + parts[1] + "-" + parts[2] + "-" + parts[3] + "@webhook", true
	case u.Scheme == "https" && (u.Host == "discord.com" || u.Host == "discordapp.com") && len(parts) == 4 && parts[0] == "api" && parts[1] == "webhooks":
		return "discord://" + parts[3] + "@" + parts[2], true
	}
	return "", false
}

// CheckChatURL accepts a chat URL: a shoutrrr URL of one of ChatServices that shoutrrr parses
// (or a Slack or Discord https webhook address, turned into one), at most 2,048 bytes, whose
// destination host is public unless allowPrivate. It returns the URL as stored.
func CheckChatURL(ctx context.Context, resolver *net.Resolver, raw string, allowPrivate bool) (string, error) {
	u, err := urlText(raw)
	if err != nil {
		return "", err
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme == "" {
		return "", errors.New("is not a chat URL: want slack://, teams://, discord://, mattermost://... (shoutrrr's URLs)")
	}
	if converted, ok := chatWebhooks(parsed); ok {
		u = converted
		parsed, _ = url.Parse(u)
	}
	if !slices.Contains(ChatServices, parsed.Scheme) {
		return "", fmt.Errorf("service %q is not offered: want one of %s", clipText(parsed.Scheme, 40), strings.Join(ChatServices, ", "))
	}
	if _, err := (&router.ServiceRouter{}).Locate(u); err != nil {
		return "", fmt.Errorf("is not a %s URL shoutrrr accepts: %v", parsed.Scheme, clipText(err.Error(), 200))
	}
	host, fixed, err := ChatHost(u)
	if err != nil {
		return "", err
	}
	if !fixed {
		if err := CheckPublicHost(ctx, resolver, host, allowPrivate); err != nil {
			return "", err
		}
	}
	return u, nil
}

// ChatDestination is what a chat URL may show where its token must not: the service and the
// host it reaches ("slack://hooks.slack.com", no token).
func ChatDestination(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "chat"
	}
	host, _, err := ChatHost(raw)
	if err != nil {
		return u.Scheme
	}
	return u.Scheme + "://" + host
}
