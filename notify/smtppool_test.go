package notify_test

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"

	"github.com/upstate-dev/upstate/events"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
)

// messageIDs are the Message-IDs of the mails received, each counted.
func messageIDs(t *testing.T, got []notifytest.Mail) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, m := range got {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatal(err)
		}
		ids[msg.Header.Get("Message-Id")]++
	}
	return ids
}

// poolChannels is an email target to srv through STARTTLS and AUTH, maxInFlight at once.
func poolChannels(t *testing.T, srv *notifytest.SMTPServer, cert notifytest.Cert, maxInFlight int) *notify.Channels {
	t.Helper()
	return channels(t, notify.ChannelOptions{
		SMTP: notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "starttls", Username: "upstate", Password: "s3cret", From: "status@example.com",
			RootCAs: cert.Pool, Timeout: 10 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com"}, MaxInFlight: maxInFlight}},
	})
}

var poolEvent = events.Event{ID: "ev-1", Kind: events.MonitorState, At: t0, MonitorID: "api-health", To: "down"}

// TestEmailKeepsConnectionsOpen: 50 mails sent by 10 senders at once through a target that
// allows 3 at once go over at most 3 connections, each mail once; closing the channels closes
// them and leaves no goroutine behind.
func TestEmailKeepsConnectionsOpen(t *testing.T) {
	cert := notifytest.NewCert(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{Cert: &cert, Username: "upstate", Password: "s3cret"})
	before := goleak.IgnoreCurrent()
	c, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: clockwork.NewFakeClockAt(t0),
		SMTP: notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "starttls", Username: "upstate", Password: "s3cret", From: "status@example.com",
			RootCAs: cert.Pool, Timeout: 10 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com"}, MaxInFlight: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	const senders, each = 10, 5
	var wg sync.WaitGroup
	errs := make(chan error, senders*each)
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := c.Send(t.Context(), delivery("monitor.state", "trigger", poolEvent, fmt.Sprintf("ntf-%d-%d", s, i), 1)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Send: %v", err)
	}
	got := srv.Mail()
	ids := messageIDs(t, got)
	if len(got) != senders*each || len(ids) != senders*each {
		t.Errorf("received %d mails with %d Message-IDs, want %d of each", len(got), len(ids), senders*each)
	}
	for _, m := range got {
		if !m.TLS || m.User != "upstate" {
			t.Fatalf("a mail without TLS or login: TLS %v, user %q", m.TLS, m.User)
		}
	}
	if n := srv.Connections(); n < 1 || n > 3 {
		t.Errorf("%d connections for %d mails, want 1 to 3 (the target's max_in_flight)", n, len(got))
	}
	c.Close()
	goleak.VerifyNone(t, before)
}

// TestEmailAfterTheServerDroppedTheConnection: the server closes the idle connections between
// two mails (as one does after its idle timeout, or a restart); the next mail finds its pooled
// connection gone before MAIL, goes over a new one, and arrives once.
func TestEmailAfterTheServerDroppedTheConnection(t *testing.T) {
	cert := notifytest.NewCert(t)
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{Cert: &cert, Username: "upstate", Password: "s3cret"})
	c := poolChannels(t, srv, cert, 4)
	send := func(id string) {
		t.Helper()
		if err := c.Send(t.Context(), delivery("monitor.state", "trigger", poolEvent, id, 1)); err != nil {
			t.Fatalf("Send %s: %v", id, err)
		}
	}
	send("ntf-1")
	send("ntf-2")
	if n := srv.Connections(); n != 1 {
		t.Fatalf("%d connections for two mails one after the other, want 1", n)
	}
	srv.DropConnections()
	send("ntf-3")
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections after the server dropped the first, want 2", n)
	}
	send("ntf-4") // over the new connection
	if n := srv.Connections(); n != 2 {
		t.Errorf("%d connections, want the new one reused", n)
	}
	ids := messageIDs(t, srv.Mail())
	for _, id := range []string{"ntf-1", "ntf-2", "ntf-3", "ntf-4"} {
		if n := ids["<"+id+"@status.example.com>"]; n != 1 {
			t.Errorf("%s received %d times, want once", id, n)
		}
	}
	if len(ids) != 4 {
		t.Errorf("received %v", ids)
	}
}

// TestEmailRefusedRecipientKeepsTheConnection: a recipient refused for good (550) is a
// permanent failure, and the connection it was refused on carries the next mail.
func TestEmailRefusedRecipientKeepsTheConnection(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{RejectRcpt: "gone@example.com"})
	c := channels(t, notify.ChannelOptions{
		SMTP:    notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", From: "status@example.com", Timeout: 10 * time.Second},
		Targets: []notify.Target{{ID: "t", Kind: notify.KindEmail, To: []string{"sre@example.com", "gone@example.com"}, MaxInFlight: 1}},
	})
	ok := func(id string) {
		t.Helper()
		if err := c.Send(t.Context(), delivery("monitor.state", "trigger", poolEvent, id, 1)); err != nil {
			t.Fatalf("Send %s: %v", id, err)
		}
	}
	ok("ntf-1")
	d := delivery("monitor.state", "trigger", poolEvent, "ntf-2", 1)
	d.Notification.Recipient = "gone@example.com"
	var perm *notify.Permanent
	if err := c.Send(t.Context(), d); !errors.As(err, &perm) {
		t.Fatalf("a refused recipient: %v, want a permanent failure", err)
	}
	ok("ntf-3")
	got := srv.Mail()
	if len(got) != 2 || got[0].To[0] != "sre@example.com" || len(got[1].To) != 1 || got[1].To[0] != "sre@example.com" {
		t.Errorf("received %+v", got)
	}
	if ids := messageIDs(t, got); ids["<ntf-1@status.example.com>"] != 1 || ids["<ntf-3@status.example.com>"] != 1 {
		t.Errorf("received %v", ids)
	}
	if n := srv.Connections(); n != 1 {
		t.Errorf("%d connections, want the one the refusal came on to carry the next mail", n)
	}
}
