package statuspage

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/component"
)

func TestBadges(t *testing.T) {
	f := newFixture(t)
	f.addComponents("api", "db")
	ctx := t.Context()
	// api: up for 40 days except one hour down 10 days ago: 30-day uptime 1 - 1/720.
	for _, ch := range []component.Change{
		{ComponentID: "api", At: t0.Add(-40 * 24 * time.Hour), Status: component.Operational},
		{ComponentID: "api", At: t0.Add(-10 * 24 * time.Hour), Status: component.MajorOutage},
		{ComponentID: "api", At: t0.Add(-10*24*time.Hour + time.Hour), Status: component.Operational},
	} {
		if err := f.store.AppendStatus(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	r := f.do("GET", "/badge/api/status.svg", "", "")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "image/svg+xml") || !strings.Contains(string(r.body), ">operational<") {
		t.Fatalf("status badge: %d %s", r.code, r.body)
	}
	if err := xml.Unmarshal(r.body, new(struct{})); err != nil {
		t.Errorf("the badge is not well-formed XML: %v", err)
	}
	var js struct {
		SchemaVersion         int
		Label, Message, Color string
	}
	if err := json.Unmarshal(f.do("GET", "/badge/api/uptime.json?window=30d", "", "").body, &js); err != nil ||
		js.SchemaVersion != 1 || js.Label != "uptime 30d" || js.Message != "99.86%" || js.Color != badgeGreen {
		t.Errorf("uptime endpoint JSON = %+v, %v (1 - 1/720 is 99.861 %%, above the 99.5 %% target: green)", js, err)
	}
	if err := json.Unmarshal(f.do("GET", "/badge/db/uptime.json", "", "").body, &js); err != nil || js.Message != "no data" {
		t.Errorf("no data: %+v", js)
	}
	r = f.do("GET", "/badge/api/status.svg?label=%3Cscript%3E", "", "")
	if strings.Contains(string(r.body), "<script>") || !strings.Contains(string(r.body), "&lt;script&gt;") {
		t.Error("a label reached the SVG unescaped")
	}
	for path, code := range map[string]int{"/badge/api/uptime.svg?window=1y": 400, "/badge/api/cake.svg": 404, "/badge/ghost/status.svg": 404} {
		if r := f.do("GET", path, "", ""); r.code != code {
			t.Errorf("%s: %d, want %d", path, r.code, code)
		}
	}
}
