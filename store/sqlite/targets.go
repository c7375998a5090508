package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/upstate-dev/upstate/store"
)

var _ store.NotifyTargets = (*Store)(nil)

// Notification targets made through the admin API: one row each, the target as JSON.

func getNotifyTarget(ctx context.Context, q querier, id string) (store.NotifyTarget, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM notify_targets WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return store.NotifyTarget{}, fmt.Errorf("target %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.NotifyTarget{}, fmt.Errorf("get target %s: %w", id, err)
	}
	return store.DecodeNotifyTarget([]byte(doc))
}

// CreateNotifyTarget stores a new target with its audit entry.
func (s *Store) CreateNotifyTarget(ctx context.Context, t store.NotifyTarget, a store.AuditEntry) error {
	t.Version = 1
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO notify_targets (id, version, doc) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			t.ID, t.Version, string(store.EncodeNotifyTarget(t)))
		if err != nil {
			return fmt.Errorf("create target %s: %w", t.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("target %s exists: %w", t.ID, store.ErrConflict)
		}
		return appendAudit(ctx, tx, a)
	})
}

// UpdateNotifyTarget replaces a target read at Version-1, with its audit entry.
func (s *Store) UpdateNotifyTarget(ctx context.Context, t store.NotifyTarget, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := getNotifyTarget(ctx, tx, t.ID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE notify_targets SET version = ?, doc = ? WHERE id = ? AND version = ?`,
			t.Version, string(store.EncodeNotifyTarget(t)), t.ID, t.Version-1)
		if err != nil {
			return fmt.Errorf("update target %s: %w", t.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("target %s changed since it was read: %w", t.ID, store.ErrConflict)
		}
		return appendAudit(ctx, tx, a)
	})
}

// DeleteNotifyTarget deletes a target read at version, with its audit entry.
func (s *Store) DeleteNotifyTarget(ctx context.Context, id string, version int, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := getNotifyTarget(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM notify_targets WHERE id = ? AND version = ?`, id, version)
		if err != nil {
			return fmt.Errorf("delete target %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("target %s changed since it was read: %w", id, store.ErrConflict)
		}
		return appendAudit(ctx, tx, a)
	})
}

// GetNotifyTarget returns a target by id.
func (s *Store) GetNotifyTarget(ctx context.Context, id string) (store.NotifyTarget, error) {
	return getNotifyTarget(ctx, s.reads, id)
}

// ListNotifyTargets returns every target, by id.
func (s *Store) ListNotifyTargets(ctx context.Context) ([]store.NotifyTarget, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT doc FROM notify_targets ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	defer rows.Close()
	out := []store.NotifyTarget{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list targets: %w", err)
		}
		t, err := store.DecodeNotifyTarget([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
