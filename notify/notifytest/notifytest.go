// Package notifytest runs real receivers on loopback for notification tests and benchmarks: an
// SMTP server (emersion/go-smtp, with STARTTLS, implicit TLS and AUTH PLAIN), a webhook receiver
// that verifies Upstate's signature and can fail the first attempts, hang, answer slowly or
// answer with a huge body, a PagerDuty Events API v2 receiver and an ntfy receiver (the wire
// format shoutrrr's ntfy:// speaks). No mocks: each speaks the real protocol on a real socket.
package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/upstate-dev/upstate/notify"
)

// Cert is a self-signed certificate for 127.0.0.1 and localhost, with a pool that trusts it.
type Cert struct {
	TLS  tls.Certificate
	Pool *x509.CertPool
}

// NewCert makes a certificate valid for an hour from now.
func NewCert(t testing.TB) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return Cert{TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Pool: pool}
}

// Mail is one message an SMTP server received.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was encrypted (STARTTLS or implicit TLS)
	User string // who authenticated, if anyone did
}

// SMTPOptions choose how the server behaves.
type SMTPOptions struct {
	// TLS: "" (plain, STARTTLS offered when Cert is set), "implicit" (TLS from the first byte).
	TLS  string
	Cert *Cert
	// Username and Password, when set, are required (AUTH PLAIN) before MAIL.
	Username, Password string
	// RejectRcpt answers this recipient with a permanent 550.
	RejectRcpt string
}

// SMTPServer is a real SMTP server on loopback that keeps what it receives.
type SMTPServer struct {
	Host string
	Port int
	mu   sync.Mutex
	mail []Mail
	o    SMTPOptions
	srv  *smtp.Server
	// conns counts the connections accepted; open are those the server may still hold.
	conns int
	open  []net.Conn
}

// StartSMTP starts an SMTP server on a free loopback port, stopped when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{o: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = 10 << 20
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.AllowInsecureAuth = o.Cert == nil
	var ln net.Listener
	var err error
	if o.Cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{o.Cert.TLS}}
	}
	if o.TLS == "implicit" {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port, s.srv = "127.0.0.1", addr.Port, srv
	go func() { _ = srv.Serve(countingListener{ln, s}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Mail returns what the server has received so far.
func (s *SMTPServer) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

// Connections is how many connections the server has accepted.
func (s *SMTPServer) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// DropConnections closes every connection accepted so far, as a server does with idle sessions
// (or a restart): the client finds out at its next command.
func (s *SMTPServer) DropConnections() {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.mu.Unlock()
	for _, c := range open {
		_ = c.Close()
	}
}

// countingListener counts and keeps the connections the server accepts.
type countingListener struct {
	net.Listener
	s *SMTPServer
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.open = append(l.s.open, c)
		l.s.mu.Unlock()
	}
	return c, err
}

type session struct {
	s    *SMTPServer
	tls  bool
	conn *smtp.Conn
	from string
	to   []string
	user string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.o.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.o.Username || password != ss.s.o.Password {
			return errors.New("invalid credentials")
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.o.Username != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == ss.s.o.RejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.mail = append(ss.s.mail, Mail{From: ss.from, To: ss.to, Data: b, TLS: isTLS || ss.tls, User: ss.user})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Delivery is one request a webhook receiver accepted or refused.
type Delivery struct {
	Path    string
	Key     string // the idempotency key
	Attempt int
	Event   string
	Body    []byte
	Status  int       // what the receiver answered
	At      time.Time // when it arrived
}

// WebhookOptions choose how a webhook receiver behaves.
type WebhookOptions struct {
	Secret string // verify Upstate-Signature with it (a bad or stale signature gets 401)
	// FailFirst answers 503 to the first FailFirst attempts of each idempotency key.
	FailFirst int
	// Hang never answers (until the test ends); Slow answers after this long; HugeBody answers
	// 200 with this many bytes of body.
	Hang     bool
	Slow     time.Duration
	HugeBody int64
}

// WebhookReceiver is a real HTTP server on loopback receiving Upstate's webhooks.
type WebhookReceiver struct {
	URL    string // Base + "/hook"; any path is received
	Base   string
	o      WebhookOptions
	mu     sync.Mutex
	log    []Delivery
	seen   map[string]int
	stop   chan struct{}
	paused chan struct{} // non-nil while paused: requests wait for it to close
	// Now is the receiver's clock for the signature's replay window (default time.Now).
	Now func() time.Time
}

// StartWebhook starts a receiver, stopped when the test ends.
func StartWebhook(t testing.TB, o WebhookOptions) *WebhookReceiver {
	t.Helper()
	w := &WebhookReceiver{o: o, seen: map[string]int{}, stop: make(chan struct{}), Now: time.Now}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	w.Base = "http://" + ln.Addr().String()
	w.URL = w.Base + "/hook"
	t.Cleanup(func() {
		close(w.stop)
		_ = srv.Close()
	})
	return w
}

func (w *WebhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	key := r.Header.Get(notify.IdempotencyHeader)
	attempt, _ := strconv.Atoi(r.Header.Get(notify.AttemptHeader))
	d := Delivery{Path: r.URL.Path, Key: key, Attempt: attempt, Event: r.Header.Get(notify.EventHeader), Body: body, At: time.Now()}
	status := http.StatusOK
	w.mu.Lock()
	w.seen[key]++
	n := w.seen[key]
	w.mu.Unlock()
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
		status = http.StatusBadRequest
	case w.o.Secret != "" && notify.Verify([]byte(w.o.Secret), r.Header.Get(notify.SignatureHeader), body, w.Now(), notify.DefaultTolerance) != nil:
		status = http.StatusUnauthorized
	case n <= w.o.FailFirst:
		status = http.StatusServiceUnavailable
	}
	w.mu.Lock()
	paused := w.paused
	w.mu.Unlock()
	if paused != nil {
		select {
		case <-paused: // resumed: answer as usual, unless the sender is gone
			if r.Context().Err() == nil {
				break
			}
			w.mu.Lock()
			d.Status = 0
			w.log = append(w.log, d)
			w.mu.Unlock()
			return
		case <-r.Context().Done(): // the sender gave up or died: it never learns the answer
			w.mu.Lock()
			d.Status = 0
			w.log = append(w.log, d)
			w.mu.Unlock()
			return
		case <-w.stop:
			return
		}
	}
	d.Status = status
	w.mu.Lock()
	w.log = append(w.log, d)
	w.mu.Unlock()
	switch {
	case w.o.Hang:
		<-w.stop
		return
	case w.o.Slow > 0:
		select {
		case <-time.After(w.o.Slow):
		case <-w.stop:
		}
	}
	rw.WriteHeader(status)
	if w.o.HugeBody > 0 && status == http.StatusOK {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for sent := int64(0); sent < w.o.HugeBody; sent += int64(len(chunk)) {
			if _, err := rw.Write(chunk); err != nil {
				return
			}
		}
	}
}

// Pause makes requests wait (received, unanswered) until Resume.
func (w *WebhookReceiver) Pause() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused == nil {
		w.paused = make(chan struct{})
	}
}

// Resume answers the waiting requests and stops pausing.
func (w *WebhookReceiver) Resume() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.paused != nil {
		close(w.paused)
		w.paused = nil
	}
}

// Waiting counts requests received and not answered yet.
func (w *WebhookReceiver) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.seen {
		n += c
	}
	return n - len(w.log)
}

// Log returns every request received so far, refused ones included; one whose sender went away
// before it was answered has Status 0.
func (w *WebhookReceiver) Log() []Delivery {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Delivery(nil), w.log...)
}

// Accepted returns the requests answered 2xx.
func (w *WebhookReceiver) Accepted() []Delivery {
	var out []Delivery
	for _, d := range w.Log() {
		if d.Status >= 200 && d.Status < 300 {
			out = append(out, d)
		}
	}
	return out
}

// Payload is the part of a webhook body tests read.
type Payload struct {
	Meta     map[string]any `json:"meta"`
	Page     map[string]any `json:"page"`
	Incident *struct {
		ID              string           `json:"id"`
		Name            string           `json:"name"`
		Status          string           `json:"status"`
		Impact          string           `json:"impact"`
		CreatedAt       time.Time        `json:"created_at"`
		StartedAt       time.Time        `json:"started_at"`
		IncidentUpdates []map[string]any `json:"incident_updates"`
		Components      []map[string]any `json:"components"`
	} `json:"incident"`
	ComponentUpdate map[string]any `json:"component_update"`
	Component       map[string]any `json:"component"`
	Upstate         struct {
		NotificationID string `json:"notification_id"`
		Attempt        int    `json:"attempt"`
		Kind           string `json:"kind"`
		Action         string `json:"action"`
		DedupKey       string `json:"dedup_key"`
		Subject        string `json:"subject"`
		Text           string `json:"text"`
		Step           int    `json:"escalation_step"`
		Repeat         int    `json:"repeat"`
		Events         []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"events"`
	} `json:"upstate"`
}

// Decode reads a delivery's body.
func (d Delivery) Decode(t testing.TB) Payload {
	t.Helper()
	var p Payload
	if err := json.Unmarshal(d.Body, &p); err != nil {
		t.Fatalf("webhook body does not decode: %v\n%s", err, d.Body)
	}
	return p
}

// PagerDutyReceiver is a real HTTP server speaking PagerDuty's Events API v2.
type PagerDutyReceiver struct {
	URL    string
	mu     sync.Mutex
	events []notify.PagerDutyEvent
}

// StartPagerDuty starts one, stopped when the test ends.
func StartPagerDuty(t testing.TB) *PagerDutyReceiver {
	t.Helper()
	p := &PagerDutyReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	p.URL = "http://" + ln.Addr().String() + "/v2/enqueue"
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *PagerDutyReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var ev notify.PagerDutyEvent
	rw.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/v2/enqueue" || json.NewDecoder(r.Body).Decode(&ev) != nil || ev.RoutingKey == "" || ev.DedupKey == "" ||
		(ev.EventAction != "trigger" && ev.EventAction != "acknowledge" && ev.EventAction != "resolve") ||
		(ev.EventAction == "trigger" && (ev.Payload == nil || ev.Payload.Summary == "" || ev.Payload.Source == "" || ev.Payload.Severity == "")) {
		rw.WriteHeader(http.StatusBadRequest)
		_, _ = rw.Write([]byte(`{"status":"invalid event","message":"Event object is invalid"}`))
		return
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	rw.WriteHeader(http.StatusAccepted)
	_, _ = rw.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + ev.DedupKey + `"}`))
}

// Events returns the accepted events.
func (p *PagerDutyReceiver) Events() []notify.PagerDutyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]notify.PagerDutyEvent(nil), p.events...)
}

// NtfyMessage is one message an ntfy receiver accepted.
type NtfyMessage struct {
	Topic, Title, Body string
}

// NtfyReceiver is a real HTTP server speaking ntfy's publish API (POST /<topic>, the message as
// the body, the title in a header; it answers with the message as JSON).
type NtfyReceiver struct {
	Host string // host:port
	mu   sync.Mutex
	msgs []NtfyMessage
}

// StartNtfy starts one, stopped when the test ends.
func StartNtfy(t testing.TB) *NtfyReceiver {
	t.Helper()
	n := &NtfyReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: n, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	n.Host = ln.Addr().String()
	t.Cleanup(func() { _ = srv.Close() })
	return n
}

func (n *NtfyReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	topic := strings.TrimPrefix(r.URL.Path, "/")
	if r.Method != http.MethodPost && r.Method != http.MethodPut || topic == "" {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.msgs = append(n.msgs, NtfyMessage{Topic: topic, Title: r.Header.Get("Title"), Body: string(body)})
	n.mu.Unlock()
	rw.Header().Set("Content-Type", "application/json")
	out, _ := json.Marshal(map[string]any{"id": "x" + strconv.Itoa(len(n.msgs)), "time": time.Now().Unix(), "event": "message", "topic": topic, "message": string(body)})
	_, _ = rw.Write(out)
}

// Messages returns what it accepted.
func (n *NtfyReceiver) Messages() []NtfyMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]NtfyMessage(nil), n.msgs...)
}

// Eventually polls cond every 10 ms until it holds or within passes; a real part's work (a
// socket, a process) takes real time. Not a timing assertion: within is a generous bound.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
