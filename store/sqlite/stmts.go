package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache runs reads through statements prepared once per text. SQLite parses a statement on
// every query otherwise, and for the small reads the engine makes per component change and per
// monitor at start-up the parse was most of the cost (at 10,000 monitors, 0.6 s of CPU in the
// first seconds, in sqlite3Prepare). Every statement here takes its values as placeholders, so
// the set of texts is fixed by the code and the cache stays small.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[q] = st
	return st, nil
}

func (c *stmtCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return nil, unavailable(err)
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, unavailable(err)
}

// QueryRowContext is db.QueryRowContext through the cache. A statement that does not prepare
// runs unprepared, so its error comes back from Scan as usual.
func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, q)
	if err != nil {
		return c.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
