package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/component"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/store"
)

// TestDeleteWindowAPI: a window created through the API by mistake is deleted before it starts
// and leaves every public surface at once (served as `upstate serve` serves, through the
// response cache the delete's event invalidates); the config file's windows and windows that
// have started are refused with 409 and stay.
func TestDeleteWindowAPI(t *testing.T) {
	f, _ := cachedFixture(t)
	f.addComponents("api", "db")
	ops := f.tokens[apikey.ScopeMaintenance]
	const title = "Mistaken migration"
	mistake := strings.Replace(tuesdayBody, `"Database"`, `"`+title+`"`, 1) // first night 2026-11-04T05:00Z, inside the horizon
	if r := f.do("POST", "/api/admin/v1/maintenance", ops, mistake); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	public := []string{
		"/",
		"/maintenance.ics",
		"/api/v2/scheduled-maintenances.json",
		"/api/v2/scheduled-maintenances/upcoming.json",
		"/api/v1/maintenance/occurrences?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z",
	}
	for _, path := range public { // shown (and cached) before the delete
		if r := f.do("GET", path, "", ""); r.code != 200 || !strings.Contains(string(r.body), title) {
			t.Fatalf("GET %s before the delete: %d, window shown %v", path, r.code, strings.Contains(string(r.body), title))
		}
	}

	if r := f.do("DELETE", "/api/admin/v1/maintenance/tuesday-db", f.tokens[apikey.ScopeRead], ""); r.code != 403 {
		t.Fatalf("DELETE with a read key: %d %s, want 403", r.code, r.body)
	}
	if r := f.do("DELETE", "/api/admin/v1/maintenance/tuesday-db", ops, ""); r.code != 204 || len(r.body) != 0 {
		t.Fatalf("DELETE: %d %s, want 204 and no body", r.code, r.body)
	}
	settle(f.srv)
	if r := f.do("GET", "/api/admin/v1/maintenance/tuesday-db", f.tokens[apikey.ScopeRead], ""); r.code != 404 {
		t.Errorf("GET after the delete: %d %s, want 404", r.code, r.body)
	}
	if r := f.do("DELETE", "/api/admin/v1/maintenance/tuesday-db", ops, ""); r.code != 404 || r.apiErr(t).Code != "not_found" {
		t.Errorf("DELETE twice: %d %s, want 404 not_found", r.code, r.body)
	}
	for _, path := range public {
		if r := f.do("GET", path, "", ""); r.code != 200 || strings.Contains(string(r.body), title) {
			t.Errorf("GET %s after the delete: %d, window still shown %v", path, r.code, strings.Contains(string(r.body), title))
		}
	}
	entries, err := f.store.ListAudit(t.Context(), store.AuditQuery{Target: "maintenance/tuesday-db"})
	if err != nil || len(entries) != 2 || entries[0].Action != "maintenance.delete" || entries[0].Actor != "maintenance-key" ||
		!strings.Contains(string(entries[0].Before), title) {
		t.Errorf("audit = %+v, %v; want the create, then the delete by maintenance-key keeping the window", entries, err)
	}

	// A window the config file declares: 409, as its edits are.
	w, errs := maintenance.Spec{ID: "nightly", Title: "Nightly", Components: []string{"api"}, TimeZone: "Asia/Shanghai",
		Daily: true, StartTime: "20:00", EndTime: "08:00", FirstDate: "2026-11-10"}.Window(t0)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	w.Source, w.CreatedAt, w.UpdatedAt = string(component.SourceConfig), t0, t0
	mustOK(t, f.store.CreateWindow(t.Context(), w, store.AuditEntry{At: t0}))
	r := f.do("DELETE", "/api/admin/v1/maintenance/nightly", ops, "")
	if e := r.apiErr(t); r.code != 409 || e.Code != "managed_by_config" || !strings.Contains(e.Message, "remove it there") {
		t.Errorf("DELETE of a config window: %d %s, want 409 managed_by_config", r.code, r.body)
	}

	// A window that has started (the test clock moves past its start): 409, cancel it instead.
	soon := `{"id":"soon","title":"Soon","components":["db"],"time_zone":"UTC","start":"2026-11-01T10:00:00Z","end":"2026-11-01T11:00:00Z"}`
	if r := f.do("POST", "/api/admin/v1/maintenance", ops, soon); r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	f.clock.Advance(30 * time.Minute) // 10:00, its start
	r = f.do("DELETE", "/api/admin/v1/maintenance/soon", ops, "")
	if e := r.apiErr(t); r.code != 409 || e.Code != "invalid_state" || !strings.Contains(e.Message, "cancel it instead") {
		t.Errorf("DELETE of a window that has started: %d %s, want 409 invalid_state saying to cancel it", r.code, r.body)
	}
	for _, id := range []string{"nightly", "soon"} {
		if r := f.do("GET", "/api/admin/v1/maintenance/"+id, f.tokens[apikey.ScopeRead], ""); r.code != 200 {
			t.Errorf("GET %s after a refused delete: %d, want 200", id, r.code)
		}
	}
}
