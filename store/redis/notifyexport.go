package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// Export and import of notifications (docs/export.md): the targets made through the admin API,
// the journal with its readers' cursors, and the outbox with each notification's delivery
// state, in the order SQLite writes them, so both backends export the same lines.

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
	for after := int64(0); ; {
		es, err := s.ReadJournal(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for i := range es {
			if err := emit(store.Record{Type: store.RecordJournal, Journal: &es[i]}); err != nil {
				return err
			}
			after = es[i].Seq
		}
		if len(es) < 500 {
			break
		}
	}
	cursors, err := s.rdb.HGetAll(ctx, s.journalCursorsKey()).Result()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	names := make([]string, 0, len(cursors))
	for n := range cursors {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		seq, _ := strconv.ParseInt(cursors[n], 10, 64)
		if err := emit(store.Record{Type: store.RecordJournalCursor, JournalCursor: &store.JournalCursorRecord{Name: n, Seq: seq}}); err != nil {
			return err
		}
	}
	// The creation index orders by creation time, then by id (equal scores sort by member).
	const chunk = 500
	for offset := int64(0); ; offset += chunk {
		ids, err := s.rdb.ZRange(ctx, s.outboxKeys()[1], offset, offset+chunk-1).Result()
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		ns, err := s.readNotifications(ctx, ids)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		for i := range ns {
			if err := emit(store.Record{Type: store.RecordNotification, Notification: &ns[i]}); err != nil {
				return err
			}
		}
		if len(ids) < chunk {
			return nil
		}
	}
}

// importNotificationRecord queues the write of one record of the kinds above in p; handled is
// false for others. Notifications are not written here: importNotifications stores them through
// the outbox's own script, which keeps its indexes.
func (s *Store) importNotificationRecord(ctx context.Context, p goredis.Pipeliner, r store.Record) (handled bool) {
	switch r.Type {
	case store.RecordTarget:
		p.HSet(ctx, s.metaKey(targetsHash), r.Target.ID, string(store.EncodeNotifyTarget(*r.Target)))
	case store.RecordJournal:
		e := *r.Journal
		p.ZAdd(ctx, s.journalKey(), goredis.Z{Score: float64(e.Seq), Member: encodeJournal(e)})
		p.HSet(ctx, s.journalIDsKey(), e.ID, e.Seq)
	case store.RecordJournalCursor:
		p.HSet(ctx, s.journalCursorsKey(), r.JournalCursor.Name, r.JournalCursor.Seq)
	case store.RecordNotification:
	default:
		return false
	}
	return true
}

// importNotifications stores the imported notifications as they were (state, attempts, times)
// and moves the journal's sequence past the highest imported seq, so new entries follow them.
func (s *Store) importNotifications(ctx context.Context, records []store.Record) error {
	var ns []store.Notification
	var maxSeq int64
	for _, r := range records {
		switch r.Type {
		case store.RecordNotification:
			ns = append(ns, *r.Notification)
		case store.RecordJournal:
			maxSeq = max(maxSeq, r.Journal.Seq)
		}
	}
	if maxSeq > 0 {
		if err := s.rdb.Set(ctx, s.journalSeqKey(), maxSeq, 0).Err(); err != nil {
			return err
		}
	}
	added, err := s.EnqueueNotifications(ctx, ns)
	if err != nil {
		return err
	}
	if added != len(ns) {
		return fmt.Errorf("%d of %d notifications were stored already: %w", len(ns)-added, len(ns), store.ErrConflict)
	}
	return nil
}
