package statuspage

import (
	"strings"
	"testing"

	"github.com/mmcdole/gofeed"

	"github.com/upstate-dev/upstate/apikey"
)

func TestFeedsParse(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeIncidents]
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"API <errors>","severity":"P1","message":"Looking **now**.","components":[{"id":"api","impact":"major_outage"}]}`)
	id := r.incident(t).ID
	f.do("POST", "/api/admin/v1/incidents/"+id+"/resolve", ops, `{"message":"Fixed."}`)
	f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"DB slow","severity":"P2","components":[{"id":"db","impact":"degraded_performance"}]}`)
	if r := f.do("POST", "/api/admin/v1/maintenance", f.tokens[apikey.ScopeMaintenance], tuesdayBody); r.code != 201 {
		t.Fatal(r.body)
	}
	parser := gofeed.NewParser()
	for _, path := range []string{"/history.atom", "/history.rss", "/feed.json"} {
		r := f.do("GET", path, "", "")
		if r.code != 200 {
			t.Fatalf("%s: %d", path, r.code)
		}
		feed, err := parser.ParseString(string(r.body))
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", path, err, r.body)
		}
		// Two incidents and the Tuesday occurrence within the 7-day horizon (Nov 3).
		if len(feed.Items) != 3 {
			t.Fatalf("%s: %d items, want 3", path, len(feed.Items))
		}
		var found bool
		for _, it := range feed.Items {
			if it.GUID == "https://status.example.com/incidents/"+id || it.Link == "https://status.example.com/incidents/"+id {
				found = true
				body := it.Content + it.Description
				if !strings.Contains(it.Title, "API <errors>") || !strings.Contains(body, "Fixed.") || !strings.Contains(body, "<strong>now</strong>") {
					t.Errorf("%s: incident item = %q / %q", path, it.Title, body)
				}
			}
		}
		if !found {
			t.Errorf("%s: no item with the incident's stable id", path)
		}
	}
	// db's feed: its incident and the Tuesday window, which affects db; not the API incident.
	one, err := parser.ParseString(string(f.do("GET", "/history.atom?component=db", "", "").body))
	if err != nil || len(one.Items) != 2 || strings.Contains(one.Items[0].Title+one.Items[1].Title, "API") {
		t.Errorf("per-component feed: %v %d items", err, len(one.Items))
	}
	page := string(f.do("GET", "/", "", "").body)
	if !strings.Contains(page, `<link rel="alternate" type="application/atom+xml"`) || !strings.Contains(page, `href="/history.rss"`) {
		t.Error("the page does not announce its feeds")
	}
	if r := f.do("GET", "/history.atom?component=ghost", "", ""); r.code != 404 {
		t.Errorf("feed of an unknown component: %d", r.code)
	}
}
