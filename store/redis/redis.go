// Package redis is the shared store for several Upstate instances, on go-redis's UniversalClient
// (single node, Sentinel or Cluster). docs/storage.md documents every key.
//
// Cluster: keys that one transaction touches share a hash tag. Small metadata (components, keys,
// the audit log) lives under the {meta} tag so a change and its audit entry commit together in
// one MULTI/EXEC; time series live under one tag per component ({c:<id>}) or monitor ({m:<id>}),
// so they spread over the cluster.
//
// Durability: a write is acknowledged once Redis has it in memory; run Redis with
// appendonly yes and appendfsync everysec (at most about a second of writes lost if the Redis
// host crashes) or always (none lost). A crash of an Upstate process loses nothing it acknowledged.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
	"github.com/upstate-dev/upstate/store"
)

// SchemaVersion is the key layout version this build writes, kept at <prefix>:{meta}:schema.
//
// 2: the current-status hash (statusnow.go), filled from the timelines when a version 1 store
// is opened.
const SchemaVersion = 2

// Store is the Redis backend.
type Store struct {
	rdb    goredis.UniversalClient
	prefix string
	// indexed remembers the rollup index entries this store wrote lately (AddRollups).
	indexed *indexMemo
	// totals remembers what this store wrote into each rollup bucket lately (AddRollups).
	totals *rollupTotals
	// cluster: a Redis Cluster, where no script may touch two hash tags (statusnow.go).
	cluster bool
	// decoded remembers the components listed last, by their stored text (ListComponents).
	decoded *componentMemo
}

var _ store.Store = (*Store)(nil)

// Options configure the connection.
type Options struct {
	Addrs      []string // one address: single node; several: Cluster (or Sentinels with MasterName)
	MasterName string   // Sentinel master name
	Username   string
	Password   string
	DB         int
	Cluster    bool   // force Cluster mode with a single seed address
	KeyPrefix  string // default "upstate"
}

// Open connects, checks the server answers and the key layout's version, and records it.
func Open(ctx context.Context, o Options) (*Store, error) {
	rdb := goredis.NewUniversalClient(&goredis.UniversalOptions{
		Addrs:         o.Addrs,
		MasterName:    o.MasterName,
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		IsClusterMode: o.Cluster,
	})
	s, err := New(ctx, rdb, o.KeyPrefix)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return s, nil
}

// New wraps an existing client. The store closes it on Close.
func New(ctx context.Context, rdb goredis.UniversalClient, prefix string) (*Store, error) {
	if prefix == "" {
		prefix = "upstate"
	}
	rdb.AddHook(unavailableHook{}) // unavailable.go: connection failures become store.ErrUnavailable
	s := &Store{rdb: rdb, prefix: prefix, indexed: &indexMemo{seen: map[indexEntry]uint64{}}, totals: newRollupTotals(),
		decoded: &componentMemo{byText: map[string]component.Component{}}}
	_, s.cluster = rdb.(*goredis.ClusterClient)
	if err := rdb.SetNX(ctx, s.metaKey("schema"), SchemaVersion, 0).Err(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	v, err := rdb.Get(ctx, s.metaKey("schema")).Int()
	if err != nil {
		return nil, fmt.Errorf("redis: read schema version: %w", err)
	}
	if v > SchemaVersion {
		return nil, fmt.Errorf("redis: key layout version %d is newer than this build's %d", v, SchemaVersion)
	}
	if v < 2 { // version 2 added the current-status hash (statusnow.go)
		if err := s.copyAllStatuses(ctx); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		if err := rdb.Set(ctx, s.metaKey("schema"), SchemaVersion, 0).Err(); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
	}
	if err := s.indexExisting(ctx); err != nil { // incidents stored before their indexes (pagereads.go)
		return nil, fmt.Errorf("redis: %w", err)
	}
	return s, nil
}

func (s *Store) metaKey(name string) string { return s.prefix + ":{meta}:" + name }
func (s *Store) timelineKey(componentID string) string {
	return s.prefix + ":{c:" + componentID + "}:timeline"
}
func (s *Store) transitionsKey(monitorID string) string {
	return s.prefix + ":{m:" + monitorID + "}:transitions"
}
func (s *Store) rollupIndexKey(monitorID string, res probe.Resolution) string {
	return s.prefix + ":{m:" + monitorID + "}:rollups:" + string(res)
}
func (s *Store) rollupKey(monitorID string, res probe.Resolution, startMs int64) string {
	return s.prefix + ":{m:" + monitorID + "}:rollup:" + string(res) + ":" + strconv.FormatInt(startMs, 10)
}

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// Close closes the client.
func (s *Store) Close() error { return s.rdb.Close() }

// mutateMeta runs a read-check-write on one field of a {meta} hash under WATCH, writing the
// audit entry in the same MULTI/EXEC. check gets the current value ("" and false if absent) and
// returns the new value ("" deletes the field) or an error that aborts without writing.
// also queue further writes into the same MULTI/EXEC (an incident's indexes, say).
func (s *Store) mutateMeta(ctx context.Context, hash, field string, a store.AuditEntry,
	check func(old string, exists bool) (newValue string, before json.RawMessage, err error), also ...func(p goredis.Pipeliner)) error {
	hashKey := s.metaKey(hash)
	const retries = 50
	for range retries {
		err := s.rdb.Watch(ctx, func(tx *goredis.Tx) error {
			old, err := tx.HGet(ctx, hashKey, field).Result()
			exists := err == nil
			if err != nil && !errors.Is(err, goredis.Nil) {
				return err
			}
			newValue, before, err := check(old, exists)
			if err != nil {
				return err
			}
			id, err := tx.Incr(ctx, s.metaKey("audit:seq")).Result()
			if err != nil {
				return err
			}
			a.ID, a.Before = id, before
			entry, err := encodeAudit(a)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
				if newValue == "" {
					p.HDel(ctx, hashKey, field)
				} else {
					p.HSet(ctx, hashKey, field, newValue)
				}
				p.ZAdd(ctx, s.metaKey("audit"), goredis.Z{Score: float64(id), Member: entry})
				if a.Event != nil {
					s.journalInTx(ctx, p, *a.Event) // the change's event, in its transaction
				}
				for _, fn := range also {
					fn(p)
				}
				return nil
			})
			return err
		}, hashKey)
		if errors.Is(err, goredis.TxFailedErr) {
			continue // another writer changed the hash; read again
		}
		return markUnavailable(err) // a Cluster runs WATCH on a node's own client, outside the hook
	}
	return fmt.Errorf("redis: %s %s: too much contention", hash, field)
}

// Components.

// storedComponent is a component as kept in Redis: without its status, which the timeline holds.
type storedComponent struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	GroupID     string `json:"group_id"`
	IsGroup     bool   `json:"group"`
	Position    int    `json:"position"`
	Source      string `json:"source"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
	Visibility  string `json:"visibility,omitempty"` // absent: public
}

func toStored(c component.Component) storedComponent {
	return storedComponent{ID: c.ID, Name: c.Name, Description: c.Description, GroupID: c.GroupID, IsGroup: c.IsGroup,
		Position: c.Position, Source: string(c.Source), CreatedAt: store.Millis(c.CreatedAt), UpdatedAt: store.Millis(c.UpdatedAt),
		Visibility: string(c.Visibility)}
}

func (sc storedComponent) component() component.Component {
	return component.Component{ID: sc.ID, Name: sc.Name, Description: sc.Description, GroupID: sc.GroupID, IsGroup: sc.IsGroup,
		Position: sc.Position, Source: component.Source(sc.Source), Visibility: component.Visibility(sc.Visibility), Status: component.Unknown,
		CreatedAt: store.FromMillis(sc.CreatedAt), UpdatedAt: store.FromMillis(sc.UpdatedAt)}
}

func decodeComponent(raw string) (component.Component, error) {
	var sc storedComponent
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return component.Component{}, fmt.Errorf("decode component: %w", err)
	}
	return sc.component(), nil
}

// ListComponents returns all components by position, then id.
func (s *Store) ListComponents(ctx context.Context) ([]component.Component, error) {
	all, err := s.rdb.HGetAll(ctx, s.metaKey("components")).Result()
	if err != nil {
		return nil, fmt.Errorf("list components: %w", err)
	}
	out, err := s.decoded.decode(all)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b component.Component) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return strings.Compare(a.ID, b.ID)
	})
	if err := s.withStatus(ctx, out); err != nil {
		return nil, fmt.Errorf("list components: %w", err)
	}
	return out, nil
}

// GetComponent returns one component.
func (s *Store) GetComponent(ctx context.Context, id string) (component.Component, error) {
	raw, err := s.rdb.HGet(ctx, s.metaKey("components"), id).Result()
	if errors.Is(err, goredis.Nil) {
		return component.Component{}, fmt.Errorf("component %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return component.Component{}, fmt.Errorf("get component %s: %w", id, err)
	}
	c, err := decodeComponent(raw)
	if err != nil {
		return c, err
	}
	cs := []component.Component{c}
	if err := s.withStatus(ctx, cs); err != nil {
		return c, fmt.Errorf("get component %s: %w", id, err)
	}
	return cs[0], nil
}

// componentMemo keeps the components decoded by the last list, by their stored text: a list
// decodes only what changed since (at 10,000 components, decoding each one's JSON took about
// 40 ms of every page render; issue #14). It holds what the last list held, no more.
type componentMemo struct {
	mu     sync.Mutex
	byText map[string]component.Component
}

// decode returns the components of a HGETALL of the components hash, in no order.
func (m *componentMemo) decode(all map[string]string) ([]component.Component, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]component.Component, 0, len(all))
	next := make(map[string]component.Component, len(all))
	for _, raw := range all {
		c, ok := m.byText[raw]
		if !ok {
			var err error
			if c, err = decodeComponent(raw); err != nil {
				return nil, err
			}
		}
		next[raw] = c
		out = append(out, c)
	}
	m.byText = next
	return out, nil
}

// publicJSON is the component as the audit log shows it (the same shape SQLite records).
func (s *Store) publicJSON(ctx context.Context, raw string) (json.RawMessage, error) {
	c, err := decodeComponent(raw)
	if err != nil {
		return nil, err
	}
	cs := []component.Component{c}
	if err := s.withStatus(ctx, cs); err != nil {
		return nil, err
	}
	return store.MustJSON(cs[0]), nil
}

// CreateComponent stores a new component with its audit entry.
func (s *Store) CreateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error {
	value := string(store.MustJSON(toStored(c)))
	return s.mutateMeta(ctx, "components", c.ID, a, func(_ string, exists bool) (string, json.RawMessage, error) {
		if exists {
			return "", nil, fmt.Errorf("component %s: %w", c.ID, store.ErrConflict)
		}
		return value, store.Null, nil
	}, func(p goredis.Pipeliner) { s.copyStatus(ctx, p, c.ID) }) // a timeline outlives a delete
}

// UpdateComponent replaces a component's fields with its audit entry.
func (s *Store) UpdateComponent(ctx context.Context, c component.Component, a store.AuditEntry) error {
	return s.mutateMeta(ctx, "components", c.ID, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("component %s: %w", c.ID, store.ErrNotFound)
		}
		var prev storedComponent
		if err := json.Unmarshal([]byte(old), &prev); err != nil {
			return "", nil, fmt.Errorf("decode component %s: %w", c.ID, err)
		}
		next := toStored(c)
		next.CreatedAt = prev.CreatedAt
		before, err := s.publicJSON(ctx, old)
		return string(store.MustJSON(next)), before, err
	})
}

// DeleteComponent removes a component with its audit entry; its timeline stays.
func (s *Store) DeleteComponent(ctx context.Context, id string, a store.AuditEntry) error {
	return s.mutateMeta(ctx, "components", id, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("component %s: %w", id, store.ErrNotFound)
		}
		before, err := s.publicJSON(ctx, old)
		return "", before, err
	}, func(p goredis.Pipeliner) { p.HDel(ctx, s.statusNowKey(), id) })
}

// Timelines.

type storedChange struct {
	At     int64  `json:"at"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func decodeChange(componentID, raw string) (component.Change, error) {
	var sc storedChange
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		return component.Change{}, fmt.Errorf("decode status change of %s: %w", componentID, err)
	}
	return component.Change{ComponentID: componentID, At: store.FromMillis(sc.At), Status: component.Status(sc.Status), Reason: sc.Reason}, nil
}

// AppendStatus adds a change to a component's timeline. The member is the change itself, so an
// identical change is stored once.
func (s *Store) AppendStatus(ctx context.Context, ch component.Change) error {
	exists, err := s.rdb.HExists(ctx, s.metaKey("components"), ch.ComponentID).Result()
	if err != nil {
		return fmt.Errorf("append status %s: %w", ch.ComponentID, err)
	}
	if !exists {
		return fmt.Errorf("component %s: %w", ch.ComponentID, store.ErrNotFound)
	}
	if err := s.appendStatus(ctx, ch); err != nil { // with the daily aggregates (pagereads.go)
		return fmt.Errorf("append status %s: %w", ch.ComponentID, err)
	}
	return nil
}

// StatusTimeline returns the changes in [from, to) preceded by the last one before from.
func (s *Store) StatusTimeline(ctx context.Context, componentID string, from, to time.Time) ([]component.Change, error) {
	key := s.timelineKey(componentID)
	var before, inside *goredis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		before = p.ZRevRangeByScore(ctx, key, &goredis.ZRangeBy{Max: "(" + strconv.FormatInt(store.Millis(from), 10), Min: "-inf", Count: 1})
		inside = p.ZRangeByScore(ctx, key, &goredis.ZRangeBy{Min: strconv.FormatInt(store.Millis(from), 10), Max: "(" + strconv.FormatInt(store.Millis(to), 10)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("status timeline %s: %w", componentID, err)
	}
	var out []component.Change
	for _, raw := range append(before.Val(), inside.Val()...) {
		ch, err := decodeChange(componentID, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// Transitions.

type storedTransition struct {
	At     int64  `json:"at"`
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// AppendTransition stores a monitor transition.
func (s *Store) AppendTransition(ctx context.Context, t probe.Transition) error {
	at := store.Millis(t.At)
	member := store.MustJSON(storedTransition{At: at, From: string(t.From), To: string(t.To), Reason: t.Reason})
	if err := s.rdb.ZAdd(ctx, s.transitionsKey(t.MonitorID), goredis.Z{Score: float64(at), Member: string(member)}).Err(); err != nil {
		return fmt.Errorf("append transition %s: %w", t.MonitorID, err)
	}
	return nil
}

func decodeTransitions(monitorID string, raws []string) ([]probe.Transition, error) {
	var out []probe.Transition
	for _, raw := range raws {
		var st storedTransition
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, fmt.Errorf("decode transition of %s: %w", monitorID, err)
		}
		out = append(out, probe.Transition{MonitorID: monitorID, At: store.FromMillis(st.At), From: probe.State(st.From), To: probe.State(st.To), Reason: st.Reason})
	}
	return out, nil
}

// MonitorTransitions returns the transitions in [from, to).
func (s *Store) MonitorTransitions(ctx context.Context, monitorID string, from, to time.Time) ([]probe.Transition, error) {
	raws, err := s.rdb.ZRangeByScore(ctx, s.transitionsKey(monitorID), &goredis.ZRangeBy{
		Min: strconv.FormatInt(store.Millis(from), 10), Max: "(" + strconv.FormatInt(store.Millis(to), 10)}).Result()
	if err != nil {
		return nil, fmt.Errorf("transitions %s: %w", monitorID, err)
	}
	return decodeTransitions(monitorID, raws)
}

// LastTransition returns the latest transition.
func (s *Store) LastTransition(ctx context.Context, monitorID string) (probe.Transition, error) {
	raws, err := s.rdb.ZRevRangeByScore(ctx, s.transitionsKey(monitorID), &goredis.ZRangeBy{Max: "+inf", Min: "-inf", Count: 1}).Result()
	if err != nil {
		return probe.Transition{}, fmt.Errorf("last transition %s: %w", monitorID, err)
	}
	ts, err := decodeTransitions(monitorID, raws)
	if err != nil {
		return probe.Transition{}, err
	}
	if len(ts) == 0 {
		return probe.Transition{}, fmt.Errorf("transitions of %s: %w", monitorID, store.ErrNotFound)
	}
	return ts[0], nil
}

// Rollups.

// AddRollups merges rollups into the stored buckets: the instance that counted a delta writes
// the absolute totals it has counted into a bucket, in a field of its own, and readers sum the
// fields (docs/storage.md, "Rollups on Redis").
//
// Each (monitor, resolution, bucket start) this process writes to has an entry in memory
// (rollupTotals) with a field name unique to this process and to the entry (the store's random
// run id and the entry's sequence number) and the totals written so far. A call adds each delta
// to the entry's totals and writes them with one HSET of one packed field per bucket: no
// MULTI/EXEC, no HINCRBY per counter, and one pipeline (one round trip) for every monitor. The
// write is idempotent, so a flush that failed (or whose reply was lost after Redis applied it)
// and is retried with the same deltas merged into the next ones counts nothing twice: the
// totals in memory move only when the whole call succeeded. A restarted process, another
// instance that takes a monitor over, or an entry dropped from memory and started again writes
// a new field and never overwrites totals it does not hold. A write lost in a Sentinel failover
// is healed by the next write to the bucket (it carries the whole total). Entries are dropped
// once their bucket ended rollupGrace before the newest bucket this store was given (unless
// their last write failed: the retry must land in the same field).
//
// Commands (BENCHMARKS.md, "Several instances"): one HSET per bucket touched, so a monitor
// checked every 10 s costs one command per check at the engine's 30 s flushes (three buckets,
// three checks); a bucket's entry in its monitor's index (ZADD, with the SADD of the monitor to
// rollup-monitors) is added again only every indexMemoGenerations calls (indexMemo), not at
// every flush that touches the bucket. Fields written by earlier versions with HINCRBY (runs,
// failures, latency_ns, h<i>) are left as they are and still summed by readers.
func (s *Store) AddRollups(ctx context.Context, rs []probe.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	t := s.totals
	// One call at a time: a call reads the totals in memory and moves them only if it succeeds.
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("add rollups: %w", ctx.Err())
	}
	defer func() { <-t.sem }()

	type write struct {
		e      *rollupTotal
		totals probe.Rollup
	}
	writes := map[rollupEntry]*write{}
	var order []rollupEntry
	t.mu.Lock()
	for _, r := range rs {
		k := rollupEntry{r.MonitorID, r.Resolution, store.Millis(r.Start)}
		w, ok := writes[k]
		if !ok {
			e := t.entry(k)
			w = &write{e: e, totals: e.totals}
			writes[k] = w
			order = append(order, k)
		}
		w.totals.Merge(r)
		if k.start > t.horizon {
			t.horizon = k.start
		}
	}
	t.mu.Unlock()

	gen := s.indexed.next()
	var added []indexEntry
	var monitors []any
	seen := map[string]bool{}
	_, err := s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range order {
			w := writes[k]
			// The index entry goes first: a bucket indexed but not written reads as empty and is
			// pruned; a bucket written but not indexed would be invisible to readers and the prune.
			if e := (indexEntry{k.monitor, k.res, k.start}); !s.indexed.has(e, gen) {
				p.ZAdd(ctx, s.rollupIndexKey(k.monitor, k.res), goredis.Z{Score: float64(k.start), Member: k.start})
				added = append(added, e)
				if !seen[k.monitor] {
					seen[k.monitor] = true
					monitors = append(monitors, k.monitor)
				}
			}
			p.HSet(ctx, s.rollupKey(k.monitor, k.res, k.start), w.e.field, packRollup(w.totals))
		}
		if len(monitors) > 0 {
			p.SAdd(ctx, s.metaKey("rollup-monitors"), monitors...)
		}
		return nil
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		for _, k := range order {
			writes[k].e.failed = true // the retry must write the same field (it may hold the write)
		}
		return fmt.Errorf("add rollups: %w", err)
	}
	for _, k := range order {
		w := writes[k]
		w.e.totals, w.e.failed = w.totals, false
	}
	s.indexed.mark(added, gen)
	t.sweep()
	return nil
}

// rollupGrace is how long after its bucket ended (measured against the newest bucket start
// this store was given) the totals a store wrote into it are kept in memory. A delta arriving
// later (a flush retried after a long outage) starts a new field: still counted once.
const rollupGrace = 15 * time.Minute

// rollupTotals is what this store wrote into each rollup bucket, under which field (AddRollups).
type rollupTotals struct {
	sem     chan struct{} // one AddRollups at a time
	mu      sync.Mutex
	run     string // random, chosen at New: no other store writes fields starting with it
	seq     uint64
	horizon int64 // the newest bucket start given (Unix ms), the clock entries expire by
	m       map[rollupEntry]*rollupTotal
}

type rollupEntry struct {
	monitor string
	res     probe.Resolution
	start   int64 // Unix ms
}

type rollupTotal struct {
	field  string       // the hash field this entry writes
	totals probe.Rollup // written and acknowledged
	failed bool         // the last write of this entry failed: Redis may hold more than totals
}

func newRollupTotals() *rollupTotals {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &rollupTotals{sem: make(chan struct{}, 1), run: hex.EncodeToString(b[:]), m: map[rollupEntry]*rollupTotal{}}
}

// entry returns the entry of k, starting one (a new field) if there is none. t.mu is held.
func (t *rollupTotals) entry(k rollupEntry) *rollupTotal {
	e, ok := t.m[k]
	if !ok {
		t.seq++
		e = &rollupTotal{field: packedPrefix + t.run + ":" + strconv.FormatUint(t.seq, 36)}
		t.m[k] = e
	}
	return e
}

// sweep drops the entries of buckets that ended more than rollupGrace before the horizon. t.mu
// is held.
func (t *rollupTotals) sweep() {
	for k, e := range t.m {
		if !e.failed && k.start+(k.res.Width()+rollupGrace).Milliseconds() < t.horizon {
			delete(t.m, k)
		}
	}
}

// forget drops the entries of res that start before cutoff (Unix ms): PruneRollups deleted them.
func (t *rollupTotals) forget(res probe.Resolution, cutoff int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if k.res == res && k.start < cutoff {
			delete(t.m, k)
		}
	}
}

// packedPrefix starts the name of every packed field of a rollup hash: "w:<run id>:<sequence>".
const packedPrefix = "w:"

// packRollup is the value of a packed field: runs, failures, latency_ns and the histogram's
// counts, in decimal, separated by commas; trailing zero counts are left out.
func packRollup(r probe.Rollup) string {
	h := len(r.Histogram)
	for h > 0 && r.Histogram[h-1] == 0 {
		h--
	}
	b := make([]byte, 0, 48)
	b = strconv.AppendInt(b, r.Runs, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Failures, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.LatencySum), 10)
	for _, n := range r.Histogram[:h] {
		b = append(b, ',')
		b = strconv.AppendUint(b, n, 10)
	}
	return string(b)
}

// addRollupHash adds the fields of a stored rollup hash to r: the packed fields of every writer
// and the counters earlier versions incremented with HINCRBY. Unknown fields are skipped.
func addRollupHash(r *probe.Rollup, fields map[string]string) error {
	for k, v := range fields {
		if strings.HasPrefix(k, packedPrefix) {
			var n [3 + probe.HistogramBuckets]int64
			parts := strings.Split(v, ",")
			if len(parts) < 3 || len(parts) > len(n) {
				return fmt.Errorf("rollup field %s: %q is not packed totals", k, v)
			}
			for i, p := range parts {
				x, err := strconv.ParseInt(p, 10, 64)
				if err != nil {
					return fmt.Errorf("rollup field %s: %w", k, err)
				}
				n[i] = x
			}
			r.Runs += n[0]
			r.Failures += n[1]
			r.LatencySum += time.Duration(n[2])
			for i := range r.Histogram {
				r.Histogram[i] += uint64(n[3+i])
			}
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case k == "runs":
			r.Runs += n
		case k == "failures":
			r.Failures += n
		case k == "latency_ns":
			r.LatencySum += time.Duration(n)
		case strings.HasPrefix(k, "h"):
			i, ierr := strconv.Atoi(k[1:])
			if ierr != nil || i < 0 || i >= len(r.Histogram) {
				continue
			}
			r.Histogram[i] += uint64(n)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("rollup field %s: %w", k, err)
		}
	}
	return nil
}

// indexMemo remembers which rollup index entries (a bucket start in a monitor's index) this
// store added, and in which call of AddRollups. An entry is trusted for indexMemoGenerations
// calls and then added again: ZADD of an existing member changes nothing, and re-adding heals
// an index entry lost meanwhile (a Sentinel failover loses the last writes the replica had
// not received) within that many calls. PruneRollups forgets the entries it deletes.
type indexMemo struct {
	mu   sync.Mutex
	gen  uint64
	seen map[indexEntry]uint64 // the call that added it
}

type indexEntry struct {
	monitor string
	res     probe.Resolution
	start   int64 // Unix ms
}

// indexMemoGenerations is how many calls of AddRollups an added index entry is trusted for.
const indexMemoGenerations = 10

// next starts a call of AddRollups, forgetting the entries too old to trust.
func (m *indexMemo) next() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	for e, g := range m.seen {
		if m.gen-g >= indexMemoGenerations {
			delete(m.seen, e)
		}
	}
	return m.gen
}

func (m *indexMemo) has(e indexEntry, gen uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.seen[e]
	return ok && gen-g < indexMemoGenerations
}

func (m *indexMemo) mark(es []indexEntry, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range es {
		m.seen[e] = gen
	}
}

// forget drops the entries of res that start before cutoff (Unix ms).
func (m *indexMemo) forget(res probe.Resolution, cutoff int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for e := range m.seen {
		if e.res == res && e.start < cutoff {
			delete(m.seen, e)
		}
	}
}

// MonitorRollups returns buckets with Start in [from, to).
func (s *Store) MonitorRollups(ctx context.Context, monitorID string, res probe.Resolution, from, to time.Time) ([]probe.Rollup, error) {
	starts, err := s.rdb.ZRangeByScore(ctx, s.rollupIndexKey(monitorID, res), &goredis.ZRangeBy{
		Min: strconv.FormatInt(store.Millis(from), 10), Max: "(" + strconv.FormatInt(store.Millis(to), 10)}).Result()
	if err != nil {
		return nil, fmt.Errorf("rollups %s: %w", monitorID, err)
	}
	cmds := make([]*goredis.MapStringStringCmd, len(starts))
	_, err = s.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, st := range starts {
			ms, _ := strconv.ParseInt(st, 10, 64)
			cmds[i] = p.HGetAll(ctx, s.rollupKey(monitorID, res, ms))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rollups %s: %w", monitorID, err)
	}
	var out []probe.Rollup
	for i, cmd := range cmds {
		fields := cmd.Val()
		if len(fields) == 0 {
			continue // deleted by a concurrent prune
		}
		ms, _ := strconv.ParseInt(starts[i], 10, 64)
		r := probe.Rollup{MonitorID: monitorID, Resolution: res, Start: store.FromMillis(ms)}
		if err := addRollupHash(&r, fields); err != nil {
			return nil, fmt.Errorf("rollups %s: %w", monitorID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// PruneRollups deletes buckets of res starting before cutoff, for every monitor that has any.
// Buckets carry no TTL: retention is the engine's prune job, the same on every backend, so
// imported history is kept until the job says otherwise.
func (s *Store) PruneRollups(ctx context.Context, res probe.Resolution, cutoff time.Time) error {
	monitors, err := s.rdb.SMembers(ctx, s.metaKey("rollup-monitors")).Result()
	if err != nil {
		return fmt.Errorf("prune rollups: %w", err)
	}
	max := "(" + strconv.FormatInt(store.Millis(cutoff), 10)
	s.indexed.forget(res, store.Millis(cutoff))
	s.totals.forget(res, store.Millis(cutoff))
	for _, id := range monitors {
		index := s.rollupIndexKey(id, res)
		old, err := s.rdb.ZRangeByScore(ctx, index, &goredis.ZRangeBy{Min: "-inf", Max: max}).Result()
		if err != nil {
			return fmt.Errorf("prune rollups %s: %w", id, err)
		}
		if len(old) == 0 {
			continue
		}
		_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, st := range old {
				ms, _ := strconv.ParseInt(st, 10, 64)
				p.Del(ctx, s.rollupKey(id, res, ms))
			}
			p.ZRemRangeByScore(ctx, index, "-inf", max)
			return nil
		})
		if err != nil {
			return fmt.Errorf("prune rollups %s: %w", id, err)
		}
	}
	return nil
}

// Keys.

type storedKey struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Scopes    []apikey.Scope `json:"scopes"`
	Hash      []byte         `json:"hash"`
	CreatedAt int64          `json:"created_at"`
	RevokedAt int64          `json:"revoked_at"`
}

func decodeKey(raw string) (apikey.Key, error) {
	var sk storedKey
	if err := json.Unmarshal([]byte(raw), &sk); err != nil {
		return apikey.Key{}, fmt.Errorf("decode key: %w", err)
	}
	return apikey.Key{ID: sk.ID, Name: sk.Name, Scopes: sk.Scopes, Hash: sk.Hash,
		CreatedAt: store.FromMillis(sk.CreatedAt), RevokedAt: store.FromMillis(sk.RevokedAt)}, nil
}

func encodeKey(k apikey.Key) string {
	return string(store.MustJSON(storedKey{ID: k.ID, Name: k.Name, Scopes: k.Scopes, Hash: k.Hash,
		CreatedAt: store.Millis(k.CreatedAt), RevokedAt: store.Millis(k.RevokedAt)}))
}

// CreateKey stores a new key with its audit entry.
func (s *Store) CreateKey(ctx context.Context, k apikey.Key, a store.AuditEntry) error {
	return s.mutateMeta(ctx, "keys", k.ID, a, func(_ string, exists bool) (string, json.RawMessage, error) {
		if exists {
			return "", nil, fmt.Errorf("key %s: %w", k.ID, store.ErrConflict)
		}
		return encodeKey(k), store.Null, nil
	})
}

// GetKey returns a key by id.
func (s *Store) GetKey(ctx context.Context, id string) (apikey.Key, error) {
	raw, err := s.rdb.HGet(ctx, s.metaKey("keys"), id).Result()
	if errors.Is(err, goredis.Nil) {
		return apikey.Key{}, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return apikey.Key{}, fmt.Errorf("get key %s: %w", id, err)
	}
	return decodeKey(raw)
}

// ListKeys returns every key, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]apikey.Key, error) {
	all, err := s.rdb.HGetAll(ctx, s.metaKey("keys")).Result()
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]apikey.Key, 0, len(all))
	for _, raw := range all {
		k, err := decodeKey(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b apikey.Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeKey marks a key revoked with its audit entry.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time, a store.AuditEntry) error {
	return s.mutateMeta(ctx, "keys", id, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("key %s: %w", id, store.ErrNotFound)
		}
		k, err := decodeKey(old)
		if err != nil {
			return "", nil, err
		}
		if k.Revoked() {
			return "", nil, fmt.Errorf("key %s already revoked: %w", id, store.ErrConflict)
		}
		before := store.MustJSON(k)
		k.RevokedAt = at
		return encodeKey(k), before, nil
	})
}

// Audit.

func encodeAudit(a store.AuditEntry) (string, error) {
	if len(a.Before) == 0 {
		a.Before = store.Null
	}
	if len(a.After) == 0 {
		a.After = store.Null
	}
	a.At = store.FromMillis(store.Millis(a.At))
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode audit entry: %w", err)
	}
	return string(b), nil
}

// AppendAudit records an entry on its own.
func (s *Store) AppendAudit(ctx context.Context, a store.AuditEntry) error {
	id, err := s.rdb.Incr(ctx, s.metaKey("audit:seq")).Result()
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	a.ID = id
	entry, err := encodeAudit(a)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.ZAdd(ctx, s.metaKey("audit"), goredis.Z{Score: float64(id), Member: entry})
		if a.Event != nil {
			s.journalInTx(ctx, p, *a.Event)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit returns entries matching q, newest first. Filters are applied while walking the log
// backwards in chunks, so a selective filter over a long log reads more than it returns.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	const chunk = 500
	limit := q.EffectiveLimit()
	max := "+inf"
	if q.BeforeID > 0 {
		max = "(" + strconv.FormatInt(q.BeforeID, 10)
	}
	var out []store.AuditEntry
	for len(out) < limit {
		raws, err := s.rdb.ZRevRangeByScore(ctx, s.metaKey("audit"), &goredis.ZRangeBy{Max: max, Min: "-inf", Count: chunk}).Result()
		if err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		for _, raw := range raws {
			var e store.AuditEntry
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				return nil, fmt.Errorf("decode audit entry: %w", err)
			}
			e.At = e.At.UTC()
			max = "(" + strconv.FormatInt(e.ID, 10)
			if q.Matches(e) {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
		if len(raws) < chunk {
			break
		}
	}
	return out, nil
}

// Maintenance.

// ListWindows returns every window by id.
func (s *Store) ListWindows(ctx context.Context) ([]maintenance.Window, error) {
	all, err := s.rdb.HGetAll(ctx, s.metaKey("maintenance")).Result()
	if err != nil {
		return nil, fmt.Errorf("list windows: %w", err)
	}
	out := make([]maintenance.Window, 0, len(all))
	for _, doc := range all {
		w, err := store.DecodeWindow([]byte(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b maintenance.Window) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// GetWindow returns one window.
func (s *Store) GetWindow(ctx context.Context, id string) (maintenance.Window, error) {
	doc, err := s.rdb.HGet(ctx, s.metaKey("maintenance"), id).Result()
	if errors.Is(err, goredis.Nil) {
		return maintenance.Window{}, fmt.Errorf("maintenance window %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return maintenance.Window{}, fmt.Errorf("get window %s: %w", id, err)
	}
	return store.DecodeWindow([]byte(doc))
}

// CreateWindow stores a new window with its audit entry.
func (s *Store) CreateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	doc := string(store.EncodeWindow(w))
	return s.mutateMeta(ctx, "maintenance", w.ID, a, func(_ string, exists bool) (string, json.RawMessage, error) {
		if exists {
			return "", nil, fmt.Errorf("maintenance window %s: %w", w.ID, store.ErrConflict)
		}
		return doc, store.Null, nil
	})
}

// UpdateWindow replaces a window with its audit entry.
func (s *Store) UpdateWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	doc := string(store.EncodeWindow(w))
	return s.mutateMeta(ctx, "maintenance", w.ID, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("maintenance window %s: %w", w.ID, store.ErrNotFound)
		}
		return doc, json.RawMessage(old), nil
	})
}

// DeleteWindow removes w, if it is still as read, with its audit entry.
func (s *Store) DeleteWindow(ctx context.Context, w maintenance.Window, a store.AuditEntry) error {
	return s.mutateMeta(ctx, "maintenance", w.ID, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("maintenance window %s: %w", w.ID, store.ErrNotFound)
		}
		if err := store.SameWindow(old, w); err != nil {
			return "", nil, err
		}
		return "", json.RawMessage(old), nil
	})
}

// Cursors.

// Cursor returns the time stored under name (zero if none).
func (s *Store) Cursor(ctx context.Context, name string) (time.Time, error) {
	ms, err := s.rdb.HGet(ctx, s.metaKey("cursors"), name).Int64()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("cursor %s: %w", name, err)
	}
	return store.FromMillis(ms), nil
}

// SetCursor stores t under name.
// With a fencing token in ctx (store.WithFence), it is stored only if no newer tenure of that
// lease began (lease.go); else store.ErrFenced.
func (s *Store) SetCursor(ctx context.Context, name string, t time.Time) error {
	if f, ok := store.FenceFrom(ctx); ok {
		return s.setCursorFenced(ctx, f, name, t)
	}
	if err := s.rdb.HSet(ctx, s.metaKey("cursors"), name, store.Millis(t)).Err(); err != nil {
		return fmt.Errorf("set cursor %s: %w", name, err)
	}
	return nil
}

// Incidents.

// CreateIncident stores a new incident with its audit entry, its head and its indexes.
func (s *Store) CreateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error {
	inc.Version = 1
	doc := string(store.MustJSON(inc))
	return s.mutateMeta(ctx, "incidents", inc.ID, a, func(_ string, exists bool) (string, json.RawMessage, error) {
		if exists {
			return "", nil, fmt.Errorf("incident %s: %w", inc.ID, store.ErrConflict)
		}
		return doc, store.Null, nil
	}, func(p goredis.Pipeliner) { s.indexIncident(ctx, p, inc, nil) }) // its head and indexes (pagereads.go)
}

// GetIncident returns one incident.
func (s *Store) GetIncident(ctx context.Context, id string) (incidents.Incident, error) {
	doc, err := s.rdb.HGet(ctx, s.metaKey("incidents"), id).Result()
	if errors.Is(err, goredis.Nil) {
		return incidents.Incident{}, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return incidents.Incident{}, fmt.Errorf("get incident %s: %w", id, err)
	}
	return store.DecodeIncident([]byte(doc))
}

// UpdateIncident stores a new version of an incident with its audit entry.
func (s *Store) UpdateIncident(ctx context.Context, inc incidents.Incident, a store.AuditEntry) error {
	doc := string(store.MustJSON(inc))
	var prev incidents.Incident
	return s.mutateMeta(ctx, "incidents", inc.ID, a, func(old string, exists bool) (string, json.RawMessage, error) {
		if !exists {
			return "", nil, fmt.Errorf("incident %s: %w", inc.ID, store.ErrNotFound)
		}
		var err error
		if prev, err = store.DecodeIncident([]byte(old)); err != nil {
			return "", nil, err
		}
		if prev.Version != inc.Version-1 {
			return "", nil, fmt.Errorf("incident %s changed since it was read: %w", inc.ID, store.ErrConflict)
		}
		return doc, json.RawMessage(old), nil
	}, func(p goredis.Pipeliner) { s.indexIncident(ctx, p, inc, store.AffectedIDs(prev)) })
}
