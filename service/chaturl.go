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
// unless subscribers.allow_private_webhooks. The self-hosted ones (SelfHostedChat), whose posts
// Upstate cannot route through its own client, are offered on the page's form only with
// subscribers.self_hosted_chats.

// ChatServices are the shoutrrr services a subscriber may give, by scheme.
var ChatServices = []string{"slack", "teams", "discord", "googlechat", "mattermost", "rocketchat", "zulip", "telegram", "ntfy", "gotify", "generic"}

// fixedChatHosts are the services that always call their own public API, whatever the URL says
// (read in shoutrrr v0.13.2: slack posts to hooks.slack.com or slack.com/api, discord refuses
// any host but discord.com, telegram builds api.telegram.org's URL).
var fixedChatHosts = map[string]string{"slack": "hooks.slack.com", "discord": "discord.com", "telegram": "api.telegram.org"}

// controlledChats are the services whose connections are Upstate's: shoutrrr lets us give them
// our HTTP client (notify's useClient), whose dialer refuses non-public addresses when it
// connects and which follows no redirect.
var controlledChats = []string{"ntfy", "rocketchat", "discord"}

// vendorChatHost reports whether host is one of the service's vendor's own, where the URL names
// the host: Teams' <org>.webhook.office.com (shoutrrr refuses any other), Google Chat's
// chat.googleapis.com (shoutrrr takes any host: another one is self-hosted).
func vendorChatHost(scheme, host string) bool {
	switch scheme {
	case "teams":
		return strings.HasSuffix(host, ".webhook.office.com")
	case "googlechat":
		return host == "chat.googleapis.com"
	}
	return false
}

// SelfHostedChat reports whether a chat URL's service posts to a host the URL chooses through
// an HTTP client Upstate cannot give it (shoutrrr's own, or Go's default one, which follows
// redirects, and which looks the name up again after Upstate checked it): mattermost, zulip,
// gotify, generic, and googlechat at a host other than Google's. Upstate cannot hold its rule
// on private addresses for such a post, so the page's form refuses these services unless
// subscribers.self_hosted_chats (docs/security.md, "Chat subscriptions"). The vendors' services
// (slack, discord, telegram, teams, googlechat at Google's host) post first to the vendor, and
// ntfy and rocketchat post through Upstate's client.
func SelfHostedChat(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return true
	}
	if _, ok := fixedChatHosts[u.Scheme]; ok || slices.Contains(controlledChats, u.Scheme) {
		return false
	}
	host, _, err := ChatHost(raw)
	return err != nil || !vendorChatHost(u.Scheme, strings.ToLower(host))
}

// ErrSelfHostedChat: a self-hosted chat (SelfHostedChat) given on the page's form while
// subscribers.self_hosted_chats is off. Its text is the form's field message.
var ErrSelfHostedChat = errors.New("is a self-hosted chat service, which this page does not post to: its server could send our posts on to addresses inside our network")

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
// (or a Slack or Discord https webhook address, turned into one), at most 2,048 bytes, not of a
// self-hosted service (SelfHostedChat) unless selfHosted (else ErrSelfHostedChat, before any
// name is looked up), whose destination host is public unless allowPrivate. It returns the URL
// as stored.
func CheckChatURL(ctx context.Context, resolver *net.Resolver, raw string, allowPrivate, selfHosted bool) (string, error) {
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
	if !selfHosted && SelfHostedChat(u) {
		return "", ErrSelfHostedChat
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
