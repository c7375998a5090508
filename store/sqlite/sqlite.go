// Package sqlite is the embedded store: one file, pure Go (modernc.org/sqlite), WAL journal.
//
// Durability: every write commits with synchronous=FULL, so a write the API acknowledged survives
// a crash of the process or of the machine. Writers take the lock at BEGIN (BEGIN IMMEDIATE), so
// read-then-write transactions never fail half way with SQLITE_BUSY; busy_timeout makes
// concurrent writers wait instead of failing.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlitedriver "modernc.org/sqlite" // registers the "sqlite" driver; this package is its only importer

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// SchemaVersion is the schema version this build writes (the number of the last migration).
// Migrations are numbered by the work that adds them and may leave gaps (0004 is the page
// aggregates' number); each applied one is recorded (schema_migrations).
const SchemaVersion = 9

// Store is the SQLite backend.
type Store struct {
	db *sql.DB
	// writer admits one write transaction of this process at a time. SQLite has one writer
	// anyway; queueing in Go means this process's writers never wait on SQLite's busy handler
	// (busy_timeout is left for other processes, a CLI beside serve), so a loaded machine cannot
	// make a write fail with SQLITE_BUSY after ten seconds: it happened to the conformance
	// suite's concurrent writers at a load average of 10.
	writer chan struct{}
	reads  *stmtCache // prepared once per text (stmts.go)
	group  *grouper   // commits small appends together (group.go)
	lock   *fileLock  // held from OpenExclusive to Close (lock.go); nil after Open
	rates  rates      // the subscription limits' counts (rates.go)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	q := url.Values{}
	// cache_size: each connection keeps up to 32 MiB of the pages it read (SQLite's default is
	// 2 MiB, less than a page of 10,000 components reads: its components, their latest
	// changes and 90 days of aggregates were read from the file again at every render, a
	// system call per database page; BENCHMARKS.md, issue #14).
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)", "cache_size(-32768)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8) // database/sql keeps 2 by default: more concurrent readers closed and reopened connections (a file open and its pragmas each time)
	s := &Store{db: db, reads: newStmtCache(db), writer: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	s.startGrouper()
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > SchemaVersion {
		return fmt.Errorf("database schema version %d is newer than this build's %d", version, SchemaVersion)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Applied migrations are recorded by number, so one numbered below a migration already
	// applied (two lines of work landing out of order) is still applied. A database from before
	// the record has applied every migration up to its user_version.
	applied, err := s.appliedMigrations(ctx, version)
	if err != nil {
		return err
	}
	for _, name := range names {
		n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad name", name)
		}
		if applied[n] {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (n) VALUES (?)`, n); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", max(n, version)))
			return err
		})
		version = max(n, version)
		if err != nil {
			return err
		}
	}
	return nil
}

// appliedMigrations reads the numbers of the migrations applied, creating their record (and
// filling it up to version, for a database from before it) if needed.
func (s *Store) appliedMigrations(ctx context.Context, version int) (map[int]bool, error) {
	applied := map[int]bool{}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (n INTEGER PRIMARY KEY)`); err != nil {
			return err
		}
		var recorded int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&recorded); err != nil {
			return err
		}
		for n := 1; recorded == 0 && n <= version; n++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (n) VALUES (?)`, n); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT n FROM schema_migrations`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				return err
			}
			applied[n] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("migrations applied: %w", err)
	}
	return applied, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error {
	s.stopGrouper()
	return errors.Join(s.reads.close(), s.db.Close(), s.lock.release())
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
		defer func() { <-s.writer }()
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return unavailable(err)
	}
	return unavailable(tx.Commit())
}

// Components.

const componentColumns = `c.id, c.name, c.description, c.group_id, c.is_group, c.position, c.source, c.visibility, c.created_at, c.updated_at,
	COALESCE((SELECT status || ' ' || at FROM status_changes WHERE component_id = c.id ORDER BY at DESC, status DESC, reason DESC LIMIT 1), '')`

type scanner interface{ Scan(...any) error }

func scanComponent(r scanner) (component.Component, error) {
	var c component.Component
	var created, updated int64
	var latest, source, visibility string
	if err := r.Scan(&c.ID, &c.Name, &c.Description, &c.GroupID, &c.IsGroup, &c.Position, &source, &visibility, &created, &updated, &latest); err != nil {
		return c, err
	}
	c.Source, c.Visibility = component.Source(source), component.Visibility(visibility)
	c.CreatedAt, c.UpdatedAt = store.FromMillis(created), store.FromMillis(updated)
	c.Status = component.Unknown
	if status, at, ok := strings.Cut(latest, " "); ok {
		ms, _ := strconv.ParseInt(at, 10, 64)
		c.Status, c.StatusSince = component.Status(status), store.FromMillis(ms)
	}
	return c, nil
}

// ListComponents returns all components by position, then id.
func (s *Store) ListComponents(ctx context.Context) ([]component.Component, error) {
	rows, err := s.reads.QueryContext(ctx, "SELECT "+componentColumns+" FROM components c ORDER BY c.position, c.id")
	if err != nil {
		return nil, fmt.Errorf("list components: %w", err)
	}
	defer rows.Close()
	var out []component.Component
	for rows.Next() {
		c, err := scanComponent(rows)
		if err != nil {
			return nil, fmt.Errorf("list components: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// GetComponent returns one component.
func (s *Store) GetComponent(ctx context.Context, id string) (component.Component, error) {
	return getComponent(ctx, s.reads, id)
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getComponent(ctx context.Context, q querier, id string) (component.Component, error) {
	c, err := scanComponent(q.QueryRowContext(ctx, "SELECT "+componentColumns+" FROM components c WHERE c.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("component %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("get component %s: %w", id, unavailable(err))
	}
	return c, nil
}

// CreateComponent stores a new component with its audit entry.
func (s *Store) CreateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO components (id, name, description, group_id, is_group, position, source, visibility, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.ID, c.Name, c.Description, c.GroupID, c.IsGroup, c.Position, string(c.Source), string(c.Visibility), store.Millis(c.CreatedAt), store.Millis(c.UpdatedAt))
		if err != nil {
			return fmt.Errorf("create component %s: %w", c.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("component %s: %w", c.ID, store.ErrConflict)
		}
		a.Before = store.Null
		return appendAudit(ctx, tx, a)
	})
}

// UpdateComponent replaces a component's fields with its audit entry.
func (s *Store) UpdateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getComponent(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE components SET name = ?, description = ?, group_id = ?, is_group = ?, position = ?, source = ?, visibility = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Description, c.GroupID, c.IsGroup, c.Position, string(c.Source), string(c.Visibility), store.Millis(c.UpdatedAt), c.ID); err != nil {
			return fmt.Errorf("update component %s: %w", c.ID, err)
		}
		a.Before = store.MustJSON(old)
		return appendAudit(ctx, tx, a)
	})
}

// DeleteComponent removes a component with its audit entry; its timeline stays.
func (s *Store) DeleteComponent(ctx context.Context, id string, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getComponent(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM components WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete component %s: %w", id, err)
		}
		a.Before = store.MustJSON(old)
		return appendAudit(ctx, tx, a)
	})
}

// Timelines.

// AppendStatus adds a change to a component's timeline.
func (s *Store) AppendStatus(ctx context.Context, ch component.Change) error {
	return s.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM components WHERE id = ?`, ch.ComponentID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("component %s: %w", ch.ComponentID, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("append status %s: %w", ch.ComponentID, err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO status_changes (component_id, at, status, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ch.ComponentID, store.Millis(ch.At), string(ch.Status), ch.Reason)
		if err != nil {
			return fmt.Errorf("append status %s: %w", ch.ComponentID, err)
		}
		n, _ := res.RowsAffected()
		if err := s.afterAppend(ctx, tx, ch, n > 0); err != nil { // the daily aggregates (pagereads.go)
			return fmt.Errorf("append status %s: %w", ch.ComponentID, err)
		}
		return nil
	})
}

// StatusTimeline returns the changes in [from, to) preceded by the last one before from.
func (s *Store) StatusTimeline(ctx context.Context, componentID string, from, to time.Time) ([]component.Change, error) {
	rows, err := s.reads.QueryContext(ctx, `
		SELECT at, status, reason FROM (
			SELECT at, status, reason FROM status_changes WHERE component_id = ?1 AND at < ?2 ORDER BY at DESC, status DESC, reason DESC LIMIT 1)
		UNION ALL
		SELECT at, status, reason FROM status_changes WHERE component_id = ?1 AND at >= ?2 AND at < ?3
		ORDER BY at, status, reason`, componentID, store.Millis(from), store.Millis(to))
	if err != nil {
		return nil, fmt.Errorf("status timeline %s: %w", componentID, err)
	}
	defer rows.Close()
	var out []component.Change
	for rows.Next() {
		var at int64
		var status string
		ch := component.Change{ComponentID: componentID}
		if err := rows.Scan(&at, &status, &ch.Reason); err != nil {
			return nil, fmt.Errorf("status timeline %s: %w", componentID, err)
		}
		ch.At, ch.Status = store.FromMillis(at), component.Status(status)
		out = append(out, ch)
	}
	return out, rows.Err()
}

// Transitions.

// AppendTransition stores a monitor transition.
func (s *Store) AppendTransition(ctx context.Context, t probe.Transition) error {
	return s.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO transitions (monitor_id, at, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.MonitorID, store.Millis(t.At), string(t.From), string(t.To), t.Reason)
		if err != nil {
			return fmt.Errorf("append transition %s: %w", t.MonitorID, err)
		}
		return nil
	})
}

func (s *Store) queryTransitions(ctx context.Context, monitorID, q string, args ...any) ([]probe.Transition, error) {
	rows, err := s.reads.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("transitions %s: %w", monitorID, err)
	}
	defer rows.Close()
	var out []probe.Transition
	for rows.Next() {
		var at int64
		var from, to string
		t := probe.Transition{MonitorID: monitorID}
		if err := rows.Scan(&at, &from, &to, &t.Reason); err != nil {
			return nil, fmt.Errorf("transitions %s: %w", monitorID, err)
		}
		t.At, t.From, t.To = store.FromMillis(at), probe.State(from), probe.State(to)
		out = append(out, t)
	}
	return out, rows.Err()
}

// MonitorTransitions returns the transitions in [from, to).
func (s *Store) MonitorTransitions(ctx context.Context, monitorID string, from, to time.Time) ([]probe.Transition, error) {
	return s.queryTransitions(ctx, monitorID, `SELECT at, from_state, to_state, reason FROM transitions
		WHERE monitor_id = ? AND at >= ? AND at < ? ORDER BY at, from_state, to_state, reason`, monitorID, store.Millis(from), store.Millis(to))
}

// LastTransition returns the latest transition.
func (s *Store) LastTransition(ctx context.Context, monitorID string) (probe.Transition, error) {
	ts, err := s.queryTransitions(ctx, monitorID, `SELECT at, from_state, to_state, reason FROM transitions
		WHERE monitor_id = ? ORDER BY at DESC, from_state DESC, to_state DESC, reason DESC LIMIT 1`, monitorID)
	if err != nil {
		return probe.Transition{}, err
	}
	if len(ts) == 0 {
		return probe.Transition{}, fmt.Errorf("transitions of %s: %w", monitorID, store.ErrNotFound)
	}
	return ts[0], nil
}

// Rollups.

// AddRollups merges rollups into their stored buckets, all in one transaction.
func (s *Store) AddRollups(ctx context.Context, rs []probe.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		// One upsert per rollup, prepared once per batch: an existing row is merged in SQL
		// (histograms by upstate_histogram_add), so a flush of thirty thousand rollups reads
		// nothing back. Reading and merging each row in Go made a flush allocate about 1.5 KB
		// per rollup.
		put, err := tx.PrepareContext(ctx, `INSERT INTO rollups (monitor_id, resolution, start, runs, failures, latency_sum_ns, histogram)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (monitor_id, resolution, start) DO UPDATE SET
			runs = runs + excluded.runs, failures = failures + excluded.failures,
			latency_sum_ns = latency_sum_ns + excluded.latency_sum_ns,
			histogram = upstate_histogram_add(histogram, excluded.histogram)`)
		if err != nil {
			return err
		}
		defer put.Close()
		for _, r := range rs {
			hist, _ := json.Marshal(r.Histogram)
			if _, err := put.ExecContext(ctx, r.MonitorID, string(r.Resolution), store.Millis(r.Start), r.Runs, r.Failures,
				int64(r.LatencySum), string(hist)); err != nil {
				return fmt.Errorf("add rollup %s: %w", r.MonitorID, err)
			}
		}
		return nil
	})
}

func init() {
	if err := sqlitedriver.RegisterDeterministicScalarFunction("upstate_histogram_add", 2, histogramAdd); err != nil {
		panic(fmt.Sprintf("sqlite: register upstate_histogram_add: %v", err))
	}
}

// histogramAdd is the SQL function upstate_histogram_add(a, b): two rollup histograms (JSON
// arrays of counts) added bucket by bucket.
func histogramAdd(_ *sqlitedriver.FunctionContext, args []driver.Value) (driver.Value, error) {
	var sum [probe.HistogramBuckets]uint64
	for _, arg := range args {
		var text []byte
		switch v := arg.(type) {
		case string:
			text = []byte(v)
		case []byte:
			text = v
		default:
			return nil, fmt.Errorf("upstate_histogram_add: a histogram is text, not %T", arg)
		}
		var h [probe.HistogramBuckets]uint64
		if err := json.Unmarshal(text, &h); err != nil {
			return nil, fmt.Errorf("upstate_histogram_add: %w", err)
		}
		for i := range sum {
			sum[i] += h[i]
		}
	}
	out, err := json.Marshal(sum)
	return string(out), err
}

// scanRollups reads rows of (start, runs, failures, latency_sum_ns, histogram). The caller fills
// MonitorID and Resolution where it needs them; scanRollups leaves them empty.
func scanRollups(rows *sql.Rows, err error) ([]probe.Rollup, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []probe.Rollup
	for rows.Next() {
		var r probe.Rollup
		var start, lat int64
		var hist string
		if err := rows.Scan(&start, &r.Runs, &r.Failures, &lat, &hist); err != nil {
			return nil, err
		}
		r.Start, r.LatencySum = store.FromMillis(start), time.Duration(lat)
		if err := json.Unmarshal([]byte(hist), &r.Histogram); err != nil {
			return nil, fmt.Errorf("histogram: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MonitorRollups returns buckets with Start in [from, to).
func (s *Store) MonitorRollups(ctx context.Context, monitorID string, res probe.Resolution, from, to time.Time) ([]probe.Rollup, error) {
	out, err := scanRollups(s.reads.QueryContext(ctx, `SELECT start, runs, failures, latency_sum_ns, histogram FROM rollups
		WHERE monitor_id = ? AND resolution = ? AND start >= ? AND start < ? ORDER BY start`, monitorID, string(res), store.Millis(from), store.Millis(to)))
	if err != nil {
		return nil, fmt.Errorf("rollups %s: %w", monitorID, err)
	}
	for i := range out {
		out[i].MonitorID, out[i].Resolution = monitorID, res
	}
	return out, nil
}

// PruneRollups deletes buckets of res starting before cutoff.
func (s *Store) PruneRollups(ctx context.Context, res probe.Resolution, cutoff time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM rollups WHERE resolution = ? AND start < ?`, string(res), store.Millis(cutoff)); err != nil {
		return fmt.Errorf("prune %s rollups: %w", res, err)
	}
	return nil
}

// Keys.

func scanKey(r scanner) (apikey.Key, error) {
	var k apikey.Key
	var scopes string
	var created, revoked int64
	if err := r.Scan(&k.ID, &k.Name, &scopes, &k.Hash, &created, &revoked); err != nil {
		return k, err
	}
	for sc := range strings.SplitSeq(scopes, ",") {
		k.Scopes = append(k.Scopes, apikey.Scope(sc))
	}
	k.CreatedAt, k.RevokedAt = store.FromMillis(created), store.FromMillis(revoked)
	return k, nil
}

// CreateKey stores a new key with its audit entry.
func (s *Store) CreateKey(ctx context.Context, k apikey.Key, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		scopes := make([]string, len(k.Scopes))
		for i, sc := range k.Scopes {
			scopes[i] = string(sc)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, scopes, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			k.ID, k.Name, strings.Join(scopes, ","), k.Hash, store.Millis(k.CreatedAt), store.Millis(k.RevokedAt))
		if err != nil {
			return fmt.Errorf("create key %s: %w", k.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("key %s: %w", k.ID, store.ErrConflict)
		}
		a.Before = store.Null
		return appendAudit(ctx, tx, a)
	})
}

// GetKey returns a key by id.
func (s *Store) GetKey(ctx context.Context, id string) (apikey.Key, error) {
	return getKey(ctx, s.reads, id)
}

func getKey(ctx context.Context, q querier, id string) (apikey.Key, error) {
	k, err := scanKey(q.QueryRowContext(ctx, `SELECT id, name, scopes, hash, created_at, revoked_at FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("get key %s: %w", id, unavailable(err))
	}
	return k, nil
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]apikey.Key, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id, name, scopes, hash, created_at, revoked_at FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []apikey.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey marks a key revoked with its audit entry.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getKey(ctx, tx, id)
		if err != nil {
			return err
		}
		if old.Revoked() {
			return fmt.Errorf("key %s already revoked: %w", id, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`, store.Millis(at), id); err != nil {
			return fmt.Errorf("revoke key %s: %w", id, err)
		}
		a.Before = store.MustJSON(old)
		return appendAudit(ctx, tx, a)
	})
}

// Audit.

func appendAudit(ctx context.Context, tx *sql.Tx, a store.AuditEntry) error {
	before, after := a.Before, a.After
	if len(before) == 0 {
		before = store.Null
	}
	if len(after) == 0 {
		after = store.Null
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, target, before_json, after_json, remote_addr, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		store.Millis(a.At), a.Actor, a.Action, a.Target, string(before), string(after), a.RemoteAddr, a.RequestID)
	if err != nil {
		return fmt.Errorf("append audit %s: %w", a.Action, err)
	}
	if a.Event != nil {
		return appendJournal(ctx, tx, *a.Event) // the change's event, in its transaction
	}
	return nil
}

// AppendAudit records an entry on its own.
func (s *Store) AppendAudit(ctx context.Context, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return appendAudit(ctx, tx, a) })
}

// ListAudit returns entries matching q, newest first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	where := []string{"1 = 1"}
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if !q.Since.IsZero() {
		add("at >= ?", store.Millis(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < ?", store.Millis(q.Until))
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	args = append(args, q.EffectiveLimit())
	rows, err := s.reads.QueryContext(ctx, `SELECT id, at, actor, action, target, before_json, after_json, remote_addr, request_id FROM audit
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		var before, after string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &before, &after, &e.RemoteAddr, &e.RequestID); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At, e.Before, e.After = store.FromMillis(at), json.RawMessage(before), json.RawMessage(after)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Maintenance.

// ListWindows returns every window by id.
func (s *Store) ListWindows(ctx context.Context) ([]maintenance.Window, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT doc FROM maintenance_windows ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list windows: %w", err)
	}
	defer rows.Close()
	var out []maintenance.Window
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list windows: %w", err)
		}
		w, err := store.DecodeWindow([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func getWindowDoc(ctx context.Context, q querier, id string) (string, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM maintenance_windows WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("maintenance window %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get window %s: %w", id, unavailable(err))
	}
	return doc, nil
}

// GetWindow returns one window.
func (s *Store) GetWindow(ctx context.Context, id string) (maintenance.Window, error) {
	doc, err := getWindowDoc(ctx, s.reads, id)
	if err != nil {
		return maintenance.Window{}, err
	}
	return store.DecodeWindow([]byte(doc))
}

// CreateWindow stores a new window with its audit entry.
func (s *Store) CreateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO maintenance_windows (id, doc) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`, w.ID, string(store.EncodeWindow(w)))
		if err != nil {
			return fmt.Errorf("create window %s: %w", w.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("maintenance window %s: %w", w.ID, store.ErrConflict)
		}
		a.Before = store.Null
		return appendAudit(ctx, tx, a)
	})
}

// UpdateWindow replaces a window with its audit entry.
func (s *Store) UpdateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getWindowDoc(ctx, tx, w.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE maintenance_windows SET doc = ? WHERE id = ?`, string(store.EncodeWindow(w)), w.ID); err != nil {
			return fmt.Errorf("update window %s: %w", w.ID, err)
		}
		a.Before = json.RawMessage(old)
		return appendAudit(ctx, tx, a)
	})
}

// DeleteWindow removes w, if it is still as read, with its audit entry.
func (s *Store) DeleteWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getWindowDoc(ctx, tx, w.ID)
		if err != nil {
			return err
		}
		if err := store.SameWindow(old, w); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM maintenance_windows WHERE id = ?`, w.ID); err != nil {
			return fmt.Errorf("delete window %s: %w", w.ID, err)
		}
		a.Before = json.RawMessage(old)
		return appendAudit(ctx, tx, a)
	})
}

// Cursors.

// Cursor returns the time stored under name (zero if none).
func (s *Store) Cursor(ctx context.Context, name string) (time.Time, error) {
	var ms int64
	err := s.reads.QueryRowContext(ctx, `SELECT at FROM cursors WHERE name = ?`, name).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cursor %s: %w", name, unavailable(err))
	}
	return store.FromMillis(ms), nil
}

// SetCursor stores t under name.
func (s *Store) SetCursor(ctx context.Context, name string, t time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO cursors (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at`, name, store.Millis(t)); err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}

// Incidents.

// CreateIncident stores a new incident with its audit entry.
func (s *Store) CreateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error {
	inc.Version = 1
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, opened_at, open, version, doc) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			inc.ID, store.Millis(inc.OpenedAt), inc.Open(), inc.Version, string(store.MustJSON(inc)))
		if err != nil {
			return fmt.Errorf("create incident %s: %w", inc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("incident %s: %w", inc.ID, store.ErrConflict)
		}
		if err := indexIncident(ctx, tx, inc); err != nil { // pagereads.go
			return err
		}
		a.Before = store.Null
		return appendAudit(ctx, tx, a)
	})
}

func getIncidentDoc(ctx context.Context, q querier, id string) (string, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM incidents WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get incident %s: %w", id, unavailable(err))
	}
	return doc, nil
}

// GetIncident returns one incident.
func (s *Store) GetIncident(ctx context.Context, id string) (incidents.Incident, error) {
	doc, err := getIncidentDoc(ctx, s.reads, id)
	if err != nil {
		return incidents.Incident{}, err
	}
	return store.DecodeIncident([]byte(doc))
}

// UpdateIncident stores a new version of an incident with its audit entry.
func (s *Store) UpdateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getIncidentDoc(ctx, tx, inc.ID)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET open = ?, version = ?, doc = ? WHERE id = ? AND version = ?`,
			inc.Open(), inc.Version, string(store.MustJSON(inc)), inc.ID, inc.Version-1)
		if err != nil {
			return fmt.Errorf("update incident %s: %w", inc.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("incident %s changed since it was read: %w", inc.ID, store.ErrConflict)
		}
		if err := indexIncident(ctx, tx, inc); err != nil { // pagereads.go
			return err
		}
		a.Before = json.RawMessage(old)
		return appendAudit(ctx, tx, a)
	})
}
