package configs

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
)

// Monitor is one check.
type Monitor struct {
	ID        string        `yaml:"id"`
	Name      string        `yaml:"name"`
	Component string        `yaml:"component"`
	Kind      string        `yaml:"kind"`
	Interval  time.Duration `yaml:"interval"` // default 30s
	Timeout   time.Duration `yaml:"timeout"`  // default 10s, or less to stay below interval
	// Failures in a row before the monitor is down (default 2); successes in a row before it
	// is up again (default 1).
	Failures  int `yaml:"failures"`
	Successes int `yaml:"successes"`
	// Retries re-probe a failure at once, retry_spacing apart (defaults 1 and 1s), so an
	// outage is confirmed in seconds rather than after whole intervals.
	Retries      *int          `yaml:"retries"`
	RetrySpacing time.Duration `yaml:"retry_spacing"`
	// LatencyThreshold: good results slower than this make the monitor degraded. 0 disables.
	LatencyThreshold time.Duration `yaml:"latency_threshold"`
	// Severity of the incident this monitor's outage opens (default P1).
	Severity string `yaml:"severity"`
	// Paused monitors are not run (until resumed through the admin API).
	Paused bool  `yaml:"paused"`
	HTTP   *HTTP `yaml:"http"`
	TCP    *TCP  `yaml:"tcp"`
	TLS    *TLS  `yaml:"tls"`
	DNS    *DNS  `yaml:"dns"`
	// Heartbeat monitors are checked in by the job itself, at /ping/{token}; the interval is
	// how often Upstate judges the check-ins (default 10s).
	Heartbeat *Heartbeat `yaml:"heartbeat"`
	ICMP      *ICMP      `yaml:"icmp"`
	// Locations: check from this many locations (instances' cluster.location) and take their
	// quorum (docs/deploy.md, "Locations"). 0 or 1: from one. Not for heartbeat monitors.
	Locations int `yaml:"locations"`
}

// MaxLocations bounds monitors[].locations.
const MaxLocations = 16

// ICMP is a ping check: count echo requests, healthy when min_replies come back in time.
type ICMP struct {
	Host       string        `yaml:"host"`
	Count      int           `yaml:"count"`       // default 3
	Spacing    time.Duration `yaml:"spacing"`     // default 200ms
	MinReplies int           `yaml:"min_replies"` // default 1
	Network    string        `yaml:"network"`     // ip (default), ip4, ip6
	Privileged string        `yaml:"privileged"`  // auto (default), on, off
}

// Heartbeat is a job that checks in: every period, or after each time of a cron schedule.
type Heartbeat struct {
	Token    string        `yaml:"token" secret:"true"` // at least 22 URL-safe characters; ${ENV} allowed
	Period   time.Duration `yaml:"period"`
	Schedule string        `yaml:"schedule"`  // cron, 5 fields, e.g. "30 2 * * *"
	TimeZone string        `yaml:"time_zone"` // the schedule's zone (default UTC)
	Grace    time.Duration `yaml:"grace"`     // default 5m
}

// TCP is a TCP check: connect (optionally over TLS), optionally send and expect.
type TCP struct {
	Address string `yaml:"address"` // host:port
	TLS     bool   `yaml:"tls"`
	Send    string `yaml:"send"`
	Expect  string `yaml:"expect"`
}

// TLS is a certificate check.
type TLS struct {
	Address    string `yaml:"address"`     // host:port
	ServerName string `yaml:"server_name"` // default: the address's host
	MinDays    int    `yaml:"min_days"`    // fail when fewer days are left (default 14)
}

// DNS is a DNS check.
type DNS struct {
	Name      string   `yaml:"name"`
	Type      string   `yaml:"type"`      // A (default), AAAA, CNAME, MX, NS, TXT
	Server    string   `yaml:"server"`    // host:port of the resolver
	Transport string   `yaml:"transport"` // udp (default) or tcp
	Expect    []string `yaml:"expect"`
}

// Incidents configures automatic incidents.

// HTTP is an HTTP check.
type HTTP struct {
	URL                string            `yaml:"url"`
	Method             string            `yaml:"method"` // default GET
	Headers            map[string]string `yaml:"headers"`
	Body               string            `yaml:"body"`
	ExpectStatus       []string          `yaml:"expect_status"` // codes or ranges: [200, "300-399"]; default any 2xx
	BodyContains       string            `yaml:"body_contains"`
	MaxBodyBytes       int64             `yaml:"max_body_bytes"` // default 1 MiB
	MaxRedirects       *int              `yaml:"max_redirects"`  // default 5; 0 does not follow
	InsecureSkipVerify bool              `yaml:"insecure_skip_verify"`
	BodyRegex          string            `yaml:"body_regex"`    // RE2 syntax
	JSONPath           string            `yaml:"json_path"`     // gjson syntax: "status", "checks.0.ok"
	JSONEquals         *string           `yaml:"json_equals"`   // the value at json_path, as text
	CertMinDays        int               `yaml:"cert_min_days"` // HTTPS: fail when fewer days are left; 0 disables
	IPVersion          int               `yaml:"ip_version"`    // 4 or 6 to use only that family; 0 either
}

// monitorDefaults applies each monitor's defaults, per kind, before validation.
func (c *Config) monitorDefaults() {
	for i := range c.Monitors {
		m := &c.Monitors[i]
		if m.Kind == string(probe.KindHeartbeat) {
			// Judging check-ins costs nothing: judge often, and a miss is a miss (no re-probes).
			if m.Interval == 0 {
				m.Interval = DefaultHeartbeatEvery
			}
			if m.Failures == 0 {
				m.Failures = 1
			}
			if m.Retries == nil {
				m.Retries = new(int)
			}
			if h := m.Heartbeat; h != nil {
				if h.Grace == 0 {
					h.Grace = DefaultHeartbeatGrace
				}
				if h.TimeZone == "" {
					h.TimeZone = "UTC"
				}
			}
		}
		if m.Interval == 0 {
			m.Interval = DefaultInterval
		}
		if m.Timeout == 0 {
			m.Timeout = min(DefaultTimeout, m.Interval*4/5)
		}
		if m.Failures == 0 {
			m.Failures = DefaultFailures
		}
		if m.Successes == 0 {
			m.Successes = DefaultSuccesses
		}
		if m.RetrySpacing == 0 {
			m.RetrySpacing = time.Second
		}
		if m.Retries == nil {
			n := 1 // by default one quick re-probe, when it fits before the next run
			if m.RetrySpacing+m.Timeout >= m.Interval {
				n = 0
			}
			m.Retries = &n
		}
		if m.Name == "" {
			m.Name = m.ID
		}
		if m.Severity == "" {
			m.Severity = string(incidents.P1)
		}
		if m.TLS != nil && m.TLS.MinDays == 0 {
			m.TLS.MinDays = 14
		}
		if c := m.ICMP; c != nil {
			if c.Count == 0 {
				c.Count = 3
			}
			if c.Spacing == 0 {
				c.Spacing = 200 * time.Millisecond
			}
			if c.MinReplies == 0 {
				c.MinReplies = 1
			}
			if c.Network == "" {
				c.Network = "ip"
			}
			if c.Privileged == "" {
				c.Privileged = "auto"
			}
		}
		if m.DNS != nil {
			if m.DNS.Type == "" {
				m.DNS.Type = "A"
			}
			if m.DNS.Transport == "" {
				m.DNS.Transport = "udp"
			}
		}
		if h := m.HTTP; h != nil {
			if h.Method == "" {
				h.Method = "GET"
			}
			if h.MaxBodyBytes == 0 {
				h.MaxBodyBytes = probe.DefaultMaxBodyBytes
			}
			if h.MaxRedirects == nil {
				n := DefaultMaxRedirects
				h.MaxRedirects = &n
			}
		}
	}
}

// validateMonitors checks every monitor and, in the same pass, builds the probe.Monitor the
// engine runs (c.monitors): what was parsed to validate (a regular expression, status ranges, a
// zone) is what runs, never parsed a second time.
func (c *Config) validateMonitors(d *decoder) {
	c.monitors = make([]probe.Monitor, 0, len(c.Monitors))
	components := map[string]bool{}
	for _, cm := range c.Components {
		components[cm.ID] = true
	}
	ids := map[string]int{}
	tokens := map[string]string{}
	for i, m := range c.Monitors {
		path := fmt.Sprintf("monitors[%d]", i)
		switch {
		case m.ID == "":
			d.at(path+".id", "is required")
		case !component.ValidID(m.ID):
			d.at(path+".id", "invalid id %q: %s", m.ID, idRule)
		default:
			if prev, dup := ids[m.ID]; dup {
				d.at(path+".id", "duplicate id %q (also used by monitors[%d])", m.ID, prev)
			}
			ids[m.ID] = i
		}
		if m.Component == "" {
			d.at(path+".component", "is required")
		} else if !components[m.Component] {
			d.at(path+".component", "unknown component %q", m.Component)
		}
		if m.Interval < MinInterval {
			d.at(path+".interval", "must be at least %s", MinInterval)
		}
		if m.Timeout <= 0 {
			d.at(path+".timeout", "must be positive")
		} else if m.Timeout >= m.Interval {
			d.at(path+".timeout", "must be shorter than interval (%s)", m.Interval)
		}
		if !incidents.Severity(m.Severity).Valid() {
			d.at(path+".severity", "unknown severity %q (want P0, P1, P2 or P3)", m.Severity)
		}
		if m.Failures < 1 || m.Failures > 100 {
			d.at(path+".failures", "must be between 1 and 100")
		}
		if m.Successes < 1 || m.Successes > 100 {
			d.at(path+".successes", "must be between 1 and 100")
		}
		switch {
		case *m.Retries < 0 || *m.Retries > 10:
			d.at(path+".retries", "must be between 0 and 10")
		case m.RetrySpacing < 100*time.Millisecond:
			d.at(path+".retry_spacing", "must be at least 100ms")
		case m.Interval >= MinInterval && m.Timeout < m.Interval && time.Duration(*m.Retries)*(m.RetrySpacing+m.Timeout) >= m.Interval:
			d.at(path+".retries", "%d retries %s apart (each up to the %s timeout) do not fit in the %s interval", *m.Retries, m.RetrySpacing, m.Timeout, m.Interval)
		}
		if m.LatencyThreshold < 0 {
			d.at(path+".latency_threshold", "must not be negative")
		} else if m.LatencyThreshold > 0 && m.LatencyThreshold >= m.Timeout {
			d.at(path+".latency_threshold", "must be shorter than timeout (%s), or the monitor could never be degraded", m.Timeout)
		}
		kind := probe.Kind(m.Kind)
		switch {
		case m.Kind == "":
			d.at(path+".kind", "is required (%s)", supportedKinds)
			continue
		case kind.Valid():
		default:
			d.at(path+".kind", "unknown kind %q (supported: %s)", m.Kind, supportedKinds)
			continue
		}
		specs := map[probe.Kind]bool{probe.KindHTTP: m.HTTP != nil, probe.KindTCP: m.TCP != nil, probe.KindTLS: m.TLS != nil, probe.KindDNS: m.DNS != nil,
			probe.KindHeartbeat: m.Heartbeat != nil, probe.KindICMP: m.ICMP != nil}
		for k, set := range specs {
			if set && k != kind {
				d.at(path+"."+string(k), "belongs to kind %s, but the monitor is kind %s", k, kind)
			}
		}
		switch {
		case m.Locations < 0 || m.Locations > MaxLocations:
			d.at(path+".locations", "must be between 1 and %d", MaxLocations)
		case m.Locations > 1 && kind == probe.KindHeartbeat:
			d.at(path+".locations", "a heartbeat monitor is checked in by its job, not probed from locations")
		}
		pm := probe.Monitor{ID: m.ID, Name: m.Name, ComponentID: m.Component, Kind: kind,
			Interval: m.Interval, Timeout: m.Timeout, Paused: m.Paused, Locations: m.Locations,
			Thresholds: probe.Thresholds{Failures: m.Failures, Successes: m.Successes, LatencyThreshold: m.LatencyThreshold,
				Retries: *m.Retries, RetrySpacing: m.RetrySpacing}}
		switch kind {
		case probe.KindHTTP:
			pm.HTTP = validateHTTP(d, path, m.HTTP)
		case probe.KindTCP:
			if m.TCP == nil {
				d.at(path+".tcp", "is required for kind tcp")
			} else if _, _, err := net.SplitHostPort(m.TCP.Address); err != nil {
				d.at(path+".tcp.address", "invalid address %q: want host:port", m.TCP.Address)
			} else {
				pm.TCP = &probe.TCPSpec{Address: m.TCP.Address, TLS: m.TCP.TLS, Send: m.TCP.Send, Expect: m.TCP.Expect}
			}
		case probe.KindTLS:
			if m.TLS == nil {
				d.at(path+".tls", "is required for kind tls")
				break
			}
			_, _, err := net.SplitHostPort(m.TLS.Address)
			if err != nil {
				d.at(path+".tls.address", "invalid address %q: want host:port", m.TLS.Address)
			}
			if m.TLS.MinDays < 0 {
				d.at(path+".tls.min_days", "must not be negative")
			} else if err == nil {
				pm.TLS = &probe.TLSSpec{Address: m.TLS.Address, ServerName: m.TLS.ServerName, MinDays: m.TLS.MinDays}
			}
		case probe.KindDNS:
			pm.DNS = validateDNS(d, path, m.DNS)
		case probe.KindHeartbeat:
			pm.Heartbeat = validateHeartbeat(d, path, m.Heartbeat, tokens)
		case probe.KindICMP:
			pm.ICMP = validateICMP(d, path, m.ICMP, m.Timeout)
		}
		c.monitors = append(c.monitors, pm)
	}
}

func validateICMP(d *decoder, path string, s *ICMP, timeout time.Duration) *probe.ICMPSpec {
	if s == nil {
		d.at(path+".icmp", "is required for kind icmp")
		return nil
	}
	path += ".icmp"
	if s.Host == "" || strings.ContainsAny(s.Host, "/: ") && net.ParseIP(s.Host) == nil {
		d.at(path+".host", "invalid host %q: want a name or an IP address", s.Host)
	}
	switch {
	case s.Count < 1 || s.Count > 20:
		d.at(path+".count", "must be between 1 and 20")
	case s.MinReplies < 1 || s.MinReplies > s.Count:
		d.at(path+".min_replies", "must be between 1 and count (%d)", s.Count)
	case s.Spacing < 10*time.Millisecond:
		d.at(path+".spacing", "must be at least 10ms")
	case time.Duration(s.Count-1)*s.Spacing >= timeout:
		d.at(path+".spacing", "%d requests %s apart do not fit in the %s timeout", s.Count, s.Spacing, timeout)
	}
	if s.Network != "ip" && s.Network != "ip4" && s.Network != "ip6" {
		d.at(path+".network", "unknown network %q (want ip, ip4 or ip6)", s.Network)
	}
	if s.Privileged != "auto" && s.Privileged != "on" && s.Privileged != "off" {
		d.at(path+".privileged", "unknown value %q (want auto, on or off)", s.Privileged)
	}
	return &probe.ICMPSpec{Host: s.Host, Count: s.Count, Spacing: s.Spacing, MinReplies: s.MinReplies, Network: s.Network, Privileged: s.Privileged}
}

func validateHeartbeat(d *decoder, path string, h *Heartbeat, tokens map[string]string) *probe.HeartbeatSpec {
	if h == nil {
		d.at(path+".heartbeat", "is required for kind heartbeat")
		return nil
	}
	path += ".heartbeat"
	if !probe.TokenPattern.MatchString(h.Token) {
		d.at(path+".token", "must be 22 to 128 characters of A-Z, a-z, 0-9, '-' and '_' (make one with: openssl rand -base64 24 | tr '+/' '-_')")
	} else if prev, dup := tokens[h.Token]; dup {
		d.at(path+".token", "is also the token of %s: each heartbeat needs its own", prev)
	} else {
		tokens[h.Token] = path
	}
	switch {
	case h.Period == 0 && h.Schedule == "":
		d.at(path+".period", "give a period (such as 24h) or a cron schedule")
	case h.Period != 0 && h.Schedule != "":
		d.at(path+".schedule", "give a period or a schedule, not both")
	case h.Period != 0 && h.Period < time.Minute:
		d.at(path+".period", "must be at least 1m")
	case h.Schedule != "":
		if _, err := probe.ParseCron(h.Schedule); err != nil {
			d.at(path+".schedule", "invalid cron schedule %q: %v", h.Schedule, err)
		} else if strings.Contains(h.Schedule, "TZ=") {
			d.at(path+".schedule", "give the zone in time_zone, not in the schedule")
		}
	}
	loc, err := calendar.LoadZone(h.TimeZone)
	if err != nil {
		d.at(path+".time_zone", "%v", err)
	}
	if h.Grace < 0 {
		d.at(path+".grace", "must not be negative")
	}
	return &probe.HeartbeatSpec{Token: h.Token, Period: h.Period, Schedule: h.Schedule, Location: loc, Grace: h.Grace}
}

const supportedKinds = "http, tcp, tls, dns, icmp, heartbeat"

func validateDNS(d *decoder, path string, s *DNS) *probe.DNSSpec {
	if s == nil {
		d.at(path+".dns", "is required for kind dns")
		return nil
	}
	path += ".dns"
	if s.Name == "" {
		d.at(path+".name", "is required")
	}
	if _, ok := probe.DNSTypes[strings.ToUpper(s.Type)]; !ok {
		d.at(path+".type", "unknown record type %q (want A, AAAA, CNAME, MX, NS or TXT)", s.Type)
	}
	if _, _, err := net.SplitHostPort(s.Server); err != nil {
		d.at(path+".server", "invalid resolver address %q: want host:port, such as 127.0.0.1:53", s.Server)
	}
	if s.Transport != "udp" && s.Transport != "tcp" {
		d.at(path+".transport", "unknown transport %q (want udp or tcp)", s.Transport)
	}
	return &probe.DNSSpec{Name: s.Name, Type: strings.ToUpper(s.Type), Server: s.Server, Transport: s.Transport, Expect: s.Expect}
}

func validateHTTP(d *decoder, path string, h *HTTP) *probe.HTTPSpec {
	if h == nil {
		d.at(path+".http", "is required for kind http")
		return nil
	}
	spec := &probe.HTTPSpec{URL: h.URL, Method: h.Method, Headers: h.Headers, Body: h.Body,
		BodyContains: h.BodyContains, MaxBodyBytes: h.MaxBodyBytes, MaxRedirects: *h.MaxRedirects,
		InsecureSkipVerify: h.InsecureSkipVerify, JSONPath: h.JSONPath, JSONEquals: h.JSONEquals, CertMinDays: h.CertMinDays}
	if h.IPVersion != 0 {
		spec.IPFamily = strconv.Itoa(h.IPVersion)
	}
	path += ".http"
	if h.URL == "" {
		d.at(path+".url", "is required")
	} else if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.at(path+".url", "invalid URL %q: want an absolute http or https URL", h.URL)
	}
	switch h.Method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		d.at(path+".method", "unknown method %q", h.Method)
	}
	for i, s := range h.ExpectStatus {
		m := statusRange.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil {
			d.at(fmt.Sprintf("%s.expect_status[%d]", path, i), "invalid status %q: want a code such as 200 or a range such as 200-299", s)
			continue
		}
		if m[2] != "" && m[2] < m[1] {
			d.at(fmt.Sprintf("%s.expect_status[%d]", path, i), "invalid range %q: the end is below the start", s)
			continue
		}
		lo, _ := strconv.Atoi(m[1]) // three digits, matched above
		r := probe.StatusRange{Min: lo, Max: lo}
		if m[2] != "" {
			r.Max, _ = strconv.Atoi(m[2])
		}
		spec.ExpectStatus = append(spec.ExpectStatus, r)
	}
	if h.MaxBodyBytes < 0 {
		d.at(path+".max_body_bytes", "must not be negative")
	}
	if h.MaxRedirects != nil && (*h.MaxRedirects < 0 || *h.MaxRedirects > 20) {
		d.at(path+".max_redirects", "must be between 0 and 20")
	}
	if h.BodyRegex != "" {
		re, err := regexp.Compile(h.BodyRegex)
		if err != nil {
			d.at(path+".body_regex", "invalid regular expression: %v", err)
		}
		spec.BodyRegex = re
	}
	if h.JSONPath == "" && h.JSONEquals != nil {
		d.at(path+".json_equals", "needs json_path")
	}
	if h.CertMinDays < 0 || h.CertMinDays > 3650 {
		d.at(path+".cert_min_days", "must be between 0 and 3650")
	} else if h.CertMinDays > 0 && !strings.HasPrefix(h.URL, "https://") {
		d.at(path+".cert_min_days", "applies to https URLs only")
	}
	if h.IPVersion != 0 && h.IPVersion != 4 && h.IPVersion != 6 {
		d.at(path+".ip_version", "must be 4 or 6 (or left out for either)")
	}
	for k := range h.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			d.at(path+".headers."+k, "invalid header name %q", k)
		}
	}
	return spec
}

// ProbeMonitors returns the monitors as the engine runs them, built while validating.
func (c *Config) ProbeMonitors() []probe.Monitor { return slices.Clone(c.monitors) }

// MonitorSeverities returns each monitor's incident severity.
func (c *Config) MonitorSeverities() map[string]incidents.Severity {
	out := make(map[string]incidents.Severity, len(c.Monitors))
	for _, m := range c.Monitors {
		out[m.ID] = incidents.Severity(m.Severity)
	}
	return out
}
