package statuspage

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/notify"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

// targetsFixture serves the targets API over a config file's target (ops) and the store's,
// with the environment given.
func targetsFixture(t *testing.T, env map[string]string) *fixture {
	t.Helper()
	f := newFixture(t)
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	chans, err := notify.NewChannels(notify.ChannelOptions{Page: notify.Page{Title: "Acme", PublicURL: "https://status.example.com"},
		APITargets: f.store, LookupEnv: lookup, Targets: []notify.Target{
			{ID: "ops", Kind: notify.KindWebhook, URL: "https://hooks.example.com/ops?token=SECRET", Secret: "whsec"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Options{Store: f.store, Clock: f.clock, Targets: chans, LookupEnv: lookup, Policies: cfg.SLAPolicies(),
		DefaultPolicy: cfg.DefaultPolicy, TargetsUsedBy: map[string][]string{"team-hook": {"route incidents"}, "ops": {"escalation jenny P0,P1"}}})
	srv, err := New(Options{Store: f.store, Service: svc, Clock: f.clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test", CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// TestTargetsCRUD: targets made, read, changed and deleted through the admin API, never
// showing a secret; the config file's read-only (source: config, 409); bad fields 422 naming
// each; every change audited without its secrets.
func TestTargetsCRUD(t *testing.T) {
	f := targetsFixture(t, map[string]string{"HOOK_URL": "https://hooks.example.com/from-env/T0K3N"})
	read, admin := f.tokens[apikey.ScopeRead], f.tokens[apikey.ScopeAdmin]
	secrets := []string{"T0K3N", "s3cr3t-value", "Bearer xyz", "SECRET", "whsec"}
	noSecret := func(what string, body []byte) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(string(body), s) {
				t.Errorf("%s shows the secret %q: %s", what, s, body)
			}
		}
	}
	hook := `{"id":"team-hook","kind":"webhook","url":"https://hooks.example.com/T0K3N?sig=1","secret":"s3cr3t-value",` +
		`"headers":{"Authorization":"Bearer xyz"},"timeout":"10s"}`
	if r := f.do("POST", "/api/admin/v1/targets", read, hook); r.code != http.StatusForbidden {
		t.Errorf("create with a read key: %d", r.code)
	}
	r := f.do("POST", "/api/admin/v1/targets", admin, hook)
	if r.code != http.StatusCreated || r.hdr.Get("Location") != "/api/admin/v1/targets/team-hook" {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	noSecret("the created target", r.body)
	golden(t, "admin-target.json", r.body)
	if r := f.do("POST", "/api/admin/v1/targets", admin, hook); r.code != http.StatusConflict || r.apiErr(t).Code != "conflict" {
		t.Errorf("create twice: %d %s", r.code, r.body)
	}
	r = f.do("POST", "/api/admin/v1/targets", admin, `{"id":"ops","kind":"webhook","url":"https://example.com/x"}`)
	if e := r.apiErr(t); r.code != http.StatusConflict || e.Code != "managed_by_config" || !strings.Contains(e.Message, "source: config") {
		t.Errorf("an id the config declares: %d %+v", r.code, e)
	}
	r = f.do("POST", "/api/admin/v1/targets", admin, `{"id":"env-hook","kind":"webhook","url":"${HOOK_URL}","secret":"${HOOK_SECRET_UNSET}"}`)
	if e := r.apiErr(t); r.code != http.StatusUnprocessableEntity || e.Field != "secret" || e.Message != "secret: environment variable HOOK_SECRET_UNSET is not set" {
		t.Errorf("a secret from an unset variable: %d %+v", r.code, e)
	}
	if r := f.do("POST", "/api/admin/v1/targets", admin, `{"id":"env-hook","kind":"webhook","url":"${HOOK_URL}"}`); r.code != http.StatusCreated ||
		!strings.Contains(string(r.body), `"url":"${HOOK_URL}"`) {
		t.Errorf("a URL from the environment: %d %s", r.code, r.body)
	}

	// Each field is checked by the config file's rule, and named.
	for _, tt := range []struct{ name, body, field, message string }{
		{"bad url", `{"id":"x","kind":"webhook","url":"ftp://example.com/x"}`, "url", "url: must be an absolute http or https URL"},
		{"no kind", `{"id":"x","url":"https://example.com/x"}`, "kind", "kind: is required (email, webhook, chat, pagerduty)"},
		{"bad id", `{"id":"Not An Id","kind":"webhook","url":"https://example.com/x"}`, "id", ""},
		{"bad address", `{"id":"x","kind":"email","to":["sre@example.com","nobody"]}`, "to[1]", `to[1]: invalid address "nobody": want name@example.com`},
		{"no routing key", `{"id":"x","kind":"pagerduty"}`, "routing_key", "routing_key: is required for a pagerduty target"},
		{"unknown chat", `{"id":"x","kind":"chat","url":"nosuch://token@x"}`, "url", ""},
		{"field of another kind", `{"id":"x","kind":"chat","url":"ntfy://ntfy.sh/topic","secret":"s"}`, "secret", "secret: does not apply to a chat target"},
		{"timeout", `{"id":"x","kind":"webhook","url":"https://example.com/x","timeout":"1h"}`, "timeout", "timeout: must be between 100ms and 5m"},
		{"not a duration", `{"id":"x","kind":"webhook","url":"https://example.com/x","timeout":"soon"}`, "timeout", ""},
		{"in flight", `{"id":"x","kind":"webhook","url":"https://example.com/x","max_in_flight":1000}`, "max_in_flight", "max_in_flight: must be 1 to 256"},
		{"header", `{"id":"x","kind":"webhook","url":"https://example.com/x","headers":{"Bad Name":"v"}}`, "headers.Bad Name", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do("POST", "/api/admin/v1/targets", admin, tt.body)
			e := r.apiErr(t)
			if r.code != http.StatusUnprocessableEntity || e.Code != "validation_failed" || e.Field != tt.field || tt.message != "" && e.Message != tt.message {
				t.Errorf("%d %+v, want 422 naming %s (%s)", r.code, e, tt.field, tt.message)
			}
		})
	}
	if r := f.do("POST", "/api/admin/v1/targets", admin, `{"id":"x","kind":"webhook","uri":"https://example.com/x"}`); r.code != http.StatusBadRequest {
		t.Errorf("an unknown field: %d", r.code)
	}

	// Changed without sending the secret again: it is kept.
	r = f.do("PATCH", "/api/admin/v1/targets/team-hook", admin, `{"max_in_flight":2,"headers":{}}`)
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"max_in_flight":2`) || !strings.Contains(string(r.body), `"secret":"(redacted)"`) ||
		!strings.Contains(string(r.body), `"version":2`) {
		t.Errorf("patch: %d %s", r.code, r.body)
	}
	noSecret("the changed target", r.body)
	if st, err := f.store.GetNotifyTarget(t.Context(), "team-hook"); err != nil || st.Secret != "s3cr3t-value" || len(st.Headers) != 0 || st.MaxInFlight != 2 {
		t.Errorf("stored after the patch: %+v, %v", st, err)
	}
	if r := f.do("PATCH", "/api/admin/v1/targets/team-hook", admin, `{"url":"mailto:x"}`); r.code != http.StatusUnprocessableEntity || r.apiErr(t).Field != "url" {
		t.Errorf("a bad patch: %d %s", r.code, r.body)
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		body := ""
		if m == "PATCH" {
			body = `{"max_in_flight":1}`
		}
		if r := f.do(m, "/api/admin/v1/targets/ops", admin, body); r.code != http.StatusConflict || r.apiErr(t).Code != "managed_by_config" {
			t.Errorf("%s of the config's target: %d %s", m, r.code, r.body)
		}
	}
	if r := f.do("GET", "/api/admin/v1/targets/ops", read, ""); r.code != http.StatusOK || !strings.Contains(string(r.body), `"source":"config"`) {
		t.Errorf("get the config's target: %d %s", r.code, r.body)
	}
	r = f.do("GET", "/api/admin/v1/targets", read, "")
	noSecret("the list", r.body)
	golden(t, "admin-targets.json", r.body)

	if r := f.do("DELETE", "/api/admin/v1/targets/team-hook", admin, ""); r.code != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/targets/team-hook", read, ""); r.code != http.StatusNotFound {
		t.Errorf("get after the delete: %d", r.code)
	}
	if r := f.do("DELETE", "/api/admin/v1/targets/team-hook", admin, ""); r.code != http.StatusNotFound {
		t.Errorf("delete twice: %d", r.code)
	}

	// Audited: who, what, before and after, never a secret.
	entries, err := f.store.ListAudit(t.Context(), store.AuditQuery{Target: "target/team-hook"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
		noSecret("audit entry "+e.Action, append(append([]byte{}, e.Before...), e.After...))
		if e.Actor != "admin-key" {
			t.Errorf("audit entry %s by %q", e.Action, e.Actor)
		}
	}
	if strings.Join(actions, ",") != "target.delete,target.update,target.create" {
		t.Errorf("audit = %v", actions)
	}
}
