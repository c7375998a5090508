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

// TestDerivedIDs: the ids of events derived again after an upgrade are the ones journaled
// before it (a maintenance job resuming behind its cursor sends nothing twice), and two
// burn-rate alerts of one component, severity and tick that differ in their windows are two
// events.
func TestDerivedIDs(t *testing.T) {
	at := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Kind: MonitorState, At: at, MonitorID: "api-health", ComponentID: "api", From: "up", To: "down"}, "ev-mnb0vgw0-d9393dd5b030a3d09869a"},
		{Event{Kind: MaintenanceStarted, At: at, WindowID: "nightly", Scheduled: at}, "ev-mnb0vgw0-de97e6af6bc8b5e2301e2"},
	} {
		if got := DerivedID(c.e); got != c.want {
			t.Errorf("DerivedID(%s) = %s, want %s as before", c.e.Kind, got, c.want)
		}
	}
	fast := Event{Kind: BudgetBurn, At: at, ComponentID: "api", Severity: "page", Alert: "availability/1h/5m"}
	slow := fast
	slow.Alert = "availability/6h/30m"
	if DerivedID(fast) == DerivedID(slow) {
		t.Error("the 1h/5m and 6h/30m page alerts have one id")
	}
	if DerivedID(fast) != DerivedID(fast) {
		t.Error("an alert derived again has another id")
	}
}
