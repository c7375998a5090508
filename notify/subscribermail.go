package notify

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	texttemplate "text/template"
	"time"

	"github.com/microcosm-cc/bluemonday"
	gomail "github.com/wneessen/go-mail"
	"github.com/yuin/goldmark"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/locale"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// The subscriber channels: the mail of each purpose (a notice, a confirmation, a reminder of
// the manage link, a suspended webhook's notice) in the subscriber's language, and the webhook
// in Statuspage's shape. Both read the subscriber when they send.

//go:embed templates/subscriber.txt.tmpl templates/subscriber.html.tmpl
var subscriberTemplates embed.FS

var (
	subscriberText = texttemplate.Must(texttemplate.ParseFS(subscriberTemplates, "templates/subscriber.txt.tmpl"))
	subscriberHTML = htmltemplate.Must(htmltemplate.ParseFS(subscriberTemplates, "templates/subscriber.html.tmpl"))
)

// SubscriberDocs is the documentation link webhooks' meta carries.
const SubscriberDocs = "https://github.com/upstate-dev/upstate/blob/main/docs/subscribers.md"

// Links of a subscriber, on the page.
func confirmURL(p Page, token string) string {
	return p.PublicURL + "/subscriptions/confirm?t=" + token
}

// ManageURL is a subscriber's manage page; UnsubscribeURL its one-click unsubscribe (RFC 8058).
func ManageURL(p Page, sub store.Subscriber) string {
	return p.PublicURL + "/subscriptions/manage?t=" + service.ManageToken(sub)
}

// UnsubscribeURL is the address of a subscriber's List-Unsubscribe header and unsubscribe link.
func UnsubscribeURL(p Page, sub store.Subscriber) string {
	return p.PublicURL + "/subscriptions/unsubscribe?t=" + service.ManageToken(sub)
}

// mailLink is a link with its words.
type mailLink struct{ URL, Label string }

// subscriberMailData is what the subscriber templates render.
type subscriberMailData struct {
	Lang, Title, PageURL string
	Subject, Heading     string
	Lines                []string // before the update's text
	Body                 string   // the update's text, as written (Markdown)
	BodyHTML             htmltemplate.HTML
	After                []string
	Action               *mailLink
	Why                  string
	Links                []mailLink
}

// rendered is an event's message in one language, the same for every subscriber.
type rendered struct {
	Subject, Heading string
	Lines, After     []string
	Body             string
	BodyHTML         htmltemplate.HTML
	Action           mailLink
}

var (
	markdownRenderer = goldmark.New()
	markdownPolicy   = bluemonday.UGCPolicy()
)

// markdownHTML renders incident text as the page does: goldmark omits raw HTML and dangerous
// links, bluemonday's UGC policy sanitises the rest.
func markdownHTML(src string) htmltemplate.HTML {
	var buf bytes.Buffer
	if err := markdownRenderer.Convert([]byte(src), &buf); err != nil {
		return htmltemplate.HTML("<p>" + htmltemplate.HTMLEscapeString(src) + "</p>") //nolint:gosec // escaped
	}
	return htmltemplate.HTML(markdownPolicy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitised by bluemonday
}

// when is an instant in the page's zone and in UTC, in the language's words.
func (p Page) whenIn(l *locale.Locale, t time.Time) string {
	utc := l.Date(t.UTC(), locale.DateTime)
	if p.loc() == time.UTC {
		return utc
	}
	return l.T("mail.when", "Local", l.Date(t.In(p.loc()), locale.DateTime), "UTC", utc)
}

func (v *eventViews) names(cs componentIndex, l *locale.Locale, ids []string) string {
	if len(ids) == 0 {
		return l.T("mail.all_components")
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !cs.hidden[id] {
			out = append(out, cs.name(id))
		}
	}
	return l.List(out)
}

// message is what an event says to subscribers in one language.
func (v *eventViews) message(ev events.Event, l *locale.Locale) rendered {
	v.mu.Lock()
	cs := v.comps
	v.mu.Unlock()
	p := v.page
	var r rendered
	r.Action = mailLink{URL: p.PublicURL + "/", Label: l.T("mail.view_page")}
	switch {
	case ev.Incident != nil:
		inc := ev.Incident
		last := inc.Updates[len(inc.Updates)-1]
		id := map[events.Kind]string{events.IncidentDeclared: "incident.created", events.IncidentResolved: "incident.resolved",
			events.IncidentReopened: "incident.reopened"}[ev.Kind]
		if id == "" {
			id = "incident.updated"
		}
		r.Subject, r.Heading = l.T(id, "Name", inc.Title), inc.Title
		r.Lines = []string{l.T("incident.status", "Status", l.T("incident_status."+string(last.Status)), "Time", p.whenIn(l, last.At))}
		r.Body, r.BodyHTML = last.Body, markdownHTML(last.Body)
		var comps []string
		for _, a := range inc.Components {
			comps = append(comps, a.ComponentID)
		}
		if len(comps) > 0 {
			r.After = append(r.After, l.T("incident.affects", "Components", v.names(cs, l, comps)))
		}
		r.After = append(r.After, l.T("incident.started", "Time", p.whenIn(l, inc.StartedAt)))
		r.Action = mailLink{URL: p.PublicURL + "/incidents/" + inc.ID, Label: l.T("mail.view_incident")}
	case ev.Window != nil:
		w := ev.Window
		name := w.Title
		if name == "" {
			name = w.ID
		}
		id := map[events.Kind]string{events.MaintenanceScheduled: "maintenance.scheduled", events.MaintenanceRescheduled: "maintenance.rescheduled",
			events.MaintenanceReminder: "maintenance.reminder", events.MaintenanceStarted: "maintenance.started", events.MaintenanceEnded: "maintenance.completed",
			events.MaintenanceCancelled: "maintenance.cancelled"}[ev.Kind]
		r.Subject, r.Heading = l.T(id, "Name", name, "Duration", l.Duration(ev.Before)), name
		o, found := occurrenceOf(w, ev)
		switch {
		case ev.Kind == events.MaintenanceCancelled && !ev.Scheduled.IsZero():
			r.Lines = append(r.Lines, l.T("maintenance.cancelled_one", "Start", p.whenIn(l, ev.Scheduled)))
		case found:
			r.Lines = append(r.Lines, l.T("maintenance.window", "Start", p.whenIn(l, o.Start), "End", p.whenIn(l, o.End)))
			if (ev.Kind == events.MaintenanceScheduled || ev.Kind == events.MaintenanceRescheduled) && v.notice > 0 && !w.Announced(o, v.notice) {
				r.Lines = append(r.Lines, l.T("maintenance.short_notice", "Notice", l.Duration(v.notice)))
			}
			r.Action = mailLink{URL: p.PublicURL + "/maintenance/" + w.ID + "-" + strconv.FormatInt(o.Scheduled.Unix(), 36), Label: l.T("mail.view_maintenance")}
		}
		if w.Description != "" {
			r.Body = w.Description
			r.BodyHTML = htmltemplate.HTML("<p style=\"white-space: pre-wrap;\">" + htmltemplate.HTMLEscapeString(w.Description) + "</p>") //nolint:gosec // escaped
		}
		if len(ev.Components) > 0 {
			r.After = append(r.After, l.T("maintenance.affects", "Components", v.names(cs, l, ev.Components)))
		}
	case ev.Kind == events.ComponentStatus:
		name := cs.name(ev.ComponentID)
		status := func(s string) string { return l.T("status." + s) }
		r.Subject = l.T("component.changed", "Component", name, "Status", status(ev.To))
		r.Heading = r.Subject
		r.Lines = []string{l.T("component.body", "Component", name, "Status", status(ev.To), "Time", p.whenIn(l, ev.At), "From", status(ev.From))}
	default:
		r.Subject, r.Heading = string(ev.Kind), string(ev.Kind)
	}
	return r
}

// occurrenceOf finds the occurrence a maintenance event is about: the one it names, the one a
// reminder announces, or the next one after a window is scheduled or changed.
func occurrenceOf(w *maintenance.Window, ev events.Event) (maintenance.Occurrence, bool) {
	at := ev.Scheduled
	if ev.Kind == events.MaintenanceReminder && at.IsZero() {
		at = ev.At.Add(ev.Before)
	}
	if !at.IsZero() {
		for _, o := range w.Occurrences(at.Add(-time.Millisecond), at.Add(time.Millisecond)) {
			if o.Scheduled.Equal(at) {
				return o, true
			}
		}
	}
	if os := w.Occurrences(ev.At, ev.At.AddDate(1, 0, 0)); len(os) > 0 {
		return os[0], true
	}
	return maintenance.Occurrence{}, false
}

// subscriberMail sends subscribers' mail through a pool of SMTP connections kept open.
type subscriberMail struct {
	f    *Fanout
	e    *email // the mail server's settings, From and host
	pool *smtpPool
}

func newSubscriberMail(f *Fanout) (*subscriberMail, error) {
	e, err := newEmail(Target{ID: "subscribers", Kind: KindEmail, To: []string{"subscribers"}}, f.o.SMTP, f.o.Page, f.o.Clock)
	if err != nil {
		return nil, fmt.Errorf("subscribers' mail: %w", err)
	}
	return &subscriberMail{f: f, e: e, pool: newSMTPPool(e, f.o.MailConnections)}, nil
}

func decodePayload(n store.Notification) (subscriberPayload, error) {
	var p subscriberPayload
	if err := json.Unmarshal(n.Payload, &p); err != nil || p.Subscriber == "" {
		return p, &Permanent{Err: fmt.Errorf("not a subscriber's notification: %v", err)}
	}
	return p, nil
}

// subscriberFor reads the subscriber of a row and checks the row is still owed to it.
func (f *Fanout) subscriberFor(ctx context.Context, p subscriberPayload) (store.Subscriber, error) {
	sub, err := f.o.Store.GetSubscriber(ctx, p.Subscriber)
	if errors.Is(err, store.ErrNotFound) {
		return sub, &Cancel{Reason: "the subscriber left"}
	}
	if err != nil {
		return sub, err
	}
	switch {
	case p.Purpose == purposeConfirm && sub.State != store.SubscriberPending:
		return sub, &Cancel{Reason: "the subscription was confirmed already"}
	case p.Purpose == purposeSuspended && sub.State != store.SubscriberSuspended:
		return sub, &Cancel{Reason: "the webhook was resumed already"}
	case p.Purpose == purposeEvent && sub.State != store.SubscriberConfirmed:
		return sub, &Cancel{Reason: "the subscriber is " + string(sub.State)}
	}
	return sub, nil
}

// owed is what every subscriber channel reads before it sends a row: the payload, the
// subscriber (a row no longer owed ends in Cancel), the event and the components it names.
// The attempt is counted once the row is known to be a subscriber's.
type owed struct {
	p   subscriberPayload
	sub store.Subscriber
	ev  events.Event
	cs  componentIndex
}

func (f *Fanout) owed(ctx context.Context, n store.Notification) (owed, error) {
	var o owed
	var err error
	if o.p, err = decodePayload(n); err != nil {
		return o, err
	}
	f.attempt(n)
	if o.sub, err = f.subscriberFor(ctx, o.p); err != nil {
		return o, err
	}
	if o.ev, err = f.view.load(ctx, o.p.Seq, o.p.EventID); err != nil {
		return o, err
	}
	o.cs, err = f.view.components(ctx)
	return o, err
}

func (m *subscriberMail) Send(ctx context.Context, d Delivery) error {
	n := d.Notification
	o, err := m.f.owed(ctx, n)
	if err != nil {
		return err
	}
	data := m.f.mailData(o.sub, o.p.Purpose, o.ev)
	msg, err := m.build(n, o.sub, data, o.p.Purpose == purposeEvent)
	if err != nil {
		return err
	}
	return m.pool.send(ctx, msg)
}

// mailData is the mail of one purpose to one subscriber.
func (f *Fanout) mailData(sub store.Subscriber, purpose string, ev events.Event) subscriberMailData {
	l := f.cat.Localizer(sub.Language)
	p := f.o.Page
	f.view.mu.Lock()
	cs := f.view.comps
	f.view.mu.Unlock()
	d := subscriberMailData{Lang: l.Tag(), Title: p.Title, PageURL: p.PublicURL + "/"}
	switch purpose {
	case purposeConfirm:
		d.Heading = l.T("confirm.subject")
		switch sub.Channel {
		case store.SubscriberWebhook:
			d.Lines = []string{l.T("confirm.intro_webhook", "Title", p.Title, "URL", sub.URL, "Address", sub.Address)}
		case store.SubscriberChat: // the URL holds the chat's token: its service and host only
			d.Lines = []string{l.T("confirm.intro_chat", "Title", p.Title, "Service", service.ChatDestination(sub.URL), "Address", sub.Address)}
		default:
			d.Lines = []string{l.T("confirm.intro", "Title", p.Title, "Address", sub.Address)}
		}
		d.Lines = append(d.Lines, l.T("confirm.chosen", "Components", f.view.names(cs, l, sub.Components)))
		d.Action = &mailLink{URL: confirmURL(p, f.o.Door.ConfirmToken(sub, ev.At)), Label: l.T("confirm.action")}
		d.After = []string{l.T("confirm.expires", "Time", p.whenIn(l, f.o.Door.ConfirmExpires(ev.At))), l.T("confirm.ignore")}
	case purposeRemind:
		d.Heading = l.T("remind.subject")
		d.Lines = []string{l.T("remind.intro", "Title", p.Title, "Address", sub.Address)}
		d.Action = &mailLink{URL: ManageURL(p, sub), Label: l.T("mail.manage")}
	case purposeSuspended:
		d.Heading = l.T("suspended.subject")
		since := sub.FailingSince
		if since.IsZero() {
			since = sub.SuspendedAt
		}
		if sub.Channel == store.SubscriberChat && ev.Reason == service.ReasonSelfHostedChat {
			d.Heading = l.T("suspended.subject_chat")
			d.Lines = []string{l.T("suspended.intro_self_hosted", "Service", service.ChatDestination(sub.URL), "Title", p.Title)}
			d.Action = &mailLink{URL: ManageURL(p, sub), Label: l.T("mail.manage")}
			d.Why = l.T("mail.why_chat_contact", "Address", sub.Address, "Title", p.Title)
			break
		}
		if sub.Channel == store.SubscriberChat {
			d.Heading = l.T("suspended.subject_chat")
			d.Lines = []string{l.T("suspended.intro_chat", "Service", service.ChatDestination(sub.URL), "Since", p.whenIn(l, since), "Title", p.Title)}
			d.Action = &mailLink{URL: ManageURL(p, sub), Label: l.T("suspended.action_chat")}
			d.Why = l.T("mail.why_chat_contact", "Address", sub.Address, "Title", p.Title)
			break
		}
		d.Lines = []string{l.T("suspended.intro", "URL", sub.URL, "Since", p.whenIn(l, since), "Title", p.Title)}
		d.Action = &mailLink{URL: ManageURL(p, sub), Label: l.T("suspended.action")}
		d.Why = l.T("mail.why_webhook", "Address", sub.Address, "Title", p.Title)
	default:
		r := f.view.cached(ev, l)
		d.Heading, d.Lines, d.Body, d.BodyHTML, d.After = r.Heading, r.Lines, r.Body, r.BodyHTML, r.After
		d.Action = &mailLink{URL: r.Action.URL, Label: r.Action.Label}
		if sub.Channel == store.SubscriberChat {
			d.Why = l.T("mail.why_chat", "Title", p.Title, "Components", f.view.names(cs, l, sub.Components))
		} else {
			d.Why = l.T("mail.why", "Address", sub.Address, "Title", p.Title, "Components", f.view.names(cs, l, sub.Components))
		}
		d.Links = []mailLink{{ManageURL(p, sub), l.T("mail.manage")}, {UnsubscribeURL(p, sub), l.T("mail.unsubscribe")}}
		d.Subject = l.T("mail.subject", "Title", p.Title, "Subject", r.Subject)
	}
	if d.Subject == "" {
		d.Subject = l.T("mail.subject", "Title", p.Title, "Subject", d.Heading)
	}
	return d
}

// cached is message, kept per event and language while its rows are sent.
func (v *eventViews) cached(ev events.Event, l *locale.Locale) rendered {
	k := ev.ID + "|" + l.Tag()
	v.mu.Lock()
	r, ok := v.msgs[k]
	v.mu.Unlock()
	if ok {
		return r
	}
	r = v.message(ev, l)
	v.mu.Lock()
	if v.msgs == nil {
		v.msgs = map[string]rendered{}
	}
	if len(v.msgs) >= 256 {
		clear(v.msgs)
	}
	v.msgs[k] = r
	v.mu.Unlock()
	return r
}

// build makes the mail: multipart text and HTML, the Message-ID from the row's id (the same on
// every attempt), a List-Id and, for a notice, RFC 8058's one-click unsubscribe headers.
func (m *subscriberMail) build(n store.Notification, sub store.Subscriber, d subscriberMailData, notice bool) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	msg.FromMailAddress(m.e.from)
	if err := msg.To(sub.Address); err != nil {
		return nil, &Permanent{Err: err}
	}
	msg.Subject(d.Subject)
	msg.SetMessageIDWithValue(MessageID(n.ID, m.e.host))
	msg.SetDateWithValue(m.f.o.Clock.Now())
	msg.SetGenHeader("List-Id", strings.ReplaceAll(m.e.page.Title, "\"", "")+" <subscribers."+m.e.host+">")
	if notice {
		msg.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+UnsubscribeURL(m.f.o.Page, sub)+">")
		msg.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetGenHeader("X-Upstate-Notification", n.ID)
	msg.SetGenHeader("X-Upstate-Kind", n.Kind)
	var text, html bytes.Buffer
	if err := subscriberText.Execute(&text, d); err != nil {
		return nil, &Permanent{Err: err}
	}
	if err := subscriberHTML.Execute(&html, d); err != nil {
		return nil, &Permanent{Err: err}
	}
	msg.SetBodyString(gomail.TypeTextPlain, text.String())
	msg.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return msg, nil
}

// Close closes the fan-out's idle mail connections.
func (f *Fanout) Close() {
	if f.mail != nil {
		f.mail.pool.close()
	}
}

// newSubscriberHTTPClient is NewHTTPClient for subscribers' webhooks: unless private addresses
// are allowed, it connects to public addresses only, checked on the address dialled (a name
// that resolved to a public address when the subscriber subscribed and to a private one now is
// refused), and it uses no proxy from the environment (the proxy would be what is dialled).
func newSubscriberHTTPClient(allowPrivate bool) *http.Client {
	c := NewHTTPClient()
	tr := c.Transport.(*http.Transport).Clone()
	if !allowPrivate {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !service.PublicAddr(ip) {
				return fmt.Errorf("%s is %w", host, service.ErrPrivateAddress)
			}
			return nil
		}}
		tr.DialContext, tr.Proxy = d.DialContext, nil
	}
	c.Transport = tr
	return c
}

// subscriberWebhook POSTs Statuspage's payload, signed with the subscriber's own secret, to the
// subscriber's URL; each outcome goes to the door, which suspends a webhook failing too long.
type subscriberWebhook struct{ f *Fanout }

func (w *subscriberWebhook) Send(ctx context.Context, d Delivery) error {
	n, f := d.Notification, w.f
	o, err := f.owed(ctx, n)
	if err != nil {
		return err
	}
	sub, ev, cs := o.sub, o.ev, o.cs
	names := make(map[string]string, len(cs.byID))
	for id, c := range cs.byID {
		if !cs.hidden[id] {
			names[id] = c.Name
		}
	}
	msg := f.o.Page.eventMessage(ev, names)
	now := f.o.Clock.Now()
	pl := f.o.Page.webhookBody(Delivery{Notification: n, Message: msg}, now)
	pl.Meta.Unsubscribe, pl.Meta.Documentation = UnsubscribeURL(f.o.Page, sub), SubscriberDocs
	body, err := json.Marshal(pl)
	if err != nil {
		return &Permanent{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return &Permanent{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Upstate (subscriber webhook)")
	req.Header.Set(IdempotencyHeader, n.ID)
	req.Header.Set(DeliveryHeader, n.ID)
	req.Header.Set(EventHeader, string(ev.Kind))
	req.Header.Set(AttemptHeader, strconv.Itoa(n.Attempts))
	req.Header.Set(SignatureHeader, Sign([]byte(sub.Secret), now, body))
	var sendErr error
	resp, err := f.o.HTTP.Do(req)
	if err != nil {
		sendErr = fmt.Errorf("post: %w", err)
	} else {
		answer := readBounded(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 300 {
			sendErr = httpError(resp, answer, false)
		}
	}
	suspended, derr := f.o.Door.Delivered(context.WithoutCancel(ctx), sub.ID, sendErr == nil)
	if derr != nil {
		f.log.Warn("record a webhook subscriber's delivery", "subscriber", sub.ID, "err", derr)
	}
	switch {
	case sendErr == nil:
		return nil
	case suspended:
		return &Cancel{Reason: "the webhook is suspended: it kept failing (" + clip(sendErr.Error(), 200) + ")"}
	}
	return sendErr
}
