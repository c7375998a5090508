package statuspage

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/assets"
	"github.com/upstate-dev/upstate/component"
)

// thingSeries registers, in reg, series as the engine names them: each component, window,
// incident and monitor of the visibility fixture, public and internal. The walk of
// TestNoInternalLeak reads them on /metrics too.
func thingSeries(t testing.TB, reg prometheus.Registerer) {
	t.Helper()
	status := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_component_status", Help: "h"}, []string{"component", "status"})
	burn := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_error_budget_burn_rate", Help: "h"}, []string{"component", "window"})
	maint := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_maintenance_active", Help: "h"}, []string{"window"})
	clock := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_sla_clock_remaining_seconds", Help: "h"}, []string{"incident", "severity", "clock"})
	probe := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_probe_success", Help: "h"}, []string{"monitor"})
	queue := prometheus.NewGauge(prometheus.GaugeOpts{Name: "upstate_notifications_waiting", Help: "h"})
	open := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "upstate_incidents_open", Help: "h"}, []string{"severity"})
	breaches := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "upstate_sla_breaches_total", Help: "h"}, []string{"severity", "clock"})
	reg.MustRegister(status, burn, maint, clock, probe, queue, open, breaches)
	// The engine counts every open incident: the secret P0 and the mixed P3.
	open.WithLabelValues("P0").Set(1)
	open.WithLabelValues("P1").Set(0)
	open.WithLabelValues("P3").Set(1)
	breaches.WithLabelValues("P0", "resolution").Inc()
	for _, id := range []string{publicComp, publicGroup, publicInGroup, secretGroup, secretInGroup, secretComp, secretInPublic} {
		shows := component.Operational
		if id == publicGroup {
			shows = component.MajorOutage // the engine's roll-up counts its internal component's outage
		}
		for _, st := range []component.Status{component.Operational, component.DegradedPerformance, component.PartialOutage,
			component.MajorOutage, component.UnderMaintenance, component.Unknown} {
			v := 0.0
			if st == shows {
				v = 1
			}
			status.WithLabelValues(id, string(st)).Set(v)
		}
		burn.WithLabelValues(id, "1h").Set(0.5)
	}
	for _, id := range []string{mixedWindow, secretWindow} {
		maint.WithLabelValues(id).Set(1)
	}
	for _, id := range []string{mixedIncident, secretIncident} {
		clock.WithLabelValues(id, "P1", "resolution").Set(60)
	}
	probe.WithLabelValues("api-up").Set(1)
	probe.WithLabelValues("vault-up").Set(0)
	queue.Set(3)
}

// TestPublicMetricsHideInternal: the public /metrics names no internal component, group,
// window or incident, and no monitor unless monitors are public (then not those of internal
// components); everything else is there, the burn-rate "window" label included. A read key sees
// every series, uncached; the public view is cached for at most a second.
func TestPublicMetricsHideInternal(t *testing.T) {
	for _, tc := range []struct {
		name           string
		publicMonitors bool
		cacheTTL       time.Duration
	}{{"monitors private", false, -1}, {"monitors public", true, -1}, {"cached", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			visibilityFixture(t, f)
			reg := prometheus.NewRegistry()
			thingSeries(t, reg)
			srv, err := New(Options{Store: f.store, Clock: f.clock, Registry: reg, Assets: assets.FS(), Page: f.srv.page,
				SLA: f.srv.sla, CacheTTL: tc.cacheTTL, Monitors: twoMonitors{}, PublicMonitors: tc.publicMonitors})
			if err != nil {
				t.Fatal(err)
			}
			f.srv = srv
			pub := f.do("GET", "/metrics", "", "", "Accept", "application/openmetrics-text;version=1.0.0")
			checkNoSecrets(t, "GET /metrics", "", pub)
			body := string(pub.body)
			for _, want := range []string{
				`upstate_component_status{component="` + publicComp + `",status="operational"} 1`,
				`upstate_component_status{component="` + publicGroup + `"`,
				`upstate_error_budget_burn_rate{component="` + publicComp + `",window="1h"} 0.5`,
				`upstate_maintenance_active{window="` + mixedWindow + `"} 1`,
				`upstate_sla_clock_remaining_seconds{clock="resolution",incident="` + mixedIncident + `",severity="P1"} 60`,
				"upstate_notifications_waiting 3",
				// Open incidents recounted from what the public sees: the secret P0 is not.
				`upstate_incidents_open{severity="P0"} 0`,
				`upstate_incidents_open{severity="P1"} 0`,
				`upstate_incidents_open{severity="P3"} 1`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("the public metrics lack %s:\n%s", want, body)
				}
			}
			// A public group's status is the page's, from its public components alone: its
			// internal component's outage does not show through it.
			var v1 struct {
				Components []struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"components"`
			}
			if r := f.do("GET", "/api/v1/components", "", ""); r.code != 200 || json.Unmarshal(r.body, &v1) != nil {
				t.Fatalf("/api/v1/components: %d %s", r.code, r.body)
			}
			for _, c := range v1.Components {
				if want := `upstate_component_status{component="` + c.ID + `",status="` + c.Status + `"} 1`; !strings.Contains(body, want) {
					t.Errorf("the public metrics lack %s (what /api/v1 and the page show)", want)
				}
			}
			if bad := `upstate_component_status{component="` + publicGroup + `",status="major_outage"} 1`; strings.Contains(body, bad) {
				t.Errorf("the public metrics show %s: an internal component's outage through its public group", bad)
			}
			if got := strings.Contains(body, `upstate_probe_success{monitor="api-up"} 1`); got != tc.publicMonitors {
				t.Errorf("a public component's monitor shown: %v, want %v (server.public_monitors)", got, tc.publicMonitors)
			}
			if strings.Contains(body, "upstate_sla_breaches_total") {
				t.Error("SLA breach counts (internal incidents' too) are on the public metrics")
			}
			if strings.Contains(body, "vault-up") {
				t.Error("an internal component's monitor is on the public metrics")
			}
			if ct := pub.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("the public metrics' type %q: want the one text format whatever the Accept", ct)
			}
			if cc := pub.hdr.Get("Cache-Control"); tc.cacheTTL == 0 && cc != "public, max-age=1" {
				t.Errorf("Cache-Control %q: the public metrics are at most a second old, and say so", cc)
			}

			keyed := f.do("GET", "/metrics", f.tokens[apikey.ScopeRead], "")
			if keyed.code != 200 || keyed.hdr.Get("Cache-Control") != "private, no-store" {
				t.Fatalf("with a read key: %d %q", keyed.code, keyed.hdr.Get("Cache-Control"))
			}
			for _, s := range []string{secretComp, secretInGroup, secretWindow, secretIncident, "vault-up"} {
				if !strings.Contains(string(keyed.body), s) {
					t.Errorf("a read key does not see %s on /metrics", s)
				}
			}
			if bad := f.do("GET", "/metrics", "up_nope_nope", ""); bad.code != 401 {
				t.Errorf("a bad key on /metrics: %d, want 401 (not the public view)", bad.code)
			}
		})
	}
}
