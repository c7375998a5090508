package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// scan lists the keys matching pattern, on every master in Cluster mode, sorted.
func (s *Store) scan(ctx context.Context, pattern string) ([]string, error) {
	var mu sync.Mutex
	var out []string
	collect := func(ctx context.Context, c goredis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if cc, ok := s.rdb.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error { return collect(ctx, c) })
	} else {
		err = collect(ctx, s.rdb)
	}
	slices.Sort(out)
	return slices.Compact(out), err
}

// idFromKey extracts the id between "{c:" (or "{m:") and "}".
func idFromKey(key, tag string) string {
	_, rest, _ := strings.Cut(key, "{"+tag+":")
	id, _, _ := strings.Cut(rest, "}")
	return id
}

// ids lists the ids of keys matching pattern, sorted as SQLite sorts them.
func (s *Store) ids(ctx context.Context, pattern, tag string) ([]string, error) {
	keys, err := s.scan(ctx, pattern)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = idFromKey(k, tag)
	}
	slices.Sort(out)
	return out, err
}

var (
	beginning = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	forever   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
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
	timelines, err := s.ids(ctx, s.prefix+":{c:*}:timeline", "c")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, id := range timelines {
		changes, err := s.StatusTimeline(ctx, id, beginning, forever)
		if err != nil {
			return err
		}
		for i := range changes {
			if err := emit(store.Record{Type: store.RecordStatus, Status: &changes[i]}); err != nil {
				return err
			}
		}
	}
	transitions, err := s.ids(ctx, s.prefix+":{m:*}:transitions", "m")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, id := range transitions {
		trs, err := s.MonitorTransitions(ctx, id, beginning, forever)
		if err != nil {
			return err
		}
		for i := range trs {
			if err := emit(store.Record{Type: store.RecordTransition, Transition: &trs[i]}); err != nil {
				return err
			}
		}
	}
	monitors, err := s.rdb.SMembers(ctx, s.metaKey("rollup-monitors")).Result()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	slices.Sort(monitors)
	for _, id := range monitors {
		for _, res := range []probe.Resolution{probe.Day, probe.Hour, probe.Minute} { // by name, as SQLite orders them
			rs, err := s.MonitorRollups(ctx, id, res, beginning, forever)
			if err != nil {
				return err
			}
			for i := range rs {
				if err := emit(store.Record{Type: store.RecordRollup, Rollup: &rs[i]}); err != nil {
					return err
				}
			}
		}
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
	audit, err := s.rdb.ZRange(ctx, s.metaKey("audit"), 0, -1).Result()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, raw := range audit {
		var e store.AuditEntry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return fmt.Errorf("export: decode audit entry: %w", err)
		}
		e.At = e.At.UTC()
		if err := emit(store.Record{Type: store.RecordAudit, Audit: &e}); err != nil {
			return err
		}
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
	docs, err := s.rdb.HGetAll(ctx, s.metaKey("incidents")).Result()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var incs []incidents.Incident
	for _, doc := range docs {
		inc, err := store.DecodeIncident([]byte(doc))
		if err != nil {
			return err
		}
		incs = append(incs, inc)
	}
	slices.SortFunc(incs, func(a, b incidents.Incident) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := range incs {
		if err := emit(store.Record{Type: store.RecordIncident, Incident: &incs[i]}); err != nil {
			return err
		}
	}
	cursors, err := s.rdb.HGetAll(ctx, s.metaKey("cursors")).Result()
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	names := make([]string, 0, len(cursors))
	for n := range cursors {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		ms, _ := strconv.ParseInt(cursors[n], 10, 64)
		if err := emit(store.Record{Type: store.RecordCursor, Cursor: &store.CursorRecord{Name: n, At: store.FromMillis(ms)}}); err != nil {
			return err
		}
	}
	if err := s.exportSubscribers(ctx, emit); err != nil { // subscribers.go
		return err
	}
	return s.exportNotifications(ctx, emit) // notifyexport.go
}

// empty reports whether the store under this prefix holds nothing.
func (s *Store) empty(ctx context.Context) (bool, error) {
	for _, k := range []string{"components", "keys", "audit", "maintenance", "incidents", "cursors", "rollup-monitors", "subscribers",
		targetsHash, "journal", "journal:cursors", "outbox:created"} {
		n, err := s.rdb.Exists(ctx, s.metaKey(k)).Result()
		if err != nil || n > 0 {
			return false, err
		}
	}
	for _, pattern := range []string{":{c:*}:timeline", ":{m:*}:transitions"} {
		keys, err := s.scan(ctx, s.prefix+pattern)
		if err != nil || len(keys) > 0 {
			return false, err
		}
	}
	return true, nil
}

// Import writes records into an empty store. Redis has no transaction across Cluster slots, so
// the records are written in pipelined batches after the caller validated all of them; an I/O
// failure part way leaves a partial import, which a second import refuses (the store is not
// empty): clear the prefix and import again.
func (s *Store) Import(ctx context.Context, records []store.Record) error {
	ok, err := s.empty(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if !ok {
		return fmt.Errorf("import: the store under prefix %q is not empty: %w", s.prefix, store.ErrConflict)
	}
	const batch = 500
	var maxAudit int64
	for start := 0; start < len(records); start += batch {
		part := records[start:min(start+batch, len(records))]
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, r := range part {
				if err := s.importRecord(ctx, p, r); err != nil {
					return err
				}
				if r.Type == store.RecordAudit && r.Audit.ID > maxAudit {
					maxAudit = r.Audit.ID
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if err := s.importNotifications(ctx, records); err != nil { // notifyexport.go
		return fmt.Errorf("import: %w", err)
	}
	if maxAudit > 0 {
		if err := s.rdb.Set(ctx, s.metaKey("audit:seq"), maxAudit, 0).Err(); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if err := s.copyAllStatuses(ctx); err != nil { // statusnow.go
		return fmt.Errorf("import: %w", err)
	}
	if err := s.importedDays(ctx); err != nil { // the daily aggregates, if a zone is kept (pagereads.go)
		return fmt.Errorf("import: %w", err)
	}
	return nil
}

func (s *Store) importRecord(ctx context.Context, p goredis.Pipeliner, r store.Record) error {
	if s.importNotificationRecord(ctx, p, r) { // notifyexport.go
		return nil
	}
	switch r.Type {
	case store.RecordComponent:
		p.HSet(ctx, s.metaKey("components"), r.Component.ID, string(store.MustJSON(toStored(*r.Component))))
	case store.RecordStatus:
		ch := r.Status
		at := store.Millis(ch.At)
		p.ZAdd(ctx, s.timelineKey(ch.ComponentID), goredis.Z{Score: float64(at), Member: string(store.MustJSON(storedChange{At: at, Status: string(ch.Status), Reason: ch.Reason}))})
	case store.RecordTransition:
		t := r.Transition
		at := store.Millis(t.At)
		p.ZAdd(ctx, s.transitionsKey(t.MonitorID), goredis.Z{Score: float64(at), Member: string(store.MustJSON(storedTransition{At: at, From: string(t.From), To: string(t.To), Reason: t.Reason}))})
	case store.RecordRollup:
		ru := r.Rollup
		start := store.Millis(ru.Start)
		key := s.rollupKey(ru.MonitorID, ru.Resolution, start)
		fields := []any{"runs", ru.Runs, "failures", ru.Failures, "latency_ns", int64(ru.LatencySum)}
		for i, n := range ru.Histogram {
			if n != 0 {
				fields = append(fields, "h"+strconv.Itoa(i), n)
			}
		}
		p.HSet(ctx, key, fields...)
		p.ZAdd(ctx, s.rollupIndexKey(ru.MonitorID, ru.Resolution), goredis.Z{Score: float64(start), Member: start})
		p.SAdd(ctx, s.metaKey("rollup-monitors"), ru.MonitorID)
	case store.RecordKey:
		p.HSet(ctx, s.metaKey("keys"), r.Key.ID, encodeKey(r.Key.ToKey()))
	case store.RecordAudit:
		entry, err := encodeAudit(*r.Audit)
		if err != nil {
			return err
		}
		p.ZAdd(ctx, s.metaKey("audit"), goredis.Z{Score: float64(r.Audit.ID), Member: entry})
	case store.RecordWindow:
		p.HSet(ctx, s.metaKey("maintenance"), r.Window.ID, string(store.EncodeWindow(*r.Window)))
	case store.RecordIncident:
		inc := r.Incident
		p.HSet(ctx, s.metaKey("incidents"), inc.ID, string(store.MustJSON(inc)))
		s.indexIncident(ctx, p, *inc, nil) // its head and indexes (pagereads.go)
	case store.RecordCursor:
		p.HSet(ctx, s.metaKey("cursors"), r.Cursor.Name, store.Millis(r.Cursor.At))
	case store.RecordSubscriber:
		s.indexSubscriber(ctx, p, store.NormalizeSubscriber(*r.Subscriber), nil)
	default:
		return fmt.Errorf("unknown record type %q", r.Type)
	}
	return nil
}
