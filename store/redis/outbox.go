package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/store"
)

// Notifications: the journal, the outbox and the dispatcher's lease (docs/storage.md has the
// keys). Everything lives under the {meta} hash tag: an audited change appends its event to
// the journal inside the change's own MULTI/EXEC, and an operator's change of a notification
// commits with its audit entry, so both must share the audit log's slot. On a Cluster these
// keys live on one node; the outbox is a queue of small records pruned after a retention.
//
// The journal's sequence number is taken inside a script run at EXEC time, so Seq follows
// commit order and a reader paging by Seq never misses an entry committed late (an INCR
// before MULTI would let a writer that drew 10 commit after one that drew 11).

var (
	_ store.Journal = (*Store)(nil)
	_ store.Outbox  = (*Store)(nil)
	_ store.Leases  = (*Store)(nil)
)

func (s *Store) journalKey() string        { return s.metaKey("journal") }
func (s *Store) journalSeqKey() string     { return s.metaKey("journal:seq") }
func (s *Store) journalIDsKey() string     { return s.metaKey("journal:ids") }
func (s *Store) journalCursorsKey() string { return s.metaKey("journal:cursors") }
func (s *Store) notificationPrefix() string {
	return s.metaKey("ntf:")
}
func (s *Store) notificationKey(id string) string { return s.notificationPrefix() + id }
func (s *Store) dedupPrefix() string              { return s.metaKey("outbox:dedup:") }
func (s *Store) outboxKeys() []string {
	return []string{s.metaKey("outbox:due"), s.metaKey("outbox:created"), s.metaKey("outbox:waiting"),
		s.metaKey("outbox:finished"), s.metaKey("outbox:counts")}
}
func (s *Store) notifyLeaseKey(name string) string { return s.metaKey("notify-lease:" + name) }

// journalAppend appends one entry unless its id is there: KEYS journal, seq, ids; ARGV id,
// entry. Returns the new Seq, or 0 when the id was there.
const journalAppend = `
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], seq)
return seq`

var journalAppendScript = goredis.NewScript(journalAppend)

func (s *Store) journalScriptKeys() []string {
	return []string{s.journalKey(), s.journalSeqKey(), s.journalIDsKey()}
}

// encodeJournal is an entry as the journal's sorted set keeps it (its Seq is the score).
func encodeJournal(e store.JournalEntry) string {
	e = store.NormalizeJournalEntry(e)
	e.Seq = 0
	return string(store.MustJSON(e))
}

// journalInTx queues the append of e in a MULTI/EXEC (EVAL, not EVALSHA: a missing script
// inside a transaction would fail alone while the rest commits).
func (s *Store) journalInTx(ctx context.Context, p goredis.Pipeliner, e store.JournalEntry) {
	p.Eval(ctx, journalAppend, s.journalScriptKeys(), e.ID, encodeJournal(e))
}

// AppendEvents appends the events not in the journal yet.
func (s *Store) AppendEvents(ctx context.Context, es []store.JournalEntry) error {
	for _, e := range es {
		if err := journalAppendScript.Run(ctx, s.rdb, s.journalScriptKeys(), e.ID, encodeJournal(e)).Err(); err != nil {
			return fmt.Errorf("journal event %s: %w", e.ID, err)
		}
	}
	return nil
}

// ReadJournal returns up to limit entries after seq, in order.
func (s *Store) ReadJournal(ctx context.Context, after int64, limit int) ([]store.JournalEntry, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.journalKey(), &goredis.ZRangeBy{Min: "(" + strconv.FormatInt(after, 10), Max: "+inf", Count: int64(max(limit, 1))}).Result()
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	out := make([]store.JournalEntry, 0, len(zs))
	for _, z := range zs {
		var e store.JournalEntry
		if err := json.Unmarshal([]byte(z.Member.(string)), &e); err != nil {
			return nil, fmt.Errorf("decode journal entry: %w", err)
		}
		e.Seq = int64(z.Score)
		out = append(out, store.NormalizeJournalEntry(e))
	}
	return out, nil
}

// JournalCursor returns a reader's position (0 if none).
func (s *Store) JournalCursor(ctx context.Context, name string) (int64, error) {
	seq, err := s.rdb.HGet(ctx, s.journalCursorsKey(), name).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("journal cursor %s: %w", name, err)
	}
	return seq, nil
}

// SetJournalCursor stores a reader's position.
func (s *Store) SetJournalCursor(ctx context.Context, name string, seq int64) error {
	if err := s.rdb.HSet(ctx, s.journalCursorsKey(), name, seq).Err(); err != nil {
		return fmt.Errorf("set journal cursor %s: %w", name, err)
	}
	return nil
}

// PruneJournal deletes old entries a reader has passed, a chunk at a time.
func (s *Store) PruneJournal(ctx context.Context, upTo int64, cutoff time.Time) (int, error) {
	const chunk = 500
	deleted := 0
	from := "-inf"
	for {
		zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.journalKey(), &goredis.ZRangeBy{Min: from, Max: strconv.FormatInt(upTo, 10), Count: chunk}).Result()
		if err != nil {
			return deleted, fmt.Errorf("prune journal: %w", err)
		}
		var members []any
		var ids []string
		for _, z := range zs {
			var e store.JournalEntry
			if err := json.Unmarshal([]byte(z.Member.(string)), &e); err != nil {
				return deleted, fmt.Errorf("decode journal entry: %w", err)
			}
			if store.Millis(e.At) < store.Millis(cutoff) {
				members, ids = append(members, z.Member), append(ids, e.ID)
			}
		}
		if len(members) > 0 {
			_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.ZRem(ctx, s.journalKey(), members...)
				p.HDel(ctx, s.journalIDsKey(), ids...)
				return nil
			})
			if err != nil {
				return deleted, fmt.Errorf("prune journal: %w", err)
			}
			deleted += len(members)
		}
		if len(zs) < chunk {
			return deleted, nil
		}
		from = "(" + strconv.FormatInt(int64(zs[len(zs)-1].Score), 10)
	}
}

// Outbox. Each notification is a hash at ntf:<id>: doc (what does not change: the JSON of the
// notification as enqueued) and its delivery fields (state, attempts, next, updated, delivered,
// error, version, created; times as Unix ms), so the scripts change a notification without
// parsing JSON. Indexes: outbox:due (pending and sending, by next try), outbox:created (all,
// by creation), outbox:waiting (pending and sending, by creation: the oldest for the metrics),
// outbox:finished (delivered, dead and cancelled, by last change: for pruning), and
// outbox:counts (notifications per state).

// outboxMove is the Lua that stores a notification's delivery fields and keeps the indexes:
// KEYS due, created, waiting, finished, counts.
const outboxMove = `
local function move(k, id, st, attempts, nxt, updated, delivered, err, version)
  local old = redis.call('HGET', k, 'state')
  local created = redis.call('HGET', k, 'created')
  redis.call('HSET', k, 'state', st, 'attempts', attempts, 'next', nxt, 'updated', updated, 'delivered', delivered, 'error', err, 'version', version)
  if old then redis.call('HINCRBY', KEYS[5], old, -1) end
  redis.call('HINCRBY', KEYS[5], st, 1)
  if st == 'pending' or st == 'sending' then
    redis.call('ZADD', KEYS[1], nxt, id)
    redis.call('ZADD', KEYS[3], created, id)
    redis.call('ZREM', KEYS[4], id)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZADD', KEYS[4], updated, id)
  end
end
`

// outboxEnqueue: ARGV notification prefix, dedup prefix, then per notification id, doc,
// created, dedup key and the delivery fields.
var outboxEnqueue = goredis.NewScript(outboxMove + `
local added = 0
local i = 3
while i <= #ARGV do
  local id = ARGV[i]
  local k = ARGV[1] .. id
  if redis.call('EXISTS', k) == 0 then
    redis.call('HSET', k, 'doc', ARGV[i+1], 'created', ARGV[i+2], 'dedup', ARGV[i+3])
    redis.call('ZADD', KEYS[2], ARGV[i+2], id)
    if ARGV[i+3] ~= '' then redis.call('SADD', ARGV[2] .. ARGV[i+3], id) end
    move(k, id, ARGV[i+4], ARGV[i+5], ARGV[i+6], ARGV[i+7], ARGV[i+8], ARGV[i+9], ARGV[i+10])
    added = added + 1
  end
  i = i + 11
end
return added`)

// outboxClaim: ARGV prefix, now, until, limit. Returns each claimed notification's hash.
var outboxClaim = goredis.NewScript(outboxMove + `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local k = ARGV[1] .. id
  local f = redis.call('HMGET', k, 'attempts', 'delivered', 'error', 'version')
  move(k, id, 'sending', tonumber(f[1]) + 1, ARGV[3], ARGV[2], f[2], f[3], tonumber(f[4]) + 1)
  table.insert(out, redis.call('HGETALL', k))
end
return out`)

// outboxFinish: ARGV key, id, expected version, then the delivery fields. Returns "ok",
// "missing" or "conflict".
const outboxFinishSrc = outboxMove + `
if redis.call('EXISTS', ARGV[1]) == 0 then return 'missing' end
if redis.call('HGET', ARGV[1], 'version') ~= ARGV[3] then return 'conflict' end
move(ARGV[1], ARGV[2], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return 'ok'`

var outboxFinish = goredis.NewScript(outboxFinishSrc)

// outboxPrune: ARGV notification prefix, dedup prefix, then ids. Deletes each finished
// notification and its index entries.
var outboxPrune = goredis.NewScript(`
local n = 0
for i = 3, #ARGV do
  local k = ARGV[1] .. ARGV[i]
  local st = redis.call('HGET', k, 'state')
  if st == 'delivered' or st == 'dead' or st == 'cancelled' then
    local dedup = redis.call('HGET', k, 'dedup')
    if dedup and dedup ~= '' then redis.call('SREM', ARGV[2] .. dedup, ARGV[i]) end
    redis.call('DEL', k)
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('ZREM', KEYS[4], ARGV[i])
    redis.call('HINCRBY', KEYS[5], st, -1)
    n = n + 1
  end
end
return n`)

// deliveryArgs are n's delivery fields in the order the scripts take them.
func deliveryArgs(n store.Notification) []any {
	return []any{string(n.State), n.Attempts, store.Millis(n.NextAt), store.Millis(n.UpdatedAt), store.Millis(n.DeliveredAt), n.LastError, n.Version}
}

// fromHash reads a notification from its hash's fields.
func fromHash(m map[string]string) (store.Notification, error) {
	n, err := store.DecodeNotification([]byte(m["doc"]))
	if err != nil {
		return n, err
	}
	num := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	n.State, n.Attempts, n.LastError, n.Version = store.NotificationState(m["state"]), int(num("attempts")), m["error"], int(num("version"))
	n.CreatedAt, n.NextAt, n.UpdatedAt, n.DeliveredAt = store.FromMillis(num("created")), store.FromMillis(num("next")), store.FromMillis(num("updated")), store.FromMillis(num("delivered"))
	return n, nil
}

// pairs turns a flat HGETALL reply into a map.
func pairs(v any) map[string]string {
	flat, _ := v.([]any)
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		k, _ := flat[i].(string)
		val, _ := flat[i+1].(string)
		m[k] = val
	}
	return m
}

// EnqueueNotifications stores the notifications not stored yet, a chunk per script run.
func (s *Store) EnqueueNotifications(ctx context.Context, ns []store.Notification) (int, error) {
	const chunk = 200
	added := 0
	for i := 0; i < len(ns); i += chunk {
		args := []any{s.notificationPrefix(), s.dedupPrefix()}
		for _, n := range ns[i:min(i+chunk, len(ns))] {
			n = store.NormalizeNotification(n)
			args = append(args, n.ID, string(store.EncodeNotification(n)), store.Millis(n.CreatedAt), n.DedupKey)
			args = append(args, deliveryArgs(n)...)
		}
		got, err := outboxEnqueue.Run(ctx, s.rdb, s.outboxKeys(), args...).Int()
		if err != nil {
			return added, fmt.Errorf("enqueue notifications: %w", err)
		}
		added += got
	}
	return added, nil
}

// ClaimNotifications takes what is due, atomically.
func (s *Store) ClaimNotifications(ctx context.Context, now, until time.Time, limit int) ([]store.Notification, error) {
	res, err := outboxClaim.Run(ctx, s.rdb, s.outboxKeys(), s.notificationPrefix(), store.Millis(now), store.Millis(until), max(limit, 1)).Slice()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	out := make([]store.Notification, 0, len(res))
	for _, r := range res {
		n, err := fromHash(pairs(r))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func finishResult(id, res string) error {
	switch res {
	case "ok":
		return nil
	case "missing":
		return fmt.Errorf("notification %s: %w", id, store.ErrNotFound)
	default:
		return fmt.Errorf("notification %s changed since it was read: %w", id, store.ErrConflict)
	}
}

func (s *Store) finishArgs(n store.Notification) []any {
	n = store.NormalizeNotification(n)
	return append([]any{s.notificationKey(n.ID), n.ID, strconv.Itoa(n.Version - 1)}, deliveryArgs(n)...)
}

// FinishNotification records an attempt's outcome if no one changed the notification meanwhile.
func (s *Store) FinishNotification(ctx context.Context, n store.Notification) error {
	res, err := outboxFinish.Run(ctx, s.rdb, s.outboxKeys(), s.finishArgs(n)...).Text()
	if err != nil {
		return fmt.Errorf("finish notification %s: %w", n.ID, err)
	}
	return finishResult(n.ID, res)
}

// ChangeNotification records an operator's change with its audit entry in one MULTI/EXEC,
// under WATCH of the notification (its stored value is the entry's Before).
func (s *Store) ChangeNotification(ctx context.Context, n store.Notification, a store.AuditEntry) error {
	key := s.notificationKey(n.ID)
	for range 50 {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			m, err := tx.HGetAll(ctx, key).Result()
			if err != nil {
				return err
			}
			if len(m) == 0 {
				return fmt.Errorf("notification %s: %w", n.ID, store.ErrNotFound)
			}
			old, err := fromHash(m)
			if err != nil {
				return err
			}
			if old.Version != n.Version-1 {
				return fmt.Errorf("notification %s changed since it was read: %w", n.ID, store.ErrConflict)
			}
			id, err := tx.Incr(ctx, s.metaKey("audit:seq")).Result()
			if err != nil {
				return err
			}
			a.ID, a.Before = id, store.MustJSON(old)
			entry, err := encodeAudit(a)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.Eval(ctx, outboxFinishSrc, s.outboxKeys(), s.finishArgs(n)...)
				p.ZAdd(ctx, s.metaKey("audit"), goredis.Z{Score: float64(id), Member: entry})
				if a.Event != nil {
					s.journalInTx(ctx, p, *a.Event)
				}
				return nil
			})
			return err
		}, key)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if err != nil {
			return fmt.Errorf("change notification %s: %w", n.ID, err)
		}
		return nil
	}
	return fmt.Errorf("redis: notification %s: too much contention", n.ID)
}

// GetNotification returns one notification.
func (s *Store) GetNotification(ctx context.Context, id string) (store.Notification, error) {
	m, err := s.rdb.HGetAll(ctx, s.notificationKey(id)).Result()
	if err != nil {
		return store.Notification{}, fmt.Errorf("get notification %s: %w", id, err)
	}
	if len(m) == 0 {
		return store.Notification{}, fmt.Errorf("notification %s: %w", id, store.ErrNotFound)
	}
	return fromHash(m)
}

// ListNotifications walks the creation index newest first, in chunks, keeping what matches q;
// by dedup key it reads that key's set.
func (s *Store) ListNotifications(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	if q.DedupKey != "" {
		return s.listByDedup(ctx, q)
	}
	const chunk = 500
	limit := q.EffectiveLimit()
	maxScore := "+inf"
	if !q.Before.IsZero() {
		maxScore = "(" + strconv.FormatInt(store.Millis(q.Before), 10)
	}
	var out []store.Notification
	for offset := int64(0); len(out) < limit; offset += chunk {
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.outboxKeys()[1], &goredis.ZRangeBy{Max: maxScore, Min: "-inf", Offset: offset, Count: chunk}).Result()
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		ns, err := s.readNotifications(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		for _, n := range ns {
			if q.Matches(n) && len(out) < limit {
				out = append(out, n)
			}
		}
		if len(ids) < chunk {
			break
		}
	}
	return out, nil
}

func (s *Store) readNotifications(ctx context.Context, ids []string) ([]store.Notification, error) {
	cmds := make([]*goredis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.notificationKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Notification, 0, len(ids))
	for _, cmd := range cmds {
		if len(cmd.Val()) == 0 {
			continue // pruned meanwhile
		}
		n, err := fromHash(cmd.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (s *Store) listByDedup(ctx context.Context, q store.NotificationQuery) ([]store.Notification, error) {
	ids, err := s.rdb.SMembers(ctx, s.dedupPrefix()+q.DedupKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	all, err := s.readNotifications(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out := slices.DeleteFunc(all, func(n store.Notification) bool { return !q.Matches(n) })
	slices.SortFunc(out, func(a, b store.Notification) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out[:min(len(out), q.EffectiveLimit())], nil
}

// OutboxStats reads the counts and the oldest waiting notification.
func (s *Store) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	st := store.OutboxStats{ByState: map[store.NotificationState]int{}}
	keys := s.outboxKeys()
	var counts *goredis.MapStringStringCmd
	var oldest *goredis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		counts = p.HGetAll(ctx, keys[4])
		oldest = p.ZRangeWithScores(ctx, keys[2], 0, 0)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	for state, v := range counts.Val() {
		if n, _ := strconv.Atoi(v); n > 0 {
			st.ByState[store.NotificationState(state)] = n
		}
	}
	if z := oldest.Val(); len(z) > 0 {
		st.OldestWaiting = store.FromMillis(int64(z[0].Score))
	}
	return st, nil
}

// PruneNotifications deletes finished notifications last changed before cutoff.
func (s *Store) PruneNotifications(ctx context.Context, cutoff time.Time) (int, error) {
	const chunk = 500
	deleted := 0
	for {
		ids, err := s.rdb.ZRangeByScore(ctx, s.outboxKeys()[3], &goredis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(store.Millis(cutoff), 10), Count: chunk}).Result()
		if err != nil {
			return deleted, fmt.Errorf("prune notifications: %w", err)
		}
		if len(ids) == 0 {
			return deleted, nil
		}
		args := []any{s.notificationPrefix(), s.dedupPrefix()}
		for _, id := range ids {
			args = append(args, id)
		}
		n, err := outboxPrune.Run(ctx, s.rdb, s.outboxKeys(), args...).Int()
		if err != nil {
			return deleted, fmt.Errorf("prune notifications: %w", err)
		}
		deleted += n
		if len(ids) < chunk {
			return deleted, nil
		}
	}
}

// The dispatcher's lease: a hash of holder, token and expiry (Unix ms by the instances'
// clocks, passed in), changed by one script.
var notifyLease = goredis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'holder', 'token', 'expires')
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local holder, token, expires = h[1], tonumber(h[2] or '0'), tonumber(h[3] or '0')
if holder and holder == ARGV[1] and now < expires then
  redis.call('HSET', KEYS[1], 'expires', now + ttl)
  return {1, holder, token, now + ttl}
end
if not holder or now >= expires then
  redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', token + 1, 'expires', now + ttl)
  return {1, ARGV[1], token + 1, now + ttl}
end
return {0, holder, token, expires}`)

// AcquireLease takes, renews or refuses the lease atomically.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (store.Lease, bool, error) {
	res, err := notifyLease.Run(ctx, s.rdb, []string{s.notifyLeaseKey(name)}, holder, store.Millis(now), ttl.Milliseconds()).Slice()
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	if len(res) != 4 {
		return store.Lease{}, false, fmt.Errorf("acquire lease %s: unexpected reply %v", name, res)
	}
	held, _ := res[0].(int64)
	h, _ := res[1].(string)
	token, _ := res[2].(int64)
	expires, _ := res[3].(int64)
	return store.Lease{Name: name, Holder: h, Token: token, Expires: store.FromMillis(expires)}, held == 1, nil
}

// ReleaseLease ends holder's lease.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	const release = `if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then redis.call('HSET', KEYS[1], 'expires', 0) end return 0`
	if err := s.rdb.Eval(ctx, release, []string{s.notifyLeaseKey(name)}, holder).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
