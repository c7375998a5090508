// Package configs is Upstate's configuration: the YAML schema, Load, defaults and validation.
//
// Every problem is reported at once, each with file, line, column and field path:
//
//	upstate.yaml:42:14: monitors[3].timeout: must be shorter than interval (10s)
//
// Unknown keys are errors. ${ENV} references are expanded only in fields marked secret, and
// secrets may also be read from a *_file field. Config structs hold configuration only, never
// runtime state; the To* methods build the domain values the rest of Upstate runs on.
package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
)

// Config is the whole configuration file.
type Config struct {
	Server      Server      `yaml:"server"`
	Storage     Storage     `yaml:"storage"`
	Log         Log         `yaml:"log"`
	Groups      []Group     `yaml:"groups"`
	Components  []Component `yaml:"components"`
	Monitors    []Monitor   `yaml:"monitors"`
	Maintenance Maintenance `yaml:"maintenance"`
	// Include names files (relative to this one) holding more calendars and policies.
	Include   []string   `yaml:"include"`
	Calendars []Calendar `yaml:"calendars"`
	Policies  []Policy   `yaml:"policies"`
	Incidents Incidents  `yaml:"incidents"`
	Probes    Probes     `yaml:"probes"`
	// Objectives are availability targets; the one without components is the default.
	Objectives []Objective `yaml:"objectives"`

	// Location is Server.TimeZone, loaded. Derived at load time, never read from the file.
	Location *time.Location `yaml:"-"`
	// Dir is the directory of the config file; relative paths in it are relative to Dir.
	Dir string `yaml:"-"`
	// File is the path the config was loaded from, for reloads.
	File string `yaml:"-"`
	// DefaultPolicy is the policy incidents follow unless they name one (derived).
	DefaultPolicy string `yaml:"-"`

	calendars map[string]*calendar.Calendar
	policies  map[string]*incidents.Policy
}

// Server configures the HTTP server and the public page.
type Server struct {
	Listen          string        `yaml:"listen"`     // host:port; default 127.0.0.1:8080
	PublicURL       string        `yaml:"public_url"` // the page's address as customers see it
	Title           string        `yaml:"title"`
	Description     string        `yaml:"description"`
	TimeZone        string        `yaml:"time_zone"` // IANA name; times on the page are shown in it
	LogoURL         string        `yaml:"logo_url"`
	Links           []Link        `yaml:"links"`
	RequestTimeout  time.Duration `yaml:"request_timeout"`  // default 10s
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // default 15s
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`   // default 1 MiB
	// PublicMonitors opens /api/v1/monitors without a key (default: a read key is needed,
	// because monitors' targets can be internal addresses).
	PublicMonitors bool `yaml:"public_monitors"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed; empty trusts none.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Probes configures how probes run, across monitors. It needs a restart to change.
type Probes struct {
	// MaxConcurrent bounds the probes running at once; a run due while all are busy waits, and
	// the wait shows in upstate_scheduler_lag_seconds. Default 512.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Maintenance configures maintenance windows and how they are announced.
type Maintenance struct {
	// NoticePeriod: a window counts as announced (and its time is excluded from availability)
	// only if it was announced at least this long before it began. Default 24h.
	NoticePeriod time.Duration `yaml:"notice_period"`
	// Horizon: occurrences starting within this time appear as upcoming. Default 168h (7 days).
	Horizon time.Duration `yaml:"horizon"`
	// Reminders: events are published this long before each occurrence. Default [24h, 1h].
	Reminders []time.Duration `yaml:"reminders"`
	Windows   []Window        `yaml:"windows"`
}

// Window is a maintenance window declared in the config.
type Window struct {
	ID          string   `yaml:"id"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Components  []string `yaml:"components"`
	TimeZone    string   `yaml:"time_zone"`
	// Recurring: one of days, daily or rrule, with start and either end or duration.
	Days     []string      `yaml:"days"`  // mon, tue, ... sun
	Daily    bool          `yaml:"daily"` // every day
	RRule    string        `yaml:"rrule"` // RFC 5545 subset: FREQ=DAILY|WEEKLY|MONTHLY, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY
	Start    string        `yaml:"start"` // HH:MM local
	End      string        `yaml:"end"`   // HH:MM local; at or before start means the next day
	Duration time.Duration `yaml:"duration"`
	From     string        `yaml:"from"` // first date, YYYY-MM-DD; default: the day it was announced
	// One-off: absolute times.
	StartsAt time.Time `yaml:"starts_at"`
	EndsAt   time.Time `yaml:"ends_at"`
	// AnnouncedAt: when customers were told. Default: when Upstate first saw the window.
	AnnouncedAt time.Time `yaml:"announced_at"`
}

// Link is a link shown in the page's header.
type Link struct {
	Title string `yaml:"title"`
	URL   string `yaml:"url"`
}

// Storage chooses and configures the store.
type Storage struct {
	Backend string `yaml:"backend"` // sqlite (default) or redis
	SQLite  SQLite `yaml:"sqlite"`
	Redis   Redis  `yaml:"redis"`
}

// SQLite configures the embedded store.
type SQLite struct {
	Path string `yaml:"path"` // default upstate.db, relative to the config file
}

// Redis configures the shared store.
type Redis struct {
	Addrs        []string `yaml:"addrs"`       // one: single node; several: Cluster, or Sentinels with master_name
	MasterName   string   `yaml:"master_name"` // Sentinel
	Cluster      bool     `yaml:"cluster"`     // force Cluster mode with one seed address
	Username     string   `yaml:"username"`
	Password     string   `yaml:"password" secret:"true"`
	PasswordFile string   `yaml:"password_file"`
	DB           int      `yaml:"db"`
	KeyPrefix    string   `yaml:"key_prefix"` // default "upstate"
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Group is a group of components on the page.
type Group struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// Component is a component declared in the config.
type Component struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Group       string `yaml:"group"`
}

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
}

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
type Incidents struct {
	// Recovery: what a monitor's recovery does to the incident it opened: resolve (default) or
	// monitoring (a person resolves it).
	Recovery string `yaml:"recovery"`
}

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

// Defaults.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultTitle           = "Status"
	DefaultRequestTimeout  = 10 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	DefaultMaxBodyBytes    = 1 << 20
	DefaultMaxConcurrent   = 512
	MaxMaxConcurrent       = 65536
	DefaultSQLitePath      = "upstate.db"
	DefaultInterval        = 30 * time.Second
	DefaultHeartbeatEvery  = 10 * time.Second
	DefaultHeartbeatGrace  = 5 * time.Minute
	DefaultTimeout         = 10 * time.Second
	DefaultFailures        = 2
	DefaultSuccesses       = 1
	DefaultMaxRedirects    = 5
	MinInterval            = time.Second
	MaxFileBytes           = 32 << 20
	DefaultNoticePeriod    = 24 * time.Hour
	DefaultHorizon         = 7 * 24 * time.Hour
)

// Load reads, decodes, defaults and validates the config file at path. The error, if any, joins
// one *ValidationError per problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on data already read; name is used in messages and to resolve relative paths.
// lookupEnv resolves ${ENV} references in secret fields.
func Parse(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if len(data) > MaxFileBytes {
		return nil, &ValidationError{File: name, Message: fmt.Sprintf("the file is larger than %d bytes", MaxFileBytes)}
	}
	d := &decoder{file: name, positions: map[string]position{}, lookupEnv: lookupEnv, budget: maxNodes}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(name, err)
	}
	cfg := &Config{Dir: filepath.Dir(name), File: name}
	if len(root.Content) == 0 {
		return nil, &ValidationError{File: name, Message: "the file is empty"}
	}
	d.decode(&root, reflectValue(cfg), "", false)
	cfg.applyDefaults()
	cfg.validate(d)
	if errs := d.sorted(); len(errs) > 0 {
		joined := make([]error, len(errs))
		for i, e := range errs {
			joined[i] = e
		}
		return nil, errors.Join(joined...)
	}
	return cfg, nil
}

var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(name string, err error) error {
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ValidationError{File: name, Line: line, Column: 1, Message: "invalid YAML: " + m[2]}
	}
	return &ValidationError{File: name, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// applyDefaults fills every unset field that has a default. It is the only place defaults live.
func (c *Config) applyDefaults() {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.Title == "" {
		s.Title = DefaultTitle
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if s.PublicURL == "" {
		s.PublicURL = "http://" + s.Listen
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	if s.RequestTimeout == 0 {
		s.RequestTimeout = DefaultRequestTimeout
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = DefaultShutdownTimeout
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Probes.MaxConcurrent == 0 {
		c.Probes.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.Storage.Backend == "" {
		c.Storage.Backend = "sqlite"
	}
	if c.Storage.SQLite.Path == "" {
		c.Storage.SQLite.Path = DefaultSQLitePath
	}
	if c.Storage.Redis.KeyPrefix == "" {
		c.Storage.Redis.KeyPrefix = "upstate"
	}
	if c.Maintenance.NoticePeriod == 0 {
		c.Maintenance.NoticePeriod = DefaultNoticePeriod
	}
	if c.Maintenance.Horizon == 0 {
		c.Maintenance.Horizon = DefaultHorizon
	}
	if c.Maintenance.Reminders == nil {
		c.Maintenance.Reminders = []time.Duration{24 * time.Hour, time.Hour}
	}
	if c.Incidents.Recovery == "" {
		c.Incidents.Recovery = "resolve"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
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

const idRule = "must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"

func (c *Config) validate(d *decoder) {
	s := c.Server
	if host, port, err := net.SplitHostPort(s.Listen); err != nil || port == "" {
		d.at("server.listen", "invalid address %q: want host:port, such as 127.0.0.1:8080", s.Listen)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		d.at("server.listen", "invalid port %q", port)
	} else {
		_ = host
	}
	if u, err := url.Parse(s.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.at("server.public_url", "must be an absolute http or https URL, such as https://status.example.com")
	}
	if loc, err := time.LoadLocation(s.TimeZone); err != nil {
		d.at("server.time_zone", "unknown time zone %q (use an IANA name such as Asia/Shanghai)", s.TimeZone)
	} else {
		c.Location = loc
	}
	if len(s.Title) > component.MaxNameLength {
		d.at("server.title", "must be at most %d bytes", component.MaxNameLength)
	}
	checkText(d, "server.title", s.Title, component.SingleLine)
	checkText(d, "server.description", s.Description, component.MultiLine)
	for i, l := range s.Links {
		if l.Title == "" {
			d.at(fmt.Sprintf("server.links[%d].title", i), "is required")
		}
		if !absoluteHTTP(l.URL) {
			d.at(fmt.Sprintf("server.links[%d].url", i), "must be an absolute http or https URL")
		}
	}
	if s.LogoURL != "" && !absoluteHTTP(s.LogoURL) && !strings.HasPrefix(s.LogoURL, "/") {
		d.at("server.logo_url", "must be an absolute http or https URL or a path starting with /")
	}
	if s.RequestTimeout < 0 {
		d.at("server.request_timeout", "must be positive")
	}
	if s.ShutdownTimeout < 0 {
		d.at("server.shutdown_timeout", "must be positive")
	}
	if s.MaxBodyBytes < 1024 {
		d.at("server.max_body_bytes", "must be at least 1024")
	}
	if n := c.Probes.MaxConcurrent; n < 1 || n > MaxMaxConcurrent {
		d.at("probes.max_concurrent", "must be 1 to %d, not %d", MaxMaxConcurrent, n)
	}
	for i, cidr := range s.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			d.at(fmt.Sprintf("server.trusted_proxies[%d]", i), "invalid CIDR %q", cidr)
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		d.at("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		d.at("log.format", "unknown format %q (want text or json)", c.Log.Format)
	}

	if c.Incidents.Recovery != "resolve" && c.Incidents.Recovery != "monitoring" {
		d.at("incidents.recovery", "unknown recovery %q (want resolve or monitoring)", c.Incidents.Recovery)
	}
	c.validateStorage(d)
	c.validateComponents(d)
	c.validateMonitors(d)
	c.validateMaintenance(d)
	c.validateSLA(d)
	c.validateObjectives(d)
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *Config) validateStorage(d *decoder) {
	st := &c.Storage
	switch st.Backend {
	case "sqlite":
	case "redis":
		r := &st.Redis
		if len(r.Addrs) == 0 {
			d.at("storage.redis.addrs", "at least one address is required when backend is redis")
		}
		for i, a := range r.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				d.at(fmt.Sprintf("storage.redis.addrs[%d]", i), "invalid address %q: want host:port", a)
			}
		}
		if r.Password != "" && r.PasswordFile != "" {
			d.at("storage.redis.password_file", "give password or password_file, not both")
		} else if r.PasswordFile != "" {
			path := r.PasswordFile
			if !filepath.IsAbs(path) {
				path = filepath.Join(c.Dir, path)
			}
			pw, err := readSecretFile(path)
			if err != nil {
				d.at("storage.redis.password_file", "cannot read: %v", errors.Unwrap(err))
			}
			r.Password = pw
		}
		if r.DB < 0 {
			d.at("storage.redis.db", "must not be negative")
		}
	default:
		d.at("storage.backend", "unknown backend %q (want sqlite or redis)", st.Backend)
	}
}

func (c *Config) validateComponents(d *decoder) {
	ids := map[string]string{} // id -> path that declared it
	declare := func(path, id string) {
		if !component.ValidID(id) {
			if id == "" {
				d.at(path+".id", "is required")
			} else {
				d.at(path+".id", "invalid id %q: %s", id, idRule)
			}
			return
		}
		if prev, dup := ids[id]; dup {
			d.at(path+".id", "duplicate id %q (also used by %s)", id, prev)
			return
		}
		ids[id] = path
	}
	groups := map[string]bool{}
	for i, g := range c.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		declare(path, g.ID)
		groups[g.ID] = true
		checkName(d, path, g.Name, g.Description)
	}
	for i, cm := range c.Components {
		path := fmt.Sprintf("components[%d]", i)
		declare(path, cm.ID)
		checkName(d, path, cm.Name, cm.Description)
		if cm.Group != "" && !groups[cm.Group] {
			d.at(path+".group", "unknown group %q", cm.Group)
		}
	}
}

func checkName(d *decoder, path, name, description string) {
	if name == "" {
		d.at(path+".name", "is required")
	} else if len(name) > component.MaxNameLength {
		d.at(path+".name", "must be at most %d bytes", component.MaxNameLength)
	} else {
		checkText(d, path+".name", name, component.SingleLine)
	}
	if len(description) > component.MaxDescriptionLength {
		d.at(path+".description", "must be at most %d bytes", component.MaxDescriptionLength)
	} else {
		checkText(d, path+".description", description, component.MultiLine)
	}
}

// checkText holds free text to the API's rule (component.CheckText): no control characters.
func checkText(d *decoder, path, s string, kind component.TextKind) {
	if fe := component.CheckText(path, s, kind); fe != nil {
		d.at(path, "%s", fe.Message)
	}
}

var statusRange = regexp.MustCompile(`^([1-5][0-9][0-9])(?:-([1-5][0-9][0-9]))?$`)

func (c *Config) validateMonitors(d *decoder) {
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
		switch kind {
		case probe.KindHTTP:
			validateHTTP(d, path, m.HTTP)
		case probe.KindTCP:
			if m.TCP == nil {
				d.at(path+".tcp", "is required for kind tcp")
			} else if _, _, err := net.SplitHostPort(m.TCP.Address); err != nil {
				d.at(path+".tcp.address", "invalid address %q: want host:port", m.TCP.Address)
			}
		case probe.KindTLS:
			if m.TLS == nil {
				d.at(path+".tls", "is required for kind tls")
			} else {
				if _, _, err := net.SplitHostPort(m.TLS.Address); err != nil {
					d.at(path+".tls.address", "invalid address %q: want host:port", m.TLS.Address)
				}
				if m.TLS.MinDays < 0 {
					d.at(path+".tls.min_days", "must not be negative")
				}
			}
		case probe.KindDNS:
			validateDNS(d, path, m.DNS)
		case probe.KindHeartbeat:
			validateHeartbeat(d, path, m.Heartbeat, tokens)
		case probe.KindICMP:
			validateICMP(d, path, m.ICMP, m.Timeout)
		}
	}
}

func validateICMP(d *decoder, path string, s *ICMP, timeout time.Duration) {
	if s == nil {
		d.at(path+".icmp", "is required for kind icmp")
		return
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
}

func validateHeartbeat(d *decoder, path string, h *Heartbeat, tokens map[string]string) {
	if h == nil {
		d.at(path+".heartbeat", "is required for kind heartbeat")
		return
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
	if _, err := time.LoadLocation(h.TimeZone); err != nil || h.TimeZone == "Local" {
		d.at(path+".time_zone", "unknown time zone %q: want an IANA name such as Europe/Berlin", h.TimeZone)
	}
	if h.Grace < 0 {
		d.at(path+".grace", "must not be negative")
	}
}

const supportedKinds = "http, tcp, tls, dns, icmp, heartbeat"

func validateDNS(d *decoder, path string, s *DNS) {
	if s == nil {
		d.at(path+".dns", "is required for kind dns")
		return
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
}

func validateHTTP(d *decoder, path string, h *HTTP) {
	if h == nil {
		d.at(path+".http", "is required for kind http")
		return
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
		}
	}
	if h.MaxBodyBytes < 0 {
		d.at(path+".max_body_bytes", "must not be negative")
	}
	if h.MaxRedirects != nil && (*h.MaxRedirects < 0 || *h.MaxRedirects > 20) {
		d.at(path+".max_redirects", "must be between 0 and 20")
	}
	if h.BodyRegex != "" {
		if _, err := regexp.Compile(h.BodyRegex); err != nil {
			d.at(path+".body_regex", "invalid regular expression: %v", err)
		}
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
}

// ComponentList returns the groups and components the config declares, positioned in file
// order (groups first), as the store keeps them.
func (c *Config) ComponentList(now time.Time) []component.Component {
	var out []component.Component
	for _, g := range c.Groups {
		out = append(out, component.Component{ID: g.ID, Name: g.Name, Description: g.Description, IsGroup: true,
			Position: len(out), Source: component.SourceConfig, CreatedAt: now, UpdatedAt: now})
	}
	for _, cm := range c.Components {
		out = append(out, component.Component{ID: cm.ID, Name: cm.Name, Description: cm.Description, GroupID: cm.Group,
			Position: len(out), Source: component.SourceConfig, CreatedAt: now, UpdatedAt: now})
	}
	return out
}

// ProbeMonitors returns the monitors as the engine runs them.
func (c *Config) ProbeMonitors() []probe.Monitor {
	out := make([]probe.Monitor, 0, len(c.Monitors))
	for _, m := range c.Monitors {
		pm := probe.Monitor{ID: m.ID, Name: m.Name, ComponentID: m.Component, Kind: probe.Kind(m.Kind),
			Interval: m.Interval, Timeout: m.Timeout, Paused: m.Paused,
			Thresholds: probe.Thresholds{Failures: m.Failures, Successes: m.Successes, LatencyThreshold: m.LatencyThreshold,
				Retries: *m.Retries, RetrySpacing: m.RetrySpacing}}
		if t := m.TCP; t != nil {
			pm.TCP = &probe.TCPSpec{Address: t.Address, TLS: t.TLS, Send: t.Send, Expect: t.Expect}
		}
		if t := m.TLS; t != nil {
			pm.TLS = &probe.TLSSpec{Address: t.Address, ServerName: t.ServerName, MinDays: t.MinDays}
		}
		if c := m.ICMP; c != nil {
			pm.ICMP = &probe.ICMPSpec{Host: c.Host, Count: c.Count, Spacing: c.Spacing, MinReplies: c.MinReplies, Network: c.Network, Privileged: c.Privileged}
		}
		if h := m.Heartbeat; h != nil {
			loc, _ := time.LoadLocation(h.TimeZone)
			pm.Heartbeat = &probe.HeartbeatSpec{Token: h.Token, Period: h.Period, Schedule: h.Schedule, Location: loc, Grace: h.Grace}
		}
		if s := m.DNS; s != nil {
			pm.DNS = &probe.DNSSpec{Name: s.Name, Type: strings.ToUpper(s.Type), Server: s.Server, Transport: s.Transport, Expect: s.Expect}
		}
		if h := m.HTTP; h != nil {
			spec := &probe.HTTPSpec{URL: h.URL, Method: h.Method, Headers: h.Headers, Body: h.Body,
				BodyContains: h.BodyContains, MaxBodyBytes: h.MaxBodyBytes, MaxRedirects: *h.MaxRedirects,
				InsecureSkipVerify: h.InsecureSkipVerify, JSONPath: h.JSONPath, JSONEquals: h.JSONEquals, CertMinDays: h.CertMinDays}
			if h.BodyRegex != "" {
				spec.BodyRegex = regexp.MustCompile(h.BodyRegex) // validated at load
			}
			if h.IPVersion != 0 {
				spec.IPFamily = strconv.Itoa(h.IPVersion)
			}
			for _, s := range h.ExpectStatus {
				lo, hi, _ := strings.Cut(strings.TrimSpace(s), "-")
				r := probe.StatusRange{}
				r.Min, _ = strconv.Atoi(lo)
				r.Max = r.Min
				if hi != "" {
					r.Max, _ = strconv.Atoi(hi)
				}
				spec.ExpectStatus = append(spec.ExpectStatus, r)
			}
			pm.HTTP = spec
		}
		out = append(out, pm)
	}
	return out
}

// MonitorSeverities returns each monitor's incident severity.
func (c *Config) MonitorSeverities() map[string]incidents.Severity {
	out := make(map[string]incidents.Severity, len(c.Monitors))
	for _, m := range c.Monitors {
		out[m.ID] = incidents.Severity(m.Severity)
	}
	return out
}

// SQLitePath is the database path, resolved against the config file's directory.
func (c *Config) SQLitePath() string {
	if filepath.IsAbs(c.Storage.SQLite.Path) {
		return c.Storage.SQLite.Path
	}
	return filepath.Join(c.Dir, c.Storage.SQLite.Path)
}
