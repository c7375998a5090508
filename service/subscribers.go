package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/store"
)

// SubscriberOptions configure the subscribers' door (docs/subscribers.md).
type SubscriberOptions struct {
	// Languages are the page's languages (BCP 47 tags, the default first): a subscriber's
	// language is one of them. Empty: English only.
	Languages []string
	// AllowPrivateWebhooks lets a webhook URL point at loopback, private, link-local and other
	// non-public addresses (an intranet, tests). Off: such a URL is refused, and so is a
	// delivery whose name resolves to one later.
	AllowPrivateWebhooks bool
	// SelfHostedChats lets the page's form take a self-hosted chat (SelfHostedChat: mattermost,
	// zulip, gotify, generic...), and lets such a chat subscribed on the page be posted to.
	// Off (the default): the form refuses them, and one subscribed on the page before is
	// suspended when next posted to. An operator's (the admin API, an import) is taken either way.
	SelfHostedChats bool
	// Resolver resolves webhook hosts (default net.DefaultResolver).
	Resolver *net.Resolver
	// ConfirmWithin is how long a confirmation link works; a subscription not confirmed by then
	// is deleted (default 48h).
	ConfirmWithin time.Duration
	// SuspendAfter: a webhook whose deliveries have failed this long without a success is
	// suspended and its contact mailed (default 24h).
	SuspendAfter time.Duration
	// RecipientLimit mails (confirmations and manage links) per address per RecipientWindow,
	// whoever asks for them (default 3 per hour).
	RecipientLimit  int
	RecipientWindow time.Duration
	// ClientLimit subscription requests per client address per hour (default 10): AllowClient.
	// Both limits are counted in the store (CountRate), so instances sharing a Redis share them.
	ClientLimit int
}

// Subscriber defaults.
const (
	DefaultConfirmWithin   = 48 * time.Hour
	DefaultSuspendAfter    = 24 * time.Hour
	DefaultRecipientLimit  = 3
	DefaultRecipientWindow = time.Hour
	DefaultClientLimit     = 10
	// MaxSubscriberComponents bounds the ids one subscriber may choose.
	MaxSubscriberComponents = 1000
)

// ErrBadLink: a subscriber's link that does not verify, has expired, or names a subscription
// that no longer exists.
var ErrBadLink = errors.New("invalid or expired link")

// Subscribers is the door for subscriptions: someone subscribing from the page, confirming by
// the link in their mail, changing what they follow or leaving; an operator adding, removing or
// importing them; the notifier suspending a webhook that keeps failing. Every change is audited
// with a hash of the address, never the address, and publishes one event (without the address),
// which the notifier turns into the subscriber's own mail where one is owed.
type Subscribers struct {
	*deps
	store store.Subscribers
	o     SubscriberOptions
}

func newSubscribers(d *deps, st store.Subscribers, o SubscriberOptions) *Subscribers {
	if o.ConfirmWithin <= 0 {
		o.ConfirmWithin = DefaultConfirmWithin
	}
	if o.SuspendAfter <= 0 {
		o.SuspendAfter = DefaultSuspendAfter
	}
	if o.RecipientLimit <= 0 {
		o.RecipientLimit = DefaultRecipientLimit
	}
	if o.RecipientWindow <= 0 {
		o.RecipientWindow = DefaultRecipientWindow
	}
	if o.ClientLimit <= 0 {
		o.ClientLimit = DefaultClientLimit
	}
	if len(o.Languages) == 0 {
		o.Languages = []string{"en"}
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return &Subscribers{deps: d, store: st, o: o}
}

// AllowClient counts a subscription request from a client address against ClientLimit an
// hour; over it, it says how long until the next hour's share. The count is the store's
// (shared by instances on one Redis), keyed by a hash of the client's network (ClientNetwork).
func (s *Subscribers) AllowClient(ctx context.Context, addr string) (time.Duration, bool, error) {
	sum := sha256.Sum256([]byte("upstate-client\x00" + ClientNetwork(addr)))
	now := s.now()
	n, end, err := s.store.CountRate(ctx, "client:"+hex.EncodeToString(sum[:16]), time.Hour, now)
	if err != nil {
		return 0, false, fmt.Errorf("subscription limit: %w", err)
	}
	if n > int64(s.o.ClientLimit) {
		return end.Sub(now), false, nil
	}
	return 0, true, nil
}

// ClientNetwork is what the per-client limit counts a client address as: an IPv4 address
// itself (an IPv4-mapped one too), an IPv6 address's /64, the network one host is given (so a
// client cannot take a fresh address of its /64 for every request). Anything else counts as
// itself.
func ClientNetwork(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return ip.String()
	}
	return netip.PrefixFrom(ip, 64).Masked().String()
}

// allowRecipient counts one subscription mail to address against RecipientLimit per
// RecipientWindow, in the store, keyed by the hash of the address's RecipientKey.
func (s *Subscribers) allowRecipient(ctx context.Context, address string, now time.Time) (bool, error) {
	n, _, err := s.store.CountRate(ctx, "recipient:"+AddressHash(store.SubscriberEmail, RecipientKey(address)), s.o.RecipientWindow, now)
	if err != nil {
		return false, fmt.Errorf("subscription limit: %w", err)
	}
	return n <= int64(s.o.RecipientLimit), nil
}

// RecipientKey is the inbox an address reaches, as far as the per-recipient limit can tell, so
// that the variants of one inbox share its budget: the domain and the local part in lower case,
// the tag after the first '+' dropped (victim+1@ and victim+2@ are victim@), and for gmail.com
// (googlemail.com is the same mail) the local part's dots dropped, which Gmail ignores
// (v.ictim@gmail.com is victim@gmail.com). Elsewhere dots are kept: they name other mailboxes,
// Google Workspace's on other domains included. Two people whose addresses differ only by a tag
// share a budget (3 mails an hour by default); that is the price. Only the limit uses it: the
// subscription is the address as given.
func RecipientKey(address string) string {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return strings.ToLower(address)
	}
	local, domain := strings.ToLower(address[:at]), strings.TrimSuffix(strings.ToLower(address[at+1:]), ".")
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[:i]
	}
	if domain == "googlemail.com" {
		domain = "gmail.com"
	}
	if domain == "gmail.com" {
		local = strings.ReplaceAll(local, ".", "")
	}
	return local + "@" + domain
}

// Options are the door's options, defaults applied.
func (s *Subscribers) Options() SubscriberOptions { return s.o }

// SubscribeRequest is what someone asks for: an address, or a webhook URL with an address for
// its failure notices; the components and groups to follow (none: all); a language.
type SubscribeRequest struct {
	Channel          store.SubscriberChannel `json:"channel"`
	Address          string                  `json:"address"`
	URL              string                  `json:"url,omitempty"`
	Components       []string                `json:"components,omitempty"`
	ComponentUpdates bool                    `json:"component_updates,omitempty"`
	Language         string                  `json:"language,omitempty"`
}

// Limits on what a subscriber may give.
const (
	maxAddressLength = 254 // RFC 5321's path limit
	maxURLLength     = 2048
)

// CheckAddress accepts a bare mail address (name@example.com): no display name, no control or
// space characters (so nothing can be injected into a mail header), at most 254 bytes, a domain
// with a dot.
func CheckAddress(raw string) (string, error) {
	a := strings.TrimSpace(raw)
	switch {
	case a == "":
		return "", errors.New("is required")
	case len(a) > maxAddressLength:
		return "", fmt.Errorf("is longer than %d characters", maxAddressLength)
	case strings.IndexFunc(a, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0:
		return "", errors.New("must not contain spaces, line breaks or control characters")
	}
	parsed, err := mail.ParseAddress(a)
	if err != nil || parsed.Name != "" || parsed.Address != a {
		return "", errors.New("is not a mail address: want name@example.com")
	}
	_, domain, _ := strings.Cut(a, "@")
	if !strings.Contains(strings.Trim(domain, "."), ".") || strings.HasPrefix(domain, "[") {
		return "", errors.New("is not a mail address: want name@example.com")
	}
	return a, nil
}

// PublicAddr reports whether ip is a public unicast address: not loopback, private, link-local,
// site-local, unspecified, multicast, shared (100.64.0.0/10), documentation, benchmarking or
// otherwise reserved for local use, and, for an IPv6 address that carries an IPv4 address,
// carrying a public one. A webhook may only reach such addresses unless private ones are
// allowed (docs/security.md, "Private addresses").
//
// IPv6 forms that embed an IPv4 address are judged by it where real networks use them for
// public hosts: IPv4-mapped (::ffff:a.b.c.d), NAT64's well-known prefix (64:ff9b::/96, which a
// DNS64 resolver on an IPv6-only network answers for every IPv4 host) and 6to4 (2002:aabb:ccdd::/48).
// The ones no webhook needs are refused outright: IPv4-compatible (::a.b.c.d, deprecated),
// IPv4-translated (::ffff:0:a.b.c.d), local-use NAT64 (64:ff9b:1::/48: the embedded address's
// place depends on the network's prefix length) and Teredo (2001::/32: a tunnel's server and
// its client's address, obfuscated). An address with a zone (fe80::1%eth0) is never public.
func PublicAddr(ip netip.Addr) bool {
	if !ip.IsValid() || ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if v4, ok := embeddedIPv4(ip); ok {
			return v4.Is4() && PublicAddr(v4)
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// embeddedIPv4 is the IPv4 address an IPv6 address of a translation or tunnelling prefix
// carries: ok for NAT64's well-known prefix and 6to4, with the IPv4 address; ok with an invalid
// address (never public) for the prefixes refused outright (IPv4-compatible, IPv4-translated).
// Teredo and local-use NAT64 are in nonPublic.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip): // 64:ff9b::a.b.c.d (RFC 6052)
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip): // 2002:aabb:ccdd::/48 (RFC 3056)
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case ipv4Compatible.Contains(ip), ipv4Translated.Contains(ip): // ::a.b.c.d (RFC 4291, deprecated), ::ffff:0:a.b.c.d (RFC 2765)
		return netip.Addr{}, true
	}
	return netip.Addr{}, false
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	ipv4Compatible = netip.MustParsePrefix("::/96") // also :: and ::1
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
)

// nonPublic are the reserved ranges Go's netip predicates do not cover (IANA's special-purpose
// address registries: not globally reachable, or documentation).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),                                      // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("100::/64"),                                            // discard-only
	netip.MustParsePrefix("2001::/32"),                                           // Teredo (RFC 4380)
	netip.MustParsePrefix("2001:2::/48"),                                         // benchmarking
	netip.MustParsePrefix("2001:10::/28"), netip.MustParsePrefix("2001:20::/28"), // ORCHID, ORCHIDv2
	netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("3fff::/20"), // documentation
	netip.MustParsePrefix("5f00::/16"), // SRv6 SIDs (RFC 9602)
	netip.MustParsePrefix("fec0::/10"), // site-local (RFC 3879: deprecated, still local)
}

// ErrPrivateAddress: a webhook's host is, or resolves to, an address that is not public.
var ErrPrivateAddress = errors.New("not a public address")

// urlText is the text rules every subscriber URL follows (webhook or chat): trimmed, present,
// at most maxURLLength bytes, no spaces or control characters.
func urlText(raw string) (string, error) {
	u := strings.TrimSpace(raw)
	if u == "" {
		return "", errors.New("is required")
	}
	if len(u) > maxURLLength {
		return "", fmt.Errorf("is longer than %d characters", maxURLLength)
	}
	if strings.IndexFunc(u, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 {
		return "", errors.New("must not contain spaces or control characters")
	}
	return u, nil
}

// CheckWebhookURL accepts an absolute http or https URL without credentials whose host
// resolves, and only to public addresses unless allowPrivate.
func CheckWebhookURL(ctx context.Context, resolver *net.Resolver, raw string, allowPrivate bool) (string, error) {
	u, err := urlText(raw)
	if err != nil {
		return "", err
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" || parsed.Opaque != "" {
		return "", errors.New("is not an absolute URL: want https://example.com/hook")
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return "", fmt.Errorf("scheme %q is not allowed: want http or https", parsed.Scheme)
	}
	if parsed.User != nil {
		return "", errors.New("must not carry a user name or password: pass a secret in the path or check the signature")
	}
	if err := CheckPublicHost(ctx, resolver, parsed.Hostname(), allowPrivate); err != nil {
		return "", err
	}
	return parsed.String(), nil
}

// CheckPublicHost accepts a host that is, or resolves only to, public addresses (any host when
// allowPrivate). Webhooks and chats are checked with it when given, and chats before each send.
// A refusal is a *HostError.
func CheckPublicHost(ctx context.Context, resolver *net.Resolver, host string, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(ip) {
			return &HostError{Host: host, Literal: true, Err: ErrPrivateAddress}
		}
		return nil
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return &HostError{Host: host, Err: errNoAddress}
	}
	for _, a := range addrs {
		if !PublicAddr(a) {
			return &HostError{Host: host, Resolved: a.Unmap(), Err: ErrPrivateAddress}
		}
	}
	return nil
}

// errNoAddress: a host that does not resolve.
var errNoAddress = errors.New("does not resolve")

// HostError is a host CheckPublicHost refused. Its Error says why, with the address a name
// resolved to, for an operator (the admin API, the CLI, logs); Public says it without telling
// how this server resolves names, for the page's form, where anyone may ask: a name that does
// not resolve and one that resolves to a private address get the same words, so the form is no
// oracle for internal names.
type HostError struct {
	Host     string
	Literal  bool       // Host is an IP address
	Resolved netip.Addr // the non-public address Host resolved to, if it did
	Err      error      // ErrPrivateAddress, or that the name does not resolve
}

func (e *HostError) Error() string {
	switch {
	case e.Literal:
		return fmt.Sprintf("%s is %v (loopback, private or reserved)", e.Host, e.Err)
	case e.Resolved.IsValid():
		return fmt.Sprintf("host %s resolves to %s, %v (loopback, private or reserved)", e.Host, e.Resolved, e.Err)
	}
	return fmt.Sprintf("host %s %v", e.Host, e.Err)
}

func (e *HostError) Unwrap() error { return e.Err }

// Public is the refusal in words that name no resolved address.
func (e *HostError) Public() string {
	if e.Literal {
		return e.Error() // the address the visitor typed: nothing learnt
	}
	return fmt.Sprintf("host %s does not resolve to a public address", e.Host)
}

// AddressHash is what the audit log keeps of an address or URL: a SHA-256 of it (an address in
// lower case), so an operator can find a person's entries by hashing their address
// (upstate subscriber hash), while the log itself names no one.
func AddressHash(ch store.SubscriberChannel, target string) string {
	t := strings.TrimSpace(target)
	if ch == store.SubscriberEmail {
		t = strings.ToLower(t)
	}
	sum := sha256.Sum256([]byte("upstate-subscriber\x00" + t))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// subscriberAudit is a subscriber as the audit log shows it: hashes, not addresses.
type subscriberAudit struct {
	ID               string                  `json:"id"`
	Channel          store.SubscriberChannel `json:"channel"`
	AddressHash      string                  `json:"address_hash"`
	URLHash          string                  `json:"url_hash,omitempty"`
	Components       []string                `json:"components"`
	ComponentUpdates bool                    `json:"component_updates"`
	Language         string                  `json:"language"`
	State            store.SubscriberState   `json:"state"`
	Source           string                  `json:"source"`
}

func auditView(sub store.Subscriber) subscriberAudit {
	v := subscriberAudit{ID: sub.ID, Channel: sub.Channel, AddressHash: AddressHash(store.SubscriberEmail, sub.Address), Components: sub.Components,
		ComponentUpdates: sub.ComponentUpdates, Language: sub.Language, State: sub.State, Source: sub.Source}
	if v.Components == nil {
		v.Components = []string{}
	}
	if sub.Channel.HasURL() {
		v.URLHash = AddressHash(sub.Channel, sub.URL)
	}
	return v
}

// audited is the audit entry and event of a change to sub.
func (s *Subscribers) audited(by Actor, now time.Time, action string, kind events.Kind, sub store.Subscriber, after any) (store.AuditEntry, events.Event) {
	return s.journaled(by.audit(now, action, "subscriber/"+sub.ID, after),
		events.Event{Kind: kind, At: now, Actor: by.Name, SubscriberID: sub.ID, To: string(sub.State)})
}

// check validates and normalizes a request, reading the components it names. From the public
// form (public), a refused host is explained without the addresses it resolved to.
func (s *Subscribers) check(ctx context.Context, r SubscribeRequest, public bool) (store.Subscriber, error) {
	sub := store.Subscriber{Channel: r.Channel, ComponentUpdates: r.ComponentUpdates}
	var errs []*component.FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	badURL := func(err error) {
		var he *HostError
		if public && errors.As(err, &he) {
			bad("url", "%s", he.Public())
			return
		}
		bad("url", "%v", err)
	}
	if r.Channel == "" {
		sub.Channel = store.SubscriberEmail
	}
	if !sub.Channel.Valid() {
		bad("channel", "unknown channel %q (want email, webhook or chat)", clipText(string(r.Channel), 40))
	}
	addr, err := CheckAddress(r.Address)
	if err != nil {
		bad("address", "%v", err)
	}
	sub.Address = addr
	switch {
	case sub.Channel == store.SubscriberWebhook:
		u, err := CheckWebhookURL(ctx, s.o.Resolver, r.URL, s.o.AllowPrivateWebhooks)
		if err != nil {
			badURL(err)
		}
		sub.URL = u
	case sub.Channel == store.SubscriberChat:
		u, err := CheckChatURL(ctx, s.o.Resolver, r.URL, s.o.AllowPrivateWebhooks, !public || s.o.SelfHostedChats)
		if err != nil {
			badURL(err)
		}
		sub.URL = u
	case strings.TrimSpace(r.URL) != "":
		bad("url", "is only for a webhook or chat subscription")
	}
	lang, err := s.language(r.Language)
	if err != nil {
		bad("language", "%v", err)
	}
	sub.Language = lang
	comps, err := s.components(ctx, r.Components)
	if err != nil {
		var fe *component.FieldError
		if !errors.As(err, &fe) {
			return sub, err
		}
		errs = append(errs, fe)
	}
	sub.Components = comps
	return sub, invalid(errs)
}

func (s *Subscribers) language(tag string) (string, error) {
	if tag == "" {
		return s.o.Languages[0], nil
	}
	for _, l := range s.o.Languages {
		if strings.EqualFold(l, tag) {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown language %q (want one of %s)", clipText(tag, 40), strings.Join(s.o.Languages, ", "))
}

// components checks the chosen ids name public components or groups; a field error if not.
func (s *Subscribers) components(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxSubscriberComponents {
		return nil, &component.FieldError{Field: "components", Message: fmt.Sprintf("at most %d", MaxSubscriberComponents)}
	}
	cs, err := s.deps.store.ListComponents(ctx)
	if err != nil {
		return nil, err
	}
	hidden := component.Hidden(cs)
	known := map[string]bool{}
	for _, c := range cs {
		known[c.ID] = !hidden[c.ID]
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !known[id] {
			return nil, &component.FieldError{Field: "components", Message: fmt.Sprintf("no component or group %q", clipText(id, 63))}
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// newSubscriber fills a new subscriber's id, keys and times.
func newSubscriber(sub store.Subscriber, state store.SubscriberState, source string, now time.Time) store.Subscriber {
	sub.ID = "sub-" + randomText(10)
	sub.LinkKey = hex.EncodeToString(randomBytes(16))
	if sub.Channel == store.SubscriberWebhook {
		sub.Secret = "whsec_" + hex.EncodeToString(randomBytes(24))
	}
	sub.State, sub.Source, sub.CreatedAt, sub.UpdatedAt, sub.Version = state, source, now, now, 1
	if state == store.SubscriberConfirmed {
		sub.ConfirmedAt = now
	}
	return sub
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomText(n int) string {
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(n)))
}

// Subscribe is a request from the page. Its answer never tells whether the address was
// subscribed already: a new address gets a pending subscription and a confirmation mail; a
// pending one takes the new choices and gets a new confirmation mail; a subscribed one keeps
// its choices and is mailed its manage link. No address gets more than RecipientLimit of these
// mails per RecipientWindow: the ones over it are not sent (and nothing changes). Only invalid
// input (a *ValidationError) and a store failure are errors.
func (s *Subscribers) Subscribe(ctx context.Context, by Actor, r SubscribeRequest) error {
	want, err := s.check(ctx, r, true)
	if err != nil {
		return err
	}
	now := s.now()
	allowed, err := s.allowRecipient(ctx, want.Address, now)
	if err != nil {
		return err
	}
	if !allowed {
		s.log.Info("subscription mail not sent: the address had its share this hour", "address_hash", AddressHash(store.SubscriberEmail, want.Address))
		return nil
	}
	for attempt := 1; ; attempt++ {
		old, err := s.store.FindSubscriber(ctx, want.Lookup())
		switch {
		case errors.Is(err, store.ErrNotFound):
			sub := newSubscriber(want, store.SubscriberPending, "page", now)
			a, ev := s.audited(by, now, "subscriber.subscribe", events.SubscriberRequested, sub, auditView(sub))
			err = s.store.CreateSubscriber(ctx, sub, a)
			if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
				continue // asked twice at once: the other request created it
			}
			if err != nil {
				return fmt.Errorf("subscribe: %w", err)
			}
			s.publish(ev)
			return nil
		case err != nil:
			return fmt.Errorf("subscribe: %w", err)
		case old.State == store.SubscriberPending:
			sub := old
			sub.Address, sub.Components, sub.ComponentUpdates, sub.Language = want.Address, want.Components, want.ComponentUpdates, want.Language
			sub.UpdatedAt, sub.Version = now, old.Version+1
			a, ev := s.audited(by, now, "subscriber.subscribe", events.SubscriberRequested, sub, auditView(sub))
			a.Before = store.MustJSON(auditView(old))
			err = s.store.UpdateSubscriber(ctx, sub, a)
			if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
				continue
			}
			if err != nil {
				return fmt.Errorf("subscribe: %w", err)
			}
			s.publish(ev)
			return nil
		default: // subscribed (or suspended): their choices stay; their manage link is mailed
			a, ev := s.audited(by, now, "subscriber.remind", events.SubscriberReminded, old, auditView(old))
			if err := s.deps.store.AppendAudit(ctx, a); err != nil {
				return fmt.Errorf("subscribe: %w", err)
			}
			s.publish(ev)
			return nil
		}
	}
}

// Add is an operator's subscription: it may be confirmed at once (the operator vouches for the
// address) or go through the confirmation mail. An address already subscribed is ErrConflict.
func (s *Subscribers) Add(ctx context.Context, by Actor, r SubscribeRequest, confirmed bool) (store.Subscriber, error) {
	return s.add(ctx, by, r, confirmed, "admin")
}

func (s *Subscribers) add(ctx context.Context, by Actor, r SubscribeRequest, confirmed bool, source string) (store.Subscriber, error) {
	want, err := s.check(ctx, r, false)
	if err != nil {
		return store.Subscriber{}, err
	}
	now := s.now()
	state, kind := store.SubscriberPending, events.SubscriberRequested
	if confirmed {
		state, kind = store.SubscriberConfirmed, events.SubscriberConfirmed
	}
	sub := newSubscriber(want, state, source, now)
	a, ev := s.audited(by, now, "subscriber.add", kind, sub, auditView(sub))
	if err := s.store.CreateSubscriber(ctx, sub, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if old, ferr := s.store.FindSubscriber(ctx, sub.Lookup()); ferr == nil {
				return store.Subscriber{}, fmt.Errorf("%s is subscribed already (subscriber %s): %w", sub.Target(), old.ID, store.ErrConflict)
			}
		}
		return store.Subscriber{}, fmt.Errorf("add subscriber: %w", err)
	}
	s.publish(ev)
	return store.NormalizeSubscriber(sub), nil
}

// ImportResult is what an import did, row by row.
type ImportResult struct {
	Added   int           `json:"added"`
	Skipped int           `json:"skipped"` // subscribed already
	Errors  []ImportError `json:"errors"`
}

// ImportError is a row that was not imported.
type ImportError struct {
	Row     int    `json:"row"` // 1 for the first after the header
	Message string `json:"message"`
}

// Import adds each request (confirmed: a list someone already confirmed elsewhere), skipping
// addresses subscribed already; a row that is not valid is reported and the others go on.
func (s *Subscribers) Import(ctx context.Context, by Actor, rows []SubscribeRequest, confirmed bool) (ImportResult, error) {
	res := ImportResult{Errors: []ImportError{}}
	for i, r := range rows {
		_, err := s.add(ctx, by, r, confirmed, "import")
		var ve *ValidationError
		switch {
		case err == nil:
			res.Added++
		case errors.Is(err, store.ErrConflict):
			res.Skipped++
		case errors.As(err, &ve):
			res.Errors = append(res.Errors, ImportError{Row: i + 1, Message: ve.Error()})
		default:
			return res, err
		}
	}
	return res, nil
}

// Links: a subscriber's confirm and manage links carry a token signed with its own LinkKey:
//
//	<id>.c<expiry, Unix seconds in base 36>.<mac>   confirm, until the expiry
//	<id>.m.<mac>                                    manage and unsubscribe, while it exists
//
// mac is the first 16 bytes of HMAC-SHA256(LinkKey, "upstate-link|<kind>|<id>|<expiry>"),
// base64url. Deleting a subscriber deletes its key: every link it was ever sent stops working.

func linkMAC(sub store.Subscriber, kind, exp string) string {
	key, _ := hex.DecodeString(sub.LinkKey)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("upstate-link|" + kind + "|" + sub.ID + "|" + exp))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// ConfirmToken is the token of the confirmation link of a request made at requested.
func (s *Subscribers) ConfirmToken(sub store.Subscriber, requested time.Time) string {
	exp := strconv.FormatInt(requested.Add(s.o.ConfirmWithin).Unix(), 36)
	return sub.ID + ".c" + exp + "." + linkMAC(sub, "c", exp)
}

// ManageToken is the token of the subscriber's manage and unsubscribe links.
func ManageToken(sub store.Subscriber) string {
	return sub.ID + ".m." + linkMAC(sub, "m", "")
}

// ConfirmExpires is when a confirmation link of a request made at requested stops working.
func (s *Subscribers) ConfirmExpires(requested time.Time) time.Time {
	return requested.Add(s.o.ConfirmWithin)
}

// open reads the subscriber a token names and checks the token: its kind (c or m), its
// signature, and a confirm token's expiry.
func (s *Subscribers) open(ctx context.Context, token, kind string, now time.Time) (store.Subscriber, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || !component.ValidID(parts[0]) || len(parts[1]) == 0 || parts[1][:1] != kind || len(parts[2]) != 22 {
		return store.Subscriber{}, fmt.Errorf("the link is not one of ours: %w", ErrBadLink)
	}
	sub, err := s.store.GetSubscriber(ctx, parts[0])
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("the subscription no longer exists: %w", ErrBadLink)
	}
	if err != nil {
		return sub, err
	}
	exp := parts[1][1:]
	if !hmac.Equal([]byte(parts[2]), []byte(linkMAC(sub, kind, exp))) {
		return store.Subscriber{}, fmt.Errorf("the link does not verify: %w", ErrBadLink)
	}
	if kind == "c" {
		secs, err := strconv.ParseInt(exp, 36, 64)
		if err != nil || !now.Before(time.Unix(secs, 0)) {
			return store.Subscriber{}, fmt.Errorf("the link expired: %w", ErrBadLink)
		}
	}
	return sub, nil
}

// Open reads the subscription a manage link names.
func (s *Subscribers) Open(ctx context.Context, token string) (store.Subscriber, error) {
	return s.open(ctx, token, "m", s.now())
}

// Pending reads the subscription a confirmation link names, to show what it confirms.
func (s *Subscribers) Pending(ctx context.Context, token string) (store.Subscriber, error) {
	return s.open(ctx, token, "c", s.now())
}

// Confirm confirms the subscription a confirmation link names; confirming again is no change.
// first is true only for the call that confirmed it (of several at once, one), the one answer
// that may show what is shown once: the manage link and a webhook's secret.
func (s *Subscribers) Confirm(ctx context.Context, by Actor, token string) (sub store.Subscriber, first bool, err error) {
	now := s.now()
	for attempt := 1; ; attempt++ {
		sub, err := s.open(ctx, token, "c", now)
		if err != nil {
			return sub, false, err
		}
		if sub.State != store.SubscriberPending {
			return sub, false, nil
		}
		next := sub
		next.State, next.ConfirmedAt, next.UpdatedAt, next.Version = store.SubscriberConfirmed, now, now, sub.Version+1
		a, ev := s.audited(by, now, "subscriber.confirm", events.SubscriberConfirmed, next, auditView(next))
		a.Before = store.MustJSON(auditView(sub))
		err = s.store.UpdateSubscriber(ctx, next, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return sub, false, fmt.Errorf("confirm subscriber %s: %w", sub.ID, err)
		}
		s.publish(ev)
		return store.NormalizeSubscriber(next), true, nil
	}
}

// SubscriberChange is what a subscriber changes on their manage page.
type SubscriberChange struct {
	Components       []string
	ComponentUpdates bool
	Language         string
	Resume           bool // a suspended webhook or chat: deliver again (not a chat ChatRefused refuses)
}

// Change applies a subscriber's change through their manage link.
func (s *Subscribers) Change(ctx context.Context, by Actor, token string, ch SubscriberChange) (store.Subscriber, error) {
	var errs []*component.FieldError
	lang, err := s.language(ch.Language)
	if err != nil {
		errs = append(errs, &component.FieldError{Field: "language", Message: err.Error()})
	}
	comps, err := s.components(ctx, ch.Components)
	if err != nil {
		var fe *component.FieldError
		if !errors.As(err, &fe) {
			return store.Subscriber{}, err
		}
		errs = append(errs, fe)
	}
	if err := invalid(errs); err != nil {
		return store.Subscriber{}, err
	}
	now := s.now()
	for attempt := 1; ; attempt++ {
		sub, err := s.open(ctx, token, "m", now)
		if err != nil {
			return sub, err
		}
		next := sub
		next.Components, next.ComponentUpdates, next.Language = comps, ch.ComponentUpdates, lang
		if ch.Resume && sub.State == store.SubscriberSuspended && !s.ChatRefused(sub) {
			next.State, next.SuspendedAt, next.FailingSince = store.SubscriberConfirmed, time.Time{}, time.Time{}
		}
		next.UpdatedAt, next.Version = now, sub.Version+1
		a, ev := s.audited(by, now, "subscriber.update", events.SubscriberUpdated, next, auditView(next))
		a.Before = store.MustJSON(auditView(sub))
		err = s.store.UpdateSubscriber(ctx, next, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return sub, fmt.Errorf("update subscriber %s: %w", sub.ID, err)
		}
		s.publish(ev)
		return store.NormalizeSubscriber(next), nil
	}
}

// Unsubscribe deletes the subscription a manage link names, for real: nothing of it is kept
// but the audit entry's hash.
func (s *Subscribers) Unsubscribe(ctx context.Context, by Actor, token string) error {
	sub, err := s.open(ctx, token, "m", s.now())
	if err != nil {
		return err
	}
	return s.remove(ctx, by, sub, "subscriber.unsubscribe")
}

// Remove is an operator's deletion of a subscriber (on their request, say): for real.
func (s *Subscribers) Remove(ctx context.Context, by Actor, id string) error {
	sub, err := s.store.GetSubscriber(ctx, id)
	if err != nil {
		return err
	}
	return s.remove(ctx, by, sub, "subscriber.remove")
}

func (s *Subscribers) remove(ctx context.Context, by Actor, sub store.Subscriber, action string) error {
	now := s.now()
	a, ev := s.audited(by, now, action, events.SubscriberRemoved, sub, nil)
	a.Before = store.MustJSON(auditView(sub))
	if err := s.store.DeleteSubscriber(ctx, sub.ID, a); err != nil {
		if errors.Is(err, store.ErrNotFound) && action == "subscriber.unsubscribe" {
			return nil // gone meanwhile: a second click of the same link
		}
		return fmt.Errorf("remove subscriber %s: %w", sub.ID, err)
	}
	s.publish(ev)
	return nil
}

// Delivered records the outcome of a delivery to a webhook subscriber: the first failure after
// a success starts its failing time, a success ends it, and a failure SuspendAfter past the
// start suspends it (audited, and its contact is mailed). Only a change is written. It reports
// whether the subscriber is (now) suspended.
func (s *Subscribers) Delivered(ctx context.Context, id string, ok bool) (bool, error) {
	now := s.now()
	for attempt := 1; ; attempt++ {
		sub, err := s.store.GetSubscriber(ctx, id)
		if err != nil {
			return false, err
		}
		next := sub
		next.Version++
		a := store.AuditEntry{} // bookkeeping: no audit entry
		var ev events.Event
		switch {
		case sub.State == store.SubscriberSuspended:
			return true, nil
		case ok && sub.FailingSince.IsZero(), sub.State != store.SubscriberConfirmed:
			return false, nil
		case ok:
			next.FailingSince = time.Time{}
		case sub.FailingSince.IsZero():
			next.FailingSince = now
		case now.Sub(sub.FailingSince) < s.o.SuspendAfter:
			return false, nil
		default:
			next.State, next.SuspendedAt, next.UpdatedAt = store.SubscriberSuspended, now, now
			a, ev = s.audited(System, now, "subscriber.suspend", events.SubscriberSuspended, next,
				map[string]any{"subscriber": auditView(next), "failing_since": sub.FailingSince})
			a.Before = store.MustJSON(auditView(sub))
		}
		err = s.store.UpdateSubscriber(ctx, next, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("record delivery to subscriber %s: %w", id, err)
		}
		if ev.Kind != "" {
			s.log.Warn("webhook subscriber suspended: its deliveries kept failing", "subscriber", id, "failing_since", sub.FailingSince)
			s.publish(ev)
		}
		return next.State == store.SubscriberSuspended, nil
	}
}

// ReasonSelfHostedChat is the Reason of the SubscriberSuspended event of a chat suspended by
// SuspendRefusedChat (and not for failing).
const ReasonSelfHostedChat = "self_hosted_chat"

// ChatRefused reports whether sub is a chat the door no longer lets be posted to: a self-hosted
// one (SelfHostedChat) subscribed on the page, while SelfHostedChats is off (it was on when it
// was subscribed, or it was subscribed before the form refused such chats). An operator's
// (added through the admin API or imported) is never refused.
func (s *Subscribers) ChatRefused(sub store.Subscriber) bool {
	return sub.Channel == store.SubscriberChat && sub.Source == "page" && !s.o.SelfHostedChats && SelfHostedChat(sub.URL)
}

// SuspendRefusedChat suspends a confirmed chat ChatRefused refuses, at once (audited with why;
// its contact is mailed, the event's Reason ReasonSelfHostedChat). A chat that is not confirmed
// (suspended already, or pending) is left as it is. Its subscriber cannot resume it (Change)
// while it is refused; they may subscribe another chat, or the operator may add it.
func (s *Subscribers) SuspendRefusedChat(ctx context.Context, id string) error {
	now := s.now()
	for attempt := 1; ; attempt++ {
		sub, err := s.store.GetSubscriber(ctx, id)
		if err != nil {
			return err
		}
		if sub.State != store.SubscriberConfirmed || !s.ChatRefused(sub) {
			return nil
		}
		next := sub
		next.State, next.SuspendedAt, next.UpdatedAt, next.Version = store.SubscriberSuspended, now, now, sub.Version+1
		a, ev := s.journaled(System.audit(now, "subscriber.suspend", "subscriber/"+id,
			map[string]any{"subscriber": auditView(next), "reason": "a self-hosted chat subscribed on the page, and subscribers.self_hosted_chats is off"}),
			events.Event{Kind: events.SubscriberSuspended, At: now, Actor: System.Name, SubscriberID: id, To: string(next.State), Reason: ReasonSelfHostedChat})
		a.Before = store.MustJSON(auditView(sub))
		err = s.store.UpdateSubscriber(ctx, next, a)
		if errors.Is(err, store.ErrConflict) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("suspend subscriber %s: %w", id, err)
		}
		s.log.Warn("chat subscriber suspended: a self-hosted chat subscribed on the page, and subscribers.self_hosted_chats is off", "subscriber", id)
		s.publish(ev)
		return nil
	}
}

// Expire deletes the subscriptions not confirmed within ConfirmWithin of their last request, and
// returns how many.
func (s *Subscribers) Expire(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	for after := ""; ; {
		page, err := s.store.ListSubscribers(ctx, store.SubscriberQuery{State: store.SubscriberPending, After: after})
		if err != nil {
			return n, err
		}
		for _, sub := range page {
			if now.Sub(sub.UpdatedAt) < s.o.ConfirmWithin {
				continue
			}
			if err := s.remove(ctx, System, sub, "subscriber.expire"); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n++
		}
		if len(page) < store.MaxSubscriberLimit {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}
