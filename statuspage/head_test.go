package statuspage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/events"
)

// TestHeadOnEveryGetRoute walks the router's routes and sends HEAD to each GET route, over a
// real loopback connection, with the cache off and on: the status and headers are the GET's
// (Content-Length, where HEAD sends it, the GET body's length) and no body comes back. Uptime
// checkers and load balancers use HEAD; Echo v4 answers it with 405 unless told.
func TestHeadOnEveryGetRoute(t *testing.T) {
	f := goldenFixture(t)
	for _, cached := range []bool{false, true} {
		srv := f.srv
		if cached {
			srv = cachedServer(t, f, f.store, events.NewBus(nil))
		}
		web := httptest.NewServer(srv)
		t.Cleanup(web.Close)
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		var walked int
		for _, route := range srv.echo.Routes() {
			if route.Method != http.MethodGet {
				continue
			}
			walked++
			path := concretePath(route.Path)
			send := func(method string) (*http.Response, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, web.URL+path, nil)
				if strings.HasPrefix(path, "/api/admin/") {
					req.Header.Set("Authorization", "Bearer "+f.tokens[apikey.ScopeAdmin])
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer res.Body.Close()
				body, _ := io.ReadAll(res.Body)
				return res, body
			}
			head, headBody := send(http.MethodHead)
			getRes, getBody := send(http.MethodGet)
			name := route.Path
			if cached {
				name += " (cached)"
			}
			if head.StatusCode != getRes.StatusCode {
				t.Errorf("HEAD %s: %d, GET %d", name, head.StatusCode, getRes.StatusCode)
				continue
			}
			if head.StatusCode == http.StatusMethodNotAllowed || head.StatusCode >= 500 {
				t.Errorf("HEAD %s: %d", name, head.StatusCode)
			}
			if len(headBody) != 0 {
				t.Errorf("HEAD %s sent a body of %d bytes", name, len(headBody))
			}
			// /metrics counts the requests themselves: uncached, the GET's body is not the HEAD's.
			live := route.Path == "/metrics" && !cached
			if cl := head.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(getBody)) && !live {
				t.Errorf("HEAD %s: Content-Length %s, the GET's body has %d bytes", name, cl, len(getBody))
			}
			for _, h := range headerNames(head.Header, getRes.Header) {
				switch h {
				case "Date", "X-Request-Id", "Content-Length":
					continue
				case "Etag":
					if live {
						continue
					}
				}
				if !slices.Equal(head.Header.Values(h), getRes.Header.Values(h)) {
					t.Errorf("%s: HEAD %s: %q, GET: %q", name, h, head.Header.Values(h), getRes.Header.Values(h))
				}
			}
		}
		if walked < 30 {
			t.Errorf("walked %d GET routes; the router has more", walked)
		}
	}
}

// concretePath fills a route's parameters with the golden fixture's ids.
func concretePath(route string) string {
	switch route {
	case "/badge/:id/:kind":
		return "/badge/api/status.svg"
	case "/api/v1/maintenance/occurrences":
		return route + "?from=2026-11-01T00:00:00Z&to=2026-11-30T00:00:00Z"
	case "/api/v1/reports/monthly":
		return route + "?month=2026-10"
	case "/static/*":
		return "/static/style.css"
	}
	id := "api"
	switch {
	case strings.Contains(route, "/incidents/"):
		id = "inc-open"
	case strings.Contains(route, "/maintenance/"):
		id = "tuesday-db"
	}
	return strings.NewReplacer(":id", id, "*", "x").Replace(route)
}

func headerNames(hs ...http.Header) []string {
	var names []string
	for _, h := range hs {
		for k := range h {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	return names
}
