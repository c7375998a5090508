package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/internal/testenv"
)

// MasterName is the name the Sentinel set started by StartSentinel monitors.
const MasterName = "upstate"

// SentinelSet is a Redis master with a replica, watched by three real redis-sentinel processes
// that agree (quorum 2) to promote the replica when the master is down for a second.
type SentinelSet struct {
	Master, Replica *Server
	Sentinels       []string // the sentinels' addresses, for the client

	t   testing.TB
	cli string
}

// SentinelBinary returns the path of redis-sentinel, or fails or skips the test when it is
// missing (Debian's redis-sentinel package).
func SentinelBinary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-sentinel")
	if err == nil {
		return path
	}
	if testenv.CI() {
		t.Fatalf("redis-sentinel is not on PATH and CI=true: install it (apt-get install -y redis-sentinel)")
	}
	t.Skipf("redis-sentinel is not on PATH (install redis-sentinel; under CI=true this fails): %v", err)
	return ""
}

// StartSentinel starts a master, a replica of it and three sentinels on free loopback ports,
// and waits until every sentinel knows the replica and the other two sentinels.
func StartSentinel(t testing.TB) *SentinelSet {
	t.Helper()
	bin := SentinelBinary(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if testenv.CI() {
			t.Fatalf("redis-cli is not on PATH and CI=true: install redis-tools")
		}
		t.Skipf("redis-cli is not on PATH (under CI=true this fails): %v", err)
	}
	master := Start(t, Options{})
	replica := Start(t, Options{ReplicaOf: master.Addr})
	set := &SentinelSet{Master: master, Replica: replica, t: t, cli: cli}
	host, mport, _ := net.SplitHostPort(master.Addr)
	for i := range 3 {
		dir := t.TempDir()
		port := freePort(t)
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf(`port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor %s %s %s 2
sentinel down-after-milliseconds %s 1000
sentinel failover-timeout %s 5000
sentinel parallel-syncs %s 1
`, port, dir, filepath.Join(dir, "sentinel.log"), MasterName, host, mport, MasterName, MasterName, MasterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, conf)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-sentinel %d: %v", i, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		set.Sentinels = append(set.Sentinels, fmt.Sprintf("127.0.0.1:%d", port))
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range set.Sentinels {
		for {
			info := set.sentinel(s, "sentinel", "master", MasterName)
			if field(info, "num-slaves") == "1" && field(info, "num-other-sentinels") == "2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s not ready within 30s: %s", s, info)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return set
}

// sentinel runs a command on one sentinel through redis-cli and returns its raw output.
func (set *SentinelSet) sentinel(addr string, args ...string) string {
	host, port, _ := net.SplitHostPort(addr)
	out, _ := exec.Command(set.cli, append([]string{"-h", host, "-p", port}, args...)...).Output()
	return string(out)
}

// MasterAddr is the master's address as the first sentinel that answers knows it.
func (set *SentinelSet) MasterAddr() string {
	for _, s := range set.Sentinels {
		out := strings.Fields(set.sentinel(s, "sentinel", "get-master-addr-by-name", MasterName))
		if len(out) == 2 {
			return net.JoinHostPort(out[0], out[1])
		}
	}
	return ""
}

// WaitFailover waits until the sentinels name the replica as the master (after the master
// was killed), for up to 30 s.
func (set *SentinelSet) WaitFailover() {
	set.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for set.MasterAddr() != set.Replica.Addr {
		if time.Now().After(deadline) {
			set.t.Fatalf("no failover to %s within 30s: the sentinels name %q", set.Replica.Addr, set.MasterAddr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// field reads a value from redis-cli's output of a flat field/value reply.
func field(out, name string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == name && i+1 < len(lines) {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}

// WaitReplicated waits until the replica has everything the master has written (its
// replication offset caught up), for up to 10 s: what a test wrote is then on both.
func (set *SentinelSet) WaitReplicated() {
	set.t.Helper()
	offset := func(s *Server, name string) string {
		host, port, _ := net.SplitHostPort(s.Addr)
		out, _ := exec.Command(set.cli, "-h", host, "-p", port, "info", "replication").Output()
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
				return v
			}
		}
		return ""
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, r := offset(set.Master, "master_repl_offset"), offset(set.Replica, "slave_repl_offset")
		if m != "" && m == r {
			return
		}
		if time.Now().After(deadline) {
			set.t.Fatalf("the replica did not catch up within 10s: master at %s, replica at %s", m, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
