package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/upstate-dev/upstate/probe"
)

func run(t *testing.T, p probe.Prober, timeout time.Duration, at time.Time) probe.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return p.Probe(ctx, at)
}

// serve runs fn for each connection of l until the test ends, then closes every connection
// and waits for the handlers, so the leak check sees no goroutine left behind.
func serve(t *testing.T, l net.Listener, fn func(net.Conn)) {
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { defer c.Close(); fn(c) })
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// listen serves each connection with fn on a loopback port until the test ends.
func listen(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, fn)
	return l.Addr().String()
}

func TestTCP(t *testing.T) {
	pong := listen(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if strings.HasPrefix(string(buf[:n]), "PING") {
			c.Write([]byte("+PONG\r\n"))
		}
	})
	silent := listen(t, func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
	chatty := listen(t, func(c net.Conn) { c.Write([]byte("hello\n")) })
	closed := func() string { l, _ := net.Listen("tcp", "127.0.0.1:0"); a := l.Addr().String(); l.Close(); return a }()
	tests := []struct {
		name      string
		spec      probe.TCPSpec
		ok        bool
		phase     probe.Phase
		reasonHas string
	}{
		{"connect only", probe.TCPSpec{Address: silent}, true, "", ""},
		{"send and expect", probe.TCPSpec{Address: pong, Send: "PING\r\n", Expect: "PONG"}, true, "", ""},
		{"refused", probe.TCPSpec{Address: closed}, false, probe.PhaseConnect, "refused"},
		{"no reply", probe.TCPSpec{Address: silent, Send: "PING\r\n", Expect: "PONG"}, false, probe.PhaseTimeout, "timed out waiting"},
		{"wrong reply", probe.TCPSpec{Address: chatty, Expect: "PONG"}, false, probe.PhaseAssertion, "not received"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, probe.NewTCP(tt.spec), 300*time.Millisecond, t0)
			if got.OK != tt.ok || got.Phase != tt.phase || !strings.Contains(got.Reason, tt.reasonHas) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

// tlsServer serves TLS on loopback with a certificate for host valid until notAfter, signed by
// a CA the returned pool trusts.
func tlsServer(t *testing.T, host string, notAfter time.Time) (string, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, func(c net.Conn) { c.(*tls.Conn).Handshake() })
	return l.Addr().String(), pool
}

func TestTLS(t *testing.T) {
	now := time.Now()
	good, goodPool := tlsServer(t, "status.test", now.Add(60*24*time.Hour))
	soon, soonPool := tlsServer(t, "status.test", now.Add(5*24*time.Hour))
	expired, expiredPool := tlsServer(t, "status.test", now.Add(-24*time.Hour))
	tests := []struct {
		name      string
		spec      probe.TLSSpec
		ok        bool
		phase     probe.Phase
		reasonHas string
	}{
		{"valid", probe.TLSSpec{Address: good, ServerName: "status.test", RootCAs: goodPool, MinDays: 14}, true, "", ""},
		{"expires soon", probe.TLSSpec{Address: soon, ServerName: "status.test", RootCAs: soonPool, MinDays: 14}, false, probe.PhaseAssertion, "expires in 4 days"},
		{"expired", probe.TLSSpec{Address: expired, ServerName: "status.test", RootCAs: expiredPool}, false, probe.PhaseTLS, "expired"},
		{"wrong host", probe.TLSSpec{Address: good, ServerName: "other.test", RootCAs: goodPool}, false, probe.PhaseTLS, "other.test"},
		{"untrusted", probe.TLSSpec{Address: good, ServerName: "status.test"}, false, probe.PhaseTLS, "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, probe.NewTLS(tt.spec), time.Second, now)
			if got.OK != tt.ok || got.Phase != tt.phase || !strings.Contains(got.Reason, tt.reasonHas) {
				t.Errorf("got %+v", got)
			}
			if tt.ok && got.CertNotAfter.IsZero() {
				t.Error("no certificate expiry recorded")
			}
		})
	}
}

func TestDNS(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch {
		case q.Name == "status.test." && q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR("status.test. 60 IN A 192.0.2.10")
			rr2, _ := dns.NewRR("status.test. 60 IN A 192.0.2.11")
			m.Answer = []dns.RR{rr, rr2}
		case q.Name == "www.status.test." && q.Qtype == dns.TypeCNAME:
			rr, _ := dns.NewRR("www.status.test. 60 IN CNAME status.test.")
			m.Answer = []dns.RR{rr}
		case q.Name == "empty.test.":
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	server := pc.LocalAddr().String()
	tests := []struct {
		name      string
		spec      probe.DNSSpec
		ok        bool
		phase     probe.Phase
		reasonHas string
	}{
		{"A with expected answers", probe.DNSSpec{Name: "status.test", Type: "A", Server: server, Expect: []string{"192.0.2.11"}}, true, "", ""},
		{"CNAME", probe.DNSSpec{Name: "www.status.test", Type: "CNAME", Server: server, Expect: []string{"status.test."}}, true, "", ""},
		{"missing answer", probe.DNSSpec{Name: "status.test", Type: "A", Server: server, Expect: []string{"192.0.2.99"}}, false, probe.PhaseAssertion, "lacks 192.0.2.99"},
		{"NXDOMAIN", probe.DNSSpec{Name: "nope.test", Type: "A", Server: server}, false, probe.PhaseDNS, "NXDOMAIN"},
		{"no records", probe.DNSSpec{Name: "empty.test", Type: "A", Server: server}, false, probe.PhaseAssertion, "no A records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, probe.NewDNS(tt.spec), time.Second, t0)
			if got.OK != tt.ok || got.Phase != tt.phase || !strings.Contains(got.Reason, tt.reasonHas) {
				t.Errorf("got %+v", got)
			}
		})
	}
	// A resolver that never answers: a bounded timeout.
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	t.Cleanup(func() { dead.Close() })
	got := run(t, probe.NewDNS(probe.DNSSpec{Name: "status.test", Type: "A", Server: dead.LocalAddr().String()}), 200*time.Millisecond, t0)
	if got.OK || got.Phase != probe.PhaseTimeout {
		t.Errorf("silent resolver: %+v", got)
	}
}
