package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/upstate-dev/upstate/incidents"
)

// sla prints when a policy's targets fall due for an incident opened at a given time, so an
// operator can check a promise without opening an incident.
func sla(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "deadlines" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, "Usage: upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]\n")
			return 0
		}
		fmt.Fprint(stderr, "Usage: upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]\n")
		return 2
	}
	fs := newFlags("sla deadlines", "sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` holding the policies")
	policy := fs.String("policy", "", "the `policy`; default: the config's default policy")
	severity := fs.String("severity", "", "the incident's `severity`: P0, P1, P2 or P3")
	opened := fs.String("opened", "", "when the incident was opened, `RFC3339` (default: now)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	name := *policy
	if name == "" {
		name = cfg.DefaultPolicy
	}
	p, found := cfg.SLAPolicies()[name]
	if !found {
		ids := make([]string, 0, len(cfg.SLAPolicies()))
		for id := range cfg.SLAPolicies() {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(stderr, "upstate sla deadlines: unknown policy %q (the config has: %s)\n", name, strings.Join(ids, ", "))
		return 2
	}
	at := time.Now()
	if *opened != "" {
		t, err := time.Parse(time.RFC3339, *opened)
		if err != nil {
			fmt.Fprintf(stderr, "upstate sla deadlines: -opened: want an RFC 3339 time such as 2026-11-20T19:30:00+08:00\n")
			return 2
		}
		at = t
	}
	d, err := p.Deadlines(incidents.Severity(*severity), at)
	if err != nil {
		fmt.Fprintf(stderr, "upstate sla deadlines: %v\n", err)
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		fmt.Fprintf(stderr, "upstate sla deadlines: %v\n", err)
		return 1
	}
	return 0
}
