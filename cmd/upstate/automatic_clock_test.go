package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/service"
)

// TestIncidentShowAutomaticRecovery: an automatic incident its monitor resolved before anyone
// acted shows, in `incident show` and in the admin API's JSON, no acknowledgement and a
// first-response clock stopped unmet, not met (docs/incidents.md, "Automatic incidents").
func TestIncidentShowAutomaticRecovery(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeRead])
	cfg, err := configs.Load(filepath.Join("..", "..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: s.store, Clock: s.clock, Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy})
	ctx := t.Context()
	inc, _, err := svc.Incidents.OpenAutomatic(ctx, service.Outage{ComponentID: "api", Name: "API", MonitorID: "api-health",
		Since: clientT0.Add(-30 * time.Second), Reason: "connect: refused"})
	if err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(3 * time.Minute)
	if _, err := svc.Incidents.RecoverAutomatic(ctx, "api", "api-health", s.clock.Now().Add(-time.Minute), service.RecoveryResolve); err != nil {
		t.Fatal(err)
	}
	out := squash(ok(t, "incident", "show", inc.ID))
	if !strings.Contains(out, "Acknowledged: -") || !strings.Contains(out, "Clock first_response: stopped, due") ||
		!strings.Contains(out, "stopped unmet 2026-11-01T09:33:00Z") || !strings.Contains(out, "Clock resolution: met") {
		t.Errorf("incident show:\n%s", out)
	}
	v := decodeJSON[struct {
		Clocks []struct {
			Kind      string     `json:"kind"`
			State     string     `json:"state"`
			MetAt     *time.Time `json:"met_at"`
			StoppedAt *time.Time `json:"stopped_at"`
		} `json:"clocks"`
	}](t, ok(t, "incident", "show", inc.ID, "-o", "json"))
	found := false
	for _, c := range v.Clocks {
		if c.Kind == "first_response" {
			found = true
			if c.State != "stopped" || c.MetAt != nil || c.StoppedAt == nil || !c.StoppedAt.Equal(clientT0.Add(3*time.Minute)) {
				t.Errorf("the admin API's first_response: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("no first_response clock: %+v", v.Clocks)
	}
}
