package main

import (
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
)

// subscriberOptions are the config's subscribers section as the service's door applies it: a
// subscriber's language is one of the page's.
func subscriberOptions(cfg *configs.Config) service.SubscriberOptions {
	s := cfg.Subscribers
	o := service.SubscriberOptions{AllowPrivateWebhooks: s.AllowPrivateWebhooks, SelfHostedChats: s.SelfHostedChats, ConfirmWithin: s.ConfirmWithin, SuspendAfter: s.SuspendAfter,
		RecipientLimit: s.RecipientLimit, RecipientWindow: time.Hour, ClientLimit: s.ClientLimit}
	if langs, err := locale.Load(assets.FS(), cfg.Server.Language); err == nil { // checked at load
		o.Languages = langs.Tags()
	}
	return o
}

// pageSubscriptions is what the page offers.
func pageSubscriptions(cfg *configs.Config) statuspage.Subscriptions {
	return statuspage.Subscriptions{Enabled: cfg.SubscribersOn(), Webhooks: cfg.WebhookSubscriptions(), Chats: cfg.ChatSubscriptions()}
}

// newFanout adds the subscriber channels to chans and returns the fan-out, which runs while
// the notifier holds the dispatcher's lease.
func newFanout(cfg *configs.Config, st store.Store, svc *service.Service, chans *notify.Channels, n *notify.Notifier, clock clockwork.Clock,
	log *slog.Logger, reg prometheus.Registerer, bus *events.Bus) (*notify.Fanout, error) {
	s, smtp := cfg.Subscribers, cfg.Notify.SMTP
	pool, err := cfg.SMTPRootCAs()
	if err != nil {
		return nil, err
	}
	o := notify.SubscriberOptions{Store: st, Door: svc.Subscribers, Outbox: svc.Notifications, Page: notifyPage(cfg),
		DefaultLanguage: cfg.Server.Language, NoticePeriod: cfg.Maintenance.NoticePeriod, AllowPrivateWebhooks: s.AllowPrivateWebhooks,
		MailConnections: s.MailConnections, Leader: n, Bus: bus, Wake: n.Wake, Clock: clock, Logger: log, Registry: reg}
	if cfg.SubscribersOn() {
		o.SMTP = notify.SMTP{Host: smtp.Host, Port: smtp.Port, TLS: smtp.TLS, Username: smtp.Username, Password: smtp.Password, Auth: smtp.Auth,
			From: smtp.From, HELO: smtp.HELO, RootCAs: pool, Timeout: smtp.Timeout}
	}
	return notify.EnableSubscribers(chans, o)
}
