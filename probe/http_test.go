package probe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/upstate-dev/upstate/probe"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runHTTP(t *testing.T, spec probe.HTTPSpec, timeout time.Duration) probe.Result {
	t.Helper()
	tr := probe.NewTransport(spec.InsecureSkipVerify, spec.IPFamily)
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return probe.NewHTTP(spec, tr).Probe(ctx, t0)
}

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("all good")) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/once", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 1 << 10 { // 64 MiB, far past the limit
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/drip", func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/echo-method", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Method + " " + r.Header.Get("X-Probe")))
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok","checks":[{"name":"db","ok":true},{"name":"queue","ok":false}],"version":42}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	str := func(s string) *string { return &s }

	tests := []struct {
		name      string
		spec      probe.HTTPSpec
		wantOK    bool
		wantPhase probe.Phase
		wantIn    string // substring of Reason
		wantCode  int
	}{
		{name: "ok", spec: probe.HTTPSpec{URL: srv.URL + "/ok", BodyContains: "good"}, wantOK: true, wantCode: 200},
		{name: "body mismatch", spec: probe.HTTPSpec{URL: srv.URL + "/ok", BodyContains: "bad"}, wantPhase: probe.PhaseAssertion, wantIn: `body does not contain "bad"`, wantCode: 200},
		{name: "unexpected status", spec: probe.HTTPSpec{URL: srv.URL + "/teapot"}, wantPhase: probe.PhaseAssertion, wantIn: "status code 418, want 2xx", wantCode: 418},
		{name: "expected status range", spec: probe.HTTPSpec{URL: srv.URL + "/teapot", ExpectStatus: []probe.StatusRange{{400, 499}}}, wantOK: true, wantCode: 418},
		{name: "redirect followed", spec: probe.HTTPSpec{URL: srv.URL + "/once", MaxRedirects: 1}, wantOK: true, wantCode: 200},
		{name: "redirect not followed", spec: probe.HTTPSpec{URL: srv.URL + "/once", MaxRedirects: 0}, wantPhase: probe.PhaseHTTP, wantIn: "stopped after 0 redirects"},
		{name: "redirect loop", spec: probe.HTTPSpec{URL: srv.URL + "/loop", MaxRedirects: 5}, wantPhase: probe.PhaseHTTP, wantIn: "stopped after 5 redirects"},
		{name: "endless body is capped", spec: probe.HTTPSpec{URL: srv.URL + "/huge", MaxBodyBytes: 1 << 10, BodyContains: "y"}, wantPhase: probe.PhaseAssertion, wantIn: "first 1024 bytes read", wantCode: 200},
		{name: "no answer", spec: probe.HTTPSpec{URL: srv.URL + "/hang"}, wantPhase: probe.PhaseTimeout, wantIn: "timed out during http"},
		{name: "drip feed", spec: probe.HTTPSpec{URL: srv.URL + "/drip"}, wantPhase: probe.PhaseTimeout, wantIn: "reading body: timed out", wantCode: 200},
		{name: "regex", spec: probe.HTTPSpec{URL: srv.URL + "/ok", BodyRegex: regexp.MustCompile(`^all\s+go+d$`)}, wantOK: true, wantCode: 200},
		{name: "regex mismatch", spec: probe.HTTPSpec{URL: srv.URL + "/ok", BodyRegex: regexp.MustCompile(`^bad`)}, wantPhase: probe.PhaseAssertion, wantIn: "body does not match /^bad/", wantCode: 200},
		{name: "json path equals", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: "status", JSONEquals: str("ok")}, wantOK: true, wantCode: 200},
		{name: "json path in array", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: `checks.#(name=="db").ok`, JSONEquals: str("true")}, wantOK: true, wantCode: 200},
		{name: "json number", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: "version", JSONEquals: str("42")}, wantOK: true, wantCode: 200},
		{name: "json path exists", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: "checks.1"}, wantOK: true, wantCode: 200},
		{name: "json value differs", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: `checks.#(name=="queue").ok`, JSONEquals: str("true")}, wantPhase: probe.PhaseAssertion, wantIn: `is "false", want "true"`, wantCode: 200},
		{name: "json path missing", spec: probe.HTTPSpec{URL: srv.URL + "/json", JSONPath: "nope"}, wantPhase: probe.PhaseAssertion, wantIn: `JSON path "nope" not found`, wantCode: 200},
		{name: "json body invalid", spec: probe.HTTPSpec{URL: srv.URL + "/ok", JSONPath: "status"}, wantPhase: probe.PhaseAssertion, wantIn: "not valid JSON", wantCode: 200},
		{name: "ipv4 only", spec: probe.HTTPSpec{URL: srv.URL + "/ok", IPFamily: "4"}, wantOK: true, wantCode: 200},
		{name: "ipv6 only to an ipv4 address", spec: probe.HTTPSpec{URL: srv.URL + "/ok", IPFamily: "6"}, wantPhase: probe.PhaseConnect},
		{name: "method and headers", spec: probe.HTTPSpec{URL: srv.URL + "/echo-method", Method: "POST", Body: "{}", Headers: map[string]string{"X-Probe": "yes"}, BodyContains: "POST yes"}, wantOK: true, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runHTTP(t, tt.spec, 500*time.Millisecond)
			if got.OK != tt.wantOK || got.Phase != tt.wantPhase || !strings.Contains(got.Reason, tt.wantIn) || got.StatusCode != tt.wantCode {
				t.Errorf("got ok=%v phase=%q reason=%q code=%d\nwant ok=%v phase=%q reason containing %q code=%d",
					got.OK, got.Phase, got.Reason, got.StatusCode, tt.wantOK, tt.wantPhase, tt.wantIn, tt.wantCode)
			}
			if !got.At.Equal(t0) || got.Duration <= 0 || got.Duration > 2*time.Second {
				t.Errorf("At = %v, Duration = %v: want the given start and a bounded duration", got.At, got.Duration)
			}
		})
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	got := runHTTP(t, probe.HTTPSpec{URL: "http://" + addr + "/"}, time.Second)
	if got.OK || got.Phase != probe.PhaseConnect || !strings.Contains(got.Reason, "refused") {
		t.Errorf("got %+v, want a connect failure", got)
	}
}

func TestHTTPReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 1024)) // the request
			c.(*net.TCPConn).SetLinger(0)
			c.Close() // reset instead of an answer
		}
	}()
	got := runHTTP(t, probe.HTTPSpec{URL: "http://" + l.Addr().String() + "/"}, time.Second)
	if got.OK || got.Phase != probe.PhaseHTTP {
		t.Errorf("got %+v, want an http-phase failure", got)
	}
}

func TestHTTPTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	got := runHTTP(t, probe.HTTPSpec{URL: srv.URL}, time.Second)
	if got.OK || got.Phase != probe.PhaseTLS || !strings.Contains(got.Reason, "certificate") {
		t.Errorf("untrusted certificate: got %+v, want a tls failure", got)
	}
	// httptest's certificate is valid until 2084: a threshold beyond that fails the run.
	got = runHTTP(t, probe.HTTPSpec{URL: srv.URL, InsecureSkipVerify: true, CertMinDays: 40000}, time.Second)
	if got.OK || got.Phase != probe.PhaseAssertion || !strings.Contains(got.Reason, "want at least 40000 days") {
		t.Errorf("certificate threshold: got %+v, want an assertion failure", got)
	}
	got = runHTTP(t, probe.HTTPSpec{URL: srv.URL, InsecureSkipVerify: true, CertMinDays: 30}, time.Second)
	if !got.OK || got.CertNotAfter.IsZero() {
		t.Errorf("insecure_skip_verify: got %+v, want ok with the certificate's expiry", got)
	}
}

// A target that answers with a long, invalid status line (bytes that are not UTF-8 included):
// net/http quotes the line in its error, but the reason stays short valid UTF-8.
func TestHTTPHostileStatusLineIsClipped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	serve(t, l, func(c net.Conn) {
		c.Read(make([]byte, 4096)) // the request
		c.Write([]byte("HTTP/1.1 " + strings.Repeat("é\xff\xfe", 1200) + "\r\n\r\n"))
	})
	got := runHTTP(t, probe.HTTPSpec{URL: "http://" + l.Addr().String() + "/"}, time.Second)
	if got.OK || got.Phase != probe.PhaseHTTP {
		t.Fatalf("got %+v, want an http-phase failure", got)
	}
	if len(got.Reason) > probe.MaxReason+len("…") || !utf8.ValidString(got.Reason) || !strings.HasSuffix(got.Reason, "…") {
		t.Errorf("reason of %d bytes (valid UTF-8: %v): %q", len(got.Reason), utf8.ValidString(got.Reason), got.Reason)
	}
}

// Monitors due in the same quarter second probe together, so a host with many monitors sees
// bursts: the connections one burst opened serve the next, however many there were (with the
// standard library's default of two idle connections a host, or the eight kept before, most
// were closed and dialled again every burst).
func TestHTTPReusesConnectionsAcrossBursts(t *testing.T) {
	const burst = 40
	var opened atomic.Int64
	var arrived atomic.Pointer[sync.WaitGroup]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg := arrived.Load()
		wg.Done()
		wg.Wait() // every request of the burst is in flight at once
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	tr := probe.NewTransport(false, "")
	t.Cleanup(tr.CloseIdleConnections)
	p := probe.NewHTTP(probe.HTTPSpec{URL: srv.URL + "/"}, tr)
	for round := range 3 {
		var wg sync.WaitGroup
		wg.Add(burst)
		arrived.Store(&wg)
		before := opened.Load()
		var probes sync.WaitGroup
		failures := atomic.Int64{}
		for range burst {
			probes.Go(func() {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				if !p.Probe(ctx, t0).OK {
					failures.Add(1)
				}
			})
		}
		probes.Wait()
		if failures.Load() > 0 {
			t.Fatalf("round %d: %d probes failed", round, failures.Load())
		}
		if n := opened.Load() - before; round > 0 && n != 0 {
			t.Errorf("round %d opened %d new connections; want the %d of the first round reused", round, n, burst)
		}
	}
}

// FuzzHTTPBody: whatever body a target sends, checked against whatever body_contains and
// json_path a monitor has, the probe ends with a result that agrees with a direct check of the
// body, and a short reason of valid UTF-8.
func FuzzHTTPBody(f *testing.F) {
	for _, s := range []struct{ body, contains, path string }{
		{`{"status":"ok","checks":[{"name":"db","ok":true}]}`, "ok", "checks.0.ok"},
		{`{"a":`, "", "a"}, {"all good", "good", ""}, {"\xff\xfe\x00", "\xff", ""},
		{`[1,2,3]`, "", "#"}, {`{"a":{"b":"` + strings.Repeat("é", 200) + `"}}`, "", "a.b"},
		{`{"x":1}`, "", "@reverse"}, {strings.Repeat("[", 5000), "", "0"},
	} {
		f.Add([]byte(s.body), s.contains, s.path)
	}
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(*body.Load()) }))
	f.Cleanup(srv.Close)
	tr := probe.NewTransport(false, "")
	f.Cleanup(tr.CloseIdleConnections)
	f.Fuzz(func(t *testing.T, b []byte, contains, path string) {
		body.Store(&b)
		p := probe.NewHTTP(probe.HTTPSpec{URL: srv.URL + "/", BodyContains: contains, JSONPath: path}, tr)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		got := p.Probe(ctx, t0)
		if len(got.Reason) > probe.MaxReason+len("…") || !utf8.ValidString(got.Reason) {
			t.Fatalf("reason of %d bytes (valid UTF-8: %v)", len(got.Reason), utf8.ValidString(got.Reason))
		}
		// The expectation comes from encoding/json, not from the library the prober uses. Paths
		// in gjson's richer syntax (wildcards, queries, modifiers) are checked only as far as an
		// independent reading goes: a body that is not JSON must fail.
		found, simple := jsonPathExists(b, path)
		if !simple {
			if !bytes.Contains(b, []byte(contains)) || !json.Valid(b) {
				if got.OK {
					t.Fatalf("body %q, contains %q, path %q: ok, want a failure", b, contains, path)
				}
			}
		} else if want := bytes.Contains(b, []byte(contains)) && found; got.OK != want {
			t.Fatalf("body %q, contains %q, path %q: ok = %v (%s), want %v", b, contains, path, got.OK, got.Reason, want)
		}
		if !got.OK && got.Phase != probe.PhaseAssertion {
			t.Fatalf("body %q: failed in phase %q (%s), want an assertion failure", b, got.Phase, got.Reason)
		}
	})
}

// jsonPathExists walks a dotted path of plain keys and array indexes ("checks.0.ok") through
// body decoded by encoding/json (an empty path always exists). simple is false for a path that
// uses more of gjson's syntax than keys and indexes, or a body this reading cannot judge alone.
func jsonPathExists(body []byte, path string) (found, simple bool) {
	if path == "" {
		return true, true
	}
	for _, seg := range strings.Split(path, ".") {
		if seg == "" || strings.IndexFunc(seg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
		}) >= 0 {
			return false, false
		}
	}
	if !utf8.Valid(body) {
		return false, false // gjson and encoding/json differ on invalid UTF-8 inside strings
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return false, true
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, true
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return false, true
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) || seg != strconv.Itoa(i) {
				return false, true
			}
			v = x[i]
		default:
			return false, true
		}
	}
	return true, true
}
