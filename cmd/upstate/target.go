package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
)

const targetUsage = `Usage: upstate target list|show|add|change|remove|test [flags] (-server URL, UPSTATE_TOKEN; admin scope to change)

  upstate target list                          every target: the config file's (source config) and the API's
  upstate target show ID
  upstate target add ID -kind webhook|email|chat|pagerduty [-url URL] [-secret S] [-header Name=Value]...
                     [-to a@example.com,b@example.com] [-routing-key K] [-attempt-timeout 30s] [-max-in-flight 4]
  upstate target change ID [the flags of add]  only the flags given change; the rest stay
  upstate target remove ID                     nothing more is sent to it
  upstate target test ID                       a test message now

Targets made here reach every instance without a restart. Secret flags (-url, -secret,
-routing-key) may be ${NAME} references, read from each instance's environment (quote them
for your shell); nothing shows a secret again. The config file's targets are read-only here.
Routes name targets in the config file (notify.api_targets lists the API's they may name).
docs/notifications.md. Exit codes: 0 ok, 1 API or network error (422: a field is invalid),
2 usage, 3 no such target, 4 the id exists or is the config file's.
`

func targetCmd(args []string, stdout, stderr io.Writer) int {
	return subcommand("target", map[string]func([]string, io.Writer, io.Writer) int{
		"list": targetList, "show": targetShow, "add": targetAdd, "change": targetChange, "remove": targetRemove, "test": targetTest,
	}, targetUsage, args, stdout, stderr)
}

type targetRow struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Source      string            `json:"source"`
	Destination string            `json:"destination"`
	Secret      string            `json:"secret"`
	RoutingKey  string            `json:"routing_key"`
	Headers     map[string]string `json:"headers"`
	Timeout     string            `json:"timeout"`
	MaxInFlight int               `json:"max_in_flight"`
	UsedBy      []string          `json:"used_by"`
	Version     int               `json:"version"`
}

func showTargets(w *tabwriter.Writer, ts []targetRow) {
	fmt.Fprintln(w, "ID\tKIND\tSOURCE\tDESTINATION\tTIMEOUT\tIN FLIGHT\tUSED BY")
	for _, t := range ts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.ID, t.Kind, t.Source, t.Destination, t.Timeout, t.MaxInFlight, orDash(strings.Join(t.UsedBy, ", ")))
	}
}

func targetList(args []string, stdout, stderr io.Writer) int {
	return clientCommand("target list", "target list", 0, true, args, stdout, stderr, nil,
		func(c *client, _ []string) error {
			var v struct {
				Targets []targetRow `json:"targets"`
			}
			raw, err := c.get("/api/admin/v1/targets", nil, &v)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) { showTargets(w, v.Targets) })
		})
}

func targetShow(args []string, stdout, stderr io.Writer) int {
	return clientCommand("target show", "target show ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			var t targetRow
			raw, err := c.get("/api/admin/v1/targets/"+url.PathEscape(pos[0]), nil, &t)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) { showTargets(w, []targetRow{t}) })
		})
}

// targetFlags are add's and change's flags; set records which were given.
type targetFlags struct {
	kind, url, secret, routingKey, timeout *string
	to, headers                            stringList
	maxInFlight                            *int
	set                                    map[string]bool
}

func (f *targetFlags) define(fs *flag.FlagSet) {
	f.kind = fs.String("kind", "", "webhook, email, chat or pagerduty")
	f.url = fs.String("url", "", "a webhook's `URL`, a chat target's shoutrrr URL, or PagerDuty's endpoint (secret: ${NAME} allowed)")
	f.secret = fs.String("secret", "", "a webhook's HMAC-SHA256 signing `key` (secret: ${NAME} allowed)")
	f.routingKey = fs.String("routing-key", "", "a pagerduty target's routing `key` (secret: ${NAME} allowed)")
	f.timeout = fs.String("attempt-timeout", "", "one attempt's bound, such as 10s (default 30s; -timeout is the client's own)")
	f.maxInFlight = fs.Int("max-in-flight", 0, "deliveries at once to this target (default 4)")
	fs.Var(&f.to, "to", "an email target's `addresses` (comma-separated)")
	fs.Func("header", "a webhook's extra header, `Name=Value` (repeat it; -header= clears them on change)", func(v string) error {
		if v != "" {
			f.headers = append(f.headers, v)
		}
		return nil
	})
}

// body is the JSON of the flags given (all of them for add).
func (f *targetFlags) body(fs *flag.FlagSet) (map[string]any, error) {
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	b := map[string]any{}
	for _, fl := range []struct {
		flag, field string
		v           *string
	}{{"kind", "kind", f.kind}, {"url", "url", f.url}, {"secret", "secret", f.secret}, {"routing-key", "routing_key", f.routingKey},
		{"attempt-timeout", "timeout", f.timeout}} {
		if f.set[fl.flag] {
			b[fl.field] = *fl.v
		}
	}
	if f.set["to"] {
		b["to"] = []string(f.to)
	}
	if f.set["max-in-flight"] {
		b["max_in_flight"] = *f.maxInFlight
	}
	if f.set["header"] {
		h := map[string]string{}
		for _, kv := range f.headers {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, usagef("-header %q: want Name=Value", kv)
			}
			h[k] = v
		}
		b["headers"] = h
	}
	return b, nil
}

func targetAdd(args []string, stdout, stderr io.Writer) int {
	var f targetFlags
	var fs *flag.FlagSet
	return clientCommand("target add", "target add ID -kind KIND [-url URL] [-secret S] [-header N=V]... [-to ADDRS] [-routing-key K] [-attempt-timeout D] [-max-in-flight N]",
		1, true, args, stdout, stderr,
		func(set *flag.FlagSet) { fs = set; f.define(set) },
		func(c *client, pos []string) error {
			body, err := f.body(fs)
			if err != nil {
				return err
			}
			body["id"] = pos[0]
			return targetWrite(c, stdout, http.MethodPost, "/api/admin/v1/targets", body)
		})
}

func targetChange(args []string, stdout, stderr io.Writer) int {
	var f targetFlags
	var fs *flag.FlagSet
	return clientCommand("target change", "target change ID [-kind KIND] [-url URL] [-secret S] [-header N=V]... [-to ADDRS] [-routing-key K] [-attempt-timeout D] [-max-in-flight N]",
		1, true, args, stdout, stderr,
		func(set *flag.FlagSet) { fs = set; f.define(set) },
		func(c *client, pos []string) error {
			body, err := f.body(fs)
			if err != nil {
				return err
			}
			if len(body) == 0 {
				return usagef("give at least one flag to change")
			}
			return targetWrite(c, stdout, http.MethodPatch, "/api/admin/v1/targets/"+url.PathEscape(pos[0]), body)
		})
}

func targetWrite(c *client, stdout io.Writer, method, path string, body map[string]any) error {
	raw, err := c.call(method, path, nil, body)
	if err != nil {
		return err
	}
	var t targetRow
	if err := decode(raw, &t); err != nil {
		return err
	}
	return c.show(stdout, raw, func(w *tabwriter.Writer) { showTargets(w, []targetRow{t}) })
}

func targetRemove(args []string, stdout, stderr io.Writer) int {
	return clientCommand("target remove", "target remove ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			if _, err := c.call(http.MethodDelete, "/api/admin/v1/targets/"+url.PathEscape(pos[0]), nil, nil); err != nil {
				return err
			}
			if !c.json {
				fmt.Fprintf(stdout, "%s deleted\n", pos[0])
			}
			return nil
		})
}

func targetTest(args []string, stdout, stderr io.Writer) int {
	return clientCommand("target test", "target test ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			var v struct {
				DurationMS int64 `json:"duration_ms"`
			}
			raw, err := c.call(http.MethodPost, "/api/admin/v1/targets/"+url.PathEscape(pos[0])+"/test", nil, nil)
			if err != nil {
				return err
			}
			if err := decode(raw, &v); err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s\tdelivered in %d ms\n", pos[0], v.DurationMS) })
		})
}
