package events

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBusDeliversAndDropsWithoutBlocking(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	b := NewBus(reg)
	fast, stopFast := b.Subscribe(3)
	defer stopFast()
	slow, stopSlow := b.Subscribe(1)
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, k := range []Kind{IncidentDeclared, IncidentUpdated, IncidentResolved} {
		b.Publish(Event{Kind: k, At: at})
	}
	var ids []string
	for range 3 {
		e := <-fast
		if e.ID == "" {
			t.Fatalf("event %s without an id", e.Kind)
		}
		ids = append(ids, e.ID)
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("ids not unique: %v", ids)
	}
	if e := <-slow; e.Kind != IncidentDeclared {
		t.Errorf("slow subscriber got %s first, want %s", e.Kind, IncidentDeclared)
	}
	if got := testutil.ToFloat64(b.dropped); got != 2 {
		t.Errorf("dropped = %v, want the 2 the slow subscriber had no room for", got)
	}
	stopSlow()
	stopSlow() // a second stop is harmless
	if _, open := <-slow; open {
		t.Error("the channel is open after unsubscribing")
	}
	var nilBus *Bus
	nilBus.Publish(Event{Kind: IncidentDeclared}) // publishes nothing, does not panic
}

func TestTrackedSubscriptionCountsUntilDone(t *testing.T) {
	b := NewBus(nil)
	sub := b.SubscribeTracked(1)
	defer sub.Close()
	b.Publish(Event{Kind: IncidentDeclared})
	b.Publish(Event{Kind: IncidentUpdated}) // no room: dropped, not pending
	if got := sub.Pending(); got != 1 {
		t.Fatalf("pending = %d, want 1", got)
	}
	<-sub.C
	if got := sub.Pending(); got != 1 {
		t.Errorf("pending after the receive = %d, want 1 until Done", got)
	}
	sub.Done()
	if got := sub.Pending(); got != 0 {
		t.Errorf("pending after Done = %d, want 0", got)
	}
}
