package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/upstate-dev/upstate/store"
)

// Subscribers (migrations/0006_subscribers.sql): one row per subscriber with its document, and
// one row per component or group it chose, for the admin list's filter by component.

var _ store.Subscribers = (*Store)(nil)

func writeSubscriberComponents(ctx context.Context, tx *sql.Tx, sub store.Subscriber) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscriber_components WHERE subscriber_id = ?`, sub.ID); err != nil {
		return err
	}
	for _, c := range sub.Components {
		if _, err := tx.ExecContext(ctx, `INSERT INTO subscriber_components (component_id, subscriber_id) VALUES (?, ?)`, c, sub.ID); err != nil {
			return err
		}
	}
	return nil
}

func insertSubscriber(ctx context.Context, tx *sql.Tx, sub store.Subscriber) error {
	sub = store.NormalizeSubscriber(sub)
	res, err := tx.ExecContext(ctx, `INSERT INTO subscribers (id, lookup, state, channel, all_components, version, doc) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, sub.ID, sub.Lookup(), string(sub.State), string(sub.Channel), len(sub.Components) == 0, sub.Version,
		string(store.EncodeSubscriber(sub)))
	if err != nil {
		return fmt.Errorf("create subscriber %s: %w", sub.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("subscriber %s, or its address: %w", sub.ID, store.ErrConflict)
	}
	return writeSubscriberComponents(ctx, tx, sub)
}

// CreateSubscriber stores a new subscriber with its audit entry.
func (s *Store) CreateSubscriber(ctx context.Context, sub store.Subscriber, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := insertSubscriber(ctx, tx, sub); err != nil {
			return err
		}
		a.Before = store.Null
		return appendAudit(ctx, tx, a)
	})
}

func getSubscriber(ctx context.Context, q querier, where string, arg any) (store.Subscriber, error) {
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM subscribers WHERE `+where, arg).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("subscriber: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, fmt.Errorf("get subscriber: %w", unavailable(err))
	}
	return store.DecodeSubscriber([]byte(doc))
}

// GetSubscriber returns one subscriber.
func (s *Store) GetSubscriber(ctx context.Context, id string) (store.Subscriber, error) {
	sub, err := getSubscriber(ctx, s.reads, "id = ?", id)
	if errors.Is(err, store.ErrNotFound) {
		return sub, fmt.Errorf("subscriber %s: %w", id, store.ErrNotFound)
	}
	return sub, err
}

// FindSubscriber returns the subscriber with this lookup key.
func (s *Store) FindSubscriber(ctx context.Context, lookup string) (store.Subscriber, error) {
	return getSubscriber(ctx, s.reads, "lookup = ?", lookup)
}

// UpdateSubscriber stores a subscriber's new version with its audit entry (if it has one).
func (s *Store) UpdateSubscriber(ctx context.Context, sub store.Subscriber, a store.AuditEntry) error {
	sub = store.NormalizeSubscriber(sub)
	return s.tx(ctx, func(tx *sql.Tx) error {
		old, err := getSubscriber(ctx, tx, "id = ?", sub.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("subscriber %s: %w", sub.ID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if old.Version != sub.Version-1 {
			return fmt.Errorf("subscriber %s changed since it was read: %w", sub.ID, store.ErrConflict)
		}
		sub.Channel, sub.Address, sub.URL = old.Channel, old.Address, old.URL
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET state = ?, all_components = ?, version = ?, doc = ? WHERE id = ?`,
			string(sub.State), len(sub.Components) == 0, sub.Version, string(store.EncodeSubscriber(sub)), sub.ID); err != nil {
			return fmt.Errorf("update subscriber %s: %w", sub.ID, err)
		}
		if err := writeSubscriberComponents(ctx, tx, sub); err != nil {
			return fmt.Errorf("update subscriber %s: %w", sub.ID, err)
		}
		if a.Action == "" {
			return nil
		}
		return appendAudit(ctx, tx, a)
	})
}

// DeleteSubscriber removes a subscriber (its components with it) and records the audit entry.
func (s *Store) DeleteSubscriber(ctx context.Context, id string, a store.AuditEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete subscriber %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("subscriber %s: %w", id, store.ErrNotFound)
		}
		return appendAudit(ctx, tx, a)
	})
}

// ListSubscribers returns the subscribers matching q, in id order.
func (s *Store) ListSubscribers(ctx context.Context, q store.SubscriberQuery) ([]store.Subscriber, error) {
	where := []string{"s.id > ?"}
	args := []any{q.After}
	if q.State != "" {
		where, args = append(where, "s.state = ?"), append(args, string(q.State))
	}
	if q.Channel != "" {
		where, args = append(where, "s.channel = ?"), append(args, string(q.Channel))
	}
	if len(q.Components) > 0 {
		where = append(where, `(s.all_components = 1 OR EXISTS (SELECT 1 FROM subscriber_components sc WHERE sc.subscriber_id = s.id AND sc.component_id IN (?`+
			strings.Repeat(", ?", len(q.Components)-1)+`)))`)
		for _, c := range q.Components {
			args = append(args, c)
		}
	}
	args = append(args, q.EffectiveLimit())
	rows, err := s.reads.QueryContext(ctx, `SELECT s.doc FROM subscribers s WHERE `+strings.Join(where, " AND ")+` ORDER BY s.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	defer rows.Close()
	var out []store.Subscriber
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		sub, err := store.DecodeSubscriber([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// CountSubscribers counts subscribers by channel and state.
func (s *Store) CountSubscribers(ctx context.Context) (store.SubscriberCounts, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT channel, state, count(*) FROM subscribers GROUP BY channel, state`)
	if err != nil {
		return nil, fmt.Errorf("count subscribers: %w", err)
	}
	defer rows.Close()
	out := store.SubscriberCounts{}
	for rows.Next() {
		var ch, st string
		var n int
		if err := rows.Scan(&ch, &st, &n); err != nil {
			return nil, fmt.Errorf("count subscribers: %w", err)
		}
		if out[store.SubscriberChannel(ch)] == nil {
			out[store.SubscriberChannel(ch)] = map[store.SubscriberState]int{}
		}
		out[store.SubscriberChannel(ch)][store.SubscriberState(st)] = n
	}
	return out, rows.Err()
}

// exportSubscribers emits every subscriber, in id order (export.go).
func (s *Store) exportSubscribers(ctx context.Context, emit func(store.Record) error) error {
	return s.each(ctx, `SELECT doc FROM subscribers ORDER BY id`, func(r *sql.Rows) error {
		var doc string
		if err := r.Scan(&doc); err != nil {
			return err
		}
		sub, err := store.DecodeSubscriber([]byte(doc))
		if err != nil {
			return err
		}
		return emit(store.Record{Type: store.RecordSubscriber, Subscriber: &sub})
	})
}
