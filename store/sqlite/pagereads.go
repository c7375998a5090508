package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/calendar"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
)

// Reads for the page (docs/storage.md, "Reads for the page"): incidents by state, time and
// component through indexes (migration 0004), heads instead of whole documents, and daily status
// aggregates kept with the timeline.

// indexIncident writes what the indexes and the head hold of inc, in the transaction that
// stores it.
func indexIncident(ctx context.Context, tx *sql.Tx, inc incidents.Incident) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO incident_heads (id, opened_at, open, started_at, ended_at, span, head) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET opened_at = excluded.opened_at, open = excluded.open, started_at = excluded.started_at,
		ended_at = excluded.ended_at, span = excluded.span, head = excluded.head`,
		inc.ID, store.Millis(inc.OpenedAt), inc.Open(), store.Millis(inc.StartedAt), store.IncidentEnd(inc), string(store.EncodeSpan(inc)), string(store.EncodeHead(inc))); err != nil {
		return fmt.Errorf("index incident %s: %w", inc.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_components WHERE incident_id = ?`, inc.ID); err != nil {
		return fmt.Errorf("index incident %s: %w", inc.ID, err)
	}
	for _, id := range store.AffectedIDs(inc) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_components (component_id, opened_at, incident_id) VALUES (?, ?, ?)`,
			id, store.Millis(inc.OpenedAt), inc.ID); err != nil {
			return fmt.Errorf("index incident %s: %w", inc.ID, err)
		}
	}
	return nil
}

// incidentQuery is the SELECT of the incidents matching q (a superset: bounds are widened by a
// millisecond for rows indexed by the migration, and severity is not indexed), newest opened
// first unless unordered. Callers keep the rows q.Matches and stop at q's limit. Each shape of
// query reads one index, its most selective (TestIncidentQueriesUseTheirIndex): the open
// incidents, a component's, those active or started in a span of time, or all by opening time;
// a condition that should not choose the index is written unindexed (+column).
func incidentQuery(q store.IncidentQuery, columns string, unordered bool) (string, []any) {
	from, opened, order := "incident_heads h", "h.opened_at", "h.opened_at DESC, h.id DESC"
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	byTime := !q.ActiveFrom.IsZero() || !q.StartedFrom.IsZero() || !q.StartedBefore.IsZero()
	switch {
	case q.ComponentID != "" && (q.OpenOnly || byTime):
		add("EXISTS (SELECT 1 FROM incident_components ic WHERE ic.incident_id = h.id AND ic.component_id = ?)", q.ComponentID)
	case q.ComponentID != "":
		// The component's index holds the opening time, so it is read in order.
		from, opened, order = "incident_components ic JOIN incident_heads h ON h.id = ic.incident_id", "ic.opened_at", "ic.opened_at DESC, ic.incident_id DESC"
		add("ic.component_id = ?", q.ComponentID)
	}
	if q.OpenOnly {
		where = append(where, "h.open = 1")
	}
	if q.ResolvedOnly {
		where = append(where, "+h.open = 0")
	}
	if q.OpenOnly || byTime {
		opened = "+" + opened
	}
	if !q.Since.IsZero() {
		add(opened+" >= ?", store.Millis(q.Since))
	}
	if !q.Until.IsZero() {
		add(opened+" < ?", store.Millis(q.Until)+1)
	}
	started := "h.started_at"
	if !q.ActiveFrom.IsZero() || q.OpenOnly {
		started = "+h.started_at" // the end bound is the selective one: started_at <= now holds for all
	}
	if !q.StartedFrom.IsZero() {
		add(started+" >= ?", store.Millis(q.StartedFrom)-1)
	}
	if !q.StartedBefore.IsZero() {
		add(started+" <= ?", store.Millis(q.StartedBefore)+1)
	}
	if !q.ActiveFrom.IsZero() {
		ended := "h.ended_at"
		if q.OpenOnly {
			ended = "+h.ended_at"
		}
		add(ended+" >= ?", store.Millis(q.ActiveFrom)-1)
	}
	if !q.ActiveBefore.IsZero() {
		add("+h.started_at <= ?", store.Millis(q.ActiveBefore)+1)
	}
	if len(where) == 0 {
		where = append(where, "1 = 1")
	}
	text := "SELECT " + columns + " FROM " + from + " WHERE " + strings.Join(where, " AND ")
	if !unordered {
		text += " ORDER BY " + order
	}
	return text, args
}

// ListIncidents returns incidents matching q, newest opened first.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error) {
	text, args := incidentQuery(q, "(SELECT doc FROM incidents WHERE id = h.id)", false)
	rows, err := s.reads.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []incidents.Incident
	for len(out) < q.EffectiveLimit() && rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		inc, err := store.DecodeIncident([]byte(doc))
		if err != nil {
			return nil, err
		}
		if q.Matches(inc) {
			out = append(out, inc)
		}
	}
	return out, rows.Err()
}

// ListIncidentHeads returns the heads of the incidents matching q, newest opened first.
func (s *Store) ListIncidentHeads(ctx context.Context, q store.IncidentQuery) ([]store.IncidentHead, error) {
	// A row indexed by the migration has no head yet: its document is read instead.
	text, args := incidentQuery(q, "h.head, CASE WHEN h.head = '' THEN (SELECT doc FROM incidents WHERE id = h.id) ELSE '' END", false)
	rows, err := s.reads.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("list incident heads: %w", err)
	}
	defer rows.Close()
	var out []store.IncidentHead
	for len(out) < q.EffectiveLimit() && rows.Next() {
		var head, doc string
		if err := rows.Scan(&head, &doc); err != nil {
			return nil, fmt.Errorf("list incident heads: %w", err)
		}
		var h store.IncidentHead
		if head != "" {
			h, err = store.DecodeHead([]byte(head))
		} else {
			var inc incidents.Incident
			inc, err = store.DecodeIncident([]byte(doc))
			h = store.HeadOf(inc)
		}
		if err != nil {
			return nil, err
		}
		if q.Matches(h.Incident) {
			out = append(out, h)
		}
	}
	return out, rows.Err()
}

// IncidentSpans returns every incident opened before to that overlaps [from, to).
func (s *Store) IncidentSpans(ctx context.Context, from, to time.Time) ([]store.IncidentSpan, error) {
	text, args := incidentQuery(store.IncidentQuery{ActiveFrom: from, ActiveBefore: to, Until: to}, "h.span, CASE WHEN h.span = '' THEN (SELECT doc FROM incidents WHERE id = h.id) ELSE '' END", true)
	rows, err := s.reads.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("incident spans: %w", err)
	}
	defer rows.Close()
	var out []store.IncidentSpan
	for rows.Next() {
		var span, doc string
		if err := rows.Scan(&span, &doc); err != nil {
			return nil, fmt.Errorf("incident spans: %w", err)
		}
		var sp store.IncidentSpan
		if span != "" {
			sp, err = store.DecodeSpan([]byte(span))
		} else {
			var inc incidents.Incident
			inc, err = store.DecodeIncident([]byte(doc))
			sp = store.SpanOf(inc)
		}
		if err != nil {
			return nil, err
		}
		if sp.Overlaps(from, to) {
			out = append(out, sp)
		}
	}
	return out, rows.Err()
}

// Daily status aggregates.

// txStmt is the statement of text q, prepared once (stmts.go), for use inside tx: the writes that
// keep the aggregates run in every status change's transaction, and parsing their statements
// each time was most of their cost.
func (s *Store) txStmt(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	st, err := s.reads.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// dayZone reads the zone the aggregates are kept in ("" when none).
func (s *Store) dayZone(ctx context.Context, tx *sql.Tx) (string, error) {
	st, err := s.txStmt(ctx, tx, `SELECT zone FROM status_days_zone WHERE one = 1`)
	if err != nil {
		return "", err
	}
	var zone string
	err = st.QueryRowContext(ctx).Scan(&zone)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return zone, err
}

// StatusDays returns each of q's components' status time per day of q's span.
func (s *Store) StatusDays(ctx context.Context, q store.DaysQuery) ([]store.ComponentDays, error) {
	span := q.Span()
	// One statement, so one snapshot: the zone kept, the rows of the span and each component's
	// status before it.
	rows, err := s.reads.QueryContext(ctx, `
		SELECT 0, zone, '', 0, 0, 0, 0, 0, 0, 0 FROM status_days_zone
		UNION ALL
		SELECT 1, component_id, end_status, day, last_at, up_ms, degraded_ms, partial_ms, major_ms, unknown_ms
			FROM status_days WHERE day >= ?1 AND day <= ?2
		UNION ALL
		SELECT 2, c.id, COALESCE((SELECT status FROM status_changes WHERE component_id = c.id AND at < ?3
			ORDER BY at DESC, status DESC, reason DESC LIMIT 1), ''), 0, 0, 0, 0, 0, 0, 0 FROM components c`,
		store.DayNumber(q.First), store.DayNumber(q.Last), store.Millis(span.Start))
	if err != nil {
		return nil, fmt.Errorf("status days: %w", err)
	}
	defer rows.Close()
	index := make(map[string]int, len(q.ComponentIDs))
	out := make([]store.ComponentDays, len(q.ComponentIDs))
	for i, id := range q.ComponentIDs {
		out[i] = store.ComponentDays{ComponentID: id, Before: component.Unknown}
		index[id] = i
	}
	// The rows come by day: they are gathered in one slice first, then each component's laid
	// out in one shared array (a slice per component grown row by row was a tenth of a page's
	// render at 10,000 components).
	type dayRow struct {
		i   int
		day store.StatusDay
	}
	var all []dayRow
	counts := make([]int, len(out))
	zone := ""
	for rows.Next() {
		var kind int
		var id, status string
		var day, lastAt int64
		var t [5]int64
		if err := rows.Scan(&kind, &id, &status, &day, &lastAt, &t[0], &t[1], &t[2], &t[3], &t[4]); err != nil {
			return nil, fmt.Errorf("status days: %w", err)
		}
		if kind == 0 {
			zone = id
			continue
		}
		i, ok := index[id]
		if !ok {
			continue
		}
		if kind == 2 {
			if status != "" {
				out[i].Before = component.Status(status)
			}
			continue
		}
		all = append(all, dayRow{i: i, day: store.StatusDay{Date: store.DateOfNumber(day), End: component.Status(status), LastAt: store.FromMillis(lastAt),
			Time: store.StatusTime{Up: ms(t[0]), Degraded: ms(t[1]), Partial: ms(t[2]), Major: ms(t[3]), Unknown: ms(t[4])}}})
		counts[i]++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("status days: %w", err)
	}
	rows.Close()
	days := make([]store.StatusDay, len(all))
	next := 0
	for i, n := range counts {
		if n > 0 {
			out[i].Days = days[next : next : next+n] // filled below, capped at its n rows
			next += n
		}
	}
	for _, r := range all {
		out[r.i].Days = append(out[r.i].Days, r.day)
	}
	if zone != q.Location.String() {
		// Not kept in this zone: the same figures from each timeline.
		for i, id := range q.ComponentIDs {
			tl, err := s.StatusTimeline(ctx, id, span.Start, span.End)
			if err != nil {
				return nil, err
			}
			out[i] = store.DaysFromTimeline(id, tl, q)
		}
		return out, nil
	}
	for i := range out {
		sortDays(out[i].Days)
	}
	return out, nil
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func sortDays(days []store.StatusDay) {
	for i := 1; i < len(days); i++ { // nearly always sorted already: the table is by day
		for j := i; j > 0 && days[j].Date.Before(days[j-1].Date); j-- {
			days[j], days[j-1] = days[j-1], days[j]
		}
	}
}

// KeepStatusDays keeps the daily aggregates in loc, building them from every timeline in one
// transaction if they are kept in another zone or none.
func (s *Store) KeepStatusDays(ctx context.Context, loc *time.Location) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		zone, err := s.dayZone(ctx, tx)
		if err != nil || zone == loc.String() {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_days_zone (one, zone) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET zone = excluded.zone`, loc.String()); err != nil {
			return err
		}
		return s.rebuildStatusDays(ctx, tx, loc)
	})
	if err != nil {
		return fmt.Errorf("keep status days in %s: %w", loc, err)
	}
	return nil
}

// rebuildStatusDays makes every row again from the timelines, in loc.
func (s *Store) rebuildStatusDays(ctx context.Context, tx *sql.Tx, loc *time.Location) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM status_days`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT component_id FROM status_changes`)
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	put, err := tx.PrepareContext(ctx, putDay)
	if err != nil {
		return err
	}
	defer put.Close()
	for _, id := range ids {
		tl, err := s.timelineTx(ctx, tx, id, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		for _, d := range store.DaysOf(tl, component.Unknown, loc) {
			if _, err := put.ExecContext(ctx, dayArgs(id, d)...); err != nil {
				return err
			}
		}
	}
	return nil
}

const putDay = `INSERT INTO status_days (day, component_id, end_status, last_at, up_ms, degraded_ms, partial_ms, major_ms, unknown_ms)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (day, component_id) DO UPDATE SET end_status = excluded.end_status,
	last_at = excluded.last_at, up_ms = excluded.up_ms, degraded_ms = excluded.degraded_ms, partial_ms = excluded.partial_ms,
	major_ms = excluded.major_ms, unknown_ms = excluded.unknown_ms`

func dayArgs(id string, d store.StatusDay) []any {
	return []any{store.DayNumber(d.Date), id, string(d.End), store.Millis(d.LastAt), d.Time.Up.Milliseconds(), d.Time.Degraded.Milliseconds(),
		d.Time.Partial.Milliseconds(), d.Time.Major.Milliseconds(), d.Time.Unknown.Milliseconds()}
}

// timelineTx is StatusTimeline inside tx: the changes in [from, to) preceded by the last one
// before from. Zero bounds: the whole timeline.
func (s *Store) timelineTx(ctx context.Context, tx *sql.Tx, id string, from, to time.Time) ([]component.Change, error) {
	q, args := `SELECT at, status, reason FROM status_changes WHERE component_id = ? ORDER BY at, status, reason`, []any{id}
	if !from.IsZero() {
		q, args = `
			SELECT at, status, reason FROM (
				SELECT at, status, reason FROM status_changes WHERE component_id = ?1 AND at < ?2 ORDER BY at DESC, status DESC, reason DESC LIMIT 1)
			UNION ALL
			SELECT at, status, reason FROM status_changes WHERE component_id = ?1 AND at >= ?2 AND at < ?3
			ORDER BY at, status, reason`, []any{id, store.Millis(from), store.Millis(to)}
	}
	st, err := s.txStmt(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []component.Change
	for rows.Next() {
		var at int64
		var status string
		ch := component.Change{ComponentID: id}
		if err := rows.Scan(&at, &status, &ch.Reason); err != nil {
			return nil, err
		}
		ch.At, ch.Status = store.FromMillis(at), component.Status(status)
		out = append(out, ch)
	}
	return out, rows.Err()
}

// afterAppend keeps the aggregates up to date once ch is in the timeline (inserted: it was
// new), in the append's transaction: the row of ch's day, and the component's next row, whose
// first status may have changed.
func (s *Store) afterAppend(ctx context.Context, tx *sql.Tx, ch component.Change, inserted bool) error {
	if !inserted {
		return nil
	}
	zone, err := s.dayZone(ctx, tx)
	if err != nil || zone == "" {
		return err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("status days in %s: %w", zone, err)
	}
	day := store.DayOf(ch.At, loc)
	if err := s.rewriteDay(ctx, tx, ch.ComponentID, day, loc); err != nil {
		return err
	}
	st, err := s.txStmt(ctx, tx, `SELECT day FROM status_days WHERE component_id = ? AND day > ? ORDER BY day LIMIT 1`)
	if err != nil {
		return err
	}
	var next int64
	err = st.QueryRowContext(ctx, ch.ComponentID, store.DayNumber(day)).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.rewriteDay(ctx, tx, ch.ComponentID, store.DateOfNumber(next), loc)
}

// rewriteDay makes one component's row of one day again from its timeline.
func (s *Store) rewriteDay(ctx context.Context, tx *sql.Tx, id string, day calendar.Date, loc *time.Location) error {
	q := store.DaysQuery{Location: loc, First: day, Last: day}
	span := q.Span()
	tl, err := s.timelineTx(ctx, tx, id, span.Start, span.End)
	if err != nil {
		return err
	}
	cd := store.DaysFromTimeline(id, tl, q)
	text, args := putDay, []any(nil)
	if len(cd.Days) == 0 {
		text, args = `DELETE FROM status_days WHERE day = ? AND component_id = ?`, []any{store.DayNumber(q.First), id}
	} else {
		args = dayArgs(id, cd.Days[0])
	}
	st, err := s.txStmt(ctx, tx, text)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// importedDays builds the aggregates of imported timelines, if a zone is kept.
func (s *Store) importedDays(ctx context.Context, tx *sql.Tx) error {
	zone, err := s.dayZone(ctx, tx)
	if err != nil || zone == "" {
		return err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return fmt.Errorf("status days in %s: %w", zone, err)
	}
	return s.rebuildStatusDays(ctx, tx, loc)
}
