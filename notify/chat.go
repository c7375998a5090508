package notify

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/discord"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/rocketchat"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// chat sends a short text to any service shoutrrr reaches by URL (slack://, teams://,
// discord://, telegram://, ntfy://, gotify://, matrix://, generic://...). The URL holds the
// service's tokens, so it is a secret.
//
// shoutrrr's Send takes no context, and most services use Go's default HTTP client without a
// timeout. So each send runs on its own goroutine and the attempt ends at the target's timeout
// whatever the service does; services that accept a client (ntfy, rocketchat, discord: see
// useClient) get the bounded one. A send
// that hangs keeps its goroutine until the receiver lets go, and keeps one of the target's
// slots: at most 2 x max_in_flight such sends exist at once, after which the target fails fast.
type chat struct {
	t     Target
	slots chan struct{}
	http  *http.Client
}

// chatHTTP is the client given to the shoutrrr services that take one.
func chatHTTP(timeout time.Duration) *http.Client {
	c := NewHTTPClient()
	c.Timeout = timeout
	return c
}

func newChat(t Target) (*chat, error) {
	if _, err := locateChat(t.URL); err != nil {
		return nil, err
	}
	return &chat{t: t, slots: make(chan struct{}, 2*t.MaxInFlight), http: chatHTTP(t.Timeout)}, nil
}

// locateChat makes the shoutrrr service for a URL (a fresh one per send: services change their
// config while sending, so one is not shared between goroutines).
func locateChat(url string) (types.Service, error) {
	svc, err := (&router.ServiceRouter{}).Locate(url)
	if err != nil {
		return nil, fmt.Errorf("chat URL: %w", err)
	}
	return svc, nil
}

// ChatText is what a chat message says.
func ChatText(m Message) string {
	s := m.Subject + "\n\n" + m.Text
	if m.URL != "" {
		s += "\n\n" + m.URL
	}
	return s
}

func (c *chat) Send(ctx context.Context, d Delivery) error {
	return shout(ctx, c.slots, c.http, c.t.URL, ChatText(d.Message), d.Message.Subject, c.t.Timeout)
}

// shout sends text to the shoutrrr URL on a goroutine of its own, taking one of slots (failing
// fast when all are held by sends still hanging), and returns at ctx's end whatever the service
// does. Services that take an HTTP client get hc (useClient).
func shout(ctx context.Context, slots chan struct{}, hc *http.Client, url, text, title string, timeout time.Duration) error {
	select {
	case slots <- struct{}{}:
	default:
		return fmt.Errorf("%d sends to this target are still hanging", cap(slots))
	}
	svc, err := locateChat(url)
	if err != nil {
		<-slots
		return &Permanent{Err: err}
	}
	useClient(svc, hc)
	done := make(chan error, 1)
	go func() {
		defer func() { <-slots }()
		done <- svc.Send(text, &types.Params{"title": title})
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", svc.GetID(), err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: no answer within %s: %w", svc.GetID(), timeout, ctx.Err())
	}
}

// useClient gives svc the HTTP client hc where shoutrrr lets a caller choose it, so its
// connections are ours: our dialer (for subscribers', one that refuses non-public addresses
// when it connects, whatever the name resolved to when checked) and no redirects followed.
// shoutrrr v0.13.2 offers it for ntfy (SetHTTPClient), rocketchat (its exported Client) and
// discord (its exported HTTPClient). The others it offers none for: they dial with their own
// clients or Go's default one, which follows redirects (service.ChatControlled says which).
func useClient(svc types.Service, hc *http.Client) {
	switch s := svc.(type) {
	case interface{ SetHTTPClient(*http.Client) }: // ntfy
		s.SetHTTPClient(hc)
	case *rocketchat.Service:
		s.Client = hc
	case *discord.Service:
		s.HTTPClient = hc
	}
}
