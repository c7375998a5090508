// Package loadkit holds what the notification load tools (notifyload, subload) share: a counting
// SMTP server run in a child process (so the parent's CPU and memory figures are Upstate's
// alone), a redis-server without persistence, the store under test and the process's CPU time
// and peak RSS.
package loadkit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// ServeSMTP starts an SMTP server on loopback that accepts every mail and adds one to accepted
// for each; it returns the server's address.
func ServeSMTP(accepted *atomic.Int64) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{n: accepted}, nil }))
	s.Domain, s.AllowInsecureAuth, s.MaxMessageBytes = "localhost", true, 1<<20
	go func() { _ = s.Serve(ln) }()
	return ln.Addr().String(), nil
}

type session struct{ n *atomic.Int64 }

func (s *session) Mail(string, *smtp.MailOptions) error { return nil }
func (s *session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.n.Add(1)
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// AnswerCounts is the child's side: it prints hello, then answers each line on stdin with
// "count N", N being accepted's value.
func AnswerCounts(hello string, accepted *atomic.Int64) {
	fmt.Println(hello)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("count %d\n", accepted.Load())
	}
}

// Child is this binary run again with a flag, as the receivers' process.
type Child struct {
	cmd   *exec.Cmd
	in    io.Writer
	out   *bufio.Scanner
	Hello string // the first line it printed
}

// StartChild runs os.Args[0] with args and waits for its first line.
func StartChild(args ...string) (*Child, error) {
	cmd := exec.Command(os.Args[0], args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !c.out.Scan() {
		c.Stop()
		return nil, fmt.Errorf("the receivers did not start")
	}
	c.Hello = c.out.Text()
	return c, nil
}

// Count asks the child how many it accepted (-1 if it is gone).
func (c *Child) Count() int64 {
	fmt.Fprintln(c.in)
	if !c.out.Scan() {
		return -1
	}
	n, _ := strconv.ParseInt(strings.TrimPrefix(c.out.Text(), "count "), 10, 64)
	return n
}

// Stop kills the child and waits for it.
func (c *Child) Stop() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// StartRedis starts a redis-server from PATH without persistence on a free loopback port; stop
// kills it and removes its directory.
func StartRedis() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "loadkit-redis")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	addr = "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }, nil
}

// OpenStore opens the backend under test: Redis at redisAddr under prefix, or SQLite in a new
// temporary directory. done closes it (and removes the directory).
func OpenStore(ctx context.Context, backend, redisAddr, prefix string) (st store.Store, done func(), err error) {
	if backend == "redis" {
		rs, err := redis.Open(ctx, redis.Options{Addrs: []string{redisAddr}, KeyPrefix: prefix})
		if err != nil {
			return nil, nil, err
		}
		return rs, func() { rs.Close() }, nil
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	ss, err := sqlite.Open(ctx, filepath.Join(dir, "upstate.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return ss, func() { ss.Close(); os.RemoveAll(dir) }, nil
}

// CPUTime is the CPU time this process has used, user and system.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS is this process's peak resident set so far, in bytes.
func PeakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}
