package probe

import (
	"fmt"
	"net/http"
	"time"
)

// Env is what building a prober may need from the engine that runs it.
type Env struct {
	// Transport returns the shared HTTP transport for a certificate policy and an IP family
	// ("", "4" or "6"), so monitors of one host share idle connections.
	Transport  func(insecure bool, family string) http.RoundTripper
	Heartbeats *Heartbeats // where heartbeat check-ins are received
	Now        time.Time
	// Location names where the engine probes from (cluster.location), or "". HTTP checks
	// send it in the X-Upstate-Location header and the User-Agent, so a target can tell the
	// locations apart.
	Location string
}

// KindInfo is everything Upstate knows of one kind of check.
type KindInfo struct {
	// New builds the prober of a monitor of this kind; an error means the monitor lacks its
	// spec or the spec cannot run (a programming or config error, never a down target).
	New func(m Monitor, env Env) (Prober, error)
	// Target says what the monitor checks, for people. Never a secret (a heartbeat's token).
	Target func(m Monitor) string
	// HasSpec reports whether the monitor carries this kind's spec.
	HasSpec func(m Monitor) bool
}

// kinds is the table of kinds, as blackbox_exporter's Probers map: adding a kind is a file in
// this package and an entry here. It is never written after init.
var kinds = map[Kind]KindInfo{
	KindHTTP: {
		New: func(m Monitor, env Env) (Prober, error) {
			return newHTTPFrom(*m.HTTP, env.Transport(m.HTTP.InsecureSkipVerify, m.HTTP.IPFamily), env.Location), nil
		},
		Target:  func(m Monitor) string { return m.HTTP.URL },
		HasSpec: func(m Monitor) bool { return m.HTTP != nil },
	},
	KindTCP: {
		New:     func(m Monitor, _ Env) (Prober, error) { return NewTCP(*m.TCP), nil },
		Target:  func(m Monitor) string { return m.TCP.Address },
		HasSpec: func(m Monitor) bool { return m.TCP != nil },
	},
	KindTLS: {
		New:     func(m Monitor, _ Env) (Prober, error) { return NewTLS(*m.TLS), nil },
		Target:  func(m Monitor) string { return m.TLS.Address },
		HasSpec: func(m Monitor) bool { return m.TLS != nil },
	},
	KindDNS: {
		New:     func(m Monitor, _ Env) (Prober, error) { return NewDNS(*m.DNS), nil },
		Target:  func(m Monitor) string { return m.DNS.Type + " " + m.DNS.Name + " @" + m.DNS.Server },
		HasSpec: func(m Monitor) bool { return m.DNS != nil },
	},
	KindICMP: {
		New:     func(m Monitor, _ Env) (Prober, error) { return NewICMP(*m.ICMP), nil },
		Target:  func(m Monitor) string { return m.ICMP.Host },
		HasSpec: func(m Monitor) bool { return m.ICMP != nil },
	},
	KindHeartbeat: {
		New: func(m Monitor, env Env) (Prober, error) {
			return env.Heartbeats.Watch(m.ID, *m.Heartbeat, env.Now)
		},
		Target: func(m Monitor) string {
			h := m.Heartbeat
			if h.Schedule != "" {
				zone := "UTC"
				if h.Location != nil {
					zone = h.Location.String()
				}
				return "check-in after " + h.Schedule + " (" + zone + ") + " + h.Grace.String()
			}
			return "check-in every " + h.Period.String() + " + " + h.Grace.String()
		},
		HasSpec: func(m Monitor) bool { return m.Heartbeat != nil },
	},
}

// Valid reports whether k names a kind this build can run.
func (k Kind) Valid() bool {
	_, ok := kinds[k]
	return ok
}

// NewProber builds m's prober from its kind's entry.
func NewProber(m Monitor, env Env) (Prober, error) {
	info, ok := kinds[m.Kind]
	if !ok {
		return nil, fmt.Errorf("monitor %s: unsupported kind %q", m.ID, m.Kind)
	}
	if !info.HasSpec(m) {
		return nil, fmt.Errorf("monitor %s: kind %s without its %s spec", m.ID, m.Kind, m.Kind)
	}
	return info.New(m, env)
}

// Target says what m checks, for people ("" when its kind's spec is missing).
func Target(m Monitor) string {
	if info, ok := kinds[m.Kind]; ok && info.HasSpec(m) {
		return info.Target(m)
	}
	return ""
}
