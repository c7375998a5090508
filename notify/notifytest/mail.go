package notifytest

import (
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Parsed is a received mail read as a mail client reads it: its headers (with the subject
// decoded), and the text and HTML parts of a multipart/alternative body, decoded.
type Parsed struct {
	Header  mail.Header
	Subject string
	To      []string
	Text    string
	HTML    string
}

// Parse reads a received mail with net/mail and mime/multipart.
func Parse(t testing.TB, m Mail) Parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("not a mail: %v\n%s", err, m.Data)
	}
	p := Parsed{Header: msg.Header, To: m.To}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject %q: %v", msg.Header.Get("Subject"), err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part) // quoted-printable is decoded by the reader
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		}
	}
	if p.Text == "" || p.HTML == "" {
		t.Fatalf("want a text and an HTML part, got text %q and html %q", p.Text, p.HTML)
	}
	return p
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// Link is the first link in the text part that contains want, or "".
func (p Parsed) Link(want string) string {
	for _, l := range linkPattern.FindAllString(p.Text, -1) {
		if strings.Contains(l, want) {
			return l
		}
	}
	return ""
}

// WaitMail waits until the server has received n mails, or fails the test after d.
func (s *SMTPServer) WaitMail(t testing.TB, n int, d time.Duration) []Mail {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := s.Mail()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails after %s, want %d", len(got), d, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
