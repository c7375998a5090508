package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/statuspage"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// apiServer is a real statuspage server on loopback with the example config's policies, a
// fake clock, components api and db, and a key per scope: what the client commands talk to.
type apiServer struct {
	url    string
	clock  *clockwork.FakeClock
	store  *sqlite.Store
	tokens map[apikey.Scope]string
}

// 2026-11-01T09:30Z is a Sunday, 01:30 PST: Los Angeles left daylight time half an hour ago.
var clientT0 = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

func startAPIServer(t *testing.T) apiServer {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := configs.Load(filepath.Join("..", "..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(clientT0)
	srv, err := statuspage.New(statuspage.Options{Store: st, Clock: clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		CacheTTL: -1, Page: statuspage.Page{Title: "Acme Status", PublicURL: "https://status.example.com"},
		SLA: statuspage.SLA{Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy}})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv)
	t.Cleanup(web.Close)
	s := apiServer{url: web.URL, clock: clock, store: st, tokens: map[apikey.Scope]string{}}
	for _, c := range []component.Component{{ID: "api", Name: "API"}, {ID: "db", Name: "Database"}} {
		c.Source, c.Status, c.CreatedAt, c.UpdatedAt = component.SourceAPI, component.Operational, clientT0, clientT0
		if err := st.CreateComponent(ctx, c, store.AuditEntry{At: clientT0, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range apikey.Scopes {
		key, token, err := apikey.GenerateCost(nil, string(sc)+"-key", []apikey.Scope{sc}, clientT0, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(ctx, key, store.AuditEntry{At: clientT0, Actor: "test"}); err != nil {
			t.Fatal(err)
		}
		s.tokens[sc] = token
	}
	return s
}

// clientEnv points the client at s with token, and at an empty config directory.
func clientEnv(t *testing.T, s apiServer, token string) {
	t.Helper()
	t.Setenv("UPSTATE_SERVER", s.url)
	t.Setenv("UPSTATE_TOKEN", token)
	t.Setenv("UPSTATE_CLIENT_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
}

type cliResult struct {
	code           int
	stdout, stderr string
}

func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	code, stdout, stderr := runCLI(args...)
	return cliResult{code, stdout, stderr}
}

// ok runs a command that must succeed and returns its output.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := cli(t, args...)
	if r.code != 0 {
		t.Fatalf("upstate %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// refused runs a command that must fail with code, saying want on stderr.
func refused(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	r := cli(t, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Errorf("upstate %s: exit %d, stderr %q; want exit %d saying %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
}

type incidentJSON struct {
	ID             string     `json:"id"`
	Severity       string     `json:"severity"`
	Impact         string     `json:"impact"`
	Status         string     `json:"status"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	Components     []struct {
		ComponentID string `json:"component_id"`
		Impact      string `json:"impact"`
	} `json:"components"`
	Updates []struct {
		Kind   string `json:"kind"`
		Status string `json:"status"`
		Author string `json:"author"`
		Body   string `json:"body"`
	} `json:"updates"`
}

// squash is out with every run of spaces as one, so table cells can be matched.
func squash(out string) string { return strings.Join(strings.Fields(out), " ") }

func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("-o json printed what is not JSON: %v\n%s", err, out)
	}
	return v
}

// TestClientIncidentWorkflow: an SRE declares a P0, posts updates, acknowledges and resolves it,
// through the CLI against a real server; the server holds what the CLI said.
func TestClientIncidentWorkflow(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeIncidents])

	inc := decodeJSON[incidentJSON](t, ok(t, "incident", "declare", "-title", "Checkout fails", "-severity", "p0",
		"-message", "We are investigating failed payments.", "-component", "api=major_outage", "-o", "json"))
	if inc.ID == "" || inc.Severity != "P0" || inc.Impact != "critical" || inc.Status != "investigating" ||
		len(inc.Components) != 1 || inc.Components[0].ComponentID != "api" || inc.Components[0].Impact != "major_outage" {
		t.Fatalf("declared %+v", inc)
	}
	s.clock.Advance(10 * time.Minute)
	out := ok(t, "incident", "update", inc.ID, "-message", "A bad deploy; rolling back.", "-status", "identified",
		"-component", "api=partial_outage,db=degraded_performance")
	for _, want := range []string{"ID:", inc.ID, "Status:", "identified", "api=partial_outage, db=degraded_performance", "A bad deploy; rolling back.", "incidents-key"} {
		if !strings.Contains(out, want) {
			t.Errorf("update's table lacks %q:\n%s", want, out)
		}
	}
	s.clock.Advance(time.Minute)
	if out := ok(t, "incident", "ack", inc.ID); !strings.Contains(squash(out), "Acknowledged: 2026-11-01T09:41:00Z") {
		t.Errorf("ack's table:\n%s", out)
	}
	refused(t, exitConflict, "conflict: incident "+inc.ID+" was already acknowledged", "incident", "ack", inc.ID)
	s.clock.Advance(20 * time.Minute)
	ok(t, "incident", "update", inc.ID, "-message", "Rolled back; watching.", "-status", "monitoring")
	s.clock.Advance(30 * time.Minute)
	if out := ok(t, "incident", "resolve", inc.ID, "-message", "Payments work again."); !strings.Contains(squash(out), "Resolved: 2026-11-01T10:31:00Z") ||
		!strings.Contains(squash(out), "Clock resolution: met") {
		t.Errorf("resolve's table:\n%s", out)
	}
	refused(t, exitConflict, "already resolved [HTTP 409]", "incident", "resolve", inc.ID)

	got := decodeJSON[incidentJSON](t, ok(t, "incident", "show", inc.ID, "-o", "json"))
	var kinds []string
	for _, u := range got.Updates {
		kinds = append(kinds, u.Kind+":"+u.Status+":"+u.Author)
	}
	if want := "resolve:resolved:incidents-key,update:monitoring:incidents-key,acknowledge:identified:incidents-key," +
		"update:identified:incidents-key,declare:investigating:incidents-key"; strings.Join(kinds, ",") != want {
		t.Errorf("updates = %s\nwant %s", strings.Join(kinds, ","), want)
	}
	stored, err := s.store.GetIncident(t.Context(), inc.ID)
	if err != nil || stored.Status != "resolved" || stored.AcknowledgedAt.IsZero() || len(stored.Updates) != 5 {
		t.Errorf("stored %+v (%v)", stored, err)
	}

	// Lists: open by default, all on request, in a table and as the API's JSON.
	if out := ok(t, "incident", "list"); strings.Contains(out, inc.ID) || !strings.HasPrefix(out, "ID") {
		t.Errorf("open incidents list a resolved one:\n%s", out)
	}
	if out := ok(t, "incident", "list", "-status", "all"); !strings.Contains(out, inc.ID) || !strings.Contains(out, "Checkout fails") {
		t.Errorf("all incidents:\n%s", out)
	}
	list := decodeJSON[struct{ Incidents []incidentJSON }](t, ok(t, "incident", "list", "-status", "resolved", "-severity", "P0", "-o", "json"))
	if len(list.Incidents) != 1 || list.Incidents[0].ID != inc.ID {
		t.Errorf("resolved P0 incidents = %+v", list.Incidents)
	}
}

// TestClientErrors: the API's errors come out with their code, message and field, and the
// documented exit code.
func TestClientErrors(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeIncidents])

	refused(t, exitNotFound, "upstate incident show: not_found: incident nope not found [HTTP 404]", "incident", "show", "nope")
	refused(t, exitNotFound, "[HTTP 404]", "incident", "resolve", "nope")
	refused(t, exitAPI, "validation_failed: severity: must be P0, P1, P2 or P3 [HTTP 422]",
		"incident", "declare", "-title", "x", "-severity", "P9")
	refused(t, exitAPI, "validation_failed: components[0].impact: must be", "incident", "declare", "-title", "x", "-severity", "P1", "-component", "api=sad")
	refused(t, exitAPI, "invalid_query: must be 1 to 500 (field limit) [HTTP 400]", "incident", "list", "-limit", "0")
	refused(t, exitAPI, "forbidden: the key \"incidents-key\" lacks the \"maintenance\" scope [HTTP 403]",
		"maintenance", "create", "-title", "x", "-component", "db", "-start", "2026-11-02T00:00:00Z", "-end", "2026-11-02T01:00:00Z")

	t.Setenv("UPSTATE_TOKEN", "up_aaaaaaaaaaaaaaaa_"+strings.Repeat("b", 52))
	refused(t, exitAPI, "unauthorized: the API key is invalid or revoked [HTTP 401]", "incident", "list")

	// Usage: exit 2, before anything is sent.
	t.Setenv("UPSTATE_TOKEN", s.tokens[apikey.ScopeIncidents])
	refused(t, exitUsage, "-title and -severity are required", "incident", "declare", "-title", "x")
	refused(t, exitUsage, "want 1 argument(s), got 0", "incident", "show")
	refused(t, exitUsage, "-o \"yaml\": want table or json", "incident", "list", "-o", "yaml")
	refused(t, exitUsage, "unknown command \"delete\"", "incident", "delete", "x")
	refused(t, exitUsage, "want ID=IMPACT", "incident", "declare", "-title", "x", "-severity", "P1", "-component", "api")
	refused(t, exitUsage, "give one of -end TIME and -by DURATION", "maintenance", "extend", "w")
	t.Setenv("UPSTATE_TOKEN", "")
	refused(t, exitUsage, "no API key: set UPSTATE_TOKEN", "incident", "list")
	t.Setenv("UPSTATE_SERVER", "")
	refused(t, exitUsage, "no server: pass -server URL", "incident", "list")
	refused(t, exitUsage, "server \"status.example.com\": want a URL", "incident", "list", "-server", "status.example.com")

	// A server that does not answer is exit 1, naming it.
	t.Setenv("UPSTATE_TOKEN", s.tokens[apikey.ScopeIncidents])
	refused(t, exitAPI, "connection refused", "incident", "list", "-server", "http://127.0.0.1:1")
	// A body that is not the API's error (a proxy's page) is shown by its status.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	refused(t, exitAPI, "the server answered Bad Gateway: <html>Bad Gateway</html> [HTTP 502]", "incident", "list", "-server", proxy.URL)
}

// TestClientConfigFile: the server and key come from the client config, which must not be
// readable by others; flags and the environment win over it.
func TestClientConfigFile(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, "")
	t.Setenv("UPSTATE_SERVER", "")
	dir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "upstate")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "client.yaml")
	if err := os.WriteFile(path, []byte("server: "+s.url+"\ntoken: "+s.tokens[apikey.ScopeRead]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(t, exitUsage, "client config "+path+" is open to others (mode 0644)", "incident", "list")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, "incident", "list"); !strings.HasPrefix(out, "ID") {
		t.Errorf("list with the config file:\n%s", out)
	}
	// The key in the file is a read key: a change is refused, with the scope named.
	refused(t, exitAPI, "lacks the \"incidents\" scope", "incident", "declare", "-title", "x", "-severity", "P2")
	// UPSTATE_TOKEN wins over the file.
	t.Setenv("UPSTATE_TOKEN", s.tokens[apikey.ScopeIncidents])
	ok(t, "incident", "declare", "-title", "x", "-severity", "P2")
	// -server wins over UPSTATE_SERVER, which wins over the file.
	t.Setenv("UPSTATE_SERVER", "http://127.0.0.1:1")
	refused(t, exitAPI, "connection refused", "incident", "list")
	ok(t, "incident", "list", "-server", s.url)
	// An explicit config file must exist; an unknown key in it is refused.
	t.Setenv("UPSTATE_SERVER", "")
	refused(t, exitUsage, "no such file", "incident", "list", "-client-config", filepath.Join(dir, "missing.yaml"))
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("sever: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, exitUsage, "field sever not found", "incident", "list", "-client-config", bad)
}

type occurrenceJSON struct {
	Start        string `json:"start"`
	End          string `json:"end"`
	ScheduledEnd string `json:"scheduled_end"`
	LocalStart   string `json:"local_start"`
	Status       string `json:"status"`
}

// TestClientMaintenanceWorkflow: the Tuesday 21:00 America/Los_Angeles two-hour window is
// scheduled, one occurrence cancelled, the next extended while it runs and ended early.
func TestClientMaintenanceWorkflow(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeMaintenance])

	w := decodeJSON[struct {
		ID   string           `json:"id"`
		Next []occurrenceJSON `json:"next_occurrences"`
	}](t, ok(t, "maintenance", "create", "-id", "tuesday-db", "-title", "Database upgrades", "-component", "db",
		"-tz", "America/Los_Angeles", "-days", "tue", "-start-time", "21:00", "-duration", "2h", "-o", "json"))
	// Tuesdays 21:00 PST are 05:00 UTC on Wednesdays.
	if w.ID != "tuesday-db" || len(w.Next) < 2 || w.Next[0].Start != "2026-11-04T05:00:00Z" || w.Next[0].End != "2026-11-04T07:00:00Z" ||
		w.Next[0].LocalStart != "2026-11-03T21:00:00-08:00" || w.Next[1].Start != "2026-11-11T05:00:00Z" {
		t.Fatalf("created %+v", w)
	}

	out := ok(t, "maintenance", "cancel", "tuesday-db", "-occurrence", "2026-11-11T05:00:00Z")
	if !strings.Contains(squash(out), "Status: cancelled") || !strings.Contains(out, "2026-11-11T05:00:00Z (2026-11-10T21:00:00-08:00)") {
		t.Errorf("cancel one occurrence:\n%s", out)
	}
	refused(t, exitConflict, "invalid_state", "maintenance", "cancel", "tuesday-db", "-occurrence", "2026-11-11T05:00:00Z")
	refused(t, exitNotFound, "[HTTP 404]", "maintenance", "cancel", "tuesday-db", "-occurrence", "2026-11-11T06:00:00Z")
	refused(t, exitNotFound, "not_found", "maintenance", "cancel", "nope")

	out = ok(t, "maintenance", "list")
	for _, want := range []string{"tuesday-db", "Database upgrades", "FREQ=WEEKLY;BYDAY=TU at 21:00 for 2h0m0s", "America/Los_Angeles", "2026-11-04T05:00:00Z", "scheduled"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	refused(t, exitConflict, "window tuesday-db has no occurrence in progress", "maintenance", "end", "tuesday-db")

	// The first one runs: extended by 30 minutes, then ended early.
	s.clock.Advance(time.Date(2026, 11, 4, 5, 30, 0, 0, time.UTC).Sub(s.clock.Now()))
	o := decodeJSON[occurrenceJSON](t, ok(t, "maintenance", "extend", "tuesday-db", "-by", "30m", "-o", "json"))
	if o.Start != "2026-11-04T05:00:00Z" || o.End != "2026-11-04T07:30:00Z" || o.ScheduledEnd != "2026-11-04T07:00:00Z" || o.Status != "in_progress" {
		t.Errorf("extended %+v", o)
	}
	s.clock.Advance(15 * time.Minute)
	o = decodeJSON[occurrenceJSON](t, ok(t, "maintenance", "end", "tuesday-db", "-o", "json"))
	if o.End != "2026-11-04T05:45:00Z" || o.Status != "completed" {
		t.Errorf("ended %+v", o)
	}
	// The whole series.
	if out := ok(t, "maintenance", "cancel", "tuesday-db"); !strings.Contains(out, "Cancelled:") {
		t.Errorf("cancel the series:\n%s", out)
	}
}

// TestClientMaintenanceDelete: a window created by mistake is deleted before it starts; once
// it has started the API refuses (exit 4) and says to cancel it.
func TestClientMaintenanceDelete(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, s.tokens[apikey.ScopeMaintenance])
	ok(t, "maintenance", "create", "-id", "mistake", "-title", "Wrong day", "-component", "db", "-tz", "UTC", "-start", "2026-11-02T00:00:00Z", "-end", "2026-11-02T01:00:00Z")
	ok(t, "maintenance", "create", "-id", "soon", "-title", "Soon", "-component", "db", "-tz", "UTC", "-start", "2026-11-01T10:00:00Z", "-end", "2026-11-01T11:00:00Z")
	if out := ok(t, "maintenance", "delete", "mistake"); out != "mistake deleted\n" {
		t.Errorf("delete said %q, want \"mistake deleted\"", out)
	}
	if out := ok(t, "maintenance", "list"); strings.Contains(out, "mistake") || !strings.Contains(out, "soon") {
		t.Errorf("list after the delete:\n%s", out)
	}
	refused(t, exitNotFound, "not_found", "maintenance", "delete", "mistake")
	refused(t, exitUsage, "", "maintenance", "delete")
	s.clock.Advance(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Sub(s.clock.Now())) // soon starts
	refused(t, exitConflict, "cancel it instead", "maintenance", "delete", "soon")
	if out := ok(t, "maintenance", "list"); !strings.Contains(out, "soon") {
		t.Errorf("the started window is gone:\n%s", out)
	}
}

// TestClientComponentStatus: what the page shows, without a key.
func TestClientComponentStatus(t *testing.T) {
	s := startAPIServer(t)
	clientEnv(t, s, "")
	if err := s.store.AppendStatus(t.Context(), component.Change{ComponentID: "db", At: clientT0, Status: component.PartialOutage}); err != nil {
		t.Fatal(err)
	}
	out := squash(ok(t, "component", "status"))
	for _, want := range []string{"ID NAME GROUP STATUS SINCE", "api API - unknown -", "db Database - partial_outage 2026-11-01T09:30:00Z"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	one := decodeJSON[struct {
		Components []struct{ ID, Status string }
	}](t, ok(t, "component", "status", "db", "-o", "json"))
	if len(one.Components) != 1 || one.Components[0].ID != "db" || one.Components[0].Status != "partial_outage" {
		t.Errorf("db = %+v", one)
	}
	refused(t, exitNotFound, "component nope not found", "component", "status", "nope")
}
