package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrLocked is returned by OpenExclusive when another process holds the database's lock.
var ErrLocked = errors.New("in use by another upstate process")

// LockPath is the file whose lock marks a database as served: the database's path plus ".lock".
// The lock is not taken on the database file itself: SQLite keeps POSIX record locks on it, and a
// second descriptor on that file, once closed, would drop them (fcntl locks belong to the
// process, not to the descriptor).
func LockPath(path string) string { return path + ".lock" }

// fileLock is an exclusive advisory lock (flock) on a lock file, held for the life of the
// process: the kernel releases it when the process ends, however it ends, kill -9 included.
type fileLock struct {
	f    *os.File
	path string
}

// lockFile takes the exclusive lock on the lock file at path without waiting, and writes this
// process's id into it for the error a second process gets.
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open lock file: %w", err)
	}
	if err := flock(f); err != nil {
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = "process " + strconv.Itoa(pid)
			}
		}
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("sqlite: %w (%s holds %s): SQLite serves one instance; stop the other one, "+
				"or use storage.backend: redis to run several", ErrLocked, holder, path)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &fileLock{f: f, path: path}, nil
}

// release drops the lock. The file stays: removing it would let a third process lock a new
// file while a second one waits on the old.
func (l *fileLock) release() error {
	if l == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	return l.f.Close() // closing the last descriptor releases the flock
}

// OpenExclusive is Open for the one process that serves the database (upstate serve and
// upstate import): it first takes an exclusive lock on LockPath(path), held until Close, and
// fails at once with ErrLocked if another process holds it. Commands that read, or write
// through short transactions (keys, report, export), use Open and keep working meanwhile:
// SQLite's own locking orders their transactions with the server's.
func OpenExclusive(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	l, err := lockFile(LockPath(path))
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, path)
	if err != nil {
		return nil, errors.Join(err, l.release())
	}
	s.lock = l
	return s, nil
}
