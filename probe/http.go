package probe

import (
	"github.com/tidwall/gjson"

	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBodyBytes caps how much of a response body an HTTP probe reads.
const DefaultMaxBodyBytes = 1 << 20

// HTTP probes a URL. It is safe for concurrent use, though the engine never overlaps runs of one
// monitor.
type HTTP struct {
	spec   HTTPSpec
	client *http.Client
	header http.Header // built once and shared by every request: clients and transports only read it
}

// NewHTTP returns a prober for spec. transport is shared between monitors so that connections
// and memory scale with targets, not monitors; pass nil for a private default transport.
// Monitors that skip TLS verification must be given a transport configured for it.
func NewHTTP(spec HTTPSpec, transport http.RoundTripper) *HTTP {
	return newHTTPFrom(spec, transport, "")
}

// LocationHeader names the location an HTTP check is sent from, when the instance has one.
const LocationHeader = "X-Upstate-Location"

// newHTTPFrom is NewHTTP for a check sent from location (may be ""): the location is sent in
// LocationHeader and in the User-Agent. The monitor's own headers come last and win.
func newHTTPFrom(spec HTTPSpec, transport http.RoundTripper, location string) *HTTP {
	if transport == nil {
		transport = NewTransport(spec.InsecureSkipVerify, spec.IPFamily)
	}
	if spec.Method == "" {
		spec.Method = http.MethodGet
	}
	if spec.MaxBodyBytes <= 0 {
		spec.MaxBodyBytes = DefaultMaxBodyBytes
	}
	maxRedirects := spec.MaxRedirects
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	header := http.Header{"User-Agent": {"Upstate/1 (+status monitor)"}}
	if location != "" {
		header.Set("User-Agent", "Upstate/1 (+status monitor; location "+location+")")
		header.Set(LocationHeader, location)
	}
	for k, v := range spec.Headers {
		header.Set(k, v)
	}
	return &HTTP{spec: spec, client: client, header: header}
}

// NewTransport returns an HTTP transport suited to probing: no proxy from the environment,
// bounded idle connections, and certificate verification unless insecure is set.
//
// family "4" or "6" connects over that IP family only; "" uses either. Monitors that differ in
// it need their own transport: connections are pooled by host, not by family.
func NewTransport(insecure bool, family string) *http.Transport {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if family == "4" || family == "6" {
		dial = func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp"+family, addr)
		}
	}
	return &http.Transport{
		Proxy:           nil,
		DialContext:     dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}, //nolint:gosec // chosen per monitor by its owner
		MaxIdleConns:    1024,
		// As many for one host as for all: runs start together on the run grid, so a host with
		// many monitors gets bursts of requests, and each burst's connections must wait for the
		// next burst rather than be closed and dialled again (at 1,000 monitors on one host, 0.7
		// new connections per check with 8 kept a host; BENCHMARKS.md).
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   0, // bounded by the probe's context
		ExpectContinueTimeout: time.Second,
		DisableCompression:    false,
	}
}

// phaseTracker records how far a request got, so a failure can name its phase.
type phaseTracker struct {
	mu    sync.Mutex
	phase Phase
}

func (p *phaseTracker) set(ph Phase) {
	p.mu.Lock()
	p.phase = ph
	p.mu.Unlock()
}

func (p *phaseTracker) get() Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

// Probe runs one request. The whole run, DNS to the last body byte, is bounded by ctx.
func (h *HTTP) Probe(ctx context.Context, at time.Time) Result {
	start := time.Now()
	res := Result{At: at}

	tracker := &phaseTracker{phase: PhaseConnect}
	trace := &httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { tracker.set(PhaseDNS) },
		DNSDone:           func(httptrace.DNSDoneInfo) { tracker.set(PhaseConnect) },
		ConnectStart:      func(string, string) { tracker.set(PhaseConnect) },
		TLSHandshakeStart: func() { tracker.set(PhaseTLS) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				tracker.set(PhaseHTTP)
			}
		},
		GotConn: func(httptrace.GotConnInfo) { tracker.set(PhaseHTTP) },
	}
	var body io.Reader
	if h.spec.Body != "" {
		body = strings.NewReader(h.spec.Body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), h.spec.Method, h.spec.URL, body)
	if err != nil {
		return failed(res, start, PhaseHTTP, "bad request: %v", err)
	}
	req.Header = h.header
	resp, err := h.client.Do(req)
	if err != nil {
		return failed(res, start, h.failPhase(ctx, tracker.get(), err), "%s", errorReason(ctx, tracker.get(), err))
	}
	defer resp.Body.Close()
	res.StatusCode = resp.StatusCode
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		earliest := resp.TLS.PeerCertificates[0].NotAfter
		for _, c := range resp.TLS.PeerCertificates[1:] {
			if c.NotAfter.Before(earliest) {
				earliest = c.NotAfter
			}
		}
		res.CertNotAfter = earliest.UTC()
	}

	// Read the body (bounded), so timing covers the transfer and assertions can look at it.
	limited := io.LimitReader(resp.Body, h.spec.MaxBodyBytes+1)
	var buf bytes.Buffer
	if h.spec.BodyContains != "" || h.spec.BodyRegex != nil || h.spec.JSONPath != "" {
		_, err = buf.ReadFrom(limited)
	} else {
		_, err = io.Copy(io.Discard, limited)
	}
	if err != nil {
		return failed(res, start, h.failPhase(ctx, PhaseHTTP, err), "reading body: %s", errorReason(ctx, PhaseHTTP, err))
	}

	if !h.statusOK(resp.StatusCode) {
		return failed(res, start, PhaseAssertion, "status code %d, want %s", resp.StatusCode, h.expectation())
	}
	b := buf.Bytes()
	if int64(len(b)) > h.spec.MaxBodyBytes {
		b = b[:h.spec.MaxBodyBytes]
	}
	if h.spec.BodyContains != "" && !bytes.Contains(b, []byte(h.spec.BodyContains)) {
		return failed(res, start, PhaseAssertion, "body does not contain %q (first %d bytes read)", h.spec.BodyContains, len(b))
	}
	if h.spec.BodyRegex != nil && !h.spec.BodyRegex.Match(b) {
		return failed(res, start, PhaseAssertion, "body does not match /%s/ (first %d bytes read)", h.spec.BodyRegex, len(b))
	}
	if h.spec.JSONPath != "" {
		if !gjson.ValidBytes(b) {
			return failed(res, start, PhaseAssertion, "body is not valid JSON (first %d bytes read)", len(b))
		}
		v := gjson.GetBytes(b, h.spec.JSONPath)
		switch {
		case !v.Exists():
			return failed(res, start, PhaseAssertion, "JSON path %q not found in the body", h.spec.JSONPath)
		case h.spec.JSONEquals != nil && v.String() != *h.spec.JSONEquals:
			return failed(res, start, PhaseAssertion, "JSON path %q is %q, want %q", h.spec.JSONPath, clip(v.String(), 80), *h.spec.JSONEquals)
		}
	}
	if h.spec.CertMinDays > 0 && !res.CertNotAfter.IsZero() {
		if left := res.CertNotAfter.Sub(at); left < time.Duration(h.spec.CertMinDays)*24*time.Hour {
			return failed(res, start, PhaseAssertion, "certificate expires %s (in %.1f days), want at least %d days",
				res.CertNotAfter.Format(time.RFC3339), left.Hours()/24, h.spec.CertMinDays)
		}
	}
	res.OK = true
	res.Duration = time.Since(start)
	return res
}

func (h *HTTP) statusOK(code int) bool {
	if len(h.spec.ExpectStatus) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range h.spec.ExpectStatus {
		if r.Contains(code) {
			return true
		}
	}
	return false
}

func (h *HTTP) expectation() string {
	if len(h.spec.ExpectStatus) == 0 {
		return "2xx"
	}
	parts := make([]string, len(h.spec.ExpectStatus))
	for i, r := range h.spec.ExpectStatus {
		if r.Min == r.Max {
			parts[i] = fmt.Sprint(r.Min)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Min, r.Max)
		}
	}
	return strings.Join(parts, ", ")
}

func (h *HTTP) failPhase(ctx context.Context, reached Phase, err error) Phase {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return PhaseTimeout
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return PhaseDNS
	}
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &invalidErr) {
		return PhaseTLS
	}
	return reached
}

func errorReason(ctx context.Context, reached Phase, err error) string {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return fmt.Sprintf("timed out during %s", reached)
	}
	// url.Error repeats the method and URL, which the monitor already names.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return err.Error()
}
