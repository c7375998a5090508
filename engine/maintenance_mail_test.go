package engine_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/notify/notifytest"
	"github.com/upstate-dev/upstate/service"
)

// TestSubscribersMailedWhenMaintenanceStartsAndEnds: the engine publishes a window's reminder,
// start and end on the clock, and a subscriber of its component is mailed each
// (docs/subscribers.md: "Maintenance in 1 h", "Maintenance started / completed"), through the fan-out and the dispatcher to a real SMTP
// server on loopback. A window on an internal component reaches no subscriber, not even one of
// the whole page.
func TestSubscribersMailedWhenMaintenanceStartsAndEnds(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	clock := clockwork.NewFakeClockAt(t0)
	engine.SyncForTest(t, s, t0, component.Component{ID: "search", Name: "Search"},
		component.Component{ID: "vault", Name: "Vault", Visibility: component.Internal})

	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	smtp := notify.SMTP{Host: srv.Host, Port: srv.Port, TLS: "none", From: "Example Status <status@example.com>", Timeout: 10 * time.Second}
	page := notify.Page{Title: "Example Status", PublicURL: "https://status.example.com", Location: time.UTC}
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: page, Clock: clock, SMTP: smtp})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: s, Clock: clock, Subscribers: service.SubscriberOptions{Languages: []string{"en"}}})
	n, err := notify.New(notify.Options{Store: s, Door: svc.Notifications, Channels: chans, Page: page, Clock: clock,
		Retry: notify.Retry{Min: 10 * time.Second, Max: time.Hour, DeadAfter: 48 * time.Hour, Jitter: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := notify.EnableSubscribers(chans, notify.SubscriberOptions{Store: s, Door: svc.Subscribers, Outbox: svc.Notifications, Page: page,
		SMTP: smtp, Clock: clock, DefaultLanguage: "en"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	for _, req := range []service.SubscribeRequest{{Address: "bob@example.com", Components: []string{"search"}},
		{Address: "all@example.com"}} {
		if _, err := svc.Subscribers.Add(ctx, service.Actor{Name: "ops"}, req, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range []maintenance.Spec{
		{ID: "search-quick", Title: "Search reindex", Components: []string{"search"}, TimeZone: "UTC", Start: t0.Add(2 * time.Minute), End: t0.Add(3 * time.Minute)},
		{ID: "vault-rotate", Title: "Vault key rotation", Components: []string{"vault"}, TimeZone: "UTC", Start: t0.Add(2 * time.Minute), End: t0.Add(3 * time.Minute)},
	} {
		if _, err := svc.Maintenance.Create(ctx, service.Actor{Name: "ops"}, sp); err != nil {
			t.Fatal(err)
		}
	}

	e, err := engine.New(engine.Options{Store: s, Clock: clock, Service: svc, Reminders: []time.Duration{time.Minute}, MaintenanceEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := engine.StartForTest(t, e)
	for clock.Now().Before(t0.Add(190 * time.Second)) {
		engine.AdvanceForTest(t, e, time.Second)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	for more := true; more; {
		if more, err = f.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		sent, err := n.Dispatcher.Pump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n.Dispatcher.Wait()
		if sent == 0 {
			break
		}
	}
	got := map[string][]string{}
	for _, m := range srv.Mail() {
		p := notifytest.Parse(t, m)
		for _, to := range p.To {
			got[to] = append(got[to], p.Subject)
		}
	}
	want := []string{"[Example Status] Scheduled maintenance: Search reindex", "[Example Status] Maintenance in 1 min: Search reindex",
		"[Example Status] Maintenance started: Search reindex",
		"[Example Status] Maintenance completed: Search reindex"}
	for _, to := range []string{"bob@example.com", "all@example.com"} {
		slices.Sort(got[to])
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(got[to], w) {
			t.Errorf("%s received %q, want %q", to, got[to], w)
		}
	}
}

// TestMaintenanceEndedEarlyIsAnnouncedOnce: a person ending an occurrence early publishes its
// end (the service does, when it is made); the engine, reaching that end on the clock, does not
// publish it again, so the team and the subscribers hear "ended" once.
func TestMaintenanceEndedEarlyIsAnnouncedOnce(t *testing.T) {
	s := engine.OpenStoreForTest(t)
	ctx := t.Context()
	clock := clockwork.NewFakeClockAt(t0)
	engine.SyncForTest(t, s, t0, component.Component{ID: "search", Name: "Search"})
	svc := service.New(service.Options{Store: s, Clock: clock})
	w, err := svc.Maintenance.Create(ctx, service.Actor{Name: "ops"}, maintenance.Spec{ID: "search-quick", Title: "Search reindex",
		Components: []string{"search"}, TimeZone: "UTC", Start: t0.Add(time.Minute), End: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Options{Store: s, Clock: clock, Service: svc, Reminders: []time.Duration{time.Hour}, MaintenanceEvery: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	engine.StartForTest(t, e)
	for clock.Now().Before(t0.Add(90 * time.Second)) {
		engine.AdvanceForTest(t, e, time.Second)
	}
	engine.AdvanceForTest(t, e, 500*time.Millisecond) // between two of the engine's runs
	if _, _, err := svc.Maintenance.EndOccurrence(ctx, service.Actor{Name: "ops"}, w.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for clock.Now().Before(t0.Add(100 * time.Second)) {
		engine.AdvanceForTest(t, e, time.Second)
	}
	entries, err := s.ReadJournal(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, en := range entries {
		if strings.HasPrefix(en.Kind, "maintenance.") {
			kinds = append(kinds, en.Kind)
		}
	}
	if want := []string{"maintenance.scheduled", "maintenance.started", "maintenance.ended"}; !slices.Equal(kinds, want) {
		t.Errorf("journal: %v, want %v", kinds, want)
	}
}
