package notify

import (
	"bytes"
	"context"
	"net"

	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// subscriberChat posts a subscriber's notices to their chat room through shoutrrr (the URL
// holds the room's token): the mail's text part in the subscriber's language, its manage and
// unsubscribe links at the foot. Each outcome goes to the door, which suspends a chat that
// keeps failing, as it does a webhook.
//
// Before each post, a self-hosted chat (service.SelfHostedChat) subscribed on the page while
// subscribers.self_hosted_chats is off is suspended, not posted to (Door.ChatRefused). Most of
// shoutrrr's services dial for themselves (ntfy, rocketchat and discord take our client, which
// refuses private addresses when it connects: useClient), so the rule on private addresses is
// also held before each send: the host the service will reach (the URL's, or Slack's, Discord's
// and Telegram's own) must resolve to public addresses only, unless allowed.
type subscriberChat struct {
	f        *Fanout
	slots    chan struct{}
	resolver *net.Resolver
}

func (c *subscriberChat) Send(ctx context.Context, d Delivery) error {
	f := c.f
	o, err := f.owed(ctx, d.Notification)
	if err != nil {
		return err
	}
	sub := o.sub
	data := f.mailData(sub, o.p.Purpose, o.ev)
	data.Heading = data.Subject // a chat post has no subject line: its first line says it
	var text bytes.Buffer
	if err := subscriberText.Execute(&text, data); err != nil {
		return &Permanent{Err: err}
	}
	if f.o.Door.ChatRefused(sub) { // a self-hosted chat from the page, no longer allowed
		if err := f.o.Door.SuspendRefusedChat(context.WithoutCancel(ctx), sub.ID); err != nil {
			return err
		}
		return &Cancel{Reason: "the chat is suspended: a self-hosted chat subscribed on the page, and subscribers.self_hosted_chats is off"}
	}
	sendErr := c.checkHost(ctx, sub.URL)
	if sendErr == nil {
		sendErr = shout(ctx, c.slots, f.o.HTTP, sub.URL, text.String(), data.Subject, f.o.Timeout)
	}
	suspended, derr := f.o.Door.Delivered(context.WithoutCancel(ctx), sub.ID, sendErr == nil)
	if derr != nil {
		f.log.Warn("record a chat subscriber's delivery", "subscriber", sub.ID, "err", derr)
	}
	switch {
	case sendErr == nil:
		return nil
	case suspended:
		return &Cancel{Reason: "the chat is suspended: it kept failing (" + clip(sendErr.Error(), 200) + ")"}
	}
	return sendErr
}

// checkHost refuses a chat whose service would reach a non-public address (unless allowed).
func (c *subscriberChat) checkHost(ctx context.Context, url string) error {
	host, fixed, err := service.ChatHost(url)
	if err != nil {
		return &Permanent{Err: err}
	}
	if fixed {
		return nil
	}
	return service.CheckPublicHost(ctx, c.resolver, host, c.f.o.AllowPrivateWebhooks)
}

var _ Channel = (*subscriberChat)(nil)

// chatTargets registers the chat pseudo-targets (as many as the webhooks').
func (f *Fanout) chatTargets(chans *Channels) {
	c := &subscriberChat{f: f, slots: make(chan struct{}, 2*f.o.WebhookShards*f.o.WebhookInFlight), resolver: f.o.Resolver}
	for i := range f.o.WebhookShards {
		id := SubscriberTarget(store.SubscriberChat, i)
		chans.targets[id] = Target{ID: id, Kind: KindChat, Timeout: f.o.Timeout, MaxInFlight: f.o.WebhookInFlight}
		chans.chans[id] = c
	}
}
