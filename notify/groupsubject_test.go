package notify

import (
	"testing"
	"time"

	"github.com/upstate-dev/upstate/events"
)

// TestGroupSubjects: a grouped message's subject counts each thing as what it is; burn-rate
// alerts and SLA alerts are never counted as monitors.
func TestGroupSubjects(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	mon := func(id, comp, to string) events.Event {
		return events.Event{Kind: events.MonitorState, At: at, MonitorID: id, ComponentID: comp, From: "up", To: to}
	}
	burn := func(comp, sev, alert string) events.Event {
		return events.Event{Kind: events.BudgetBurn, At: at, ComponentID: comp, Severity: sev, Alert: alert, Reason: "burn rate above 6 over 6h and 30m"}
	}
	sla := events.Event{Kind: events.SLAWarning, At: at, IncidentID: "inc-1", Clock: "resolution"}
	names := map[string]string{"shop": "Shop", "api": "API"}
	for _, c := range []struct {
		name string
		evs  []events.Event
		want string
	}{
		{"a monitor and two burn-rate alerts", []events.Event{mon("legacy", "shop", "down"), burn("shop", "page", "o/1h/5m"), burn("shop", "page", "o/6h/30m")},
			"[CHANGES] 1 monitor down and 2 burn-rate alerts on Shop"},
		{"burn-rate alerts alone", []events.Event{burn("shop", "page", "o/1h/5m"), burn("shop", "page", "o/6h/30m"), burn("shop", "ticket", "o/3d/6h")},
			"[BUDGET.BURN] 3 burn-rate alerts on Shop"},
		{"monitors down", []events.Event{mon("a", "api", "down"), mon("b", "api", "down")}, "[DOWN] 2 monitors are down on API"},
		{"monitors up", []events.Event{mon("a", "api", "up"), mon("b", "api", "up")}, "[UP] 2 monitors are up on API"},
		{"one monitor down and up", []events.Event{mon("a", "api", "down"), mon("a", "api", "up")}, "[CHANGES] 2 changes of 1 monitor on API"},
		{"monitors both ways and a burn", []events.Event{mon("a", "api", "down"), mon("b", "api", "up"), burn("api", "page", "o/1h/5m")},
			"[CHANGES] 2 monitors and 1 burn-rate alert on API"},
		{"three sorts, two components", []events.Event{burn("shop", "ticket", "o/3d/6h"), mon("a", "api", "down"), sla, burn("api", "page", "o/1h/5m")},
			"[CHANGES] 1 monitor down, 2 burn-rate alerts and 1 SLA alert"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (Page{Title: "Shop", Location: time.UTC}).groupMessage(c.evs, names).Subject; got != c.want {
				t.Errorf("subject %q, want %q", got, c.want)
			}
		})
	}
}
