package probe

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSSpec is the check a DNS monitor runs: ask one server for one name and record type, and
// expect NOERROR with answers, including each expected value.
type DNSSpec struct {
	Name      string   // the name to resolve
	Type      string   // A, AAAA, CNAME, MX, NS, TXT
	Server    string   // host:port of the resolver to ask
	Transport string   // udp (default) or tcp
	Expect    []string // values that must all be among the answers
}

// DNSTypes are the record types a DNS monitor may ask for.
var DNSTypes = map[string]uint16{"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX, "NS": dns.TypeNS, "TXT": dns.TypeTXT}

// DNS probes a name on a resolver.
type DNS struct {
	spec   DNSSpec
	client *dns.Client
}

// NewDNS returns a prober for spec.
func NewDNS(spec DNSSpec) *DNS {
	if spec.Transport == "" {
		spec.Transport = "udp"
	}
	return &DNS{spec: spec, client: &dns.Client{Net: spec.Transport}}
}

func answerValue(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.A:
		return v.A.String()
	case *dns.AAAA:
		return v.AAAA.String()
	case *dns.CNAME:
		return strings.TrimSuffix(v.Target, ".")
	case *dns.MX:
		return strings.TrimSuffix(v.Mx, ".")
	case *dns.NS:
		return strings.TrimSuffix(v.Ns, ".")
	case *dns.TXT:
		return strings.Join(v.Txt, "")
	}
	return ""
}

// Probe asks the server within ctx.
func (p *DNS) Probe(ctx context.Context, at time.Time) Result {
	start := time.Now()
	res := Result{At: at}
	qtype := DNSTypes[strings.ToUpper(p.spec.Type)]
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(p.spec.Name), qtype)
	msg.RecursionDesired = true
	reply, _, err := p.client.ExchangeContext(ctx, msg, p.spec.Server)
	if err != nil {
		if ioPhase(ctx, PhaseDNS, err) == PhaseTimeout {
			return failed(res, start, PhaseTimeout, "no answer from %s", p.spec.Server)
		}
		return failed(res, start, PhaseDNS, "%v", err)
	}
	if reply.Rcode != dns.RcodeSuccess {
		return failed(res, start, PhaseDNS, "%s answered %s for %s %s", p.spec.Server, dns.RcodeToString[reply.Rcode], p.spec.Type, p.spec.Name)
	}
	var got []string
	for _, rr := range reply.Answer {
		if rr.Header().Rrtype == qtype {
			got = append(got, answerValue(rr))
		}
	}
	if len(got) == 0 {
		return failed(res, start, PhaseAssertion, "no %s records for %s", p.spec.Type, p.spec.Name)
	}
	for _, want := range p.spec.Expect {
		if !slices.Contains(got, strings.TrimSuffix(want, ".")) {
			return failed(res, start, PhaseAssertion, "%s %s is %s, which lacks %s", p.spec.Name, p.spec.Type, strings.Join(got, ", "), want)
		}
	}
	res.OK, res.Duration = true, time.Since(start)
	return res
}
