package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/jonboulle/clockwork"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

//go:embed templates/email.txt.tmpl templates/email.html.tmpl
var emailTemplates embed.FS

// Parsed once: a template that does not parse is a build mistake, caught by every test.
var (
	emailText = texttemplate.Must(texttemplate.ParseFS(emailTemplates, "templates/email.txt.tmpl"))
	emailHTML = htmltemplate.Must(htmltemplate.ParseFS(emailTemplates, "templates/email.html.tmpl"))
)

// email sends one message per recipient (each recipient is a notification of its own, so one
// bad address is retried alone) as multipart/alternative text and HTML, with a Message-ID made
// from the notification's id (the same on every attempt: mail systems drop the duplicate) and a
// List-Id naming the page's alert list. It sends over a pool of connections kept open (smtpPool),
// as many as the target's deliveries at once (max_in_flight).
type email struct {
	t     Target
	smtp  SMTP
	page  Page
	clock clockwork.Clock
	from  *mail.Address
	host  string // the page's host, for Message-ID and List-Id
	pool  *smtpPool
}

// Default SMTP settings.
const (
	DefaultSMTPTimeout = 60 * time.Second
)

func newEmail(t Target, s SMTP, page Page, clock clockwork.Clock) (*email, error) {
	if s.Host == "" {
		return nil, errors.New("an email target needs notify.smtp")
	}
	if len(t.To) == 0 {
		return nil, errors.New("an email target needs at least one address in to")
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return nil, errors.New("notify.smtp.from is not an address")
	}
	host := "upstate.invalid"
	if u, err := url.Parse(page.PublicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	e := &email{t: t, smtp: s, page: page, clock: clock, from: from, host: host}
	e.pool = newSMTPPool(e, t.MaxInFlight)
	return e, nil
}

// Close closes the channel's idle connections; a send still in flight closes its own when done.
func (e *email) Close() error {
	e.pool.close()
	return nil
}

// ListID is the List-Id of the page's alert mail: "<title> <alerts.host>".
func (e *email) listID() string {
	return strings.ReplaceAll(e.page.Title, "\"", "") + " alerts <alerts." + e.host + ">"
}

// MessageID is the Message-ID of a notification's mail, without the angle brackets.
func MessageID(notificationID, host string) string { return notificationID + "@" + host }

type emailData struct {
	Message    Message
	Page       Page
	Recipient  string
	ID         string
	Attempt    int
	Paragraphs []string
}

func (e *email) client(extra ...gomail.Option) (*gomail.Client, error) {
	s := e.smtp
	opts := []gomail.Option{gomail.WithTimeout(max(s.Timeout, time.Second)), gomail.WithTLSConfig(&tls.Config{ServerName: s.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12})}
	switch s.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.Port != 0 {
		opts = append(opts, gomail.WithPort(s.Port))
	}
	if s.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.HELO))
	}
	if s.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		switch strings.ToLower(s.Auth) {
		case "plain":
			auth = gomail.SMTPAuthPlain
		case "login":
			auth = gomail.SMTPAuthLogin
		case "cram-md5":
			auth = gomail.SMTPAuthCramMD5
		case "scram-sha-256":
			auth = gomail.SMTPAuthSCRAMSHA256
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, append(opts, extra...)...)
}

// Compose builds the mail of one delivery.
func (e *email) compose(d Delivery) (*gomail.Msg, error) {
	n := d.Notification
	m := gomail.NewMsg()
	m.FromMailAddress(e.from)
	if err := m.To(n.Recipient); err != nil {
		return nil, &Permanent{Err: err}
	}
	m.Subject(d.Message.Subject)
	m.SetMessageIDWithValue(MessageID(n.ID, e.host))
	m.SetDateWithValue(e.clock.Now())
	m.SetGenHeader("List-Id", e.listID())
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetGenHeader("X-Upstate-Notification", n.ID)
	m.SetGenHeader("X-Upstate-Kind", d.Message.Kind)
	data := emailData{Message: d.Message, Page: e.page, Recipient: n.Recipient, ID: n.ID, Attempt: n.Attempts,
		Paragraphs: strings.Split(d.Message.Text, "\n\n")}
	var text, html bytes.Buffer
	if err := emailText.Execute(&text, data); err != nil {
		return nil, &Permanent{Err: err}
	}
	if err := emailHTML.Execute(&html, data); err != nil {
		return nil, &Permanent{Err: err}
	}
	m.SetBodyString(gomail.TypeTextPlain, text.String())
	m.AddAlternativeString(gomail.TypeTextHTML, html.String())
	return m, nil
}

func (e *email) Send(ctx context.Context, d Delivery) error {
	m, err := e.compose(d)
	if err != nil {
		return err
	}
	return e.pool.send(ctx, m)
}

// smtpPool keeps connections to the mail server open between mails, at most size at once: a
// burst of mails costs one connection setup (TCP, EHLO, STARTTLS, AUTH) per connection, not per
// mail, and each mail is MAIL, RCPT, DATA (no RSET after a delivered mail: the transaction is
// over, RFC 5321 4.1.1.5). The size is what the dispatcher runs at once through the channel (the
// target's max_in_flight, or subscribers.mail_connections for the subscribers' shards), so a
// delivery never waits for a connection and the server never sees more than that.
type smtpPool struct {
	e    *email
	sem  chan struct{} // one token per connection in use
	mu   sync.Mutex
	idle []*pooledSMTP // the most recently used last
	// sweep closes the connections idle past smtpIdle while no mail comes (armed while any are
	// idle); done counts sweeps running, which close waits for.
	sweep  *time.Timer
	done   sync.WaitGroup
	closed bool
}

type pooledSMTP struct {
	c    *gomail.Client // the settings
	s    *smtp.Client   // the connection
	sent int            // mails delivered over it
	used time.Time      // when it was last given back
}

const (
	// smtpPerConnection is how many mails go over one connection before it is closed and a fresh
	// one opened: relays may cap the mails of a session and answer 421 past it (a 421 at MAIL
	// on a reused connection is retried on a new one, see send), and a connection that lives
	// for a whole fan-out pins it to one of the servers behind the relay's name. At 100 the
	// setup costs 1 % of the mails.
	smtpPerConnection = 100
	// smtpIdle is how long an idle connection is kept: servers drop idle sessions (RFC 5321
	// allows 5 minutes; busy relays often 30 to 60 s), and a connection dropped by the server
	// fails at the next MAIL (retried once on a fresh one, see send). 30 s keeps the connections
	// through a burst, and costs an idle server little.
	smtpIdle = 30 * time.Second
)

func newSMTPPool(e *email, size int) *smtpPool {
	return &smtpPool{e: e, sem: make(chan struct{}, max(size, 1))}
}

// send sends msg over an idle connection, or a new one. A reused connection that turns out gone
// (the server closed it while it was idle: a network error, or a 421 "closing", before MAIL was
// accepted, so nothing was delivered) is closed and the mail sent once more over a new
// connection. Any other failure is as over a connection of its own: a permanent (5xx) refusal
// of the recipient is Permanent, the rest is retried by the outbox.
func (p *smtpPool) send(ctx context.Context, msg *gomail.Msg) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.sem }()
	for retried := false; ; retried = true {
		pc := p.take()
		reused := pc != nil
		if pc == nil {
			var err error
			if pc, err = p.dial(ctx); err != nil {
				return err
			}
		}
		err := pc.c.SendWithSMTPClient(pc.s, msg)
		if err == nil {
			pc.sent++
			p.give(pc)
			return nil
		}
		var se *gomail.SendError
		isSend := errors.As(err, &se)
		if reused && !retried && isSend && connGone(se) {
			pc.close()
			continue
		}
		if isSend && se.Reason == gomail.ErrSMTPRcptTo && se.ErrorCode() != 0 {
			// The server answered RCPT, and go-mail sent RSET: the session is clean if that
			// was answered too (RSET again tells, at the cost of a round trip on failures only).
			if pc.s.Reset() == nil {
				p.give(pc)
			} else {
				pc.close()
			}
		} else {
			pc.close() // anything else may have left the session mid-transaction
		}
		if isSend && !se.IsTemp() && se.Reason == gomail.ErrSMTPRcptTo {
			return &Permanent{Err: err} // the server refused the address for good (5xx)
		}
		return err
	}
}

// connGone reports whether a send failed because the connection was gone before MAIL was
// accepted: no connection, or MAIL answered by a network error (no SMTP code) or 421.
func connGone(se *gomail.SendError) bool {
	switch se.Reason {
	case gomail.ErrConnCheck:
		return true
	case gomail.ErrSMTPMailFrom:
		code := se.ErrorCode()
		return code == 0 || code == 421
	}
	return false
}

// take returns the most recently used idle connection, closing those idle too long; nil if none.
func (p *smtpPool) take() *pooledSMTP {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for len(p.idle) > 0 {
		n := len(p.idle)
		pc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if now.Sub(pc.used) < smtpIdle {
			return pc
		}
		// Idle too long (the sweep is late): the rest are older still.
		old := append(p.idle, pc)
		p.idle = nil
		p.mu.Unlock()
		for _, pc := range old {
			pc.close()
		}
		p.mu.Lock()
	}
	return nil
}

// smtpQuit bounds the QUIT of a connection being closed.
const smtpQuit = 5 * time.Second

// close says QUIT and closes the connection (at once when QUIT is not answered).
func (pc *pooledSMTP) close() {
	if pc.s.UpdateDeadline(smtpQuit) != nil || pc.s.Quit() != nil {
		_ = pc.s.Close()
	}
}

func (p *smtpPool) dial(ctx context.Context) (*pooledSMTP, error) {
	c, err := p.e.client(gomail.WithoutNoop(), gomail.WithoutRset())
	if err != nil {
		return nil, &Permanent{Err: err}
	}
	s, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the mail server: %w", err)
	}
	return &pooledSMTP{c: c, s: s}, nil
}

// give puts a connection back, or closes it when it has carried its share or the pool is closed.
func (p *smtpPool) give(pc *pooledSMTP) {
	p.mu.Lock()
	if p.closed || pc.sent >= smtpPerConnection {
		p.mu.Unlock()
		pc.close()
		return
	}
	pc.used = time.Now()
	p.idle = append(p.idle, pc)
	if p.sweep == nil {
		p.sweep = time.AfterFunc(smtpIdle, p.sweepIdle)
	}
	p.mu.Unlock()
}

// sweepIdle closes the connections idle past smtpIdle, and comes back while any are left.
func (p *smtpPool) sweepIdle() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.done.Add(1)
	defer p.done.Done()
	now := time.Now()
	var old []*pooledSMTP
	keep := p.idle[:0]
	for _, pc := range p.idle {
		if now.Sub(pc.used) >= smtpIdle {
			old = append(old, pc)
		} else {
			keep = append(keep, pc)
		}
	}
	p.idle = keep
	p.sweep = nil
	if len(keep) > 0 {
		p.sweep = time.AfterFunc(smtpIdle-now.Sub(keep[0].used), p.sweepIdle)
	}
	p.mu.Unlock()
	for _, pc := range old {
		pc.close()
	}
}

// close closes the idle connections and those given back from now on, and waits for a sweep.
func (p *smtpPool) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	if p.sweep != nil {
		p.sweep.Stop()
		p.sweep = nil
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
	p.done.Wait()
}
