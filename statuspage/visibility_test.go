package statuspage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Internal things, each named so that any trace of it in a public response is found: ids and
// names that occur nowhere else.
const (
	secretGroup      = "opsgrp-q1"
	secretGroupName  = "Zebra Operations"
	secretInGroup    = "runner-q2" // public itself, but in the internal group
	secretInGroupN   = "Yak Runner"
	secretComp       = "vault-q3"
	secretCompName   = "Walrus Vault"
	secretInPublic   = "coredb-q4" // internal, in a public group
	secretInPublicN  = "Narwhal Database"
	secretIncident   = "inc-q5"
	secretIncidentT  = "Quokka vault outage"
	secretWindow     = "win-q6"
	secretWindowT    = "Okapi vault maintenance"
	mixedIncident    = "inc-mixed"
	mixedWindow      = "win-mixed"
	publicComp       = "api"
	publicGroup      = "core"
	publicInGroup    = "web"
	secretUpdateBody = "This update names no one." // the text of a public incident stays as written
)

var secrets = []string{secretGroup, secretGroupName, secretInGroup, secretInGroupN, secretComp, secretCompName,
	secretInPublic, secretInPublicN, secretIncident, secretIncidentT, secretWindow, secretWindowT}

// visibilityFixture: an internal group with a component, an internal component alone and one in
// a public group, incidents and windows touching only internal components, and ones touching
// public and internal components alike. The internal ones are down; the public ones are not.
func visibilityFixture(t *testing.T, f *fixture) {
	t.Helper()
	ctx := t.Context()
	if reg, ok := f.srv.gatherer.(prometheus.Registerer); ok {
		thingSeries(t, reg) // what the engine would name on /metrics
	}
	for _, c := range []component.Component{
		{ID: publicGroup, Name: "Core", IsGroup: true},
		{ID: secretGroup, Name: secretGroupName, IsGroup: true, Visibility: component.Internal, Position: 1},
		{ID: publicComp, Name: "API", GroupID: publicGroup, Position: 2},
		{ID: publicInGroup, Name: "Website", GroupID: publicGroup, Position: 3},
		{ID: secretInPublic, Name: secretInPublicN, GroupID: publicGroup, Position: 4, Visibility: component.Internal},
		{ID: secretInGroup, Name: secretInGroupN, GroupID: secretGroup, Position: 5},
		{ID: secretComp, Name: secretCompName, Position: 6, Visibility: component.Internal},
	} {
		c.Source, c.CreatedAt, c.UpdatedAt = component.SourceConfig, t0.Add(-100*24*time.Hour), t0.Add(-100*24*time.Hour)
		if err := f.store.CreateComponent(ctx, c, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []component.Change{
		{ComponentID: publicComp, At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational},
		{ComponentID: publicInGroup, At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational},
		{ComponentID: secretComp, At: t0.Add(-3 * time.Hour), Status: component.MajorOutage},
		{ComponentID: secretInPublic, At: t0.Add(-3 * time.Hour), Status: component.MajorOutage},
		{ComponentID: secretInGroup, At: t0.Add(-3 * time.Hour), Status: component.PartialOutage},
	} {
		if err := f.store.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	p := f.srv.sla.Policies[f.srv.sla.DefaultPolicy]
	declare := func(id, title string, sev incidents.Severity, ids ...string) {
		var as []incidents.Affected
		for _, id := range ids {
			as = append(as, incidents.Affected{ComponentID: id, Impact: component.MajorOutage})
		}
		inc, errs := incidents.Declare(incidents.Declaration{ID: id, Title: title, Body: secretUpdateBody, Severity: sev, Components: as,
			Policy: f.srv.sla.DefaultPolicy, Author: "ops", StartedAt: t0.Add(-2 * time.Hour)}, p, t0.Add(-2*time.Hour))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if err := f.store.CreateIncident(ctx, inc, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	declare(secretIncident, secretIncidentT, incidents.P0, secretComp, secretInGroup)
	declare(mixedIncident, "Elevated latency", incidents.P3, publicComp, secretComp, secretInPublic)
	for _, body := range []string{
		`{"id":"` + secretWindow + `","title":"` + secretWindowT + `","components":["` + secretComp + `","` + secretInGroup + `"],"time_zone":"UTC","daily":true,"start_time":"00:00","duration":"23h59m","first_date":"2026-10-01"}`,
		`{"id":"` + mixedWindow + `","title":"Storage upgrade","components":["` + publicInGroup + `","` + secretInPublic + `"],"time_zone":"UTC","daily":true,"start_time":"10:00","duration":"1h","first_date":"2026-10-01"}`,
	} {
		if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance], body); r.code != 201 {
			t.Fatalf("window: %d %s", r.code, r.body)
		}
	}
}

// TestNoInternalLeak walks every GET route the router has, with every path parameter filled by
// public ids, internal ids and nonsense, with and without the queries the routes take, as a
// browser and as a client, without a key: no response names an internal component, group,
// incident or window (an id a request sends itself may come back in its own 404: the answer is
// the same as for an id that does not exist). The same walk runs on the cached server.
func TestNoInternalLeak(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			f := newFixture(t)
			if cached {
				f, _ = cachedFixture(t)
			}
			visibilityFixture(t, f)
			ids := []string{publicComp, publicGroup, publicInGroup, mixedIncident, mixedWindow, "nope",
				secretGroup, secretInGroup, secretComp, secretInPublic, secretIncident, secretWindow}
			queries := []string{"", "?lang=zh-Hans", "?component=" + secretComp, "?component=" + secretInGroup, "?month=2026-11",
				"?status=open", "?format=csv&month=2026-11", "?from=2026-10-01T00:00:00Z&to=2026-11-02T00:00:00Z"}
			walked := map[string]bool{}
			for _, r := range f.srv.echo.Routes() {
				if r.Method != http.MethodGet {
					continue
				}
				for _, path := range concretePaths(r.Path, ids) {
					for _, q := range queries {
						for _, accept := range []string{"text/html", "application/json"} {
							resp := f.do("GET", path+q, "", "", "Accept", accept, "Accept-Language", "zh-CN")
							walked[r.Path] = true
							checkNoSecrets(t, "GET "+path+q, path+q, resp)
						}
					}
				}
			}
			if len(walked) < 30 {
				t.Errorf("walked %d routes: the walk misses the router's", len(walked))
			}
			// The public figures are the public components' alone: the internal ones are down.
			var st struct{ Status struct{ Indicator string } }
			mustOK(t, json.Unmarshal(f.do("GET", "/api/v2/status.json", "", "").body, &st))
			if st.Status.Indicator != "none" && st.Status.Indicator != "maintenance" {
				t.Errorf("the public indicator is %q: an internal outage shows through", st.Status.Indicator)
			}
			page := string(f.do("GET", "/", "", "", "Accept", "text/html").body)
			if !strings.Contains(page, "Elevated latency") || !strings.Contains(page, "Storage upgrade") || !strings.Contains(page, "Website") {
				t.Errorf("the public page lacks the public incident, window or component")
			}
			if strings.Contains(page, "Major System Outage") || strings.Contains(page, "Partial System Outage") {
				t.Errorf("the public banner shows an internal outage")
			}
		})
	}
}

// concretePaths fills an Echo route's parameters: each id for :id, each kind of badge, a file.
func concretePaths(route string, ids []string) []string {
	param := regexp.MustCompile(`:[A-Za-z0-9_]+|\*$`)
	names := param.FindAllString(route, -1)
	if len(names) == 0 {
		return []string{route}
	}
	values := map[string][]string{
		":kind":   {"status.svg", "uptime.svg", "status.json", "uptime.json"},
		":name":   {"style.css", "logo.svg", "favicon.svg"},
		"*":       {"style.css", "favicon.svg", "embed.css"},
		":token":  {"not-a-token"},
		":what":   {"fail"},
		":start":  {"2026-11-01T10:00:00Z"},
		":format": {"json"},
	}
	paths := []string{route}
	for _, n := range names {
		vs, ok := values[n]
		if !ok {
			vs = ids
		}
		var next []string
		for _, p := range paths {
			for _, v := range vs {
				next = append(next, strings.Replace(p, n, url.PathEscape(v), 1))
			}
		}
		paths = next
	}
	return paths
}

// checkNoSecrets fails if resp names an internal thing, other than one req itself names.
func checkNoSecrets(t *testing.T, what, req string, resp response) {
	t.Helper()
	text := string(resp.body)
	for k, vs := range resp.hdr {
		text += "\n" + k + ": " + strings.Join(vs, ", ")
	}
	for _, s := range secrets {
		if strings.Contains(req, s) {
			text = strings.ReplaceAll(text, s, "")
		}
		if strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Errorf("%s (%d) names %q: …%s…", what, resp.code, s, text[max(0, i-80):min(len(text), i+80)])
		}
	}
	for _, s := range secrets {
		if resp.code == http.StatusOK && strings.Contains(req, "/badge/"+s+"/") {
			t.Errorf("%s answered 200: a badge of an internal component", what)
		}
	}
}

// TestInternalPage: /internal shows everything to a read key (header) or a session made from
// one, marks what is internal, is never cached, and refuses everyone else with the sign-in
// form; the session ends when its key is revoked or it expires.
func TestInternalPage(t *testing.T) {
	f := newFixture(t)
	visibilityFixture(t, f)
	// Anyone: the form, and nothing internal.
	r := f.do("GET", "/internal", "", "", "Accept", "text/html")
	if r.code != http.StatusUnauthorized || !strings.Contains(string(r.body), `action="/internal/login"`) {
		t.Fatalf("anonymous /internal: %d %s", r.code, r.body)
	}
	checkNoSecrets(t, "anonymous /internal", "", r)
	// A read key in the header.
	r = f.do("GET", "/internal", f.tokens[apikey.ScopeRead], "", "Accept", "text/html")
	page := string(r.body)
	if r.code != 200 {
		t.Fatalf("/internal with a read key: %d %s", r.code, page)
	}
	for _, s := range []string{secretGroupName, secretInGroupN, secretCompName, secretInPublicN, secretIncidentT, secretWindowT, "Website"} {
		if !strings.Contains(page, s) {
			t.Errorf("/internal lacks %q", s)
		}
	}
	if got := r.hdr.Get("Cache-Control"); got != "private, no-store" {
		t.Errorf("/internal Cache-Control %q", got)
	}
	if !strings.Contains(page, `href="/internal/incidents/`+secretIncident+`"`) || !strings.Contains(page, `class="internal-tag"`) {
		t.Errorf("/internal does not link its incidents to /internal/incidents or mark what is internal")
	}
	if r := f.do("GET", "/internal/incidents/"+secretIncident, f.tokens[apikey.ScopeRead], "", "Accept", "text/html"); r.code != 200 ||
		!strings.Contains(string(r.body), secretIncidentT) {
		t.Errorf("/internal/incidents/%s: %d", secretIncident, r.code)
	}
	if r := f.do("GET", "/internal", "up_bogus_key", "", "Accept", "application/json"); r.code != http.StatusUnauthorized {
		t.Errorf("a bad key in the header: %d", r.code)
	}

	// The form exchanges a read key for a session cookie.
	login := func(key, origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/internal/login", strings.NewReader(url.Values{"key": {key}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.RemoteAddr = "192.0.2.10:4321"
		rec := httptest.NewRecorder()
		f.srv.ServeHTTP(rec, req)
		return rec
	}
	if rec := login("up_nope_nope", ""); rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
		t.Errorf("a bad key signed in: %d %v", rec.Code, rec.Result().Cookies())
	}
	if rec := login(f.tokens[apikey.ScopeRead], "https://evil.example"); rec.Code != http.StatusForbidden {
		t.Errorf("a sign-in posted from another site: %d", rec.Code)
	}
	rec := login(f.tokens[apikey.ScopeRead], "http://example.com")
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("sign in: %d %v", rec.Code, cookies)
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/internal" || ck.MaxAge != int(sessionTTL/time.Second) || ck.Secure {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/internal, 12 h, not Secure over http", ck)
	}
	if strings.Contains(ck.Value, f.tokens[apikey.ScopeRead]) {
		t.Error("the cookie holds the key")
	}
	withCookie := func(value string) response {
		return f.do("GET", "/internal", "", "", "Accept", "text/html", "Cookie", sessionCookie+"="+value)
	}
	if r := withCookie(ck.Value); r.code != 200 || !strings.Contains(string(r.body), secretCompName) {
		t.Fatalf("/internal with the session: %d", r.code)
	}
	// A forged or altered cookie is the form.
	parts := strings.Split(ck.Value, ".")
	for _, forged := range []string{parts[0] + "." + parts[1] + ".AAAA", parts[0] + ".99999999999." + parts[2], "x.y.z", ""} {
		if r := withCookie(forged); r.code != http.StatusUnauthorized {
			t.Errorf("forged cookie %q: %d", forged, r.code)
		}
	}
	// Over HTTPS (behind a proxy that says so) the cookie is Secure.
	req := httptest.NewRequest("POST", "/internal/login", strings.NewReader(url.Values{"key": {f.tokens[apikey.ScopeRead]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.RemoteAddr = "127.0.0.1:4321" // the proxy (Echo believes X-Forwarded-Proto from private addresses)
	rec = httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("sign in over https: %v", cs)
	}
	// It expires.
	f.clock.Advance(sessionTTL + time.Second)
	if r := withCookie(ck.Value); r.code != http.StatusUnauthorized {
		t.Errorf("an expired session: %d", r.code)
	}
	f.clock.Advance(-sessionTTL - time.Second)
	// Revoking the key ends its sessions at once.
	key, _, _ := strings.Cut(strings.TrimPrefix(f.tokens[apikey.ScopeRead], "up_"), "_")
	if r := f.do("DELETE", "/api/admin/v1/keys/"+key, f.tokens[apikey.ScopeAdmin], ""); r.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.code, r.body)
	}
	if r := withCookie(ck.Value); r.code != http.StatusUnauthorized {
		t.Errorf("the session of a revoked key: %d", r.code)
	}
	// Signing out clears the cookie.
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/internal/logout", nil)
	f.srv.ServeHTTP(rec, req)
	if cs := rec.Result().Cookies(); rec.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
		t.Errorf("sign out: %d %v", rec.Code, cs)
	}
}

// TestVisibilityThroughTheAPI: the admin API sets and reads visibility; a bad value is a 422
// naming the field; the admin API sees internal components, the public one does not.
func TestVisibilityThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	admin := f.tokens[apikey.ScopeAdmin]
	if r := f.do("POST", "/api/admin/v1/components", admin, `{"id":"vault","name":"Vault","visibility":"internal"}`); r.code != 201 ||
		!strings.Contains(string(r.body), `"visibility":"internal"`) {
		t.Fatalf("create internal: %d %s", r.code, r.body)
	}
	if r := f.do("POST", "/api/admin/v1/components", admin, `{"id":"api","name":"API","visibility":"private"}`); r.code != 422 ||
		!strings.Contains(string(r.body), `"field":"visibility"`) {
		t.Errorf("a bad visibility: %d %s", r.code, r.body)
	}
	if r := f.do("POST", "/api/admin/v1/components", admin, `{"id":"api","name":"API"}`); r.code != 201 || strings.Contains(string(r.body), "visibility") {
		t.Errorf("create public: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], ""); !strings.Contains(string(r.body), `"vault"`) {
		t.Errorf("the admin API hides an internal component: %s", r.body)
	}
	if r := f.do("GET", "/api/v1/components", "", ""); strings.Contains(string(r.body), `"vault"`) || !strings.Contains(string(r.body), `"api"`) {
		t.Errorf("/api/v1/components: %s", r.body)
	}
	if r := f.do("PATCH", "/api/admin/v1/components/vault", admin, `{"visibility":"public"}`); r.code != 200 || strings.Contains(string(r.body), "visibility") {
		t.Errorf("make public: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/v1/components", "", ""); !strings.Contains(string(r.body), `"vault"`) {
		t.Errorf("a component made public is not shown: %s", r.body)
	}
	if r := f.do("PATCH", "/api/admin/v1/components/api", admin, `{"visibility":"hidden"}`); r.code != 422 || !strings.Contains(string(r.body), `"field":"visibility"`) {
		t.Errorf("a bad visibility in a patch: %d %s", r.code, r.body)
	}
}

// twoMonitors runs a monitor on a public component and one on an internal one.
type twoMonitors struct{}

func (twoMonitors) Monitors() []engine.MonitorSnapshot {
	return []engine.MonitorSnapshot{
		{Monitor: probe.Monitor{ID: "api-up", Name: "API", ComponentID: publicComp, Kind: probe.KindHTTP, HTTP: &probe.HTTPSpec{URL: "http://api.example/"}}, State: probe.StateUp},
		{Monitor: probe.Monitor{ID: "vault-up", Name: secretCompName, ComponentID: secretComp, Kind: probe.KindHTTP, HTTP: &probe.HTTPSpec{URL: "http://10.0.0.9/"}}, State: probe.StateDown},
	}
}

func (m twoMonitors) Monitor(id string) (engine.MonitorSnapshot, bool) {
	for _, s := range m.Monitors() {
		if s.Monitor.ID == id {
			return s, true
		}
	}
	return engine.MonitorSnapshot{}, false
}

// TestMonitorsHideInternal: with server.public_monitors, the monitors API (no key) leaves out
// the monitors of internal components (one asked for by id is as missing as an unknown one);
// without it, the API behind its read key lists them all.
func TestMonitorsHideInternal(t *testing.T) {
	f := newFixture(t)
	visibilityFixture(t, f)
	srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), Page: f.srv.page,
		SLA: f.srv.sla, CacheTTL: -1, Monitors: twoMonitors{}, PublicMonitors: true})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	list := f.do("GET", "/api/v1/monitors", "", "")
	checkNoSecrets(t, "GET /api/v1/monitors", "", list)
	if !strings.Contains(string(list.body), `"api-up"`) || strings.Contains(string(list.body), "vault-up") {
		t.Errorf("public monitors: %s", list.body)
	}
	hidden, unknown := f.do("GET", "/api/v1/monitors/vault-up", "", ""), f.do("GET", "/api/v1/monitors/nope-up", "", "")
	if hidden.code != 404 || strings.ReplaceAll(string(hidden.body), "vault-up", "nope-up") != string(unknown.body) {
		t.Errorf("an internal monitor by id: %d %s (an unknown one: %s)", hidden.code, hidden.body, unknown.body)
	}
	srv, err = New(Options{Store: f.store, Clock: f.clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(), Page: f.srv.page,
		SLA: f.srv.sla, CacheTTL: -1, Monitors: twoMonitors{}})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	if keyed := f.do("GET", "/api/v1/monitors", f.tokens[apikey.ScopeRead], ""); !strings.Contains(string(keyed.body), "vault-up") {
		t.Errorf("with a read key the monitors API hides a monitor: %s", keyed.body)
	}
}
