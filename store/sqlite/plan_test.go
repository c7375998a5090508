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
