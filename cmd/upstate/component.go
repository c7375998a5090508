package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"
)

const componentUsage = `Usage: upstate component status [ID...] [-server URL] [-o table|json]

Shows what the status page shows for each component (or the ones named): its status, with
maintenance and groups applied, and since when. It reads the public API: no key is needed.
Exit codes: 0 ok, 1 API or network error, 2 usage, 3 a named component does not exist.
`

func componentCmd(args []string, stdout, stderr io.Writer) int {
	return subcommand("component", map[string]func([]string, io.Writer, io.Writer) int{"status": componentStatus},
		componentUsage, args, stdout, stderr)
}

func componentStatus(args []string, stdout, stderr io.Writer) int {
	return clientCommand("component status", "component status [ID...]", -1, false, args, stdout, stderr, nil,
		func(c *client, ids []string) error {
			var v struct {
				Components []struct {
					ID          string     `json:"id"`
					Name        string     `json:"name"`
					GroupID     string     `json:"group_id"`
					IsGroup     bool       `json:"group"`
					Status      string     `json:"status"`
					StatusSince *time.Time `json:"status_since"`
				} `json:"components"`
			}
			raw, err := c.get("/api/v1/components", nil, &v)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				byID := map[string]bool{}
				for _, comp := range v.Components {
					byID[comp.ID] = true
				}
				for _, id := range ids {
					if !byID[id] {
						return &apiError{Status: http.StatusNotFound, Code: "not_found", local: true, Message: fmt.Sprintf("component %s not found", id)}
					}
				}
			}
			want := func(id string) bool { return len(ids) == 0 || slices.Contains(ids, id) }
			if c.json && len(ids) > 0 {
				// Only the components named, in the API's shape.
				var all struct {
					Components []map[string]any `json:"components"`
				}
				if err := decode(raw, &all); err != nil {
					return err
				}
				kept := []map[string]any{}
				for _, comp := range all.Components {
					if id, _ := comp["id"].(string); want(id) {
						kept = append(kept, comp)
					}
				}
				if raw, err = json.Marshal(map[string]any{"components": kept}); err != nil {
					return err
				}
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tGROUP\tSTATUS\tSINCE")
				for _, comp := range v.Components {
					if !want(comp.ID) {
						continue
					}
					group := comp.GroupID
					if comp.IsGroup {
						group = "(group)"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", comp.ID, comp.Name, orDash(group), comp.Status, timeOrDash(comp.StatusSince))
				}
			})
		})
}
