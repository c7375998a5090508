package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/upstate-dev/upstate/store"
)

// Export and import of notifications (docs/export.md): the targets made through the admin API,
// the journal with its readers' cursors, and the outbox with each notification's delivery
// state, so a move between stores keeps what is owed and never sends again what was delivered.

func (s *Store) exportNotifications(ctx context.Context, emit func(store.Record) error) error {
	ts, err := s.ListNotifyTargets(ctx)
	if err != nil {
		return err
	}
	for i := range ts {
		if err := emit(store.Record{Type: store.RecordTarget, Target: &ts[i]}); err != nil {
			return err
		}
	}
	err = s.each(ctx, `SELECT seq, id, kind, at, body FROM journal ORDER BY seq`, func(r *sql.Rows) error {
		var e store.JournalEntry
		var at int64
		var body string
		if err := r.Scan(&e.Seq, &e.ID, &e.Kind, &at, &body); err != nil {
			return err
		}
		e.At, e.Body = store.FromMillis(at), json.RawMessage(body)
		e = store.NormalizeJournalEntry(e)
		return emit(store.Record{Type: store.RecordJournal, Journal: &e})
	})
	if err != nil {
		return err
	}
	err = s.each(ctx, `SELECT name, seq FROM journal_cursors ORDER BY name`, func(r *sql.Rows) error {
		var c store.JournalCursorRecord
		if err := r.Scan(&c.Name, &c.Seq); err != nil {
			return err
		}
		return emit(store.Record{Type: store.RecordJournalCursor, JournalCursor: &c})
	})
	if err != nil {
		return err
	}
	return s.each(ctx, `SELECT doc FROM notifications ORDER BY created_at, id`, func(r *sql.Rows) error {
		var doc string
		if err := r.Scan(&doc); err != nil {
			return err
		}
		n, err := store.DecodeNotification([]byte(doc))
		if err != nil {
			return err
		}
		return emit(store.Record{Type: store.RecordNotification, Notification: &n})
	})
}

// importNotificationRecord writes one record of the kinds above; handled is false for others.
// Journal entries keep their seq (AUTOINCREMENT continues after the highest), so the cursors
// imported with them still point where they pointed.
func (s *Store) importNotificationRecord(ctx context.Context, tx *sql.Tx, r store.Record) (handled bool, err error) {
	switch r.Type {
	case store.RecordTarget:
		t := store.NormalizeNotifyTarget(*r.Target)
		_, err = tx.ExecContext(ctx, `INSERT INTO notify_targets (id, version, doc) VALUES (?, ?, ?)`, t.ID, t.Version, string(store.EncodeNotifyTarget(t)))
	case store.RecordJournal:
		e := store.NormalizeJournalEntry(*r.Journal)
		_, err = tx.ExecContext(ctx, `INSERT INTO journal (seq, id, kind, at, body) VALUES (?, ?, ?, ?, ?)`, e.Seq, e.ID, e.Kind, store.Millis(e.At), string(e.Body))
	case store.RecordJournalCursor:
		_, err = tx.ExecContext(ctx, `INSERT INTO journal_cursors (name, seq) VALUES (?, ?)`, r.JournalCursor.Name, r.JournalCursor.Seq)
	case store.RecordNotification:
		var added bool
		added, err = s.insertNotification(ctx, tx, *r.Notification)
		if err == nil && !added {
			err = fmt.Errorf("notification %s: %w", r.Notification.ID, store.ErrConflict)
		}
	default:
		return false, nil
	}
	return true, err
}
