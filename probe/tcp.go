package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// TCPSpec is the check a TCP monitor runs: connect, optionally over TLS, optionally send a
// line and expect a reply containing some text.
type TCPSpec struct {
	Address  string // host:port
	TLS      bool
	Send     string
	Expect   string
	MaxBytes int // read at most this much looking for Expect (default 64 KiB)
}

// TCP probes a TCP endpoint.
type TCP struct{ spec TCPSpec }

// NewTCP returns a prober for spec.
func NewTCP(spec TCPSpec) *TCP {
	if spec.MaxBytes <= 0 {
		spec.MaxBytes = 64 << 10
	}
	return &TCP{spec: spec}
}

// dial connects to address within ctx, naming the failing phase.
func dial(ctx context.Context, address string) (net.Conn, Phase, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err == nil {
		return conn, PhaseNone, nil
	}
	var dnsErr *net.DNSError
	switch {
	case ctx.Err() != nil:
		return nil, PhaseTimeout, fmt.Errorf("timed out connecting to %s", address)
	case errors.As(err, &dnsErr):
		return nil, PhaseDNS, err
	}
	return nil, PhaseConnect, err
}

func ioPhase(ctx context.Context, during Phase, err error) Phase {
	var ne net.Error
	if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
		return PhaseTimeout
	}
	return during
}

// Probe connects, sends and reads within ctx.
func (p *TCP) Probe(ctx context.Context, at time.Time) Result {
	start := time.Now()
	res := Result{At: at}
	conn, ph, err := dial(ctx, p.spec.Address)
	if err != nil {
		return failed(res, start, ph, "%v", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if p.spec.TLS {
		host, _, _ := net.SplitHostPort(p.spec.Address)
		tc := tls.Client(conn, &tls.Config{ServerName: host})
		if err := tc.HandshakeContext(ctx); err != nil {
			return failed(res, start, ioPhase(ctx, PhaseTLS, err), "TLS handshake: %v", err)
		}
		res.CertNotAfter = earliestExpiry(tc.ConnectionState())
		conn = tc
	}
	if p.spec.Send != "" {
		if _, err := conn.Write([]byte(p.spec.Send)); err != nil {
			return failed(res, start, ioPhase(ctx, PhaseConnect, err), "send: %v", err)
		}
	}
	if p.spec.Expect != "" {
		buf := make([]byte, 0, 4096)
		chunk := make([]byte, 4096)
		for !bytes.Contains(buf, []byte(p.spec.Expect)) {
			if len(buf) >= p.spec.MaxBytes {
				return failed(res, start, PhaseAssertion, "%q not found in the first %d bytes", p.spec.Expect, len(buf))
			}
			n, err := conn.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if err != nil && !bytes.Contains(buf, []byte(p.spec.Expect)) {
				if ioPhase(ctx, PhaseAssertion, err) == PhaseTimeout {
					return failed(res, start, PhaseTimeout, "timed out waiting for %q (read %d bytes)", p.spec.Expect, len(buf))
				}
				return failed(res, start, PhaseAssertion, "%q not received before the connection ended (read %d bytes)", p.spec.Expect, len(buf))
			}
		}
	}
	res.OK, res.Duration = true, time.Since(start)
	return res
}

func earliestExpiry(cs tls.ConnectionState) time.Time {
	var earliest time.Time
	for _, c := range cs.PeerCertificates {
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest = c.NotAfter
		}
	}
	return earliest.UTC()
}
