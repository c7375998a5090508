package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// ICMPSpec is the check an ICMP monitor runs: Count echo requests, healthy when at least
// MinReplies come back before the timeout.
type ICMPSpec struct {
	Host       string
	Count      int           // default 3
	Spacing    time.Duration // between requests (default 200ms)
	MinReplies int           // default 1
	Network    string        // "ip" (default), "ip4" or "ip6"
	// Privileged: "auto" (default) tries an unprivileged ICMP socket, then a raw one; "on" and
	// "off" use only one.
	Privileged string
}

// ICMP pings a host.
type ICMP struct{ spec ICMPSpec }

// NewICMP returns a prober for spec.
func NewICMP(spec ICMPSpec) *ICMP {
	if spec.Count <= 0 {
		spec.Count = 3
	}
	if spec.Spacing <= 0 {
		spec.Spacing = 200 * time.Millisecond
	}
	if spec.MinReplies <= 0 {
		spec.MinReplies = 1
	}
	if spec.Network == "" {
		spec.Network = "ip"
	}
	if spec.Privileged == "" {
		spec.Privileged = "auto"
	}
	return &ICMP{spec: spec}
}

// ICMPPermissionHelp says what to set when no ICMP socket may be opened.
const ICMPPermissionHelp = "ICMP sockets are not allowed for this process: either let its group open unprivileged ICMP sockets " +
	"(sysctl -w net.ipv4.ping_group_range=\"0 2147483647\") or give the binary CAP_NET_RAW (setcap cap_net_raw+ep upstate; in Docker: --cap-add NET_RAW)"

// Probe sends the echo requests within ctx.
func (p *ICMP) Probe(ctx context.Context, at time.Time) Result {
	start := time.Now()
	res := Result{At: at}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, p.spec.Host)
	if err != nil {
		if ctx.Err() != nil {
			return failed(res, start, PhaseTimeout, "timed out resolving %s", p.spec.Host)
		}
		return failed(res, start, PhaseDNS, "%v", err)
	}
	addr, ok := pickAddr(addrs, p.spec.Network)
	if !ok {
		return failed(res, start, PhaseDNS, "%s has no %s address", p.spec.Host, p.spec.Network)
	}
	modes := map[string][]bool{"auto": {false, true}, "off": {false}, "on": {true}}[p.spec.Privileged]
	var stats *probing.Statistics
	for i, privileged := range modes {
		pinger := probing.New(p.spec.Host)
		pinger.SetIPAddr(&addr)
		pinger.SetPrivileged(privileged)
		pinger.Count, pinger.Interval = p.spec.Count, p.spec.Spacing
		pinger.Timeout = time.Hour // ctx bounds the run
		if dl, ok := ctx.Deadline(); ok {
			pinger.Timeout = time.Until(dl)
		}
		err = pinger.RunWithContext(ctx)
		if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			stats = pinger.Statistics()
			break
		}
		if !isPermission(err) {
			return failed(res, start, PhaseConnect, "ping %s: %v", addr.IP, err)
		}
		if i == len(modes)-1 {
			return failed(res, start, PhaseConnect, "%s (%v)", ICMPPermissionHelp, err)
		}
	}
	res.Duration = time.Since(start)
	if stats.PacketsRecv < p.spec.MinReplies {
		ph := PhaseConnect
		if ctx.Err() != nil {
			ph = PhaseTimeout
		}
		res.Phase, res.Reason = ph, fmt.Sprintf("%d of %d echo requests to %s answered, want at least %d", stats.PacketsRecv, stats.PacketsSent, addr.IP, p.spec.MinReplies)
		return res
	}
	res.OK, res.Duration = true, stats.AvgRtt
	return res
}

func pickAddr(addrs []net.IPAddr, network string) (net.IPAddr, bool) {
	for _, a := range addrs {
		v4 := a.IP.To4() != nil
		if network == "ip" || network == "ip4" && v4 || network == "ip6" && !v4 {
			return a, true
		}
	}
	return net.IPAddr{}, false
}

func isPermission(err error) bool {
	return errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}
