package configs

import (
	"net"
	"os"
	"regexp"
	"time"

	"github.com/upstate-dev/upstate/component"
)

// Cluster configures how this instance shares a Redis store with others (docs/deploy.md). With
// the SQLite store there is one instance and this section is not used.
type Cluster struct {
	// Instance names this instance among those sharing the store; unique among them, and
	// best kept across restarts (a restarted instance then gets its old share back). Default:
	// the host name and the port the server listens on, such as "web-1:8080" (InstanceID).
	Instance string `yaml:"instance"`
	// Location labels where this instance probes from, such as eu-west.
	Location string `yaml:"location"`
	// Lease is the leader lease: a leader that stops renewing it (crash, lost Redis) is replaced
	// within it. Default 15s.
	Lease time.Duration `yaml:"lease"`
	// Heartbeat is how often this instance says it is live and reads who else is. Default 2s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// MemberTimeout is how long after its last heartbeat an instance counts as gone, and its
	// monitors move. Default 10s.
	MemberTimeout time.Duration `yaml:"member_timeout"`
	// PendingWrites bounds the state changes kept in memory while Redis does not answer.
	// Default 10,000.
	PendingWrites int `yaml:"pending_writes"`
}

// Defaults of the cluster section.
const (
	DefaultLease         = 15 * time.Second
	DefaultHeartbeat     = 2 * time.Second
	DefaultMemberTimeout = 10 * time.Second
	DefaultPendingWrites = 10000
)

func (c *Config) clusterDefaults() {
	cl := &c.Cluster
	if cl.Lease == 0 {
		cl.Lease = DefaultLease
	}
	if cl.Heartbeat == 0 {
		cl.Heartbeat = DefaultHeartbeat
	}
	if cl.MemberTimeout == 0 {
		cl.MemberTimeout = DefaultMemberTimeout
	}
	if cl.PendingWrites == 0 {
		cl.PendingWrites = DefaultPendingWrites
	}
}

var instancePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$`)

func (c *Config) validateCluster(d *decoder) {
	cl := c.Cluster
	if cl.Instance != "" && !instancePattern.MatchString(cl.Instance) {
		d.at("cluster.instance", "invalid instance %q: 1-100 characters of letters, digits, '.', '_', ':' and '-', starting with a letter or digit", cl.Instance)
	}
	if cl.Location != "" && !component.ValidID(cl.Location) {
		d.at("cluster.location", "invalid location %q: %s", cl.Location, idRule)
	}
	if cl.Lease < time.Second {
		d.at("cluster.lease", "must be at least 1s")
	}
	if cl.Heartbeat < 100*time.Millisecond {
		d.at("cluster.heartbeat", "must be at least 100ms")
	}
	if cl.MemberTimeout < 2*cl.Heartbeat {
		d.at("cluster.member_timeout", "must be at least twice the heartbeat (%s)", cl.Heartbeat)
	}
	if cl.PendingWrites < 100 {
		d.at("cluster.pending_writes", "must be at least 100")
	}
}

// InstanceID is cluster.instance, or else the host name and the port of server.listen (read
// when called: serve's -listen flag changes it after the file is loaded).
func (c *Config) InstanceID() string {
	if c.Cluster.Instance != "" {
		return c.Cluster.Instance
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "upstate"
	}
	_, port, _ := net.SplitHostPort(c.Server.Listen)
	return host + ":" + port
}
