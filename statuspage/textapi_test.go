package statuspage

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/upstate-dev/upstate/apikey"
)

// Every free-text field of the admin API refuses control characters (and multi-line fields all
// but tab and newline) with a 422 naming the field, and stores nothing; a body that is not
// UTF-8 is not JSON (400). A title with U+001B was accepted before.
func TestAPIRefusesControlCharacters(t *testing.T) {
	f := newFixture(t)
	f.addComponents("db")
	admin, ops, maint := f.tokens[apikey.ScopeAdmin], f.tokens[apikey.ScopeIncidents], f.tokens[apikey.ScopeMaintenance]
	if r := f.do("POST", "/api/admin/v1/components", admin, `{"id":"api","name":"API"}`); r.code != 201 {
		t.Fatalf("component: %d %s", r.code, r.body)
	}
	r := f.do("POST", "/api/admin/v1/incidents", ops, `{"title":"API errors","severity":"P2","message":"Looking."}`)
	if r.code != 201 {
		t.Fatalf("incident: %d %s", r.code, r.body)
	}
	id := r.incident(t).ID
	if r := f.do("POST", "/api/admin/v1/maintenance", maint, tuesdayBody); r.code != 201 {
		t.Fatalf("window: %d %s", r.code, r.body)
	}
	inc := "/api/admin/v1/incidents/" + id
	tests := []struct {
		name, method, path, token, body string
		code                            int
		field                           string
	}{
		{"incident title with U+001B", "POST", "/api/admin/v1/incidents", ops, `{"title":"API \u001b[31merrors","severity":"P2"}`, 422, "title"},
		{"incident title with a newline", "POST", "/api/admin/v1/incidents", ops, `{"title":"API\nerrors","severity":"P2"}`, 422, "title"},
		{"incident message with U+000B", "POST", "/api/admin/v1/incidents", ops, `{"title":"API errors","severity":"P2","message":"a\u000bb"}`, 422, "message"},
		{"update with U+0001", "POST", inc + "/updates", ops, `{"message":"still\u0001 looking"}`, 422, "message"},
		{"update with U+FFFE", "POST", inc + "/updates", ops, `{"message":"\ufffe"}`, 422, "message"},
		{"resolution with U+0000", "POST", inc + "/resolve", ops, `{"message":"fixed\u0000"}`, 422, "message"},
		{"component name with U+0000", "POST", "/api/admin/v1/components", admin, `{"id":"web","name":"Web\u0000"}`, 422, "name"},
		{"component description with U+001B", "POST", "/api/admin/v1/components", admin, `{"id":"web","name":"Web","description":"\u001b"}`, 422, "description"},
		{"group name with a tab", "POST", "/api/admin/v1/components", admin, `{"id":"core","name":"Core\tservices","group":true}`, 422, "name"},
		{"renamed with U+0085", "PATCH", "/api/admin/v1/components/api", admin, `{"name":"API\u0085"}`, 422, "name"},
		{"window title with U+001B", "POST", "/api/admin/v1/maintenance", maint,
			`{"id":"w2","title":"DB\u001b","components":["db"],"time_zone":"UTC","start":"2026-11-03T01:00:00Z","end":"2026-11-03T02:00:00Z"}`, 422, "title"},
		{"window description with U+007F", "POST", "/api/admin/v1/maintenance", maint,
			`{"id":"w2","title":"DB","description":"\u007f","components":["db"],"time_zone":"UTC","start":"2026-11-03T01:00:00Z","end":"2026-11-03T02:00:00Z"}`, 422, "description"},
		{"window retitled with U+0001", "PATCH", "/api/admin/v1/maintenance/tuesday-db", maint, `{"title":"DB\u0001"}`, 422, "title"},
		{"window redescribed with U+0000", "PATCH", "/api/admin/v1/maintenance/tuesday-db", maint, `{"description":"\u0000"}`, 422, "description"},
		{"key name with U+001B", "POST", "/api/admin/v1/keys", admin, `{"name":"ops\u001b[2J","scopes":["read"]}`, 422, "name"},
		{"a body that is not UTF-8", "POST", "/api/admin/v1/incidents", ops, "{\"title\":\"caf\xe9\",\"severity\":\"P2\"}", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.auditCount()
			r := f.do(tt.method, tt.path, tt.token, tt.body)
			if r.code != tt.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tt.code)
			}
			if e := r.apiErr(t); e.Field != tt.field {
				t.Errorf("field %q (%s), want %q", e.Field, e.Message, tt.field)
			}
			if n := f.auditCount(); n != before {
				t.Errorf("%d audit entries were written: something was stored", n-before)
			}
		})
	}
	// Multi-line text keeps its tabs and line ends, CRLF included.
	r = f.do("POST", inc+"/updates", ops, `{"message":"Two lines:\r\n\tindented\nand more."}`)
	if r.code != 200 {
		t.Fatalf("a multi-line update: %d %s", r.code, r.body)
	}
	var got struct{ Updates []struct{ Body string } }
	mustOK(t, json.Unmarshal(r.body, &got))
	if !slices.ContainsFunc(got.Updates, func(u struct{ Body string }) bool { return u.Body == "Two lines:\r\n\tindented\nand more." }) {
		t.Errorf("stored %+v", got.Updates)
	}
	if r := f.do("PATCH", "/api/admin/v1/maintenance/tuesday-db", maint, `{"description":"Line one.\nLine two."}`); r.code != 200 {
		t.Errorf("a multi-line description: %d %s", r.code, r.body)
	}
}
