package configs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/incidents"
)

func TestExampleNotifications(t *testing.T) {
	cfg, err := configs.Load("upstate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notify
	if !cfg.NotifyOn() || len(n.Targets) != 4 || n.Targets[0].ID != "oncall" || n.Targets[0].Timeout != 30*time.Second || n.Targets[0].MaxInFlight != 4 {
		t.Errorf("targets %+v", n.Targets)
	}
	if n.Retry.Min != 10*time.Second || n.Retry.Max != time.Hour || n.Retry.DeadAfter != 24*time.Hour || n.Workers != 64 || n.SMTP.Port != 1025 || n.SMTP.TLS != "none" || n.SMTP.Timeout != time.Minute {
		t.Errorf("defaults: retry %+v, workers %d, smtp %+v", n.Retry, n.Workers, n.SMTP)
	}
	if len(n.Routes) != 2 || n.Routes[0].GroupWait != 10*time.Second || n.Routes[1].Targets[0] != "team-hook" || len(n.APITargets) != 1 || n.APITargets[0] != "team-hook" {
		t.Errorf("routes %+v, api targets %v (the incidents route names team-hook, made through the admin API)", n.Routes, n.APITargets)
	}
	esc := cfg.Escalations()
	p1 := esc["jenny"][incidents.P1]
	if len(esc) != 3 || len(p1.Steps) != 3 || *p1.Steps[1].After != 30*time.Minute || p1.Steps[2].Fraction != 0.75 || p1.Repeat != 30*time.Minute ||
		p1.Steps[2].Notify[0] != "support-lead" {
		t.Errorf("jenny's P1 escalation %+v", p1)
	}
}

// TestNotifySecretsFromTheEnvironment: ${ENV} is read in secret fields only.
func TestNotifySecretsFromTheEnvironment(t *testing.T) {
	file := `notify:
  targets:
    - id: hook
      kind: webhook
      url: https://hooks.example.com/${HOOK_PATH}
      secret: ${HOOK_SECRET}
      headers:
        X-Team: ${NOT_EXPANDED}
    - id: pd
      kind: pagerduty
      routing_key: ${PD_KEY}
`
	env := map[string]string{"HOOK_PATH": "abc", "HOOK_SECRET": "s3cret", "PD_KEY": "R0UT1NG", "NOT_EXPANDED": "x"}
	cfg, err := configs.Parse("n.yaml", []byte(file), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Notify.Targets[0]
	if h.URL != "https://hooks.example.com/abc" || h.Secret != "s3cret" || h.Headers["X-Team"] != "${NOT_EXPANDED}" || cfg.Notify.Targets[1].RoutingKey != "R0UT1NG" {
		t.Errorf("targets %+v", cfg.Notify.Targets)
	}
	_, err = configs.Parse("n.yaml", []byte(file), func(k string) (string, bool) { v, ok := env[k]; return v, ok && k != "PD_KEY" })
	if err == nil || !strings.Contains(err.Error(), "n.yaml:11:20: notify.targets[1].routing_key: environment variable PD_KEY is not set") {
		t.Errorf("an unset secret: %v", err)
	}
}

// TestEscalationWithoutNotify: a config without a notify section sends nothing, so the
// policies' escalations are not checked against targets (the shipped policy files name
// targets the including config declares).
func TestEscalationWithoutNotify(t *testing.T) {
	cfg, err := configs.Load("policies/jenny-7x12.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NotifyOn() || len(cfg.Escalations()["jenny"]) != 3 {
		t.Errorf("NotifyOn %v, escalations %v", cfg.NotifyOn(), cfg.Escalations())
	}
}
