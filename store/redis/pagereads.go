package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// Reads for the page (docs/storage.md, "Reads for the page"). Incidents are indexed in the
// {meta} slot, written in the same MULTI/EXEC as the incident itself: sorted sets by state,
// start, end and component, and each incident's head beside its document. Daily status
// aggregates live beside each component's timeline in its {c:<id>} slot, written in the same
// MULTI/EXEC as the change.

func (s *Store) incidentIndexKey(name string) string { return s.metaKey("incidents:" + name) }
func (s *Store) componentIncidentsKey(componentID string) string {
	return s.metaKey("incidents:component:" + componentID)
}

// daysKey holds a component's daily rows in one zone; builtKey exists once they were built
// from its whole timeline.
func (s *Store) daysKey(componentID, zone string) string {
	return s.prefix + ":{c:" + componentID + "}:days:" + zone
}
func (s *Store) builtKey(componentID, zone string) string {
	return s.daysKey(componentID, zone) + ":built"
}

// indexIncident queues the writes of inc's head and index entries; before are the components
// the stored version affected (nil for a new incident).
func (s *Store) indexIncident(ctx context.Context, p goredis.Pipeliner, inc incidents.Incident, before []string) {
	opened := float64(store.Millis(inc.OpenedAt))
	if head := store.EncodeHead(inc); head != nil {
		p.HSet(ctx, s.incidentIndexKey("heads"), inc.ID, string(head))
	} else {
		p.HDel(ctx, s.incidentIndexKey("heads"), inc.ID)
	}
	p.HSet(ctx, s.incidentIndexKey("spans"), inc.ID, string(store.EncodeSpan(inc)))
	p.ZAdd(ctx, s.metaKey("incidents:by-opened"), goredis.Z{Score: opened, Member: inc.ID})
	if inc.Open() {
		p.ZAdd(ctx, s.incidentIndexKey("open"), goredis.Z{Score: opened, Member: inc.ID})
	} else {
		p.ZRem(ctx, s.incidentIndexKey("open"), inc.ID)
	}
	p.ZAdd(ctx, s.incidentIndexKey("by-started"), goredis.Z{Score: float64(store.Millis(inc.StartedAt)), Member: inc.ID})
	p.ZAdd(ctx, s.incidentIndexKey("by-end"), goredis.Z{Score: float64(store.IncidentEnd(inc)), Member: inc.ID})
	now := store.AffectedIDs(inc)
	for _, id := range before {
		if !slices.Contains(now, id) {
			p.ZRem(ctx, s.componentIncidentsKey(id), inc.ID)
		}
	}
	for _, id := range now {
		p.ZAdd(ctx, s.componentIncidentsKey(id), goredis.Z{Score: opened, Member: inc.ID})
	}
}

// indexExisting indexes incidents stored before the indexes existed, once: in batches, each
// under WATCH of the incidents, so a change made meanwhile is indexed from its new version.
func (s *Store) indexExisting(ctx context.Context) error {
	marker := s.incidentIndexKey("indexed")
	if n, err := s.rdb.Exists(ctx, marker).Result(); err != nil || n > 0 {
		return err
	}
	ids, err := s.rdb.HKeys(ctx, s.metaKey("incidents")).Result()
	if err != nil {
		return err
	}
	const batch = 200
	for i := 0; i < len(ids); i += batch {
		part := ids[i:min(i+batch, len(ids))]
		for attempt := 0; ; attempt++ {
			err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
				docs, err := tx.HMGet(ctx, s.metaKey("incidents"), part...).Result()
				if err != nil {
					return err
				}
				_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
					for _, d := range docs {
						doc, ok := d.(string)
						if !ok {
							continue
						}
						inc, err := store.DecodeIncident([]byte(doc))
						if err != nil {
							return err
						}
						s.indexIncident(ctx, p, inc, nil)
					}
					return nil
				})
				return err
			}, s.metaKey("incidents"))
			if errors.Is(err, goredis.TxFailedErr) && attempt < 50 {
				continue
			}
			if err != nil {
				return fmt.Errorf("index incidents: %w", err)
			}
			break
		}
	}
	return s.rdb.Set(ctx, marker, "1", 0).Err()
}

// candidates lists the ids of the incidents that may match q, from its most selective index,
// and whether they come newest opened first.
func (s *Store) candidates(ctx context.Context, q store.IncidentQuery) ([]string, bool, error) {
	msArg := func(t time.Time, open bool) string {
		v := strconv.FormatInt(store.Millis(t), 10)
		if open {
			return "(" + v
		}
		return v
	}
	opened := &goredis.ZRangeBy{Min: "-inf", Max: "+inf"}
	if !q.Since.IsZero() {
		opened.Min = msArg(q.Since, false)
	}
	if !q.Until.IsZero() {
		opened.Max = msArg(q.Until.Add(time.Millisecond), true)
	}
	switch {
	case q.OpenOnly:
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.incidentIndexKey("open"), opened).Result()
		return ids, true, err
	case q.ComponentID != "":
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.componentIncidentsKey(q.ComponentID), opened).Result()
		return ids, true, err
	case !q.ActiveFrom.IsZero():
		ids, err := s.rdb.ZRangeByScore(ctx, s.incidentIndexKey("by-end"), &goredis.ZRangeBy{Min: msArg(q.ActiveFrom, false), Max: "+inf"}).Result()
		return ids, false, err
	case !q.StartedFrom.IsZero() || !q.StartedBefore.IsZero():
		r := &goredis.ZRangeBy{Min: "-inf", Max: "+inf"}
		if !q.StartedFrom.IsZero() {
			r.Min = msArg(q.StartedFrom.Add(-time.Millisecond), false)
		}
		if !q.StartedBefore.IsZero() {
			r.Max = msArg(q.StartedBefore.Add(time.Millisecond), false)
		}
		ids, err := s.rdb.ZRangeByScore(ctx, s.incidentIndexKey("by-started"), r).Result()
		return ids, false, err
	}
	ids, err := s.rdb.ZRevRangeByScore(ctx, s.metaKey("incidents:by-opened"), opened).Result()
	return ids, true, err
}

// listIncidents reads the candidates of q from hash (documents or heads) in chunks, keeps the
// matching ones, newest opened first, up to q's limit.
func (s *Store) listIncidents(ctx context.Context, q store.IncidentQuery, heads bool) ([]store.IncidentHead, error) {
	ids, ordered, err := s.candidates(ctx, q)
	if err != nil {
		return nil, err
	}
	limit := q.EffectiveLimit()
	var out []store.IncidentHead
	const chunk = 200
	for i := 0; i < len(ids) && (!ordered || len(out) < limit); i += chunk {
		part := ids[i:min(i+chunk, len(ids))]
		hash := s.metaKey("incidents")
		if heads {
			hash = s.incidentIndexKey("heads")
		}
		vals, err := s.rdb.HMGet(ctx, hash, part...).Result()
		if err != nil {
			return nil, err
		}
		// An incident without a head of its own (few updates: the head is the incident) is read
		// from its document, all of them in one more call.
		var missing []string
		for j, v := range vals {
			if _, ok := v.(string); !ok && heads {
				missing = append(missing, part[j])
			}
		}
		docs := map[string]string{}
		if len(missing) > 0 {
			got, err := s.rdb.HMGet(ctx, s.metaKey("incidents"), missing...).Result()
			if err != nil {
				return nil, err
			}
			for j, v := range got {
				if doc, ok := v.(string); ok {
					docs[missing[j]] = doc
				}
			}
		}
		for j, v := range vals {
			raw, ok := v.(string)
			var h store.IncidentHead
			switch {
			case ok && heads:
				h, err = store.DecodeHead([]byte(raw))
			case ok:
				h.Incident, err = store.DecodeIncident([]byte(raw))
			case docs[part[j]] != "":
				var inc incidents.Incident
				inc, err = store.DecodeIncident([]byte(docs[part[j]]))
				h = store.HeadOf(inc)
			default:
				continue
			}
			if err != nil {
				return nil, err
			}
			if q.Matches(h.Incident) && (!ordered || len(out) < limit) {
				out = append(out, h)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b store.IncidentHead) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out[:min(len(out), limit)], nil
}

// ListIncidents returns incidents matching q, newest opened first.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error) {
	hs, err := s.listIncidents(ctx, q, false)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := make([]incidents.Incident, len(hs))
	for i, h := range hs {
		out[i] = h.Incident
	}
	return out, nil
}

// ListIncidentHeads returns the heads of the incidents matching q, newest opened first.
func (s *Store) ListIncidentHeads(ctx context.Context, q store.IncidentQuery) ([]store.IncidentHead, error) {
	hs, err := s.listIncidents(ctx, q, true)
	if err != nil {
		return nil, fmt.Errorf("list incident heads: %w", err)
	}
	return hs, nil
}

// IncidentSpans returns every incident opened before to that overlaps [from, to).
func (s *Store) IncidentSpans(ctx context.Context, from, to time.Time) ([]store.IncidentSpan, error) {
	ids, _, err := s.candidates(ctx, store.IncidentQuery{ActiveFrom: from})
	if err != nil {
		return nil, fmt.Errorf("incident spans: %w", err)
	}
	var out []store.IncidentSpan
	const chunk = 1000
	for i := 0; i < len(ids); i += chunk {
		vals, err := s.rdb.HMGet(ctx, s.incidentIndexKey("spans"), ids[i:min(i+chunk, len(ids))]...).Result()
		if err != nil {
			return nil, fmt.Errorf("incident spans: %w", err)
		}
		for _, v := range vals {
			raw, ok := v.(string)
			if !ok {
				continue
			}
			sp, err := store.DecodeSpan([]byte(raw))
			if err != nil {
				return nil, err
			}
			if sp.Overlaps(from, to) {
				out = append(out, sp)
			}
		}
	}
	return out, nil
}

// Daily status aggregates.

// A row is a member of the days key, scored by its day number:
// "<day>|<end status>|<last change ms>|<up ms>|<degraded ms>|<partial ms>|<major ms>|<unknown ms>".
func encodeDay(d store.StatusDay) string {
	t := d.Time
	return strings.Join([]string{strconv.FormatInt(store.DayNumber(d.Date), 10), string(d.End), strconv.FormatInt(store.Millis(d.LastAt), 10),
		strconv.FormatInt(t.Up.Milliseconds(), 10), strconv.FormatInt(t.Degraded.Milliseconds(), 10), strconv.FormatInt(t.Partial.Milliseconds(), 10),
		strconv.FormatInt(t.Major.Milliseconds(), 10), strconv.FormatInt(t.Unknown.Milliseconds(), 10)}, "|")
}

func decodeDay(raw string) (store.StatusDay, error) {
	f := strings.Split(raw, "|")
	if len(f) != 8 {
		return store.StatusDay{}, fmt.Errorf("decode status day %q", raw)
	}
	var n [7]int64
	for i, j := range []int{0, 2, 3, 4, 5, 6, 7} {
		v, err := strconv.ParseInt(f[j], 10, 64)
		if err != nil {
			return store.StatusDay{}, fmt.Errorf("decode status day %q: %w", raw, err)
		}
		n[i] = v
	}
	d := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	return store.StatusDay{Date: store.DateOfNumber(n[0]), End: component.Status(f[1]), LastAt: store.FromMillis(n[1]),
		Time: store.StatusTime{Up: d(n[2]), Degraded: d(n[3]), Partial: d(n[4]), Major: d(n[5]), Unknown: d(n[6])}}, nil
}

// readDays reads one component's rows of a span and its status before it, atomically: nothing
// ({0}) unless the rows were built in that zone.
var readDays = goredis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
local before = redis.call('ZREVRANGEBYSCORE', KEYS[3], '(' .. ARGV[3], '-inf', 'LIMIT', 0, 1)
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
return {1, before[1] or '', rows}
`)

// StatusDays returns each of q's components' status time per day of q's span: one script call
// per component, all in one pipeline; a component whose rows are not built in q's zone is read
// from its timeline instead.
func (s *Store) StatusDays(ctx context.Context, q store.DaysQuery) ([]store.ComponentDays, error) {
	span, zone := q.Span(), q.Location.String()
	first, last, start := store.DayNumber(q.First), store.DayNumber(q.Last), store.Millis(span.Start)
	run := func() ([]*goredis.Cmd, error) {
		cmds := make([]*goredis.Cmd, len(q.ComponentIDs))
		_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, id := range q.ComponentIDs {
				cmds[i] = readDays.EvalSha(ctx, p, []string{s.daysKey(id, zone), s.builtKey(id, zone), s.timelineKey(id)}, first, last, start)
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := run()
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		if err := readDays.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("status days: %w", err)
		}
		cmds, err = run()
	}
	if err != nil {
		return nil, fmt.Errorf("status days: %w", err)
	}
	out := make([]store.ComponentDays, len(q.ComponentIDs))
	for i, id := range q.ComponentIDs {
		cd := store.ComponentDays{ComponentID: id, Before: component.Unknown}
		res, _ := cmds[i].Slice()
		if len(res) != 3 {
			tl, err := s.StatusTimeline(ctx, id, span.Start, span.End)
			if err != nil {
				return nil, err
			}
			out[i] = store.DaysFromTimeline(id, tl, q)
			continue
		}
		if raw, _ := res[1].(string); raw != "" {
			ch, err := decodeChange(id, raw)
			if err != nil {
				return nil, err
			}
			cd.Before = ch.Status
		}
		rows, _ := res[2].([]any)
		for _, r := range rows {
			raw, _ := r.(string)
			d, err := decodeDay(raw)
			if err != nil {
				return nil, err
			}
			cd.Days = append(cd.Days, d)
		}
		out[i] = cd
	}
	return out, nil
}

// KeepStatusDays keeps the daily aggregates in loc: it records the zone, builds the rows of
// every component that has none in it yet, and drops the rows kept in another zone before. It
// also loads the script that reads them, so that the first page does not send its pipeline of
// calls twice (StatusDays loads it again after a NOSCRIPT, as after a Redis restart).
func (s *Store) KeepStatusDays(ctx context.Context, loc *time.Location) error {
	zone := loc.String()
	if err := readDays.Load(ctx, s.rdb).Err(); err != nil {
		return fmt.Errorf("keep status days in %s: %w", zone, err)
	}
	old, err := s.rdb.GetSet(ctx, s.metaKey("days:zone"), zone).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("keep status days in %s: %w", zone, err)
	}
	if err := s.buildMissingDays(ctx, loc); err != nil {
		return fmt.Errorf("keep status days in %s: %w", zone, err)
	}
	if old != "" && old != zone {
		keys, err := s.scan(ctx, s.prefix+":{c:*}:days:"+old+"*")
		if err != nil {
			return fmt.Errorf("keep status days in %s: %w", zone, err)
		}
		for _, k := range keys {
			if err := s.rdb.Del(ctx, k).Err(); err != nil {
				return fmt.Errorf("keep status days in %s: %w", zone, err)
			}
		}
	}
	return nil
}

// buildMissingDays builds the rows, in loc, of every component that has none built there.
func (s *Store) buildMissingDays(ctx context.Context, loc *time.Location) error {
	ids, err := s.rdb.HKeys(ctx, s.metaKey("components")).Result()
	if err != nil {
		return err
	}
	cmds := make([]*goredis.IntCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, s.builtKey(id, loc.String()))
		}
		return nil
	}); err != nil {
		return err
	}
	for i, id := range ids {
		if cmds[i].Val() == 0 {
			if err := s.buildDays(ctx, id, loc); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildDays makes a component's rows in loc from its whole timeline, under WATCH of it.
func (s *Store) buildDays(ctx context.Context, id string, loc *time.Location) error {
	tl, dk, bk := s.timelineKey(id), s.daysKey(id, loc.String()), s.builtKey(id, loc.String())
	for range 50 {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			all, err := tx.ZRangeWithScores(ctx, tl, 0, -1).Result()
			if err != nil {
				return err
			}
			changes, err := decodeTimeline(id, all)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Del(ctx, dk)
				for _, d := range store.DaysOf(changes, component.Unknown, loc) {
					p.ZAdd(ctx, dk, goredis.Z{Score: float64(store.DayNumber(d.Date)), Member: encodeDay(d)})
				}
				p.Set(ctx, bk, "1", 0)
				return nil
			})
			return err
		}, tl, dk, bk)
		if !errors.Is(err, goredis.TxFailedErr) {
			return err
		}
	}
	return fmt.Errorf("status days of %s: too much contention", id)
}

func decodeTimeline(id string, zs []goredis.Z) ([]component.Change, error) {
	out := make([]component.Change, 0, len(zs))
	for _, z := range zs {
		ch, err := decodeChange(id, z.Member.(string))
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// merge puts z into zs, ordered as Redis orders a sorted set: by score, then by member.
func merge(zs []goredis.Z, z goredis.Z) []goredis.Z {
	i, _ := slices.BinarySearchFunc(zs, z, func(a, b goredis.Z) int {
		if a.Score != b.Score {
			if a.Score < b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Member.(string), b.Member.(string))
	})
	return slices.Insert(zs, i, z)
}

// appendStatus adds a change to a component's timeline and, when daily aggregates are kept,
// rewrites the rows it changes (its day's, and the next row's) in the same MULTI/EXEC, under
// WATCH of the timeline and the rows. An identical change already stored is a no-op. The reads
// inside the WATCH go in one pipeline (two when there is a next row): a status change costs
// four or five round trips.
func (s *Store) appendStatus(ctx context.Context, ch component.Change) error {
	at := store.Millis(ch.At)
	z := goredis.Z{Score: float64(at), Member: string(store.MustJSON(storedChange{At: at, Status: string(ch.Status), Reason: ch.Reason}))}
	zone, err := s.rdb.Get(ctx, s.metaKey("days:zone")).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return err
	}
	tl := s.timelineKey(ch.ComponentID)
	if zone == "" {
		return s.addChange(ctx, s.rdb, ch.ComponentID, z).Err()
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("status days in %s: %w", zone, err)
	}
	id, dk, bk := ch.ComponentID, s.daysKey(ch.ComponentID, zone), s.builtKey(ch.ComponentID, zone)
	day := store.DayOf(ch.At, loc)
	done := false
	for attempt := 0; !done; attempt++ {
		if attempt == 50 {
			return errors.New("too much contention")
		}
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			var stored *goredis.FloatCmd
			var built *goredis.IntCmd
			var next *goredis.StringSliceCmd
			var reads dayReads
			if _, err := tx.Pipelined(ctx, func(p goredis.Pipeliner) error {
				stored = p.ZScore(ctx, tl, z.Member.(string))
				built = p.Exists(ctx, bk)
				reads = s.readDay(ctx, p, id, day, loc)
				next = p.ZRangeByScore(ctx, dk, &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(store.DayNumber(day), 10), Max: "+inf", Count: 1})
				return nil
			}); err != nil && !errors.Is(err, goredis.Nil) {
				return err
			}
			if stored.Err() == nil {
				return nil // stored already
			} else if !errors.Is(stored.Err(), goredis.Nil) {
				return stored.Err()
			}
			if err := cmp.Or(built.Err(), next.Err()); err != nil {
				return err
			}
			var rows []store.StatusDay // rows to write
			var rewrite []int64        // days whose rows are replaced (all when building)
			if built.Val() == 0 {
				all, err := tx.ZRangeWithScores(ctx, tl, 0, -1).Result()
				if err != nil {
					return err
				}
				changes, err := decodeTimeline(id, merge(all, z))
				if err != nil {
					return err
				}
				rows = store.DaysOf(changes, component.Unknown, loc)
			} else {
				row, err := reads.row(id, z)
				if err != nil {
					return err
				}
				rows, rewrite = append(rows, row...), append(rewrite, store.DayNumber(day))
				if len(next.Val()) == 1 {
					nd, err := decodeDay(next.Val()[0])
					if err != nil {
						return err
					}
					var nextReads dayReads
					if _, err := tx.Pipelined(ctx, func(p goredis.Pipeliner) error {
						nextReads = s.readDay(ctx, p, id, nd.Date, loc)
						return nil
					}); err != nil {
						return err
					}
					row, err := nextReads.row(id, z)
					if err != nil {
						return err
					}
					rows, rewrite = append(rows, row...), append(rewrite, store.DayNumber(nd.Date))
				}
			}
			_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				s.addChange(ctx, p, id, z)
				if built.Val() == 0 {
					p.Del(ctx, dk)
					p.Set(ctx, bk, "1", 0)
				}
				for _, n := range rewrite {
					p.ZRemRangeByScore(ctx, dk, strconv.FormatInt(n, 10), strconv.FormatInt(n, 10))
				}
				for _, r := range rows {
					p.ZAdd(ctx, dk, goredis.Z{Score: float64(store.DayNumber(r.Date)), Member: encodeDay(r)})
				}
				return nil
			})
			return err
		}, tl, dk, bk)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if err != nil {
			return err
		}
		done = true
	}
	// Another instance may have moved the aggregates to another zone meanwhile, and built this
	// component's rows there without this change: build them again.
	if now, err := s.rdb.Get(ctx, s.metaKey("days:zone")).Result(); err == nil && now != zone {
		if loc, err := time.LoadLocation(now); err == nil {
			return s.buildDays(ctx, id, loc)
		}
	}
	return nil
}

// dayReads are the reads queued for one day's row: the timeline's last change before the day
// and its changes in the day.
type dayReads struct {
	q              store.DaysQuery
	before, inside *goredis.ZSliceCmd
}

func (s *Store) readDay(ctx context.Context, p goredis.Pipeliner, id string, day calendar.Date, loc *time.Location) dayReads {
	q := store.DaysQuery{Location: loc, First: day, Last: day}
	span := q.Span()
	from, to := strconv.FormatInt(store.Millis(span.Start), 10), strconv.FormatInt(store.Millis(span.End), 10)
	return dayReads{q: q,
		before: p.ZRevRangeByScoreWithScores(ctx, s.timelineKey(id), &goredis.ZRangeBy{Max: "(" + from, Min: "-inf", Count: 1}),
		inside: p.ZRangeByScoreWithScores(ctx, s.timelineKey(id), &goredis.ZRangeBy{Min: from, Max: "(" + to})}
}

// row makes the day's row from what was read, with z added (a change not stored yet): nothing
// if the day holds no change.
func (dr dayReads) row(id string, z goredis.Z) ([]store.StatusDay, error) {
	if err := cmp.Or(dr.before.Err(), dr.inside.Err()); err != nil {
		return nil, err
	}
	span := dr.q.Span()
	zs := append(slices.Clone(dr.before.Val()), dr.inside.Val()...)
	if int64(z.Score) < store.Millis(span.End) {
		zs = merge(zs, z)
		if int64(z.Score) < store.Millis(span.Start) { // keep only the last change before the day
			i := 0
			for i+1 < len(zs) && int64(zs[i+1].Score) < store.Millis(span.Start) {
				i++
			}
			zs = zs[i:]
		}
	}
	changes, err := decodeTimeline(id, zs)
	if err != nil {
		return nil, err
	}
	return store.DaysFromTimeline(id, changes, dr.q).Days, nil
}

// importedDays builds the aggregates of imported timelines, if a zone is kept.
func (s *Store) importedDays(ctx context.Context) error {
	zone, err := s.rdb.Get(ctx, s.metaKey("days:zone")).Result()
	if errors.Is(err, goredis.Nil) || zone == "" {
		return nil
	}
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("status days in %s: %w", zone, err)
	}
	return s.buildMissingDays(ctx, loc)
}
