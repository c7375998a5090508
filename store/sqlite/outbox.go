package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// Notifications: the journal, the outbox and leases (migrations/0005_outbox.sql).

var (
	_ store.Journal = (*Store)(nil)
	_ store.Outbox  = (*Store)(nil)
	_ store.Leases  = (*Store)(nil)
)

// appendJournal appends an event in tx unless its id is in the journal already. Writers are
// serialised (BEGIN IMMEDIATE), so AUTOINCREMENT's order is commit order.
func appendJournal(ctx context.Context, tx *sql.Tx, e store.JournalEntry) error {
	e = store.NormalizeJournalEntry(e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO journal (id, kind, at, body) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Kind, store.Millis(e.At), string(e.Body)); err != nil {
		return fmt.Errorf("journal event %s: %w", e.ID, err)
	}
	return nil
}

// AppendEvents appends the events not in the journal yet, in one transaction.
func (s *Store) AppendEvents(ctx context.Context, es []store.JournalEntry) error {
	if len(es) == 0 {
		return nil
	}
	return s.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, e := range es {
			if err := appendJournal(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// ReadJournal returns up to limit entries after seq, in order.
func (s *Store) ReadJournal(ctx context.Context, after int64, limit int) ([]store.JournalEntry, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT seq, id, kind, at, body FROM journal WHERE seq > ? ORDER BY seq LIMIT ?`, after, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	var out []store.JournalEntry
	for rows.Next() {
		var e store.JournalEntry
		var at int64
		var body string
		if err := rows.Scan(&e.Seq, &e.ID, &e.Kind, &at, &body); err != nil {
			return nil, fmt.Errorf("read journal: %w", err)
		}
		e.At, e.Body = store.FromMillis(at), []byte(body)
		out = append(out, e)
	}
	return out, rows.Err()
}

// JournalCursor returns a reader's position (0 if none).
func (s *Store) JournalCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.reads.QueryRowContext(ctx, `SELECT seq FROM journal_cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal cursor %s: %w", name, err)
	}
	return seq, nil
}

// SetJournalCursor stores a reader's position.
func (s *Store) SetJournalCursor(ctx context.Context, name string, seq int64) error {
	return s.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO journal_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`, name, seq); err != nil {
			return fmt.Errorf("set journal cursor %s: %w", name, err)
		}
		return nil
	})
}

// PruneJournal deletes old entries a reader has passed.
func (s *Store) PruneJournal(ctx context.Context, upTo int64, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM journal WHERE seq <= ? AND at < ?`, upTo, store.Millis(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune journal: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Outbox.

// insertNotification and updateNotification run through statements prepared once (txStmt): a
// fan-out inserts, claims and finishes a row per subscriber, and parsing the statement each time
// was a tenth of its CPU.
func (s *Store) insertNotification(ctx context.Context, tx *sql.Tx, n store.Notification) (bool, error) {
	n = store.NormalizeNotification(n)
	st, err := s.txStmt(ctx, tx, `INSERT INTO notifications (id, state, next_at, created_at, updated_at, target, incident_id, dedup_key, version, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return false, fmt.Errorf("enqueue notification %s: %w", n.ID, err)
	}
	res, err := st.ExecContext(ctx, n.ID, string(n.State), store.Millis(n.NextAt), store.Millis(n.CreatedAt), store.Millis(n.UpdatedAt), n.Target, n.IncidentID, n.DedupKey, n.Version,
		string(store.EncodeNotification(n)))
	if err != nil {
		return false, fmt.Errorf("enqueue notification %s: %w", n.ID, err)
	}
	added, _ := res.RowsAffected()
	return added > 0, nil
}

func (s *Store) updateNotification(ctx context.Context, tx *sql.Tx, n store.Notification, expectVersion int) error {
	n = store.NormalizeNotification(n)
	st, err := s.txStmt(ctx, tx, `UPDATE notifications SET state = ?, next_at = ?, updated_at = ?, version = ?, doc = ? WHERE id = ? AND version = ?`)
	if err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	res, err := st.ExecContext(ctx, string(n.State), store.Millis(n.NextAt), store.Millis(n.UpdatedAt), n.Version, string(store.EncodeNotification(n)), n.ID, expectVersion)
	if err != nil {
		return fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	if changed, _ := res.RowsAffected(); changed == 0 {
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT version FROM notifications WHERE id = ?`, n.ID).Scan(&v); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notification %s: %w", n.ID, store.ErrNotFound)
		}
		return fmt.Errorf("notification %s changed since it was read: %w", n.ID, store.ErrConflict)
	}
	return nil
}

// EnqueueNotifications stores the notifications not stored yet, in one transaction.
func (s *Store) EnqueueNotifications(ctx context.Context, ns []store.Notification) (int, error) {
	added := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		added = 0
		for _, n := range ns {
			ok, err := s.insertNotification(ctx, tx, n)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		return nil
	})
	return added, err
}

// The claim's queries walk notifications_waiting (migrations/0008_outbox_waiting.sql), which
// holds only the waiting rows, by due time then id: a claim reads the rows it takes and stops,
// however many wait behind them. TestClaimWalksTheWaitingIndex holds their plans.
const (
	dueQuery   = `SELECT count(*) FROM (SELECT 1 FROM notifications INDEXED BY notifications_waiting WHERE state IN ('pending', 'sending') AND next_at <= ? LIMIT 1)`
	claimQuery = `SELECT doc FROM notifications INDEXED BY notifications_waiting WHERE state IN ('pending', 'sending') AND next_at <= ? ORDER BY next_at, id LIMIT ?`
)

// ClaimNotifications takes what is due, in one transaction.
func (s *Store) ClaimNotifications(ctx context.Context, now, until time.Time, limit int) ([]store.Notification, error) {
	// Most polls find nothing due: a read says so without taking the write lock.
	var due int
	err := s.reads.QueryRowContext(ctx, dueQuery, store.Millis(now)).Scan(&due)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	if due == 0 {
		return nil, nil
	}
	var out []store.Notification
	err = s.tx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		st, err := s.txStmt(ctx, tx, claimQuery)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, store.Millis(now), max(limit, 1))
		if err != nil {
			return err
		}
		var due []store.Notification
		for rows.Next() {
			var doc string
			if err := rows.Scan(&doc); err != nil {
				rows.Close()
				return err
			}
			n, err := store.DecodeNotification([]byte(doc))
			if err != nil {
				rows.Close()
				return err
			}
			due = append(due, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range due {
			c := store.Claimed(n, now, until)
			if err := s.updateNotification(ctx, tx, c, n.Version); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	return out, nil
}

// FinishNotification records an attempt's outcome. Concurrent calls share a commit.
func (s *Store) FinishNotification(ctx context.Context, n store.Notification) error {
	return s.groupWrite(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return s.updateNotification(ctx, tx, n, n.Version-1)
	})
}

// ChangeNotification records an operator's change with its audit entry.
func (s *Store) ChangeNotification(ctx context.Context, n store.Notification, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT doc FROM notifications WHERE id = ?`, n.ID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("notification %s: %w", n.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("get notification %s: %w", n.ID, err)
		}
		if err := s.updateNotification(ctx, tx, n, n.Version-1); err != nil {
			return err
		}
		a.Before = []byte(old)
		return appendAudit(ctx, tx, a)
	})
}

// GetNotification returns one notification.
func (s *Store) GetNotification(ctx context.Context, id string) (store.Notification, error) {
	var doc string
	err := s.reads.QueryRowContext(ctx, `SELECT doc FROM notifications WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Notification{}, fmt.Errorf("notification %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Notification{}, fmt.Errorf("get notification %s: %w", id, err)
	}
	return store.DecodeNotification([]byte(doc))
}

// ListNotifications returns notifications matching q, newest first.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	where := []string{"1 = 1"}
	var args []any
	if len(q.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(q.States)-1)+")")
		for _, st := range q.States {
			args = append(args, string(st))
		}
	}
	if q.Target != "" {
		where, args = append(where, "target = ?"), append(args, q.Target)
	}
	if q.IncidentID != "" {
		where, args = append(where, "incident_id = ?"), append(args, q.IncidentID)
	}
	if q.DedupKey != "" {
		where, args = append(where, "dedup_key = ? AND dedup_key != ''"), append(args, q.DedupKey)
	}
	if !q.Before.IsZero() {
		where, args = append(where, "created_at < ?"), append(args, store.Millis(q.Before))
	}
	args = append(args, q.EffectiveLimit())
	rows, err := s.db.QueryContext(ctx, `SELECT doc FROM notifications WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []store.Notification
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		n, err := store.DecodeNotification([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// OutboxStats counts notifications by state.
func (s *Store) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	st := store.OutboxStats{ByState: map[store.NotificationState]int{}}
	rows, err := s.reads.QueryContext(ctx, `SELECT state, count(*) FROM notifications GROUP BY state`)
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return st, fmt.Errorf("outbox stats: %w", err)
		}
		st.ByState[store.NotificationState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	var oldest sql.NullInt64
	if err := s.reads.QueryRowContext(ctx, `SELECT min(created_at) FROM notifications WHERE state IN ('pending', 'sending')`).Scan(&oldest); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest.Valid {
		st.OldestWaiting = store.FromMillis(oldest.Int64)
	}
	return st, nil
}

// PruneNotifications deletes finished notifications last changed before cutoff.
func (s *Store) PruneNotifications(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM notifications WHERE state IN ('delivered', 'dead', 'cancelled') AND updated_at < ?`, store.Millis(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Leases.

// AcquireLease takes, renews or refuses a lease in one transaction.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, bool, error) {
	var got store.Lease
	var held bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var stored store.Lease
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT name, holder, token, expires FROM leases WHERE name = ?`, name).Scan(&stored.Name, &stored.Holder, &stored.Token, &expires)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		stored.Expires = store.FromMillis(expires)
		got, held = store.NextLease(stored, name, holder, now, ttl)
		if !held {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO leases (name, holder, token, expires) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires = excluded.expires`,
			got.Name, got.Holder, got.Token, store.Millis(got.Expires))
		return err
	})
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return got, held, nil
}

// ReleaseLease ends holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE leases SET expires = 0 WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
