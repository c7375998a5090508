package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

const incidentUsage = `Usage: upstate incident COMMAND [flags]

  declare -title TEXT -severity P0..P3 [-message TEXT] [-status S] [-component ID=IMPACT]... [-policy NAME] [-started TIME]
  update ID -message TEXT [-status S] [-severity P0..P3] [-component ID=IMPACT]... [-workaround]
  ack ID
  resolve ID [-message TEXT]
  list [-status open|resolved|all] [-severity P0..P3] [-component ID] [-limit N]
  show ID

Every command takes -server URL, -o table|json, -timeout and -client-config; the key comes
from UPSTATE_TOKEN or the client config. Impacts: degraded_performance, partial_outage,
major_outage. Exit codes: 0 ok, 1 API or network error, 2 usage, 3 not found, 4 conflict.
`

func incidentCmd(args []string, stdout, stderr io.Writer) int {
	return subcommand("incident", map[string]func([]string, io.Writer, io.Writer) int{
		"declare": incidentDeclare, "update": incidentUpdate, "ack": incidentAck, "acknowledge": incidentAck,
		"resolve": incidentResolve, "list": incidentList, "show": incidentShow,
	}, incidentUsage, args, stdout, stderr)
}

// The API's incident, as far as the table shows it (-o json prints all of it).
type incidentView struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Severity   string `json:"severity"`
	Impact     string `json:"impact"`
	Status     string `json:"status"`
	Components []struct {
		ComponentID string `json:"component_id"`
		Impact      string `json:"impact"`
	} `json:"components"`
	Policy         string     `json:"policy"`
	StartedAt      time.Time  `json:"started_at"`
	OpenedAt       time.Time  `json:"opened_at"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	Automatic      bool       `json:"automatic"`
	Backfilled     bool       `json:"backfilled"`
	Updates        []struct {
		At       time.Time `json:"at"`
		Author   string    `json:"author"`
		Kind     string    `json:"kind"`
		Status   string    `json:"status"`
		Body     string    `json:"body"`
		Internal bool      `json:"internal"` // for the team: the public never sees it
	} `json:"updates"`
	Clocks []struct {
		Kind             string     `json:"kind"`
		Calendar         string     `json:"calendar"`
		State            string     `json:"state"`
		RemainingSeconds int64      `json:"remaining_seconds"`
		DueAt            time.Time  `json:"due_at"`
		MetAt            *time.Time `json:"met_at"`
		StoppedAt        *time.Time `json:"stopped_at"`
	} `json:"clocks"`
}

// affectedFlag is -component ID=IMPACT, repeatable.
type affectedFlag []map[string]string

func (f *affectedFlag) String() string { return "" }

func (f *affectedFlag) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		id, impact, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || id == "" || impact == "" {
			return fmt.Errorf("want ID=IMPACT, such as api=major_outage")
		}
		*f = append(*f, map[string]string{"id": id, "impact": impact})
	}
	return nil
}

func incidentPath(id string) string { return "/api/admin/v1/incidents/" + url.PathEscape(id) }

func incidentDeclare(args []string, stdout, stderr io.Writer) int {
	var title, severity, message, status, policy *string
	var comps affectedFlag
	var started timeFlag
	return clientCommand("incident declare", "incident declare -title TEXT -severity P0..P3 [flags]", 0, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			title = fs.String("title", "", "the incident's `title` (required)")
			severity = fs.String("severity", "", "P0 (worst) to P3 (required)")
			message = fs.String("message", "", "the first update's `text` (Markdown)")
			status = fs.String("status", "", "investigating (default), identified or monitoring")
			policy = fs.String("policy", "", "the service-level `policy` (default: the server's default)")
			fs.Var(&comps, "component", "an affected component, `ID=IMPACT` (repeatable)")
			fs.Var(&started, "started", "when the problem began, RFC 3339 (default now)")
		},
		func(c *client, _ []string) error {
			if *title == "" || *severity == "" {
				return usagef("-title and -severity are required")
			}
			body := map[string]any{"title": *title, "severity": strings.ToUpper(*severity)}
			setIf(body, "message", *message)
			setIf(body, "status", *status)
			setIf(body, "policy", *policy)
			if len(comps) > 0 {
				body["components"] = comps
			}
			if !started.t.IsZero() {
				body["started_at"] = started.t
			}
			return c.incidentChange(stdout, http.MethodPost, "/api/admin/v1/incidents", body)
		})
}

func setIf(body map[string]any, key, v string) {
	if v != "" {
		body[key] = v
	}
}

func incidentUpdate(args []string, stdout, stderr io.Writer) int {
	var message, status, severity *string
	var workaround *bool
	var comps affectedFlag
	return clientCommand("incident update", "incident update ID -message TEXT [flags]", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			message = fs.String("message", "", "the update's `text` (Markdown; required)")
			status = fs.String("status", "", "a new status: investigating, identified, monitoring")
			severity = fs.String("severity", "", "a new severity, P0 to P3")
			workaround = fs.Bool("workaround", false, "this update gives a workaround")
			fs.Var(&comps, "component", "the affected components from now on, `ID=IMPACT` (repeatable)")
		},
		func(c *client, pos []string) error {
			if *message == "" {
				return usagef("-message is required")
			}
			body := map[string]any{"message": *message}
			setIf(body, "status", *status)
			setIf(body, "severity", strings.ToUpper(*severity))
			if len(comps) > 0 {
				body["components"] = comps
			}
			if *workaround {
				body["workaround"] = true
			}
			return c.incidentChange(stdout, http.MethodPost, incidentPath(pos[0])+"/updates", body)
		})
}

func incidentAck(args []string, stdout, stderr io.Writer) int {
	return clientCommand("incident ack", "incident ack ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			return c.incidentChange(stdout, http.MethodPost, incidentPath(pos[0])+"/acknowledge", nil)
		})
}

func incidentResolve(args []string, stdout, stderr io.Writer) int {
	var message *string
	return clientCommand("incident resolve", "incident resolve ID [-message TEXT]", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			message = fs.String("message", "", "the closing update's `text` (default: the server's)")
		},
		func(c *client, pos []string) error {
			var body any
			if *message != "" {
				body = map[string]string{"message": *message}
			}
			return c.incidentChange(stdout, http.MethodPost, incidentPath(pos[0])+"/resolve", body)
		})
}

func incidentShow(args []string, stdout, stderr io.Writer) int {
	return clientCommand("incident show", "incident show ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			var v incidentView
			raw, err := c.get(incidentPath(pos[0]), nil, &v)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) { writeIncident(w, v) })
		})
}

func incidentList(args []string, stdout, stderr io.Writer) int {
	var status, severity, comp *string
	var limit *int
	return clientCommand("incident list", "incident list [flags]", 0, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			status = fs.String("status", "open", "open, resolved or all")
			severity = fs.String("severity", "", "only this severity")
			comp = fs.String("component", "", "only incidents affecting this component `ID`")
			limit = fs.Int("limit", 50, "at most this many, newest first")
		},
		func(c *client, _ []string) error {
			q := url.Values{"status": {*status}, "limit": {fmt.Sprint(*limit)}}
			if *severity != "" {
				q.Set("severity", strings.ToUpper(*severity))
			}
			if *comp != "" {
				q.Set("component", *comp)
			}
			var v struct {
				Incidents []incidentView `json:"incidents"`
			}
			raw, err := c.get("/api/admin/v1/incidents", q, &v)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tSEVERITY\tSTATUS\tSTARTED\tCOMPONENTS\tTITLE")
				for _, inc := range v.Incidents {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", inc.ID, inc.Severity, inc.Status, inc.StartedAt.UTC().Format(time.RFC3339),
						orDash(affectedList(inc)), inc.Title)
				}
			})
		})
}

// incidentChange sends a change and shows the incident it answers.
func (c *client) incidentChange(stdout io.Writer, method, path string, body any) error {
	raw, err := c.call(method, path, nil, body)
	if err != nil {
		return err
	}
	var v incidentView
	if err := decode(raw, &v); err != nil {
		return err
	}
	return c.show(stdout, raw, func(w *tabwriter.Writer) { writeIncident(w, v) })
}

func affectedList(inc incidentView) string {
	var parts []string
	for _, a := range inc.Components {
		parts = append(parts, a.ComponentID+"="+a.Impact)
	}
	return strings.Join(parts, ", ")
}

func writeIncident(w *tabwriter.Writer, v incidentView) {
	kind := ""
	switch {
	case v.Automatic:
		kind = " (opened by a monitor)"
	case v.Backfilled:
		kind = " (backfilled)"
	}
	fmt.Fprintf(w, "ID:\t%s%s\n", v.ID, kind)
	fmt.Fprintf(w, "Title:\t%s\n", v.Title)
	fmt.Fprintf(w, "Severity:\t%s (impact %s)\n", v.Severity, v.Impact)
	fmt.Fprintf(w, "Status:\t%s\n", v.Status)
	fmt.Fprintf(w, "Components:\t%s\n", orDash(affectedList(v)))
	fmt.Fprintf(w, "Policy:\t%s\n", orDash(v.Policy))
	fmt.Fprintf(w, "Started:\t%s\n", v.StartedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Opened:\t%s\n", v.OpenedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Acknowledged:\t%s\n", timeOrDash(v.AcknowledgedAt))
	fmt.Fprintf(w, "Resolved:\t%s\n", timeOrDash(v.ResolvedAt))
	for _, cl := range v.Clocks {
		left := ""
		switch {
		case cl.State == "running":
			left = fmt.Sprintf(", %s left", time.Duration(cl.RemainingSeconds)*time.Second)
		case cl.MetAt != nil:
			left = ", met " + cl.MetAt.UTC().Format(time.RFC3339)
		case cl.StoppedAt != nil:
			left = ", stopped unmet " + cl.StoppedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "Clock %s:\t%s, due %s (%s)%s\n", cl.Kind, cl.State, cl.DueAt.UTC().Format(time.RFC3339), cl.Calendar, left)
	}
	fmt.Fprintln(w, "Updates (newest first):")
	for _, u := range v.Updates {
		body := []rune(strings.Join(strings.Fields(u.Body), " "))
		if len(body) > 100 {
			body = append(body[:100], '…')
		}
		kind := u.Kind
		if u.Internal {
			kind += " (internal)"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", u.At.UTC().Format(time.RFC3339), u.Status, kind, orDash(u.Author), string(body))
	}
}
