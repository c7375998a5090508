package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// Export streams every record.
func (s *Store) Export(ctx context.Context, emit func(store.Record) error) error {
	cs, err := s.ListComponents(ctx)
	if err != nil {
		return err
	}
	for i := range cs {
		if err := emit(store.Record{Type: store.RecordComponent, Component: &cs[i]}); err != nil {
			return err
		}
	}
	err = s.each(ctx, `SELECT component_id, at, status, reason FROM status_changes ORDER BY component_id, at, status, reason`, func(r *sql.Rows) error {
		var ch component.Change
		var at int64
		var st string
		if err := r.Scan(&ch.ComponentID, &at, &st, &ch.Reason); err != nil {
			return err
		}
		ch.At, ch.Status = store.FromMillis(at), component.Status(st)
		return emit(store.Record{Type: store.RecordStatus, Status: &ch})
	})
	if err != nil {
		return err
	}
	err = s.each(ctx, `SELECT monitor_id, at, from_state, to_state, reason FROM transitions ORDER BY monitor_id, at, from_state, to_state, reason`, func(r *sql.Rows) error {
		var t probe.Transition
		var at int64
		var from, to string
		if err := r.Scan(&t.MonitorID, &at, &from, &to, &t.Reason); err != nil {
			return err
		}
		t.At, t.From, t.To = store.FromMillis(at), probe.State(from), probe.State(to)
		return emit(store.Record{Type: store.RecordTransition, Transition: &t})
	})
	if err != nil {
		return err
	}
	err = s.each(ctx, `SELECT monitor_id, resolution, start, runs, failures, latency_sum_ns, histogram FROM rollups ORDER BY monitor_id, resolution, start`, func(r *sql.Rows) error {
		var ru probe.Rollup
		var res, hist string
		var start, lat int64
		if err := r.Scan(&ru.MonitorID, &res, &start, &ru.Runs, &ru.Failures, &lat, &hist); err != nil {
			return err
		}
		ru.Resolution, ru.Start, ru.LatencySum = probe.Resolution(res), store.FromMillis(start), time.Duration(lat)
		if err := json.Unmarshal([]byte(hist), &ru.Histogram); err != nil {
			return err
		}
		return emit(store.Record{Type: store.RecordRollup, Rollup: &ru})
	})
	if err != nil {
		return err
	}
	keys, err := s.ListKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		kr := store.KeyToRecord(k)
		if err := emit(store.Record{Type: store.RecordKey, Key: &kr}); err != nil {
			return err
		}
	}
	err = s.each(ctx, `SELECT id, at, actor, action, target, before_json, after_json, remote_addr, request_id FROM audit ORDER BY id`, func(r *sql.Rows) error {
		var e store.AuditEntry
		var at int64
		var before, after string
		if err := r.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &before, &after, &e.RemoteAddr, &e.RequestID); err != nil {
			return err
		}
		e.At, e.Before, e.After = store.FromMillis(at), json.RawMessage(before), json.RawMessage(after)
		return emit(store.Record{Type: store.RecordAudit, Audit: &e})
	})
	if err != nil {
		return err
	}
	ws, err := s.ListWindows(ctx)
	if err != nil {
		return err
	}
	for i := range ws {
		if err := emit(store.Record{Type: store.RecordWindow, Window: &ws[i]}); err != nil {
			return err
		}
	}
	err = s.each(ctx, `SELECT doc FROM incidents ORDER BY opened_at, id`, func(r *sql.Rows) error {
		var doc string
		if err := r.Scan(&doc); err != nil {
			return err
		}
		inc, err := store.DecodeIncident([]byte(doc))
		if err != nil {
			return err
		}
		return emit(store.Record{Type: store.RecordIncident, Incident: &inc})
	})
	if err != nil {
		return err
	}
	err = s.each(ctx, `SELECT name, at FROM cursors ORDER BY name`, func(r *sql.Rows) error {
		var c store.CursorRecord
		var at int64
		if err := r.Scan(&c.Name, &at); err != nil {
			return err
		}
		c.At = store.FromMillis(at)
		return emit(store.Record{Type: store.RecordCursor, Cursor: &c})
	})
	if err != nil {
		return err
	}
	if err := s.exportSubscribers(ctx, emit); err != nil { // subscribers.go
		return err
	}
	return s.exportNotifications(ctx, emit) // notifyexport.go
}

func (s *Store) each(ctx context.Context, q string, fn func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return rows.Err()
}

// Import writes records into an empty database, in one transaction: all or nothing.
func (s *Store) Import(ctx context.Context, records []store.Record) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"components", "status_changes", "transitions", "rollups", "api_keys", "audit", "maintenance_windows", "incidents", "cursors", "subscribers",
			"notify_targets", "journal", "journal_cursors", "notifications"} {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			if n > 0 {
				return fmt.Errorf("import: table %s is not empty: %w", table, store.ErrConflict)
			}
		}
		for i, r := range records {
			handled, err := s.importNotificationRecord(ctx, tx, r) // notifyexport.go
			if !handled {
				err = importRecord(ctx, tx, r)
			}
			if err != nil {
				return fmt.Errorf("import record %d (%s): %w", i+1, r.Type, err)
			}
		}
		return s.importedDays(ctx, tx) // the daily aggregates of the imported timelines (pagereads.go)
	})
}

func importRecord(ctx context.Context, tx *sql.Tx, r store.Record) error {
	var err error
	switch r.Type {
	case store.RecordComponent:
		c := r.Component
		_, err = tx.ExecContext(ctx, `INSERT INTO components (id, name, description, group_id, is_group, position, source, visibility, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Name, c.Description, c.GroupID, c.IsGroup, c.Position, string(c.Source), string(c.Visibility), store.Millis(c.CreatedAt), store.Millis(c.UpdatedAt))
	case store.RecordStatus:
		ch := r.Status
		_, err = tx.ExecContext(ctx, `INSERT INTO status_changes (component_id, at, status, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ch.ComponentID, store.Millis(ch.At), string(ch.Status), ch.Reason)
	case store.RecordTransition:
		t := r.Transition
		_, err = tx.ExecContext(ctx, `INSERT INTO transitions (monitor_id, at, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			t.MonitorID, store.Millis(t.At), string(t.From), string(t.To), t.Reason)
	case store.RecordRollup:
		ru := r.Rollup
		hist, _ := json.Marshal(ru.Histogram)
		_, err = tx.ExecContext(ctx, `INSERT INTO rollups (monitor_id, resolution, start, runs, failures, latency_sum_ns, histogram) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			ru.MonitorID, string(ru.Resolution), store.Millis(ru.Start), ru.Runs, ru.Failures, int64(ru.LatencySum), string(hist))
	case store.RecordKey:
		k := r.Key
		scopes := make([]string, len(k.Scopes))
		for i, sc := range k.Scopes {
			scopes[i] = string(sc)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, scopes, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, strings.Join(scopes, ","), []byte(k.Hash), store.Millis(k.CreatedAt), store.Millis(k.RevokedAt))
	case store.RecordAudit:
		a := r.Audit
		before, after := a.Before, a.After
		if len(before) == 0 {
			before = store.Null
		}
		if len(after) == 0 {
			after = store.Null
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit (id, at, actor, action, target, before_json, after_json, remote_addr, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.ID, store.Millis(a.At), a.Actor, a.Action, a.Target, string(before), string(after), a.RemoteAddr, a.RequestID)
	case store.RecordWindow:
		_, err = tx.ExecContext(ctx, `INSERT INTO maintenance_windows (id, doc) VALUES (?, ?)`, r.Window.ID, string(store.EncodeWindow(*r.Window)))
	case store.RecordIncident:
		inc := r.Incident
		_, err = tx.ExecContext(ctx, `INSERT INTO incidents (id, opened_at, open, version, doc) VALUES (?, ?, ?, ?, ?)`,
			inc.ID, store.Millis(inc.OpenedAt), inc.Open(), inc.Version, string(store.MustJSON(inc)))
		if err == nil {
			err = indexIncident(ctx, tx, *inc)
		}
	case store.RecordCursor:
		_, err = tx.ExecContext(ctx, `INSERT INTO cursors (name, at) VALUES (?, ?)`, r.Cursor.Name, store.Millis(r.Cursor.At))
	case store.RecordSubscriber:
		err = insertSubscriber(ctx, tx, *r.Subscriber)
	default:
		err = fmt.Errorf("unknown record type %q", r.Type)
	}
	return err
}
