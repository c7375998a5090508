// Package redistest starts real redis-server processes on free loopback ports for tests.
//
// There are no Redis mocks in Upstate's tests. When redis-server is not on PATH a test is skipped
// on a developer's machine, and fails when CI=true: in CI a missing real part is a failure.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/internal/testenv"
)

// Server is a redis-server process owned by one test.
type Server struct {
	Addr string
	Dir  string // working directory: the AOF and RDB files live here

	t    testing.TB
	args []string
	cmd  *exec.Cmd
}

// Options choose how the server persists.
type Options struct {
	// AppendFsync enables the append-only file with this fsync policy ("always", "everysec");
	// empty disables persistence entirely (fastest, for tests that never restart the server).
	AppendFsync string
	// Cluster starts the server with cluster mode enabled (see StartCluster).
	Cluster bool
	// ReplicaOf makes the server a replica of the server at this address (see StartSentinel).
	ReplicaOf string
}

// Binary returns the path of redis-server, or fails or skips the test when it is missing.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	if testenv.CI() {
		t.Fatalf("redis-server is not on PATH and CI=true: install it (apt-get install -y redis-server)")
	}
	t.Skipf("redis-server is not on PATH (install redis-server; under CI=true this fails): %v", err)
	return ""
}

// Start starts a redis-server on a free loopback port and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	port := freePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning",
		"--maxmemory-policy", "noeviction", "--logfile", filepath.Join(dir, "redis.log")}
	if opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "5000")
	}
	if opts.ReplicaOf != "" {
		host, port, _ := net.SplitHostPort(opts.ReplicaOf)
		args = append(args, "--replicaof", host, port)
	}
	if opts.AppendFsync != "" {
		args = append(args, "--appendonly", "yes", "--appendfsync", opts.AppendFsync)
	} else {
		args = append(args, "--appendonly", "no")
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, t: t, args: append([]string{bin}, args...)}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(s.Addr) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop()
	log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	s.t.Fatalf("redis-server on %s did not answer PING within 10s; its log:\n%s", s.Addr, log)
}

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot stop
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Kill9 kills the server with SIGKILL, as a crash would, and waits for it to exit.
func (s *Server) Kill9() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server with SIGSTOP: it holds its connections and answers nothing, as a hung
// or partitioned server would, until Resume. Its keys do not expire meanwhile, but when it
// resumes, those whose time passed are gone at once.
func (s *Server) Pause() {
	s.t.Helper()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Restart starts the server again on the same port and directory, reloading what it persisted.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// AOFFiles lists the append-only files, for diagnostics.
func (s *Server) AOFFiles() []string {
	m, _ := filepath.Glob(filepath.Join(s.Dir, "appendonlydir", "*"))
	return m
}

// StartCluster starts a Redis Cluster of n masters (n >= 3) on loopback and waits until it
// serves every slot. It returns the node addresses.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if testenv.CI() {
			t.Fatalf("redis-cli is not on PATH and CI=true: install redis-tools")
		}
		t.Skipf("redis-cli is not on PATH (under CI=true this fails): %v", err)
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = Start(t, Options{Cluster: true}).Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		host, port, _ := net.SplitHostPort(a)
		for {
			out, _ := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ready: %s", a, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

func ping(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
