package configs_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/upstate-dev/upstate/internal/testenv"
)

var metricName = regexp.MustCompile(`\bupstate_[a-z_]+[a-z]\b`)

// documented is every metric the README's metrics section names.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range metricName.FindAllString(string(readme), -1) {
		out[m] = true
	}
	return out
}

// used returns the metric names an expression text uses, histogram suffixes removed.
func used(text string) []string {
	var out []string
	for _, m := range metricName.FindAllString(text, -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(m, "_seconds"+suffix) {
				m = strings.TrimSuffix(m, suffix)
			}
		}
		out = append(out, m)
	}
	return out
}

// TestAlertRules checks the shipped Prometheus rules with promtool (syntax, and the unit tests in
// alerts_test.yml that each alert fires on what it names) and that they use documented metrics.
func TestAlertRules(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := documented(t)
	for _, m := range used(string(rules)) {
		if !docs[m] {
			t.Errorf("alerts.yml uses %s, which the README does not document", m)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if testenv.CI() {
			t.Fatal("promtool is not installed and CI=true: apt-get install prometheus")
		}
		t.Skip("promtool is not installed (apt-get install prometheus); under CI=true this fails")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGrafanaDashboard: the dashboard is JSON Grafana can import, and its queries use
// documented metrics only.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("prometheus", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without a title, uid or panels: %+v", dash)
	}
	docs := documented(t)
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range used(q.Expr) {
				if !docs[m] {
					t.Errorf("panel %q uses %s, which the README does not document", p.Title, m)
				}
			}
		}
	}
}
