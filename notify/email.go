package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"embed"
	"errors"
	htmltemplate "html/template"
	"net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/jonboulle/clockwork"
	gomail "github.com/wneessen/go-mail"
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
// List-Id naming the page's alert list.
type email struct {
	t     Target
	smtp  SMTP
	page  Page
	clock clockwork.Clock
	from  *mail.Address
	host  string // the page's host, for Message-ID and List-Id
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
	return &email{t: t, smtp: s, page: page, clock: clock, from: from, host: host}, nil
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
	c, err := e.client()
	if err != nil {
		return &Permanent{Err: err}
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.Reason == gomail.ErrSMTPRcptTo {
			return &Permanent{Err: err} // the server refused the address for good (5xx)
		}
		return err
	}
	return nil
}
