package configs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
)

// Notify configures notifications: the mail server, the targets, the routes, and how
// deliveries are retried (docs/notifications.md). Escalations live with the policies they
// follow (Policy.Escalation). Without a notify section nothing is sent.
type Notify struct {
	SMTP  NotifySMTP  `yaml:"smtp"`
	Retry NotifyRetry `yaml:"retry"`
	// Workers bounds the deliveries in flight across targets. Default 64.
	Workers int `yaml:"workers"`
	// Poll: how often the journal and the outbox are read when nothing wakes the dispatcher
	// (another instance's changes, retries coming due). Default 1s.
	Poll time.Duration `yaml:"poll"`
	// EscalationEvery: how often open incidents are looked at for escalation steps, repeats
	// and SLA warnings. Default 5s.
	EscalationEvery time.Duration `yaml:"escalation_every"`
	// Retention: delivered, dead and cancelled notifications are kept this long. Default 720h.
	Retention time.Duration `yaml:"retention"`
	// SLAWarnings: fractions of a clock's target (0.5, 0.8) at which an sla.warning is sent,
	// besides the one at the policy's warning point.
	SLAWarnings []float64      `yaml:"sla_warnings"`
	Targets     []NotifyTarget `yaml:"targets"`
	// APITargets are the ids of targets made through the admin API that routes and
	// escalations may name besides the file's own (docs/notifications.md): the file cannot see
	// the store, and a misspelt target must still be a located error.
	APITargets []string      `yaml:"api_targets"`
	Routes     []NotifyRoute `yaml:"routes"`
}

// NotifySMTP is the mail server email targets send through.
type NotifySMTP struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"` // default by tls: 587 starttls, 465 tls, 25 none or opportunistic
	// TLS: starttls (default: required), tls (implicit, port 465), opportunistic or none.
	TLS          string `yaml:"tls"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password" secret:"true"`
	PasswordFile string `yaml:"password_file"`
	// Auth: plain, login, cram-md5 or scram-sha-256 (default: the best the server offers).
	Auth string `yaml:"auth"`
	From string `yaml:"from"` // "Example Status <status@example.com>"
	HELO string `yaml:"helo"`
	// CAFile: PEM certificates to trust besides the system's (a relay with a private CA).
	CAFile  string        `yaml:"ca_file"`
	Timeout time.Duration `yaml:"timeout"` // per message; default 60s
}

// NotifyRetry is how failed deliveries are retried: exponential backoff with jitter from min to
// max, until dead_after from the notification's creation (then it is dead).
type NotifyRetry struct {
	Min       time.Duration `yaml:"min"`        // default 10s
	Max       time.Duration `yaml:"max"`        // default 1h
	DeadAfter time.Duration `yaml:"dead_after"` // default 24h
}

// NotifyTarget is one place notifications go.
type NotifyTarget struct {
	ID   string `yaml:"id"`
	Kind string `yaml:"kind"` // email, webhook, chat, pagerduty
	// URL: a webhook's address, a chat target's shoutrrr URL (slack://, teams://, discord://,
	// telegram://, ntfy://...), or PagerDuty's Events API endpoint (default
	// https://events.pagerduty.com/v2/enqueue). A secret: ${ENV} allowed.
	URL        string            `yaml:"url" secret:"true"`
	Secret     string            `yaml:"secret" secret:"true"`      // webhook: the HMAC-SHA256 signing key
	Headers    map[string]string `yaml:"headers"`                   // webhook: more headers
	To         []string          `yaml:"to"`                        // email: recipients
	RoutingKey string            `yaml:"routing_key" secret:"true"` // pagerduty
	// Timeout bounds one attempt (default 30s); MaxInFlight bounds the deliveries at once to
	// this target (default 4).
	Timeout     time.Duration `yaml:"timeout"`
	MaxInFlight int           `yaml:"max_in_flight"`
}

// NotifyRoute says which events go to which targets. Empty lists match everything.
type NotifyRoute struct {
	Name       string   `yaml:"name"`
	Kinds      []string `yaml:"kinds"`
	Components []string `yaml:"components"`
	Severities []string `yaml:"severities"`
	Targets    []string `yaml:"targets"`
	// GroupBy and GroupWait gather events of one group into one message.
	GroupBy   []string      `yaml:"group_by"`
	GroupWait time.Duration `yaml:"group_wait"`
	// Repeat re-sends an open incident to the route's targets until it is acknowledged.
	Repeat time.Duration `yaml:"repeat"`
}

// Escalation is how a policy pages for one severity (in the policy, under escalation).
type Escalation struct {
	Steps []EscalationStep `yaml:"steps"`
	// Repeat pages the last step reached again after each Repeat of working time while the
	// incident stays unacknowledged.
	Repeat time.Duration `yaml:"repeat"`
}

// EscalationStep pages its targets once the incident has gone unacknowledged for After of
// working time, or for At ("50%") of its first-response target, on that target's calendar.
type EscalationStep struct {
	After  *time.Duration `yaml:"after"`
	At     string         `yaml:"at"`
	Notify []string       `yaml:"notify"`
	// Fraction is At as a fraction (derived).
	Fraction float64 `yaml:"-"`
}

// RouteKinds are the kinds a route may name. They match package notify's (a test holds them
// equal).
var RouteKinds = []string{"monitor.state", "monitor.down", "monitor.up", "monitor.degraded", "component.status",
	"incident.declared", "incident.opened", "incident.updated", "incident.acknowledged", "incident.resolved", "incident.reopened",
	"sla.warning", "sla.breached", "budget.burn", "maintenance.scheduled", "maintenance.rescheduled", "maintenance.cancelled",
	"maintenance.reminder", "maintenance.started", "maintenance.ended"}

var (
	notifyKinds      = []string{"email", "webhook", "chat", "pagerduty"}
	routeSeverities  = []string{"P0", "P1", "P2", "P3", "page", "ticket"}
	routeGroupFields = []string{"component", "kind", "severity", "monitor", "incident"}
)

// Defaults of the notify section.
const (
	DefaultNotifyWorkers    = 64
	DefaultNotifyPoll       = time.Second
	DefaultEscalationEvery  = 5 * time.Second
	DefaultNotifyRetention  = 30 * 24 * time.Hour
	DefaultRetryMin         = 10 * time.Second
	DefaultRetryMax         = time.Hour
	DefaultDeadAfter        = 24 * time.Hour
	DefaultTargetTimeout    = 30 * time.Second
	DefaultTargetInFlight   = 4
	DefaultSMTPTimeout      = 60 * time.Second
	MaxNotifyTargetInFlight = 256
)

func (c *Config) notifyDefaults() {
	n := &c.Notify
	if n.Workers == 0 {
		n.Workers = DefaultNotifyWorkers
	}
	if n.Poll == 0 {
		n.Poll = DefaultNotifyPoll
	}
	if n.EscalationEvery == 0 {
		n.EscalationEvery = DefaultEscalationEvery
	}
	if n.Retention == 0 {
		n.Retention = DefaultNotifyRetention
	}
	r := &n.Retry
	if r.Min == 0 {
		r.Min = DefaultRetryMin
	}
	if r.Max == 0 {
		r.Max = DefaultRetryMax
	}
	if r.DeadAfter == 0 {
		r.DeadAfter = DefaultDeadAfter
	}
	s := &n.SMTP
	if s.TLS == "" {
		s.TLS = "starttls"
	}
	if s.Port == 0 {
		s.Port = map[string]int{"starttls": 587, "tls": 465}[s.TLS]
		if s.Port == 0 {
			s.Port = 25
		}
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultSMTPTimeout
	}
	for i := range n.Targets {
		n.Targets[i] = n.Targets[i].WithDefaults()
	}
	for i := range n.Routes {
		if n.Routes[i].Name == "" {
			n.Routes[i].Name = "routes[" + strconv.Itoa(i) + "]"
		}
	}
}

// NotifyOn reports whether the file has a notify section: without one nothing is sent, and
// the policies' escalations are not checked against targets.
func (c *Config) NotifyOn() bool { return c.notifyOn }

func (c *Config) validateNotify(d *decoder) {
	c.notifyOn = d.written("notify")
	n := &c.Notify
	if n.Workers < 1 || n.Workers > 4096 {
		d.at("notify.workers", "must be 1 to 4096, not %d", n.Workers)
	}
	for _, f := range []struct {
		path string
		v    time.Duration
		min  time.Duration
	}{{"notify.poll", n.Poll, 10 * time.Millisecond}, {"notify.escalation_every", n.EscalationEvery, 100 * time.Millisecond},
		{"notify.retention", n.Retention, time.Hour}, {"notify.retry.min", n.Retry.Min, 100 * time.Millisecond},
		{"notify.retry.dead_after", n.Retry.DeadAfter, time.Minute}} {
		if f.v < f.min {
			d.at(f.path, "must be at least %s", f.min)
		}
	}
	if n.Retry.Max < n.Retry.Min {
		d.at("notify.retry.max", "must not be shorter than min (%s)", n.Retry.Min)
	}
	for i, f := range n.SLAWarnings {
		if f <= 0 || f >= 1 {
			d.at(fmt.Sprintf("notify.sla_warnings[%d]", i), "must be a fraction between 0 and 1, such as 0.5")
		}
	}
	c.validateSMTP(d)
	c.notifyTargets = map[string]string{}
	kindOf := map[string]string{}
	email := false
	for i, t := range n.Targets {
		path := fmt.Sprintf("notify.targets[%d]", i)
		for _, fe := range CheckTarget(t) {
			d.at(path+"."+fe.Field, "%s", fe.Message)
		}
		if component.ValidID(t.ID) {
			if prev := c.notifyTargets[t.ID]; prev != "" {
				d.at(path+".id", "duplicate target %q (also %s)", t.ID, prev)
			} else {
				c.notifyTargets[t.ID], kindOf[t.ID] = path, t.Kind
			}
		}
		email = email || t.Kind == "email"
	}
	for i, id := range n.APITargets {
		path := fmt.Sprintf("notify.api_targets[%d]", i)
		switch {
		case !component.ValidID(id):
			d.at(path, "invalid id %q: %s", id, idRule)
		case c.notifyTargets[id] != "":
			d.at(path, "target %q is declared in this file (%s): an admin API target cannot have its id", id, c.notifyTargets[id])
		default:
			c.notifyTargets[id] = path
		}
	}
	if email && n.SMTP.Host == "" {
		d.at("notify.smtp.host", "is required when a target sends email")
	}
	components := map[string]bool{}
	for _, cm := range c.Components {
		components[cm.ID] = true
	}
	for _, g := range c.Groups {
		components[g.ID] = true
	}
	for i, r := range n.Routes {
		path := fmt.Sprintf("notify.routes[%d]", i)
		for j, k := range r.Kinds {
			if !slices.Contains(RouteKinds, k) {
				d.at(fmt.Sprintf("%s.kinds[%d]", path, j), "unknown kind %q (want one of %s)", k, strings.Join(RouteKinds, ", "))
			}
		}
		for j, cm := range r.Components {
			if !components[cm] {
				d.at(fmt.Sprintf("%s.components[%d]", path, j), "unknown component %q", cm)
			}
		}
		for j, s := range r.Severities {
			if !slices.Contains(routeSeverities, s) {
				d.at(fmt.Sprintf("%s.severities[%d]", path, j), "unknown severity %q (want P0, P1, P2, P3, or page or ticket for burn-rate alerts)", s)
			}
		}
		if len(r.Targets) == 0 {
			d.at(path+".targets", "give at least one target")
		}
		for j, t := range r.Targets {
			if c.notifyTargets[t] == "" {
				d.at(fmt.Sprintf("%s.targets[%d]", path, j), "unknown target %q (declare it under notify.targets, or notify.api_targets for one made through the admin API)", t)
			}
		}
		for j, g := range r.GroupBy {
			if !slices.Contains(routeGroupFields, g) {
				d.at(fmt.Sprintf("%s.group_by[%d]", path, j), "unknown field %q (want %s)", g, strings.Join(routeGroupFields, ", "))
			}
		}
		for j, t := range r.Targets {
			if r.GroupWait > 0 && kindOf[t] == "pagerduty" {
				d.at(fmt.Sprintf("%s.targets[%d]", path, j), "target %s is a pagerduty target: its alerts each have a lifecycle, so its routes do not group (leave group_wait out)", t)
			}
		}
		if r.GroupWait < 0 || r.GroupWait > time.Hour {
			d.at(path+".group_wait", "must be between 0s and 1h")
		} else if len(r.GroupBy) > 0 && r.GroupWait == 0 {
			d.at(path+".group_wait", "group_by needs a group_wait, such as 30s")
		}
		if r.Repeat != 0 && r.Repeat < time.Minute {
			d.at(path+".repeat", "must be at least 1m")
		}
	}
}

func (c *Config) validateSMTP(d *decoder) {
	s := &c.Notify.SMTP
	if !d.written("notify.smtp") {
		return
	}
	if s.Host == "" {
		d.at("notify.smtp.host", "is required")
	}
	if s.Port < 1 || s.Port > 65535 {
		d.at("notify.smtp.port", "must be 1 to 65535")
	}
	if !slices.Contains([]string{"starttls", "tls", "opportunistic", "none"}, s.TLS) {
		d.at("notify.smtp.tls", "unknown value %q (want starttls, tls, opportunistic or none)", s.TLS)
	}
	if s.Auth != "" && !slices.Contains([]string{"plain", "login", "cram-md5", "scram-sha-256"}, strings.ToLower(s.Auth)) {
		d.at("notify.smtp.auth", "unknown mechanism %q (want plain, login, cram-md5 or scram-sha-256)", s.Auth)
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		d.at("notify.smtp.from", "invalid address %q: want an address such as \"Status <status@example.com>\"", s.From)
	}
	if s.Password != "" && s.PasswordFile != "" {
		d.at("notify.smtp.password_file", "give password or password_file, not both")
	} else if s.PasswordFile != "" {
		pw, err := readSecretFile(c.path(s.PasswordFile))
		if err != nil {
			d.at("notify.smtp.password_file", "cannot read: %v", errors.Unwrap(err))
		}
		s.Password = pw
	}
	if (s.Password != "") != (s.Username != "") {
		d.at("notify.smtp.username", "give both a username and a password, or neither")
	}
	if s.CAFile != "" {
		if _, err := c.SMTPRootCAs(); err != nil {
			d.at("notify.smtp.ca_file", "%v", err)
		}
	}
	if s.Timeout < time.Second {
		d.at("notify.smtp.timeout", "must be at least 1s")
	}
}

func (c *Config) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// SMTPRootCAs returns the certificates notify.smtp.ca_file adds to the system's (nil: the
// system's alone).
func (c *Config) SMTPRootCAs() (*x509.CertPool, error) {
	if c.Notify.SMTP.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.path(c.Notify.SMTP.CAFile))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %v", errors.Unwrap(err))
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

// checkEscalation validates a policy's escalation (in the file d reads) and keeps it.
func (c *Config) checkEscalation(d *decoder, path string, p Policy) {
	if len(p.Escalation) == 0 {
		return
	}
	if c.escalations == nil {
		c.escalations = map[string]map[incidents.Severity]Escalation{}
	}
	bySev := map[incidents.Severity]Escalation{}
	for key, e := range p.Escalation {
		ep := path + ".escalation." + key
		sev := incidents.Severity(key)
		if !sev.Valid() {
			d.at(ep, "unknown severity %q (want P0, P1, P2 or P3)", key)
			continue
		}
		if len(e.Steps) == 0 {
			d.at(ep+".steps", "give at least one step")
		}
		last := time.Duration(-1)
		for i := range e.Steps {
			s := &e.Steps[i]
			sp := fmt.Sprintf("%s.steps[%d]", ep, i)
			switch {
			case s.After == nil && s.At == "":
				d.at(sp, "give after (working time, such as 15m) or at (a share of the first-response target, such as 50%%)")
			case s.After != nil && s.At != "":
				d.at(sp+".at", "give after or at, not both")
			case s.After != nil && *s.After < 0:
				d.at(sp+".after", "must not be negative")
			case s.After != nil && *s.After < last:
				d.at(sp+".after", "steps go in order: %s comes after %s", *s.After, last)
			case s.After != nil:
				last = *s.After
			default:
				pct, err := strconv.ParseFloat(strings.TrimSuffix(s.At, "%"), 64)
				if err != nil || !strings.HasSuffix(s.At, "%") || pct <= 0 || pct > 100 {
					d.at(sp+".at", "invalid share %q: want a percentage of the first-response target, such as 50%%", s.At)
				}
				s.Fraction = pct / 100
			}
			if len(s.Notify) == 0 {
				d.at(sp+".notify", "give at least one target")
			}
			for j, t := range s.Notify {
				if c.notifyOn && c.notifyTargets[t] == "" {
					d.at(fmt.Sprintf("%s.notify[%d]", sp, j), "unknown target %q (declare it under notify.targets, or notify.api_targets for one made through the admin API)", t)
				}
			}
		}
		if e.Repeat != 0 && e.Repeat < time.Minute {
			d.at(ep+".repeat", "must be at least 1m")
		}
		bySev[sev] = e
	}
	c.escalations[p.ID] = bySev
}

// Escalations returns each policy's escalation by severity.
func (c *Config) Escalations() map[string]map[incidents.Severity]Escalation { return c.escalations }

// WithDefaults is t with the defaults of what it leaves out: the timeout and max_in_flight.
func (t NotifyTarget) WithDefaults() NotifyTarget {
	if t.Timeout == 0 {
		t.Timeout = DefaultTargetTimeout
	}
	if t.MaxInFlight == 0 {
		t.MaxInFlight = DefaultTargetInFlight
	}
	return t
}

// CheckTarget is the rule for one target, wherever it is declared: the file's notify.targets
// and the admin API's targets both apply it. Each problem names its field as the file and the
// API's JSON do (id, kind, url, to[1], headers.X-Name); secret fields are checked as expanded.
// Whether the id is free is the caller's to check.
func CheckTarget(t NotifyTarget) []*component.FieldError {
	var errs []*component.FieldError
	at := func(field, format string, args ...any) {
		errs = append(errs, &component.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !component.ValidID(t.ID) {
		at("id", "invalid id %q: %s", t.ID, idRule)
	}
	only := func(field string, set bool) {
		if set {
			at(field, "does not apply to a %s target", t.Kind)
		}
	}
	switch t.Kind {
	case "webhook":
		if !absoluteHTTP(t.URL) {
			at("url", "must be an absolute http or https URL")
		}
		for _, k := range slices.Sorted(maps.Keys(t.Headers)) {
			if k == "" || strings.ContainsAny(k, " :\r\n") {
				at("headers."+k, "invalid header name %q", k)
			}
		}
		only("to", t.To != nil)
		only("routing_key", t.RoutingKey != "")
	case "chat":
		if _, err := (&router.ServiceRouter{}).Locate(t.URL); err != nil {
			at("url", "not a chat URL shoutrrr knows (slack://, teams://, discord://, telegram://, ntfy://...): %v", errors.Unwrap(err))
		}
		only("secret", t.Secret != "")
		only("to", t.To != nil)
		only("routing_key", t.RoutingKey != "")
	case "pagerduty":
		if t.RoutingKey == "" {
			at("routing_key", "is required for a pagerduty target")
		}
		if t.URL != "" && !absoluteHTTP(t.URL) {
			at("url", "must be an absolute http or https URL")
		}
		only("secret", t.Secret != "")
		only("to", t.To != nil)
	case "email":
		if len(t.To) == 0 {
			at("to", "give at least one address")
		}
		for j, a := range t.To {
			if addr, err := mail.ParseAddress(a); err != nil || addr.Name != "" {
				at(fmt.Sprintf("to[%d]", j), "invalid address %q: want name@example.com", a)
			}
		}
		only("url", t.URL != "")
		only("secret", t.Secret != "")
		only("routing_key", t.RoutingKey != "")
	case "":
		at("kind", "is required (%s)", strings.Join(notifyKinds, ", "))
	default:
		at("kind", "unknown kind %q (want %s)", t.Kind, strings.Join(notifyKinds, ", "))
	}
	if t.Timeout < 100*time.Millisecond || t.Timeout > 5*time.Minute {
		at("timeout", "must be between 100ms and 5m")
	}
	if t.MaxInFlight < 1 || t.MaxInFlight > MaxNotifyTargetInFlight {
		at("max_in_flight", "must be 1 to %d", MaxNotifyTargetInFlight)
	}
	return errs
}

// ExpandTargetSecrets is t with the ${NAME} references of its secret fields (url, secret,
// routing_key) read from lookup, as the file's secret fields are; a variable that is not set is
// a problem naming the field.
func ExpandTargetSecrets(t NotifyTarget, lookup func(string) (string, bool)) (NotifyTarget, []*component.FieldError) {
	var errs []*component.FieldError
	expand := func(field string, v *string) {
		*v = ExpandEnv(*v, lookup, func(name string) {
			errs = append(errs, &component.FieldError{Field: field, Message: "environment variable " + name + " is not set"})
		})
	}
	expand("url", &t.URL)
	expand("secret", &t.Secret)
	expand("routing_key", &t.RoutingKey)
	return t, errs
}

// EnvReferences reports whether s is made of ${NAME} references alone (nothing secret in
// itself: the names of where the secret is).
func EnvReferences(s string) bool {
	return s != "" && envRef.ReplaceAllString(s, "") == ""
}
