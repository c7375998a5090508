package statuspage

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/availability"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/engine"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// historyReads is a real store that counts the reads whose cost grows with history: a
// component's timeline, and lists of whole incidents (every update of each).
type historyReads struct {
	store.Store
	mu                  sync.Mutex
	timelines, listings int
	decoded             int // incidents returned whole by ListIncidents and GetIncident
}

func (s *historyReads) StatusTimeline(ctx context.Context, id string, from, to time.Time) ([]component.Change, error) {
	s.mu.Lock()
	s.timelines++
	s.mu.Unlock()
	return s.Store.StatusTimeline(ctx, id, from, to)
}

func (s *historyReads) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]incidents.Incident, error) {
	list, err := s.Store.ListIncidents(ctx, q)
	s.mu.Lock()
	s.listings++
	s.decoded += len(list)
	s.mu.Unlock()
	return list, err
}

func (s *historyReads) reset() (timelines, listings, decoded int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	timelines, listings, decoded = s.timelines, s.listings, s.decoded
	s.timelines, s.listings, s.decoded = 0, 0, 0
	return
}

// pageServer is a server on a SQLite store whose reads are counted, with the aggregates kept in
// the page's zone and n components in groups of ten.
func pageServer(t testing.TB, n int) (*Server, *historyReads, time.Time) {
	t.Helper()
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "upstate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 20, 11, 30, 0, 0, time.UTC)
	var records []store.Record
	for g := 0; g*10 < n; g++ {
		grp := component.Component{ID: fmt.Sprintf("g%d", g), Name: fmt.Sprintf("Group %d", g), IsGroup: true, Position: g * 11, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
		records = append(records, store.Record{Type: store.RecordComponent, Component: &grp})
		for i := 0; i < 10 && g*10+i < n; i++ {
			id := fmt.Sprintf("c%d", g*10+i)
			c := component.Component{ID: id, Name: "Component " + id, GroupID: grp.ID, Position: g*11 + i + 1, Source: component.SourceAPI, CreatedAt: now, UpdatedAt: now}
			records = append(records, store.Record{Type: store.RecordComponent, Component: &c},
				store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: now.Add(-100 * 24 * time.Hour), Status: component.Operational}},
				store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: now.Add(-time.Duration(g*10+i+1) * time.Hour), Status: component.MajorOutage}},
				store.Record{Type: store.RecordStatus, Status: &component.Change{ComponentID: id, At: now.Add(-time.Duration(g*10+i+1)*time.Hour + 10*time.Minute), Status: component.Operational}})
		}
	}
	// Years of resolved incidents, one with 1,300 updates, and one open with 15.
	for i := range 300 {
		started := now.Add(-time.Duration(100+i*24) * time.Hour)
		inc, errs := incidents.Declare(incidents.Declaration{ID: fmt.Sprintf("old-%d", i), Title: "Old", Severity: incidents.P2,
			Components: []incidents.Affected{{ComponentID: fmt.Sprintf("c%d", i%n), Impact: component.MajorOutage}}}, nil, started)
		if len(errs) > 0 {
			t.Fatal(errs[0])
		}
		updates := 1
		if i == 7 {
			updates = 1300
		}
		for u := range updates {
			if errs := inc.Apply(incidents.Change{Body: fmt.Sprintf("Update %d", u)}, nil, started.Add(time.Duration(u+1)*time.Second)); len(errs) > 0 {
				t.Fatal(errs[0])
			}
		}
		if err := inc.Resolve("sre", "", started.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		records = append(records, store.Record{Type: store.RecordIncident, Incident: &inc})
	}
	open, errs := incidents.Declare(incidents.Declaration{ID: "open", Title: "Errors on c1", Body: "Looking.", Severity: incidents.P1,
		Components: []incidents.Affected{{ComponentID: "c1", Impact: component.PartialOutage}}}, nil, now.Add(-3*time.Hour))
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
	for u := range 14 {
		if errs := open.Apply(incidents.Change{Body: fmt.Sprintf("Still looking (%d).", u+2)}, nil, now.Add(-3*time.Hour+time.Duration(u+1)*time.Minute)); len(errs) > 0 {
			t.Fatal(errs[0])
		}
	}
	records = append(records, store.Record{Type: store.RecordIncident, Incident: &open})
	if err := st.Import(t.Context(), records); err != nil {
		t.Fatal(err)
	}
	if err := st.KeepStatusDays(t.Context(), sh); err != nil {
		t.Fatal(err)
	}
	cs := &historyReads{Store: st}
	clock := clockwork.NewFakeClockAt(now)
	srv, err := New(Options{Store: cs, Clock: clock, Registry: prometheus.NewPedanticRegistry(), Assets: assets.FS(), CacheTTL: -1,
		Page: Page{Title: "Acme Status", Location: sh, PublicURL: "https://status.example.com"},
		Reports: &engine.Reports{Store: cs, Now: clock.Now, Objective: func(string) engine.Objective {
			return engine.Objective{ID: "o", Objective: availability.Objective{Target: 0.995, Basis: availability.BasisCalendar, Weights: availability.DefaultWeights},
				Location: sh, Notice: 24 * time.Hour}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	cs.reset()
	return srv, cs, now
}

func getPage(t testing.TB, srv *Server, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestPageReadsFollowWhatIsShown renders the page, the history and Statuspage's summary over a
// store with years of incidents (one with 1,300 updates): none of them reads a component's
// timeline or decodes an incident it does not show. The page used to read every component's
// timeline and decode every incident once per component.
func TestPageReadsFollowWhatIsShown(t *testing.T) {
	srv, cs, now := pageServer(t, 40)
	page := getPage(t, srv, "/")
	// One timeline: c1's, whose down time today overlaps the open incident, named in the bar's
	// caption (a caption lists the incidents behind the down time, not just those that day).
	if timelines, listings, decoded := cs.reset(); timelines != 1 || listings != 0 || decoded != 0 {
		t.Errorf("GET / read %d timelines and %d lists of whole incidents (%d incidents): want c1's timeline alone", timelines, listings, decoded)
	}
	if n := strings.Count(page, `<i class=`); n != 40*90 {
		t.Errorf("the page has %d daily bars, want %d", n, 40*90)
	}
	// The open incident shows its latest updates and links to the rest.
	if !strings.Contains(page, "Still looking (15).") || strings.Contains(page, "Still looking (5).") ||
		!strings.Contains(page, `<a href="/incidents/open">5 earlier updates on the incident’s page</a>`) {
		t.Errorf("the open incident's updates on the page are not its latest ten with a link to the rest")
	}
	getPage(t, srv, "/history?month="+now.AddDate(0, -2, 0).Format("2006-01"))
	if timelines, _, decoded := cs.reset(); timelines != 0 || decoded != 0 {
		t.Errorf("GET /history read %d timelines and decoded %d whole incidents: want none", timelines, decoded)
	}
	getPage(t, srv, "/api/v2/summary.json")
	if timelines, _, decoded := cs.reset(); timelines != 0 || decoded != 1 {
		t.Errorf("GET /api/v2/summary.json read %d timelines and decoded %d whole incidents: want none and the open one", timelines, decoded)
	}
	incident := getPage(t, srv, "/incidents/open")
	if !strings.Contains(incident, "Still looking (2).") {
		t.Error("the incident's page does not show all its updates")
	}
}

// TestLargePageCollapsesGroups renders a page of more than collapseAbove components: each group
// is a <details> element, open only when one of its components shows an outage, and the
// components show their status and uptime without daily bars.
func TestLargePageCollapsesGroups(t *testing.T) {
	srv, cs, now := pageServer(t, collapseAbove+1)
	if err := cs.Store.AppendStatus(t.Context(), component.Change{ComponentID: "c15", At: now.Add(-time.Minute), Status: component.MajorOutage}); err != nil {
		t.Fatal(err)
	}
	page := getPage(t, srv, "/")
	if timelines, listings, _ := cs.reset(); timelines != 0 || listings != 0 {
		t.Errorf("GET / read %d timelines and %d lists of whole incidents: want none", timelines, listings)
	}
	groups := (collapseAbove + 10) / 10
	if n := strings.Count(page, `<details class="card group"`); n != groups {
		t.Errorf("%d collapsed groups, want %d", n, groups)
	}
	// Only group 1 has a component down (c15).
	if n := strings.Count(page, `<details class="card group" open>`); n != 1 || !strings.Contains(page, `<details class="card group" open>
      <summary class="group-head">
        <h3>Group 1 <span`) {
		t.Errorf("%d groups open, want group 1 alone", n)
	}
	if n := strings.Count(page, `<i class=`); n != 0 {
		t.Errorf("%d daily bars on a collapsed page, want none", n)
	}
	if n := len(regexp.MustCompile(`<p class="month muted history">\d+(\.\d+)?% uptime over 90 days · This month`).FindAllString(page, -1)); n == 0 {
		t.Errorf("no component shows its uptime and month")
	}
	if n := strings.Count(page, `<li class="component">`); n != collapseAbove+1 {
		t.Errorf("%d components on the page, want %d", n, collapseAbove+1)
	}
}

// BenchmarkPageOverHistory renders / (uncached) over 300 incidents of history, one with 1,300
// updates: with 1,000 components (every component's bars) and with 2,000 (groups collapsed).
func BenchmarkPageOverHistory(b *testing.B) {
	for _, n := range []int{1000, 2000} {
		b.Run(fmt.Sprintf("components=%d", n), func(b *testing.B) {
			srv, _, _ := pageServer(b, n)
			b.ReportAllocs()
			for b.Loop() {
				getPage(b, srv, "/")
			}
		})
	}
}
