package statuspage

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

var t0 = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)

type fixture struct {
	t      testing.TB
	srv    *Server
	store  *sqlite.Store
	clock  *clockwork.FakeClock
	tokens map[apikey.Scope]string
	api    *apiChecker // validates every exchange against openapi.yaml (openapi_test.go)
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	cfg, err := configs.Load(filepath.Join("..", "configs", "upstate.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Store: st, Clock: clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), Version: "test",
		MaxBodyBytes: 4096, CacheTTL: -1, Page: Page{Title: "Acme Status", Location: mustZone(t, "Asia/Shanghai"), PublicURL: "https://status.example.com"},
		SLA: SLA{Policies: cfg.SLAPolicies(), DefaultPolicy: cfg.DefaultPolicy},
		Reports: &engine.Reports{Store: st, Now: clock.Now, Objective: func(id string) engine.Objective {
			o := cfg.ObjectiveFor(id)
			return engine.Objective{ID: o.ID, Objective: o.Objective, Location: o.Location, Notice: o.Notice}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: srv, store: st, clock: clock, tokens: map[apikey.Scope]string{}}
	for _, sc := range apikey.Scopes {
		key, token, err := apikey.GenerateCost(nil, string(sc)+"-key", []apikey.Scope{sc}, t0, bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateKey(t.Context(), key, store.AuditEntry{At: t0, Actor: "test", Action: "key.create"}); err != nil {
			t.Fatal(err)
		}
		f.tokens[sc] = token
	}
	f.api = newAPIChecker(t, f.tokens)
	return f
}

func mustZone(t testing.TB, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

type response struct {
	code int
	body []byte
	hdr  http.Header
}

func (r response) apiErr(t *testing.T) apiError {
	t.Helper()
	var v struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Error.Code == "" {
		t.Fatalf("body is not a JSON error: %s (%v)", r.body, err)
	}
	return v.Error
}

// mustOK fails the test on a set-up error, which would otherwise leave it testing less than it says.
func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) do(method, path, token, body string, hdr ...string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.RemoteAddr = "192.0.2.10:4321"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	f.checkAPI(req, body, rec)
	return response{rec.Code, rec.Body.Bytes(), rec.Header()}
}

func (f *fixture) auditCount() int {
	f.t.Helper()
	entries, err := f.store.ListAudit(f.t.Context(), store.AuditQuery{})
	if err != nil {
		f.t.Fatal(err)
	}
	return len(entries)
}

func TestAdminAuth(t *testing.T) {
	f := newFixture(t)
	body := `{"id":"api","name":"API"}`
	tests := []struct {
		name     string
		method   string
		path     string
		token    string
		body     string
		wantCode int
		wantErr  string
		header   string // a raw Authorization header, sent instead of a bearer token
	}{
		{"no key", "GET", "/api/admin/v1/components", "", "", 401, "unauthorized", ""},
		// A valid key in another scheme is not a bearer token.
		{"not bearer", "GET", "/api/admin/v1/components", "", "", 401, "unauthorized",
			"Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+f.tokens[apikey.ScopeRead]))},
		{"bearer without a space", "GET", "/api/admin/v1/components", "", "", 401, "unauthorized", "Bearer" + f.tokens[apikey.ScopeRead]},
		{"malformed key", "GET", "/api/admin/v1/components", "up_nonsense", "", 401, "unauthorized", ""},
		{"unknown id", "GET", "/api/admin/v1/components", "up_aaaaaaaaaaaaaaaa_" + strings.Repeat("b", 52), "", 401, "unauthorized", ""},
		{"wrong secret", "GET", "/api/admin/v1/components", f.tokens[apikey.ScopeRead][:len(f.tokens[apikey.ScopeRead])-2] + "zz", "", 401, "unauthorized", ""},
		{"read key reads", "GET", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], "", 200, "", ""},
		{"incidents key reads", "GET", "/api/admin/v1/components", f.tokens[apikey.ScopeIncidents], "", 200, "", ""},
		{"read key cannot write", "POST", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], body, 403, "forbidden", ""},
		{"maintenance key cannot write components", "POST", "/api/admin/v1/components", f.tokens[apikey.ScopeMaintenance], body, 403, "forbidden", ""},
		{"read key cannot read the audit log", "GET", "/api/admin/v1/audit", f.tokens[apikey.ScopeRead], "", 403, "forbidden", ""},
		{"admin key writes", "POST", "/api/admin/v1/components", f.tokens[apikey.ScopeAdmin], body, 201, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = []string{"Authorization", tt.header}
			}
			r := f.do(tt.method, tt.path, tt.token, tt.body, hdr...)
			if r.code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", r.code, tt.wantCode, r.body)
			}
			if tt.wantErr != "" {
				if got := r.apiErr(t).Code; got != tt.wantErr {
					t.Errorf("error code = %q, want %q", got, tt.wantErr)
				}
			}
			if r.code == 401 && r.hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The admin write left an audit entry naming the key, the address and the request.
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Action: "component.create"})
	if len(entries) != 1 {
		t.Fatalf("%d component.create audit entries, want 1", len(entries))
	}
	e := entries[0]
	if e.Actor != "admin-key" || e.Target != "component/api" || e.RemoteAddr != "192.0.2.10" || e.RequestID == "" || string(e.Before) != "null" || !strings.Contains(string(e.After), `"name":"API"`) {
		t.Errorf("audit entry = %+v", e)
	}
}

func TestRevokedKeyStopsAtOnce(t *testing.T) {
	f := newFixture(t)
	key, token, _ := apikey.GenerateCost(nil, "temp", []apikey.Scope{apikey.ScopeRead}, t0, bcrypt.MinCost)
	if err := f.store.CreateKey(t.Context(), key, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	if r := f.do("GET", "/api/admin/v1/components", token, ""); r.code != 200 {
		t.Fatalf("status %d before revoking", r.code)
	}
	if r := f.do("DELETE", "/api/admin/v1/keys/"+key.ID, f.tokens[apikey.ScopeAdmin], ""); r.code != 204 {
		t.Fatalf("revoke: status %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/admin/v1/components", token, ""); r.code != 401 {
		t.Fatalf("status %d after revoking (the cache must forget it), want 401", r.code)
	}
	if r := f.do("DELETE", "/api/admin/v1/keys/"+key.ID, f.tokens[apikey.ScopeAdmin], ""); r.code != 409 {
		t.Fatalf("revoking twice: status %d, want 409", r.code)
	}
}

func TestCreateKeyShowsTokenOnce(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/api/admin/v1/keys", f.tokens[apikey.ScopeAdmin], `{"name":"ci","scopes":["incidents"]}`)
	if r.code != 201 {
		t.Fatalf("status %d %s", r.code, r.body)
	}
	var out struct {
		Token string          `json:"token"`
		Key   service.KeyView `json:"key"`
	}
	json.Unmarshal(r.body, &out)
	if !strings.HasPrefix(out.Token, "up_"+out.Key.ID+"_") {
		t.Fatalf("token %q does not carry the key id %q", out.Token, out.Key.ID)
	}
	if r := f.do("GET", "/api/admin/v1/components", out.Token, ""); r.code != 200 {
		t.Errorf("the new token does not work: %d", r.code)
	}
	list := f.do("GET", "/api/admin/v1/keys", f.tokens[apikey.ScopeAdmin], "")
	if bytes.Contains(list.body, []byte(out.Token[20:])) || bytes.Contains(list.body, []byte("$2a$")) {
		t.Error("listing keys reveals a secret or a hash")
	}
	stored, _ := f.store.GetKey(t.Context(), out.Key.ID)
	if bytes.Contains(stored.Hash, []byte(out.Token[20:])) || !bytes.HasPrefix(stored.Hash, []byte("$2a$")) {
		t.Error("the store must hold only a bcrypt hash")
	}
}

func TestComponentLifecycle(t *testing.T) {
	f := newFixture(t)
	admin := f.tokens[apikey.ScopeAdmin]
	steps := []struct {
		method, path, body string
		want               int
		wantErr            string
	}{
		{"POST", "/api/admin/v1/components", `{"id":"core","name":"Core","group":true}`, 201, ""},
		{"POST", "/api/admin/v1/components", `{"id":"api","name":"API","group_id":"core","position":2}`, 201, ""},
		{"POST", "/api/admin/v1/components", `{"id":"api","name":"Again"}`, 409, "conflict"},
		{"POST", "/api/admin/v1/components", `{"id":"web","name":"Web","group_id":"api"}`, 422, "validation_failed"},
		{"GET", "/api/admin/v1/components/api", "", 200, ""},
		{"PATCH", "/api/admin/v1/components/api", `{"name":"Public API"}`, 200, ""},
		{"PATCH", "/api/admin/v1/components/ghost", `{"name":"x"}`, 404, "not_found"},
		{"DELETE", "/api/admin/v1/components/core", "", 409, "group_not_empty"},
		{"DELETE", "/api/admin/v1/components/api", "", 204, ""},
		{"DELETE", "/api/admin/v1/components/api", "", 404, "not_found"},
		{"GET", "/api/admin/v1/components/api", "", 404, "not_found"},
	}
	for i, s := range steps {
		r := f.do(s.method, s.path, admin, s.body)
		if r.code != s.want {
			t.Fatalf("step %d %s %s: status %d, want %d; %s", i, s.method, s.path, r.code, s.want, r.body)
		}
		if s.wantErr != "" && r.apiErr(t).Code != s.wantErr {
			t.Fatalf("step %d: error %s, want %s", i, r.body, s.wantErr)
		}
	}
	entries, _ := f.store.ListAudit(t.Context(), store.AuditQuery{Actor: "admin-key"})
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if got, want := strings.Join(actions, ","), "component.delete,component.update,component.create,component.create"; got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
	page := f.do("GET", "/api/admin/v1/audit?action=component.create&limit=1", admin, "")
	var audit struct {
		Entries    []store.AuditEntry `json:"entries"`
		NextBefore *int64             `json:"next_before"`
	}
	json.Unmarshal(page.body, &audit)
	if len(audit.Entries) != 1 || audit.NextBefore == nil || audit.Entries[0].Target != "component/api" {
		t.Errorf("audit page = %s", page.body)
	}
}

func TestConfigManagedComponentsAreReadOnly(t *testing.T) {
	f := newFixture(t)
	c := component.Component{ID: "api", Name: "API", Source: component.SourceConfig, CreatedAt: t0, UpdatedAt: t0}
	if err := f.store.CreateComponent(t.Context(), c, store.AuditEntry{At: t0}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		r := f.do(m, "/api/admin/v1/components/api", f.tokens[apikey.ScopeAdmin], map[string]string{"PATCH": `{"name":"x"}`}[m])
		if r.code != 409 || r.apiErr(t).Code != "managed_by_config" {
			t.Errorf("%s: %d %s, want 409 managed_by_config", m, r.code, r.body)
		}
	}
}

// TestBadInput: every malformed request is a 4xx JSON error naming the problem, and none
// changes anything.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	admin := f.tokens[apikey.ScopeAdmin]
	if r := f.do("POST", "/api/admin/v1/components", admin, `{"id":"api","name":"API"}`); r.code != 201 {
		t.Fatal(r.code)
	}
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		wantCode                 int
		wantErr, wantField       string
	}{
		{"malformed JSON", "POST", "/api/admin/v1/components", `{"id": "x",`, nil, 400, "invalid_json", ""},
		{"not JSON", "POST", "/api/admin/v1/components", `id=x`, nil, 400, "invalid_json", ""},
		{"empty body", "POST", "/api/admin/v1/components", ` `, nil, 400, "invalid_json", ""},
		{"two values", "POST", "/api/admin/v1/components", `{"id":"x","name":"X"} {}`, nil, 400, "invalid_json", ""},
		{"array instead of object", "POST", "/api/admin/v1/components", `[1,2]`, nil, 400, "invalid_type", ""},
		{"unknown field", "POST", "/api/admin/v1/components", `{"id":"x","name":"X","colour":"red"}`, nil, 400, "unknown_field", "colour"},
		{"wrong type", "POST", "/api/admin/v1/components", `{"id":"x","name":42}`, nil, 400, "invalid_type", "name"},
		{"wrong type in patch", "PATCH", "/api/admin/v1/components/api", `{"position":"first"}`, nil, 400, "invalid_type", "position"},
		{"missing name", "POST", "/api/admin/v1/components", `{"id":"x"}`, nil, 422, "validation_failed", "name"},
		{"bad id in body", "POST", "/api/admin/v1/components", `{"id":"Not An ID","name":"X"}`, nil, 422, "validation_failed", "id"},
		{"name too long", "POST", "/api/admin/v1/components", `{"id":"x","name":"` + strings.Repeat("n", 201) + `"}`, nil, 422, "validation_failed", "name"},
		{"negative position", "PATCH", "/api/admin/v1/components/api", `{"position":-1}`, nil, 422, "validation_failed", "position"},
		{"bad id in path", "GET", "/api/admin/v1/components/..%2F..%2Fetc", "", nil, 400, "invalid_id", "id"},
		{"oversized body", "POST", "/api/admin/v1/components", `{"id":"x","name":"X","description":"` + strings.Repeat("d", 8000) + `"}`, nil, 413, "body_too_large", ""},
		{"deep nesting", "POST", "/api/admin/v1/components", strings.Repeat("[", 40) + strings.Repeat("]", 40), nil, 400, "invalid_json", ""},
		{"wrong content type", "POST", "/api/admin/v1/components", `{"id":"x","name":"X"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type", ""},
		{"bad scope", "POST", "/api/admin/v1/keys", `{"name":"k","scopes":["root"]}`, nil, 422, "validation_failed", "scopes[0]"},
		{"bad audit time", "GET", "/api/admin/v1/audit?since=yesterday", "", nil, 400, "invalid_query", "since"},
		{"bad audit limit", "GET", "/api/admin/v1/audit?limit=-3", "", nil, 400, "invalid_query", "limit"},
		{"unknown admin route", "GET", "/api/admin/v1/nothing", "", nil, 404, "not_found", ""},
		{"wrong method", "PUT", "/api/admin/v1/components", `{}`, nil, 405, "method_not_allowed", ""},
	}
	components := func() int {
		cs, _ := f.store.ListComponents(t.Context())
		return len(cs)
	}
	beforeComponents, beforeAudit := components(), f.auditCount()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(tt.method, tt.path, admin, tt.body, tt.hdr...)
			if r.code != tt.wantCode {
				t.Fatalf("status = %d, want %d; body %s", r.code, tt.wantCode, r.body)
			}
			e := r.apiErr(t)
			if e.Code != tt.wantErr || e.Field != tt.wantField || e.Message == "" {
				t.Errorf("error = %+v, want code %q field %q", e, tt.wantErr, tt.wantField)
			}
		})
	}
	if components() != beforeComponents || f.auditCount() != beforeAudit {
		t.Errorf("bad requests changed stored data: %d->%d components, %d->%d audit entries",
			beforeComponents, components(), beforeAudit, f.auditCount())
	}
}

func TestPanicIsA500AndTheServerGoesOn(t *testing.T) {
	f := newFixture(t)
	f.srv.echo.GET("/boom", func(c echo.Context) error { panic("kaboom") })
	r := f.do("GET", "/boom", "", "")
	if r.code != 500 || r.apiErr(t).Code != "internal" || strings.Contains(string(r.body), "kaboom") {
		t.Fatalf("panic: %d %s; want a generic 500", r.code, r.body)
	}
	if r := f.do("GET", "/healthz", "", ""); r.code != 200 {
		t.Fatalf("after a panic: %d", r.code)
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err      error
		wantCode int
		wantName string
	}{
		{store.ErrNotFound, 404, "not_found"},
		{errors.Join(errors.New("x"), store.ErrConflict), 409, "conflict"},
		{echo.ErrMethodNotAllowed, 405, "method_not_allowed"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		ae, _ := toAPIError(tt.err)
		if ae.Status != tt.wantCode || ae.Code != tt.wantName {
			t.Errorf("toAPIError(%v) = %d %s, want %d %s", tt.err, ae.Status, ae.Code, tt.wantCode, tt.wantName)
		}
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/api/v2/nothing.json", "", ""); r.code != 404 || r.apiErr(t).Code != "not_found" {
		t.Errorf("unknown API path: %d %s", r.code, r.body)
	}
	r := f.do("GET", "/no-such-page", "", "", "Accept", "text/html")
	if r.code != 404 || !strings.Contains(r.hdr.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "Back to the status page") {
		t.Errorf("unknown page for a browser: %d %s", r.code, r.body)
	}
}

func TestStatusPage(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	add := func(c component.Component, st component.Status) {
		c.CreatedAt, c.UpdatedAt, c.Source = t0, t0, component.SourceConfig
		if err := f.store.CreateComponent(ctx, c, store.AuditEntry{At: t0}); err != nil {
			t.Fatal(err)
		}
		if st != "" {
			if err := f.store.AppendStatus(ctx, component.Change{ComponentID: c.ID, At: t0, Status: st}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(component.Component{ID: "core", Name: "Core", IsGroup: true}, "")
	add(component.Component{ID: "api", Name: "API", GroupID: "core", Position: 1}, component.Operational)
	add(component.Component{ID: "db", Name: `<script>alert(1)</script>`, GroupID: "core", Position: 2}, component.PartialOutage)
	add(component.Component{ID: "cdn", Name: "CDN", Position: 3}, "")

	r := f.do("GET", "/", "", "")
	page := string(r.body)
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, page)
	}
	for _, want := range []string{
		"<title>Acme Status</title>",
		"Partial System Outage", // the banner, in Statuspage's words
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		"Partial outage", "Operational", "No data", // statuses in words, not colour alone
		"Since 2026-11-01 17:30 CST",    // in the page's zone
		"Asia/Shanghai (UTC&#43;08:00)", // html/template escapes the plus
		`<main id="main"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("user text reached the page as HTML")
	}
	if r.hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("missing nosniff")
	}
	css := f.do("GET", "/static/style.css", "", "")
	if css.code != 200 || !strings.Contains(css.hdr.Get("Cache-Control"), "max-age") {
		t.Errorf("static css: %d %v", css.code, css.hdr)
	}
}

func TestBanner(t *testing.T) {
	tests := []struct {
		in   []component.Status
		want string
	}{
		{[]component.Status{component.Operational, component.Operational}, "All Systems Operational"},
		{[]component.Status{component.Operational, component.DegradedPerformance}, "Partially Degraded Service"},
		{[]component.Status{component.PartialOutage, component.DegradedPerformance}, "Partial System Outage"},
		{[]component.Status{component.MajorOutage, component.UnderMaintenance}, "Major System Outage"},
		{[]component.Status{component.Operational, component.UnderMaintenance}, "Service Under Maintenance"},
		{[]component.Status{component.Unknown}, "Waiting for the first checks"},
		{nil, "Waiting for the first checks"},
	}
	for _, tt := range tests {
		if got := viewBanner(english(t), bannerClass(tt.in)).Label; got != tt.want {
			t.Errorf("banner(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	if r := f.do("GET", "/healthz", "", ""); r.code != 200 {
		t.Errorf("healthz %d", r.code)
	}
	if r := f.do("GET", "/readyz", "", ""); r.code != 200 {
		t.Errorf("readyz %d", r.code)
	}
	m := f.do("GET", "/metrics", "", "")
	for _, want := range []string{`upstate_build_info{goversion=`, `upstate_http_requests_total{code="200",method="GET",route="/readyz"} 1`, `upstate_http_request_duration_seconds_bucket`} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	f.store.Close()
	if r := f.do("GET", "/readyz", "", ""); r.code != 503 {
		t.Errorf("readyz with a closed store = %d, want 503", r.code)
	}
}

func TestUnknownURLsShareOneMetricLabel(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/a", "/b", "/api/x", "/api/admin/v1/zzz"} {
		f.do("GET", p, f.tokens[apikey.ScopeRead], "")
	}
	m := string(f.do("GET", "/metrics", "", "").body)
	for _, p := range []string{`route="/a"`, `route="/b"`, `route="/api/x"`} {
		if strings.Contains(m, p) {
			t.Errorf("metrics carry a label per unknown URL: %s", p)
		}
	}
	// The four unknown URLs are counted, under one label (the admin one answers 404 behind auth).
	if !regexp.MustCompile(`upstate_http_requests_total\{code="404",method="GET",route="[^"]+"\} [34]\n`).MatchString(m) {
		t.Errorf("the unknown URLs are not counted under one label:\n%s", m)
	}
}

// FuzzAdminJSON sends arbitrary bodies to the admin API: nothing may cause a 5xx, and a 2xx
// must have stored exactly what it answered.
func FuzzAdminJSON(f *testing.F) {
	for _, s := range []string{`{"id":"api","name":"API"}`, `{"id":"g","name":"G","group":true}`, `{"name":null}`, `{"position":1e400}`, `[`, `"\u0000"`, `{"id":"x","name":"\ud800"}`} {
		f.Add("POST", s)
		f.Add("PATCH", s)
	}
	fx := newFixture(f)
	// The PATCH target exists and is the API's to change, so a valid PATCH reaches the write.
	if r := fx.do("POST", "/api/admin/v1/components", fx.tokens[apikey.ScopeAdmin], `{"id":"api","name":"API"}`); r.code != 201 {
		f.Fatalf("seed component: %d %s", r.code, r.body)
	}
	if r := fx.do("PATCH", "/api/admin/v1/components/api", fx.tokens[apikey.ScopeAdmin], `{"name":"API"}`); r.code != 200 {
		f.Fatalf("a valid PATCH answered %d %s: the fuzzer would not reach the write", r.code, r.body)
	}
	f.Fuzz(func(t *testing.T, method, body string) {
		if method != "POST" && method != "PATCH" {
			method = "POST"
		}
		path := "/api/admin/v1/components"
		if method == "PATCH" {
			path += "/api"
		}
		r := fx.do(method, path, fx.tokens[apikey.ScopeAdmin], body)
		if r.code >= 500 {
			t.Fatalf("%s %q: status %d %s", method, body, r.code, r.body)
		}
		if r.code == 200 && method == "PATCH" {
			var got component.Component
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("200 with a body that is not a component: %s", r.body)
			}
			stored, err := fx.store.GetComponent(t.Context(), "api")
			if err != nil || got.ID != "api" || stored.Name != got.Name || stored.Description != got.Description || stored.GroupID != got.GroupID {
				t.Fatalf("PATCH %q answered %+v but stored %+v (%v)", body, got, stored, err)
			}
		}
		if r.code == 201 {
			var got component.Component
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("201 with a body that is not a component: %s", r.body)
			}
			stored, err := fx.store.GetComponent(t.Context(), got.ID)
			if err != nil || stored.Name != got.Name || stored.Description != got.Description {
				t.Fatalf("answered %+v but stored %+v (%v)", got, stored, err)
			}
			if got.ID != "api" {
				if err := fx.store.DeleteComponent(t.Context(), got.ID, store.AuditEntry{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
