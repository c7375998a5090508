package statuspage

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jonboulle/clockwork"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// The OpenAPI document (openapi.yaml) is held to the server two ways: every route the router
// registers is documented and every documented operation is registered
// (TestOpenAPICoversEveryRoute), and every request and response the statuspage tests make
// through fixture.do is validated against it (apiChecker), so neither can drift.

type loadedAPI struct {
	doc    *openapi3.T
	router routers.Router
	err    error
}

// openAPI loads and validates the embedded document once per test binary.
var openAPI = sync.OnceValue(func() loadedAPI {
	body, err := openAPIJSON()
	if err != nil {
		return loadedAPI{err: err}
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		return loadedAPI{err: fmt.Errorf("load: %w", err)}
	}
	if err := doc.Validate(loader.Context); err != nil {
		return loadedAPI{err: fmt.Errorf("validate: %w", err)}
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return loadedAPI{err: fmt.Errorf("router: %w", err)}
	}
	return loadedAPI{doc: doc, router: router}
})

func mustOpenAPI(t testing.TB) loadedAPI {
	t.Helper()
	api := openAPI()
	if api.err != nil {
		t.Fatalf("openapi.yaml: %v", api.err)
	}
	return api
}

func TestOpenAPIDocument(t *testing.T) {
	api := mustOpenAPI(t)
	if api.doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", api.doc.OpenAPI)
	}
	f := newFixture(t)
	r := f.do("GET", "/api/openapi.json", "", "")
	want, _ := openAPIJSON()
	if r.code != 200 || !bytes.Equal(r.body, want) || !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/openapi.json: %d %s, want the embedded document", r.code, r.hdr.Get("Content-Type"))
	}
	if etag := r.hdr.Get("ETag"); etag == "" {
		t.Error("no ETag")
	} else if again := f.do("GET", "/api/openapi.json", "", "", "If-None-Match", etag); again.code != 304 || len(again.body) != 0 {
		t.Errorf("If-None-Match: %d with %d bytes, want 304 and no body", again.code, len(again.body))
	}
	// Every operation can be told apart and names its responses.
	seen := map[string]string{}
	for path, item := range api.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", where)
			} else if prev, dup := seen[op.OperationID]; dup {
				t.Errorf("%s and %s share the operationId %s", prev, where, op.OperationID)
			}
			seen[op.OperationID] = where
			if op.Responses.Len() == 0 {
				t.Errorf("%s documents no response", where)
			}
			// A body is validated by its schema; one without is marked as not JSON, so no JSON
			// answer goes unchecked by mistake.
			contents := map[string]openapi3.Content{}
			if op.RequestBody != nil {
				contents["request"] = op.RequestBody.Value.Content
			}
			for code, r := range op.Responses.Map() {
				contents[code] = r.Value.Content
			}
			for which, content := range contents {
				for mime, mt := range content {
					json := mime == "application/json" || strings.HasSuffix(mime, "+json")
					nonJSON, _ := mt.Extensions["x-upstate-non-json"].(bool)
					switch {
					case json && mt.Schema == nil:
						t.Errorf("%s %s %s has no schema", where, which, mime)
					case !json && mt.Schema == nil && !nonJSON:
						t.Errorf("%s %s %s has no schema and is not marked x-upstate-non-json", where, which, mime)
					case json && nonJSON:
						t.Errorf("%s %s %s is JSON but marked x-upstate-non-json", where, which, mime)
					}
				}
			}
		}
	}
}

// allRoutesServer is a server with every optional part on, as serve builds it: monitors with
// their controls and check-ins, reload, reports.
func allRoutesServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clockwork.NewFakeClockAt(t0)
	srv, err := New(Options{Store: st, Clock: clock, Registry: prometheus.NewRegistry(), Assets: assets.FS(),
		Monitors: &stubControl{}, Reload: func(context.Context) (any, error) { return nil, nil },
		Reports: &engine.Reports{Store: st, Now: clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// echoPathParam is an Echo path parameter (:id) or its trailing wildcard (*).
var echoPathParam = regexp.MustCompile(`:([A-Za-z0-9_]+)|\*$`)

// openAPIPath is an Echo route's path as the document writes it: :id is {id}, a trailing * is
// {path}.
func openAPIPath(echoPath string) string {
	return echoPathParam.ReplaceAllStringFunc(echoPath, func(m string) string {
		if m == "*" {
			return "{path}"
		}
		return "{" + m[1:] + "}"
	})
}

// registeredOperations are the server's routes as "METHOD /path" in the document's form.
func registeredOperations(srv *Server) []string {
	var ops []string
	for _, r := range srv.echo.Routes() {
		if r.Method == echo.RouteNotFound {
			continue // a group's catch-all for its middleware, not an operation
		}
		ops = append(ops, r.Method+" "+openAPIPath(r.Path))
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

func documentedOperations(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPICoversEveryRoute fails when a route is added without documenting it, or the
// document names an operation the server does not have.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	api := mustOpenAPI(t)
	srv := allRoutesServer(t)
	registered := registeredOperations(srv)
	// HEAD may be answered on every GET route without routes of its own (a Pre middleware): the
	// document says so with x-upstate-head-on-every-get, which must agree with the server.
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/healthz", nil))
	headOnGet := rec.Code != http.StatusMethodNotAllowed
	if documented, _ := api.doc.Extensions["x-upstate-head-on-every-get"].(bool); documented != headOnGet {
		t.Errorf("HEAD /healthz answers %d, but openapi.yaml's x-upstate-head-on-every-get is %v: make it %v", rec.Code, documented, headOnGet)
	}
	if headOnGet {
		for _, op := range registered {
			if path, ok := strings.CutPrefix(op, http.MethodGet+" "); ok {
				registered = append(registered, http.MethodHead+" "+path)
			}
		}
		slices.Sort(registered)
		registered = slices.Compact(registered)
	}
	undocumented, unserved := compareOperations(registered, documentedOperations(api.doc))
	for _, op := range undocumented {
		t.Errorf("%s is served but not in statuspage/openapi.yaml: document it (docs/api.md, \"Adding a route\")", op)
	}
	for _, op := range unserved {
		t.Errorf("%s is in statuspage/openapi.yaml but the server has no such route", op)
	}
	if len(registered) < 50 {
		t.Errorf("only %d routes registered: the server under test lacks its optional parts", len(registered))
	}
	// The comparison sees a new route (a later route registered the same way as New's).
	srv = allRoutesServer(t)
	srv.echo.POST("/api/admin/v1/widgets/:id", func(c echo.Context) error { return nil })
	if undocumented, _ := compareOperations(registeredOperations(srv), documentedOperations(api.doc)); !slices.Equal(undocumented, []string{"POST /api/admin/v1/widgets/{id}"}) {
		t.Errorf("a new route: undocumented = %v, want just it", undocumented)
	}
}

// compareOperations lists the registered operations the document lacks and the documented
// ones the server lacks.
func compareOperations(registered, documented []string) (undocumented, unserved []string) {
	for _, op := range registered {
		if !slices.Contains(documented, op) {
			undocumented = append(undocumented, op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) {
			unserved = append(unserved, op)
		}
	}
	return undocumented, unserved
}

func TestOpenAPIPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/", "/"},
		{"/api/admin/v1/maintenance/:id/occurrences/:start/cancel", "/api/admin/v1/maintenance/{id}/occurrences/{start}/cancel"},
		{"/static/*", "/static/{path}"},
		{"/badge/:id/:kind", "/badge/{id}/{kind}"},
	} {
		if got := openAPIPath(tt.in); got != tt.want {
			t.Errorf("openAPIPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// apiChecker validates the requests and responses a fixture makes against the document and
// keeps what does not match; the fixture's test fails with them at its end. The rules:
//
//   - A response is validated against its operation: a status the operation does not list
//     fails, and so does a JSON body that does not match its schema or a Content-Type it does
//     not list (a non-JSON one, with no schema, is checked for its type only).
//   - A request the document refuses (a body, parameter or key it does not allow) must be
//     refused by the server: answered 2xx, the document is wrong. A request the document
//     allows may still be refused (a rule the schema cannot say, such as an unknown zone).
//   - A request the document does not route (no such path or method) must be answered with
//     an error: JSON in the Error shape, or a browser's HTML page.
//   - A key's scopes are known for the fixture's keys: a 2xx to a key that lacks the scope the
//     document names fails.
type apiChecker struct {
	api    loadedAPI
	scopes map[string][]apikey.Scope // by token

	mu       sync.Mutex
	failures []string
}

func newAPIChecker(t testing.TB, tokens map[apikey.Scope]string) *apiChecker {
	t.Helper()
	c := &apiChecker{api: mustOpenAPI(t), scopes: map[string][]apikey.Scope{}}
	for sc, token := range tokens {
		c.scopes[token] = []apikey.Scope{sc}
	}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, f := range c.failures {
			t.Errorf("openapi.yaml and the server disagree: %s", f)
		}
	})
	return c
}

func (c *apiChecker) fail(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) < 50 {
		c.failures = append(c.failures, fmt.Sprintf(format, args...))
	}
}

// authenticate is the document's security check: a bearer token, and for a known key the scope.
func (c *apiChecker) authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	token, ok := bearer(in.RequestValidationInput.Request)
	if !ok {
		return errors.New("no bearer token")
	}
	if scopes, known := c.scopes[token]; known {
		key := apikey.Key{Scopes: scopes}
		for _, need := range in.Scopes {
			if !key.Allows(apikey.Scope(need)) {
				return fmt.Errorf("the key's scopes %v lack %q", scopes, need)
			}
		}
	}
	return nil
}

// checkAPI validates an exchange of the fixture's; a fixture built by hand gets its checker at
// its first request.
func (f *fixture) checkAPI(req *http.Request, body string, rec *httptest.ResponseRecorder) {
	if f.api == nil {
		f.api = newAPIChecker(f.t, f.tokens)
	}
	f.api.check(req, body, rec)
}

// check validates one exchange: req as the client sent it with its body, and what the server
// answered.
func (c *apiChecker) check(req *http.Request, body string, rec *httptest.ResponseRecorder) {
	ctx := context.Background()
	what := req.Method + " " + req.URL.RequestURI()
	status := rec.Code
	clone := func() *http.Request {
		r := req.Clone(ctx)
		r.Body = io.NopCloser(strings.NewReader(body))
		return r
	}
	vreq := clone()
	route, params, err := c.api.router.FindRoute(vreq)
	if err != nil && req.Method == http.MethodHead { // every GET answers HEAD
		vreq.Method = http.MethodGet
		route, params, err = c.api.router.FindRoute(vreq)
	}
	respBody := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, zerr := gzip.NewReader(bytes.NewReader(respBody))
		if zerr != nil {
			c.fail("%s: a gzip body that does not decompress: %v", what, zerr)
			return
		}
		if respBody, zerr = io.ReadAll(zr); zerr != nil {
			c.fail("%s: a gzip body that does not decompress: %v", what, zerr)
			return
		}
	}
	if err != nil {
		c.checkUnrouted(what, status, rec.Header(), respBody, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: c.authenticate, IncludeResponseStatus: true}}
	if reqErr := openapi3filter.ValidateRequest(ctx, in); reqErr != nil && status < 400 {
		c.fail("%s answered %d, but the document refuses the request: %v", what, status, oneLine(reqErr))
	}
	in.Request = clone()
	if vreq.Method != req.Method {
		return // HEAD: no body to check
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: rec.Header(),
		Options: in.Options}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.fail("%s answered %d %s: %v", what, status, truncate(string(respBody), 300), oneLine(err))
	}
}

// checkUnrouted holds a request the document has no operation for: it must be an error.
func (c *apiChecker) checkUnrouted(what string, status int, hdr http.Header, body []byte, routeErr error) {
	if status < 400 {
		c.fail("%s answered %d, but the document has no such operation (%v)", what, status, routeErr)
		return
	}
	if strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || len(body) == 0 {
		return // a browser's error page, or HEAD
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		c.fail("%s answered %d with a body that is not JSON: %s", what, status, truncate(string(body), 200))
		return
	}
	if err := c.api.doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		c.fail("%s answered %d %s, not the Error shape: %v", what, status, truncate(string(body), 200), oneLine(err))
	}
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// TestAPICheckerCatchesDrift: the checker fails on each kind of disagreement, so the fixture's
// validation cannot pass vacuously.
func TestAPICheckerCatchesDrift(t *testing.T) {
	f := newFixture(t)
	admin := f.tokens[apikey.ScopeAdmin]
	comp := `{"id":"api","name":"API","description":"","group_id":"","group":false,"position":0,"source":"api","status":"unknown","status_since":null,"recorded_status":"unknown","recorded_since":null,"created_at":"2026-11-01T09:30:00Z","updated_at":"2026-11-01T09:30:00Z"}`
	tests := []struct {
		name                  string
		method, path, token   string
		reqBody               string
		status                int
		ctype, respBody, want string
	}{
		{"a documented answer", "GET", "/api/admin/v1/components/api", admin, "", 200, "application/json", comp, ""},
		{"an undocumented field", "GET", "/api/admin/v1/components/api", admin, "", 200, "application/json",
			strings.Replace(comp, `"id":"api"`, `"id":"api","colour":"red"`, 1), "colour"},
		{"a missing field", "GET", "/api/admin/v1/components/api", admin, "", 200, "application/json",
			strings.Replace(comp, `"source":"api",`, ``, 1), "source"},
		{"an undocumented status", "GET", "/api/admin/v1/components/api", admin, "", 418, "application/json",
			`{"error":{"code":"teapot","message":"x"}}`, "status is not supported"},
		{"an error not in the error shape", "GET", "/api/admin/v1/components/api", admin, "", 404, "application/json",
			`{"message":"not found"}`, "error"},
		{"an undocumented content type", "GET", "/api/admin/v1/components/api", admin, "", 200, "text/plain", "hi", "text/plain"},
		{"a request the document refuses, accepted", "POST", "/api/admin/v1/components", admin, `{"id":"x","name":"X","colour":"red"}`,
			201, "application/json", comp, "refuses the request"},
		{"a request the document refuses, refused", "POST", "/api/admin/v1/components", admin, `{"id":"x","name":"X","colour":"red"}`,
			400, "application/json", `{"error":{"code":"unknown_field","message":"unknown field","field":"colour"}}`, ""},
		{"a key without the documented scope, accepted", "POST", "/api/admin/v1/components", f.tokens[apikey.ScopeRead], `{"id":"x","name":"X"}`,
			201, "application/json", comp, "lack"},
		{"no key, accepted", "GET", "/api/admin/v1/components/api", "", "", 200, "application/json", comp, "refuses the request"},
		{"an undocumented route, answered", "GET", "/api/admin/v1/secret", admin, "", 200, "application/json", `{}`, "no such operation"},
		{"an undocumented route, refused", "GET", "/api/admin/v1/secret", admin, "", 404, "application/json",
			`{"error":{"code":"not_found","message":"Not Found"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &apiChecker{api: mustOpenAPI(t), scopes: f.api.scopes}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.reqBody))
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", tt.ctype)
			rec.WriteHeader(tt.status)
			rec.WriteString(tt.respBody)
			c.check(req, tt.reqBody, rec)
			got := strings.Join(c.failures, "\n")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("failures %s, want none", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("failures %q, want one naming %q", got, tt.want)
			}
		})
	}
}

// stubControl is a MonitorSource and MonitorControl with one monitor, "api-health".
type stubControl struct {
	mu     sync.Mutex
	paused bool
}

func (s *stubControl) snapshot() engine.MonitorSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return engine.MonitorSnapshot{Monitor: probe.Monitor{ID: "api-health", Name: "API health", ComponentID: "api", Kind: probe.KindHTTP,
		Interval: 10 * time.Second, HTTP: &probe.HTTPSpec{URL: "http://10.0.0.5/healthz"}}, State: probe.StateUp, Paused: s.paused}
}

func (s *stubControl) Monitors() []engine.MonitorSnapshot {
	return []engine.MonitorSnapshot{s.snapshot()}
}

func (s *stubControl) Monitor(id string) (engine.MonitorSnapshot, bool) {
	return s.snapshot(), id == "api-health"
}

func (s *stubControl) Pause(_ context.Context, id, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case id != "api-health":
		return engine.ErrUnknownMonitor
	case s.paused:
		return engine.ErrPaused
	}
	s.paused = true
	return nil
}

func (s *stubControl) Resume(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case id != "api-health":
		return engine.ErrUnknownMonitor
	case !s.paused:
		return engine.ErrNotPaused
	}
	s.paused = false
	return nil
}

func (s *stubControl) RunNow(id string) error {
	if id != "api-health" {
		return engine.ErrUnknownMonitor
	}
	return nil
}

func (s *stubControl) Ping(token string, _ probe.PingKind, _ int) (string, error) {
	if token != "heartbeat-token" {
		return "", probe.ErrUnknownToken
	}
	return "api-health", nil
}

// TestOpenAPIControls sends the controls, check-ins and reload (which the fixture does not
// serve) through a validating fixture, so their document is checked too.
func TestOpenAPIControls(t *testing.T) {
	f := newFixture(t)
	ctl := &stubControl{}
	f.srv.monitors = ctl
	f.srv.routesControl(ctl)
	reloads := 0
	f.srv.routesReload(func(context.Context) (any, error) {
		reloads++
		if reloads > 1 {
			return nil, errors.New("upstate.yaml:3:5: monitors[0].component: unknown component \"x\"")
		}
		return map[string]any{"monitors": engine.ReloadSummary{Added: []string{"extra"}}, "components": 2, "maintenance_windows": 1,
			"restart_needed_for": "server"}, nil
	})
	admin := f.tokens[apikey.ScopeAdmin]
	for _, tt := range []struct {
		method, path, token string
		want                int
	}{
		{"POST", "/api/admin/v1/monitors/api-health/pause", admin, 202},
		{"POST", "/api/admin/v1/monitors/api-health/pause", admin, 409},
		{"POST", "/api/admin/v1/monitors/api-health/resume", admin, 202},
		{"POST", "/api/admin/v1/monitors/api-health/run", admin, 202},
		{"POST", "/api/admin/v1/monitors/nope/run", admin, 404},
		{"POST", "/api/admin/v1/monitors/api-health/run", f.tokens[apikey.ScopeRead], 403},
		{"POST", "/api/admin/v1/reload", admin, 200},
		{"POST", "/api/admin/v1/reload", admin, 422},
		{"GET", "/ping/heartbeat-token", "", 200},
		{"POST", "/ping/heartbeat-token/start", "", 200},
		{"HEAD", "/ping/heartbeat-token/3", "", 200},
		{"POST", "/ping/heartbeat-token/explode", "", 404},
		{"POST", "/ping/wrong-token", "", 404},
		{"GET", "/api/v1/monitors", f.tokens[apikey.ScopeRead], 200},
	} {
		if r := f.do(tt.method, tt.path, tt.token, ""); r.code != tt.want {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, r.code, r.body, tt.want)
		}
	}
}
