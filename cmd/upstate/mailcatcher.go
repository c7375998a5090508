package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// mailcatcher is an SMTP server for trying Upstate's mail on one machine: it accepts every
// message on loopback and prints it (who to, the subject, the List-Unsubscribe header and the
// text part, whose links can be followed), and keeps each as a .eml file when asked. It never
// relays anything. The example config's notify.smtp points at it (127.0.0.1:1025).
func mailcatcher(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("mailcatcher", "mailcatcher [-listen ADDR] [-dir DIR]", stderr)
	listen := fs.String("listen", "127.0.0.1:1025", "the `address` to accept mail on (notify.smtp.host and port, with tls: none)")
	dir := fs.String("dir", "", "also keep each mail as a .eml file in this `directory`")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "upstate mailcatcher: %v\n", err)
		return 1
	}
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			fmt.Fprintf(stderr, "upstate mailcatcher: %v\n", err)
			return 1
		}
	}
	c := &catcher{out: stdout, dir: *dir}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &catcherSession{c: c}, nil }))
	srv.Domain, srv.MaxMessageBytes, srv.AllowInsecureAuth = "localhost", 10<<20, true
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	fmt.Fprintf(stdout, "catching mail on smtp://%s (notify.smtp: host %s, port %d, tls: none); Ctrl-C stops\n",
		ln.Addr(), ln.Addr().(*net.TCPAddr).IP, ln.Addr().(*net.TCPAddr).Port)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		fmt.Fprintf(stderr, "upstate mailcatcher: %v\n", err)
		return 1
	}
	return 0
}

type catcher struct {
	mu  sync.Mutex
	out io.Writer
	dir string
	n   int
}

type catcherSession struct {
	c    *catcher
	from string
	to   []string
}

func (s *catcherSession) AuthMechanisms() []string { return nil }
func (s *catcherSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *catcherSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *catcherSession) Reset()        { s.from, s.to = "", nil }
func (s *catcherSession) Logout() error { return nil }

func (s *catcherSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.c.print(s.from, s.to, raw)
	return nil
}

// print writes one mail: the envelope, the headers a person checks, and its text part.
func (c *catcher) print(from string, to []string, raw []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	fmt.Fprintf(c.out, "\n===== mail %d at %s =====\nfrom %s to %s\n", c.n, time.Now().Format(time.RFC3339), from, strings.Join(to, ", "))
	if c.dir != "" {
		name := filepath.Join(c.dir, fmt.Sprintf("%04d.eml", c.n))
		if err := os.WriteFile(name, raw, 0o600); err == nil {
			fmt.Fprintf(c.out, "saved as %s\n", name)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		fmt.Fprintf(c.out, "(not a mail: %v)\n%s\n", err, raw)
		return
	}
	dec := new(mime.WordDecoder)
	for _, h := range []string{"Subject", "List-Unsubscribe", "List-Unsubscribe-Post"} {
		if v := msg.Header.Get(h); v != "" {
			if d, err := dec.DecodeHeader(v); err == nil {
				v = d
			}
			fmt.Fprintf(c.out, "%s: %s\n", h, v)
		}
	}
	fmt.Fprintf(c.out, "\n%s\n", textPart(msg))
}

// textPart is a mail's text/plain part, decoded (or its body when it is not multipart).
func textPart(msg *mail.Message) string {
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(msg.Body)
		return string(b)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "(no text part)"
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "text/plain" {
			b, _ := io.ReadAll(p)
			return strings.TrimSpace(string(b))
		}
	}
}
