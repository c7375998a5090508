package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Group commit. Every monitor's first state after a start is a transition, and a component
// status follows: ten thousand monitors make ten thousand small writes in the first interval.
// One transaction each (each an fsync under synchronous=FULL) queued them behind the single
// writer for seconds, holding their probes' slots. Small appends from concurrent callers are
// instead committed together: the writer takes whatever is queued, up to maxGroup, into one
// transaction. A caller still returns only once its write is durable, and a write that fails
// fails alone: the group is then retried one write at a time.

const maxGroup = 512

type groupWrite struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// errClosed answers writes made after Close.
var errClosed = errors.New("sqlite: store closed")

type grouper struct {
	mu     sync.RWMutex // held for reading to queue a write, for writing to close
	closed bool
	queue  chan groupWrite
	done   chan struct{} // closed when the writer has stopped
}

func (s *Store) startGrouper() {
	s.group = &grouper{queue: make(chan groupWrite, maxGroup), done: make(chan struct{})}
	go s.groupLoop()
}

// groupWrite runs fn in a transaction shared with other queued writes, and returns once it is
// committed (or has failed on its own).
func (s *Store) groupWrite(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	g := s.group
	w := groupWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return unavailable(errClosed)
	}
	g.queue <- w
	g.mu.RUnlock()
	return <-w.done
}

func (s *Store) groupLoop() {
	g := s.group
	defer close(g.done)
	for first := range g.queue {
		batch := []groupWrite{first}
	drain:
		for len(batch) < maxGroup {
			select {
			case w, ok := <-g.queue:
				if !ok {
					break drain
				}
				batch = append(batch, w)
			default:
				break drain
			}
		}
		s.commitGroup(batch)
	}
}

func (s *Store) commitGroup(batch []groupWrite) {
	if len(batch) > 1 {
		err := s.tx(context.Background(), func(tx *sql.Tx) error {
			for _, w := range batch {
				if err := w.fn(w.ctx, tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, w := range batch {
				w.done <- nil
			}
			return
		}
	}
	for _, w := range batch {
		w.done <- s.tx(w.ctx, func(tx *sql.Tx) error { return w.fn(w.ctx, tx) })
	}
}

// stopGrouper refuses new writes, lets the queued ones finish, and waits for the writer.
func (s *Store) stopGrouper() {
	g := s.group
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	<-g.done
}
