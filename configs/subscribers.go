package configs

import "time"

// Subscribers configures subscriptions from the page: email, or a webhook with an address for
// its failure notices, confirmed by a mailed link (docs/subscribers.md). They need a mail server
// (notify.smtp): without one the page offers no subscription.
type Subscribers struct {
	// Enabled: the page offers subscriptions. Default: on when notify.smtp is set.
	Enabled *bool `yaml:"enabled"`
	// Webhooks: the form offers a webhook as well as email. Default true.
	Webhooks *bool `yaml:"webhooks"`
	// Chats: the form offers a chat room (a shoutrrr URL: Slack, Teams, Discord, Google Chat,
	// Telegram, ntfy...; the self-hosted ones only with SelfHostedChats) as well. Default true.
	Chats *bool `yaml:"chats"`
	// AllowPrivateWebhooks lets webhook and chat URLs point at loopback, private and link-local
	// addresses (an intranet; a local try-out). Default false: such URLs are refused, when
	// given and when each request is made.
	AllowPrivateWebhooks bool `yaml:"allow_private_webhooks"`
	// SelfHostedChats lets the page's form take chats of self-hosted services (mattermost,
	// zulip, gotify, generic, googlechat at a host other than Google's): their posts go to a host
	// the subscriber chose through shoutrrr's own HTTP client, which Upstate cannot give its
	// connect-time address check, and which follows redirects. Default false: the form refuses
	// them, and such a chat subscribed on the page earlier is suspended when next posted to. The
	// admin API takes them either way (docs/security.md, "Chat subscriptions").
	SelfHostedChats bool `yaml:"self_hosted_chats"`
	// ConfirmWithin: how long a confirmation link works; an unconfirmed subscription is deleted
	// then. Default 48h.
	ConfirmWithin time.Duration `yaml:"confirm_within"`
	// SuspendAfter: a webhook whose deliveries have failed this long without a success is
	// suspended and its contact mailed. Default 24h.
	SuspendAfter time.Duration `yaml:"suspend_after"`
	// RecipientLimit: subscription mails (confirmations, manage links) one address gets per
	// hour, whoever asks. Default 3.
	RecipientLimit int `yaml:"recipient_limit"`
	// ClientLimit: subscription requests one client address may make per hour. Default 10.
	ClientLimit int `yaml:"client_limit"`
	// MailConnections: SMTP connections open at once for subscribers' mail. Default 16.
	MailConnections int `yaml:"mail_connections"`
}

// Defaults of the subscribers section.
const (
	DefaultConfirmWithin   = 48 * time.Hour
	DefaultSuspendAfter    = 24 * time.Hour
	DefaultRecipientLimit  = 3
	DefaultClientLimit     = 10
	DefaultMailConnections = 16
)

func (c *Config) subscriberDefaults() {
	s := &c.Subscribers
	if s.ConfirmWithin == 0 {
		s.ConfirmWithin = DefaultConfirmWithin
	}
	if s.SuspendAfter == 0 {
		s.SuspendAfter = DefaultSuspendAfter
	}
	if s.RecipientLimit == 0 {
		s.RecipientLimit = DefaultRecipientLimit
	}
	if s.ClientLimit == 0 {
		s.ClientLimit = DefaultClientLimit
	}
	if s.MailConnections == 0 {
		s.MailConnections = DefaultMailConnections
	}
}

func (c *Config) validateSubscribers(d *decoder) {
	s := &c.Subscribers
	if s.Enabled != nil && *s.Enabled && c.Notify.SMTP.Host == "" {
		d.at("subscribers.enabled", "needs notify.smtp: confirmations and notices are mailed")
	}
	if s.ConfirmWithin < 10*time.Minute || s.ConfirmWithin > 30*24*time.Hour {
		d.at("subscribers.confirm_within", "must be between 10m and 720h")
	}
	if s.SuspendAfter < time.Minute {
		d.at("subscribers.suspend_after", "must be at least 1m")
	}
	if s.RecipientLimit < 1 || s.RecipientLimit > 100 {
		d.at("subscribers.recipient_limit", "must be 1 to 100 mails an hour")
	}
	if s.ClientLimit < 1 || s.ClientLimit > 10000 {
		d.at("subscribers.client_limit", "must be 1 to 10000 requests an hour")
	}
	if s.MailConnections < 1 || s.MailConnections > 256 {
		d.at("subscribers.mail_connections", "must be 1 to 256")
	}
	if s.SelfHostedChats && !c.ChatSubscriptions() {
		d.at("subscribers.self_hosted_chats", "needs subscribers.chats: the form offers no chat room")
	}
}

// SubscribersOn reports whether the page offers subscriptions: enabled (by default when a mail
// server is set) and a mail server to send confirmations through.
func (c *Config) SubscribersOn() bool {
	s := c.Subscribers
	return c.Notify.SMTP.Host != "" && (s.Enabled == nil || *s.Enabled)
}

// ChatSubscriptions reports whether the page offers chat subscriptions.
func (c *Config) ChatSubscriptions() bool {
	return c.Subscribers.Chats == nil || *c.Subscribers.Chats
}

// WebhookSubscriptions reports whether the page offers webhook subscriptions.
func (c *Config) WebhookSubscriptions() bool {
	return c.Subscribers.Webhooks == nil || *c.Subscribers.Webhooks
}
