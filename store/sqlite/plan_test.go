package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/store"
)

// TestIncidentQueriesUseTheirIndex reads the query plan of each shape of incident query the
// surfaces make: each searches its most selective index (never every incident by opening time,
// which would read all of history to find a few), so its cost follows what it returns.
func TestIncidentQueriesUseTheirIndex(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		q         store.IncidentQuery
		unordered bool
		want      string
	}{
		{"the page's open incidents", store.IncidentQuery{OpenOnly: true, Limit: 20}, false, "SEARCH h USING INDEX incident_heads_open (open=?)"},
		{"a component's open incidents", store.IncidentQuery{OpenOnly: true, ComponentID: "api"}, false, "SEARCH h USING INDEX incident_heads_open (open=?)"},
		{"the bars' incidents", store.IncidentQuery{ActiveFrom: now.Add(-90 * 24 * time.Hour), ActiveBefore: now, Until: now}, true, "SEARCH h USING INDEX incident_heads_by_end (ended_at>?)"},
		{"a month of history", store.IncidentQuery{StartedFrom: now.Add(-30 * 24 * time.Hour), StartedBefore: now}, false, "SEARCH h USING INDEX incident_heads_by_started (started_at>? AND started_at<?)"},
		{"a component's feed", store.IncidentQuery{ComponentID: "api", Limit: 50}, false, "SEARCH ic USING PRIMARY KEY (component_id=?)"},
		{"a component's report", store.IncidentQuery{ComponentID: "api", Until: now}, false, "SEARCH ic USING PRIMARY KEY (component_id=? AND opened_at<?)"},
		{"the latest fifty", store.IncidentQuery{Limit: 50}, false, "SCAN h USING INDEX incident_heads_by_opened"},
	} {
		text, args := incidentQuery(tt.q, "h.span", tt.unordered)
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+text, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) == 0 || plan[0] != tt.want {
			t.Errorf("%s: plan %q, want it to begin with %q", tt.name, strings.Join(plan, " | "), tt.want)
		}
	}
}

// TestClaimWalksTheWaitingIndex: the outbox's claim reads the waiting rows in its own order
// and sorts nothing (a sort reads every due row: 100,000 of them behind one fan-out).
func TestClaimWalksTheWaitingIndex(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		name, query string
		args        []any
	}{
		{"due", dueQuery, []any{int64(1)}},
		{"claim", claimQuery, []any{int64(1), 256}},
	} {
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tt.query, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, " | ")
		if !strings.Contains(joined, "USING INDEX notifications_waiting (next_at<?)") && !strings.Contains(joined, "USING COVERING INDEX notifications_waiting (next_at<?)") {
			t.Errorf("%s: plan %q does not search notifications_waiting", tt.name, joined)
		}
		if strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("%s: plan %q sorts", tt.name, joined)
		}
	}
}
