package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// Kind is a kind of target.
type Kind string

// The kinds of target.
const (
	KindEmail     Kind = "email"
	KindWebhook   Kind = "webhook"
	KindChat      Kind = "chat"      // any service shoutrrr reaches by URL: Slack, Teams, Discord, Telegram, ntfy, ...
	KindPagerDuty Kind = "pagerduty" // PagerDuty's Events API v2: pages with a lifecycle
)

// Target is one place notifications go.
type Target struct {
	ID   string
	Kind Kind
	// URL: a webhook's address; a chat target's shoutrrr URL; PagerDuty's Events API endpoint
	// (default DefaultPagerDutyURL).
	URL        string
	Secret     string            // webhook: the HMAC-SHA256 key of its signature
	Headers    map[string]string // webhook: more headers to send
	To         []string          // email: the recipients, each a notification of its own
	RoutingKey string            // pagerduty: the integration's routing key
	// Timeout bounds one attempt (default 30 s: Statuspage's "2xx within 30 s").
	Timeout time.Duration
	// MaxInFlight bounds the deliveries to this target at once (default 4).
	MaxInFlight int
}

// Default limits.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxInFlight = 4
	// MaxResponseBytes is as much of a receiver's answer as is read: a huge body costs nothing.
	MaxResponseBytes = 64 << 10
)

// Delivery is one attempt to send a notification: the stored row (its ID is the idempotency
// key, Attempts counts this one) and its message.
type Delivery struct {
	Notification store.Notification
	Message      Message
}

// Channel sends deliveries to one target. An error means it was not delivered; a *Permanent
// error means trying again cannot help.
type Channel interface {
	Send(ctx context.Context, d Delivery) error
}

// Permanent marks a failure that retries cannot fix (a request the receiver refuses as
// malformed, an address the mail server rejects for good): the notification is dead at once.
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// RetryAfter is a failure whose receiver said when to try again (HTTP Retry-After).
type RetryAfter struct {
	Err   error
	After time.Duration
}

func (e *RetryAfter) Error() string { return e.Err.Error() }
func (e *RetryAfter) Unwrap() error { return e.Err }

// SMTP is the mail server email targets send through.
type SMTP struct {
	Host string
	Port int // default 587 (starttls), 465 (tls) or 25 (none)
	// TLS: "starttls" (default: STARTTLS required), "tls" (implicit TLS), "opportunistic"
	// (STARTTLS when offered) or "none".
	TLS      string
	Username string // set: authenticate (PLAIN or LOGIN, whichever the server offers... see Auth)
	Password string
	// Auth: plain (default when a username is set), login, cram-md5 or scram-sha-256.
	Auth    string
	From    string // "Status <status@example.com>"
	HELO    string // default the host part of From
	RootCAs *x509.CertPool
	Timeout time.Duration // per message (default 60 s)
}

var _ service.Targets = (*Channels)(nil)

// Channels are the targets, each with its channel: the config file's (and the subscribers'
// pseudo-targets), fixed at start, and those made through the admin API, which Sync loads
// from the store again whenever they change (apitargets.go). They implement service.Targets.
type Channels struct {
	targets map[string]Target // the config file's and the subscribers': fixed once running
	order   []string
	chans   map[string]Channel
	page    Page
	clock   clockwork.Clock
	o       ChannelOptions // what a channel is built with

	api    atomic.Pointer[apiTargets] // the admin API's, swapped whole by Sync
	syncMu sync.Mutex                 // one Sync at a time
}

// ChannelOptions configure NewChannels.
type ChannelOptions struct {
	Targets []Target
	SMTP    SMTP
	Page    Page
	Clock   clockwork.Clock
	// HTTP is the client webhooks and PagerDuty use (default: one with the bounds below; tests
	// pass one that trusts their certificates).
	HTTP *http.Client
	// Version goes in the User-Agent.
	Version string
	// APITargets is where the targets made through the admin API are read (nil: none);
	// LookupEnv reads their ${NAME} references (default os.LookupEnv).
	APITargets TargetSource
	LookupEnv  func(string) (string, bool)
}

// NewHTTPClient is the client targets are reached with: no redirects followed (a 3xx is a
// failure), connect, TLS and header timeouts, and at most limit connections per host. The
// attempt's own deadline comes from its context.
func NewHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: DefaultTimeout, ExpectContinueTimeout: time.Second,
		MaxIdleConns: 256, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// NewChannels builds a channel per target. A target that cannot work (a chat URL shoutrrr
// does not know, an email target without an SMTP server) is an error naming it. The targets
// made through the admin API are loaded by Sync.
func NewChannels(o ChannelOptions) (*Channels, error) {
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.HTTP == nil {
		o.HTTP = NewHTTPClient()
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	c := &Channels{targets: map[string]Target{}, chans: map[string]Channel{}, page: o.Page, clock: o.Clock, o: o}
	c.api.Store(&apiTargets{})
	var errs []error
	for _, t := range o.Targets {
		t, ch, err := c.build(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.ID, err))
			continue
		}
		c.targets[t.ID], c.chans[t.ID] = t, ch
		c.order = append(c.order, t.ID)
	}
	return c, errors.Join(errs...)
}

// build makes t's channel, t with its defaults.
func (c *Channels) build(t Target) (Target, Channel, error) {
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.MaxInFlight <= 0 {
		t.MaxInFlight = DefaultMaxInFlight
	}
	o := c.o
	var ch Channel
	var err error
	switch t.Kind {
	case KindWebhook:
		ch, err = newWebhook(t, o.HTTP, o.Page, o.Clock, o.Version)
	case KindPagerDuty:
		ch, err = newPagerDuty(t, o.HTTP, o.Page, o.Version)
	case KindChat:
		ch, err = newChat(t)
	case KindEmail:
		ch, err = newEmail(t, o.SMTP, o.Page, o.Clock)
	default:
		err = fmt.Errorf("unknown kind %q", t.Kind)
	}
	return t, ch, err
}

// lookup finds a target and its channel: the config file's first, then the API's.
func (c *Channels) lookup(id string) (Target, Channel, bool) {
	if t, ok := c.targets[id]; ok {
		return t, c.chans[id], true
	}
	a := c.api.Load()
	t, ok := a.targets[id]
	return t, a.chans[id], ok
}

// Target returns a target by id.
func (c *Channels) Target(id string) (Target, bool) {
	t, _, ok := c.lookup(id)
	return t, ok
}

// Describe tells what a config file's target is, without its secrets: the kind, where it goes
// (a URL's scheme and host only: paths and queries hold tokens; an email target's
// recipients), its limits.
func (c *Channels) Describe(id string) service.TargetInfo {
	t, ok := c.targets[id]
	if !ok {
		return service.TargetInfo{ID: id}
	}
	info := service.TargetInfo{ID: id, Kind: string(t.Kind), Source: service.TargetFromConfig, Timeout: t.Timeout, TimeoutText: t.Timeout.String(),
		MaxInFlight: t.MaxInFlight, To: slices.Clone(t.To), Secret: service.RedactSecret(t.Secret), RoutingKey: service.RedactSecret(t.RoutingKey)}
	if len(t.Headers) > 0 {
		info.Headers = map[string]string{}
		for k := range t.Headers {
			info.Headers[k] = service.Redacted
		}
	}
	switch t.Kind {
	case KindEmail:
		info.Destination = strings.Join(t.To, ", ")
	case KindPagerDuty:
		info.URL = service.RedactURL(t.URL, "")
		info.Destination = service.RedactURL(t.URL, DefaultPagerDutyURL)
	default:
		info.URL = service.RedactURL(t.URL, "")
		info.Destination = info.URL
	}
	return info
}

// TargetIDs lists the config file's targets' ids, in the order they were configured.
func (c *Channels) TargetIDs() []string { return slices.Clone(c.order) }

// AllTargets lists every target: the config file's in their order, then the API's by id.
func (c *Channels) AllTargets() []Target {
	out := make([]Target, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.targets[id])
	}
	a := c.api.Load()
	for _, id := range slices.Sorted(maps.Keys(a.targets)) {
		out = append(out, a.targets[id])
	}
	return out
}

// Close closes what the channels keep open (the email channels' idle SMTP connections). A send
// still in flight closes its own connection when done.
func (c *Channels) Close() {
	for _, ch := range c.chans {
		closeChannel(ch)
	}
	for _, ch := range c.api.Load().chans {
		closeChannel(ch)
	}
}

func closeChannel(ch Channel) {
	if cl, ok := ch.(io.Closer); ok {
		_ = cl.Close()
	}
}

// Send delivers d to its target, bounded by the target's timeout.
func (c *Channels) Send(ctx context.Context, d Delivery) error {
	t, ch, ok := c.lookup(d.Notification.Target)
	if !ok {
		return &Permanent{Err: fmt.Errorf("target %s is no longer configured", d.Notification.Target)}
	}
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	return ch.Send(ctx, d)
}

// SendTest sends a test message to target id now (to each recipient, for email). A target
// not known here yet (made through another instance a moment ago) is looked for in the store.
func (c *Channels) SendTest(ctx context.Context, id, requestedBy string) error {
	t, ok := c.Target(id)
	if !ok && c.o.APITargets != nil {
		if err := c.Sync(ctx); err != nil {
			return err
		}
		t, ok = c.Target(id)
	}
	if !ok {
		return fmt.Errorf("target %s: %w", id, store.ErrNotFound)
	}
	now := c.clock.Now().UTC()
	msg := c.page.TestMessage(id, requestedBy, now)
	recipients := t.To
	if t.Kind != KindEmail {
		recipients = []string{""}
	}
	var errs []error
	for _, r := range recipients {
		n := store.Notification{ID: key("test", id, r, strconv.FormatInt(now.UnixNano(), 10)), Target: id, Channel: string(t.Kind), Recipient: r,
			Kind: "test", Attempts: 1, CreatedAt: now, UpdatedAt: now, State: store.NotificationSending}
		if err := c.Send(ctx, Delivery{Notification: n, Message: msg}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readBounded reads at most MaxResponseBytes of a response body and discards the rest unread
// (closing the connection rather than draining a huge answer).
func readBounded(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, MaxResponseBytes))
	return string(b)
}

// httpError is the failure of an HTTP answer, with Retry-After honoured (bounded by 1 h).
func httpError(resp *http.Response, body string, permanent bool) error {
	err := fmt.Errorf("%s", resp.Status)
	if s := clip(body, 200); s != "" {
		err = fmt.Errorf("%s: %s", resp.Status, s)
	}
	if permanent {
		return &Permanent{Err: err}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, perr := strconv.Atoi(ra); perr == nil && secs > 0 {
			return &RetryAfter{Err: err, After: min(time.Duration(secs)*time.Second, time.Hour)}
		}
	}
	return err
}

// clip shortens s to at most n bytes on a rune boundary, for error messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
