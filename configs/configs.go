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
	Cluster    Cluster     `yaml:"cluster"` // several instances on one Redis (cluster.go)
	Notify     Notify      `yaml:"notify"`  // notification targets, routes, delivery (notify.go)
	// Subscribers configures subscriptions from the page (subscribers.go).
	Subscribers Subscribers `yaml:"subscribers"`

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
	monitors  []probe.Monitor // built by validateMonitors
	brand     BrandFiles      // read by validatePage

	notifyOn      bool                                         // the file has a notify section
	notifyTargets map[string]string                            // target id -> its path
	escalations   map[string]map[incidents.Severity]Escalation // by policy (notify.go)
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
	// Language, FrameAncestors and Brand: the page's default language, who may embed it and
	// the operator's look (page.go, docs/page.md).
	Language       string   `yaml:"language"`
	FrameAncestors []string `yaml:"frame_ancestors"`
	Brand          Brand    `yaml:"brand"`
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
	Visibility  string `yaml:"visibility"` // public (default) or internal: its components too
}

// Component is a component declared in the config.
type Component struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Group       string `yaml:"group"`
	Visibility  string `yaml:"visibility"` // public (default) or internal
}

type Incidents struct {
	// Recovery: what a monitor's recovery does to the incident it opened: resolve (default) or
	// monitoring (a person resolves it).
	Recovery string `yaml:"recovery"`
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
	d.applyEnv(cfg)
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
	c.monitorDefaults()
	c.clusterDefaults()
	c.pageDefaults()
	c.notifyDefaults()
	c.subscriberDefaults()
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
	if loc, err := calendar.LoadZone(s.TimeZone); err != nil {
		d.at("server.time_zone", "%v", err)
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
	c.validateNotify(d) // before the policies: their escalations name targets
	c.validateSLA(d)
	c.validateObjectives(d)
	c.validateCluster(d)
	c.validatePage(d)
	c.validateSubscribers(d)
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

// ComponentList returns the groups and components the config declares, positioned in file
// order (groups first), as the store keeps them.
func (c *Config) ComponentList(now time.Time) []component.Component {
	var out []component.Component
	for _, g := range c.Groups {
		out = append(out, component.Component{ID: g.ID, Name: g.Name, Description: g.Description, IsGroup: true,
			Position: len(out), Source: component.SourceConfig, Visibility: visibility(g.Visibility), CreatedAt: now, UpdatedAt: now})
	}
	for _, cm := range c.Components {
		out = append(out, component.Component{ID: cm.ID, Name: cm.Name, Description: cm.Description, GroupID: cm.Group,
			Position: len(out), Source: component.SourceConfig, Visibility: visibility(cm.Visibility), CreatedAt: now, UpdatedAt: now})
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
