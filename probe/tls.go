package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math"
	"net"
	"time"
)

// TLSSpec is the check a TLS monitor runs: a handshake that verifies the chain and the host
// name, and a minimum number of days before the earliest certificate of the chain expires.
type TLSSpec struct {
	Address    string // host:port
	ServerName string // default: the address's host
	MinDays    int    // fail when the certificate expires in fewer days (0: only when expired)
	RootCAs    *x509.CertPool
}

// TLS probes a TLS endpoint's certificate.
type TLS struct{ spec TLSSpec }

// NewTLS returns a prober for spec.
func NewTLS(spec TLSSpec) *TLS {
	if spec.ServerName == "" {
		spec.ServerName, _, _ = net.SplitHostPort(spec.Address)
	}
	return &TLS{spec: spec}
}

// Probe handshakes within ctx and checks the certificate's expiry against at.
func (p *TLS) Probe(ctx context.Context, at time.Time) Result {
	start := time.Now()
	res := Result{At: at}
	conn, ph, err := dial(ctx, p.spec.Address)
	if err != nil {
		return failed(res, start, ph, "%v", err)
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{ServerName: p.spec.ServerName, RootCAs: p.spec.RootCAs})
	if err := tc.HandshakeContext(ctx); err != nil {
		return failed(res, start, ioPhase(ctx, PhaseTLS, err), "%v", err)
	}
	res.CertNotAfter = earliestExpiry(tc.ConnectionState())
	days := int(math.Floor(res.CertNotAfter.Sub(at).Hours() / 24))
	if days < p.spec.MinDays {
		return failed(res, start, PhaseAssertion, "the certificate expires in %d days (at %s), fewer than %d", days, res.CertNotAfter.Format(time.RFC3339), p.spec.MinDays)
	}
	res.OK, res.Duration = true, time.Since(start)
	return res
}
