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

const maintenanceUsage = `Usage: upstate maintenance COMMAND [flags]

  create -title TEXT -component ID... (-days mon,tue... | -daily | -rrule RULE) -start-time HH:MM
         (-end-time HH:MM | -duration 2h) -tz ZONE [-first-date YYYY-MM-DD] [-id ID] [-description TEXT]
  create -title TEXT -component ID... -start TIME -end TIME          a one-off window
  cancel ID [-occurrence START]      the whole series, or one occurrence not yet started
  delete ID                          a window made through the API that has not started (one
                                     created by mistake); a window that has started: cancel it
  end ID [-occurrence START]         end an occurrence in progress now
  extend ID (-end TIME | -by DURATION) [-occurrence START]
  list

START names an occurrence by its scheduled start (RFC 3339, as list shows it); end and extend
default to the occurrence in progress. Every command takes -server URL, -o table|json, -timeout
and -client-config; the key comes from UPSTATE_TOKEN or the client config. Exit codes: 0 ok,
1 API or network error, 2 usage, 3 not found, 4 conflict.
`

func maintenanceCmd(args []string, stdout, stderr io.Writer) int {
	return subcommand("maintenance", map[string]func([]string, io.Writer, io.Writer) int{
		"create": maintenanceCreate, "cancel": maintenanceCancel, "end": maintenanceEnd, "extend": maintenanceExtend,
		"list": maintenanceList, "delete": maintenanceDelete,
	}, maintenanceUsage, args, stdout, stderr)
}

// The API's window and occurrence, as far as the tables show them.
type occurrenceView struct {
	WindowID     string    `json:"window_id"`
	Title        string    `json:"title"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	ScheduledEnd time.Time `json:"scheduled_end"`
	LocalStart   string    `json:"local_start"`
	LocalEnd     string    `json:"local_end"`
	TimeZone     string    `json:"time_zone"`
	Status       string    `json:"status"`
	Announced    bool      `json:"announced"`
}

type windowView struct {
	ID          string           `json:"id"`
	Title       string           `json:"title"`
	Components  []string         `json:"components"`
	TimeZone    string           `json:"time_zone"`
	RRule       string           `json:"rrule"`
	FirstDate   string           `json:"first_date"`
	StartTime   string           `json:"start_time"`
	EndTime     string           `json:"end_time"`
	Duration    string           `json:"duration"`
	Start       *time.Time       `json:"start"`
	End         *time.Time       `json:"end"`
	CancelledAt *time.Time       `json:"cancelled_at"`
	Source      string           `json:"source"`
	Next        []occurrenceView `json:"next_occurrences"`
}

func windowPath(id string) string { return "/api/admin/v1/maintenance/" + url.PathEscape(id) }

func occurrencePath(id string, start time.Time, op string) string {
	return windowPath(id) + "/occurrences/" + url.PathEscape(start.UTC().Format(time.RFC3339)) + "/" + op
}

// schedule says when a window recurs, in its own words.
func (w windowView) schedule() string {
	if w.RRule == "" {
		if w.Start == nil || w.End == nil {
			return "-"
		}
		return w.Start.UTC().Format(time.RFC3339) + " to " + w.End.UTC().Format(time.RFC3339)
	}
	s := w.RRule + " at " + w.StartTime
	if w.Duration != "" {
		s += " for " + w.Duration
	} else {
		s += " to " + w.EndTime
	}
	return s
}

func maintenanceCreate(args []string, stdout, stderr io.Writer) int {
	var id, title, description, tz, rrule, startTime, endTime, duration, firstDate *string
	var daily *bool
	var comps, days stringList
	var start, end timeFlag
	return clientCommand("maintenance create", "maintenance create -title TEXT -component ID [schedule flags]", 0, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			id = fs.String("id", "", "the window's `id` (default: the server makes one)")
			title = fs.String("title", "", "what the work is (required)")
			description = fs.String("description", "", "more words for the page")
			fs.Var(&comps, "component", "an affected component `ID` (repeatable, or comma-separated)")
			tz = fs.String("tz", "", "the IANA time `zone` of a recurring window, such as America/Los_Angeles")
			fs.Var(&days, "days", "recur on these `days`: mon,tue,wed,thu,fri,sat,sun")
			daily = fs.Bool("daily", false, "recur every day")
			rrule = fs.String("rrule", "", "recur by an RFC 5545 `RRULE` (DAILY, WEEKLY, MONTHLY)")
			startTime = fs.String("start-time", "", "local start, `HH:MM`")
			endTime = fs.String("end-time", "", "local end, `HH:MM` (at or before the start: the next day)")
			duration = fs.String("duration", "", "an exact length instead of -end-time, such as 2h")
			firstDate = fs.String("first-date", "", "the first local `date` the rule applies, YYYY-MM-DD (default today)")
			fs.Var(&start, "start", "a one-off window's start, RFC 3339")
			fs.Var(&end, "end", "a one-off window's end, RFC 3339")
		},
		func(c *client, _ []string) error {
			if *title == "" || len(comps) == 0 {
				return usagef("-title and -component are required")
			}
			body := map[string]any{"title": *title, "components": []string(comps)}
			for k, v := range map[string]string{"id": *id, "description": *description, "time_zone": *tz, "rrule": *rrule,
				"start_time": *startTime, "end_time": *endTime, "duration": *duration, "first_date": *firstDate} {
				setIf(body, k, v)
			}
			if len(days) > 0 {
				body["days"] = []string(days)
			}
			if *daily {
				body["daily"] = true
			}
			if !start.t.IsZero() {
				body["start"] = start.t
			}
			if !end.t.IsZero() {
				body["end"] = end.t
			}
			raw, err := c.call(http.MethodPost, "/api/admin/v1/maintenance", nil, body)
			if err != nil {
				return err
			}
			return c.showWindow(stdout, raw)
		})
}

func (c *client) showWindow(stdout io.Writer, raw []byte) error {
	var w windowView
	if err := decode(raw, &w); err != nil {
		return err
	}
	return c.show(stdout, raw, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "ID:\t%s\n", w.ID)
		fmt.Fprintf(tw, "Title:\t%s\n", w.Title)
		fmt.Fprintf(tw, "Components:\t%s\n", strings.Join(w.Components, ", "))
		fmt.Fprintf(tw, "Schedule:\t%s (%s)\n", w.schedule(), w.TimeZone)
		if w.CancelledAt != nil {
			fmt.Fprintf(tw, "Cancelled:\t%s\n", timeOrDash(w.CancelledAt))
		}
		fmt.Fprintln(tw, "Next occurrences (START names one):")
		fmt.Fprintln(tw, "  START (UTC)\tEND (UTC)\tLOCAL\tSTATUS")
		for _, o := range w.Next {
			writeOccurrenceRow(tw, o)
		}
	})
}

func writeOccurrenceRow(tw *tabwriter.Writer, o occurrenceView) {
	status := o.Status
	if !o.Announced && status == "scheduled" {
		status += " (not announced in time)"
	}
	fmt.Fprintf(tw, "  %s\t%s\t%s to %s\t%s\n", o.Start.UTC().Format(time.RFC3339), o.End.UTC().Format(time.RFC3339),
		o.LocalStart, o.LocalEnd, status)
}

func (c *client) showOccurrence(stdout io.Writer, raw []byte) error {
	var o occurrenceView
	if err := decode(raw, &o); err != nil {
		return err
	}
	return c.show(stdout, raw, func(tw *tabwriter.Writer) {
		fmt.Fprintf(tw, "Window:\t%s (%s)\n", o.WindowID, o.Title)
		fmt.Fprintf(tw, "Status:\t%s\n", o.Status)
		fmt.Fprintf(tw, "Start:\t%s (%s)\n", o.Start.UTC().Format(time.RFC3339), o.LocalStart)
		fmt.Fprintf(tw, "End:\t%s (%s)\n", o.End.UTC().Format(time.RFC3339), o.LocalEnd)
		if !o.End.Equal(o.ScheduledEnd) {
			fmt.Fprintf(tw, "Scheduled end:\t%s\n", o.ScheduledEnd.UTC().Format(time.RFC3339))
		}
	})
}

// inProgress is the window's occurrence in progress now: what end and extend act on without
// -occurrence.
func (c *client) inProgress(id string) (occurrenceView, error) {
	var w windowView
	if _, err := c.get(windowPath(id), nil, &w); err != nil {
		return occurrenceView{}, err
	}
	for _, o := range w.Next {
		if o.Status == "in_progress" {
			return o, nil
		}
	}
	return occurrenceView{}, &apiError{Status: http.StatusConflict, Code: "invalid_state", local: true,
		Message: fmt.Sprintf("window %s has no occurrence in progress: name one with -occurrence START", id)}
}

func maintenanceCancel(args []string, stdout, stderr io.Writer) int {
	var occ timeFlag
	return clientCommand("maintenance cancel", "maintenance cancel ID [-occurrence START]", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.Var(&occ, "occurrence", "cancel only the occurrence that starts at `START` (RFC 3339); without it, the whole series")
		},
		func(c *client, pos []string) error {
			if occ.t.IsZero() {
				raw, err := c.call(http.MethodPost, windowPath(pos[0])+"/cancel", nil, nil)
				if err != nil {
					return err
				}
				return c.showWindow(stdout, raw)
			}
			raw, err := c.call(http.MethodPost, occurrencePath(pos[0], occ.t, "cancel"), nil, nil)
			if err != nil {
				return err
			}
			return c.showOccurrence(stdout, raw)
		})
}

func maintenanceDelete(args []string, stdout, stderr io.Writer) int {
	return clientCommand("maintenance delete", "maintenance delete ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			if _, err := c.call(http.MethodDelete, windowPath(pos[0]), nil, nil); err != nil {
				return err
			}
			if !c.json {
				fmt.Fprintf(stdout, "%s deleted\n", pos[0])
			}
			return nil
		})
}

func maintenanceEnd(args []string, stdout, stderr io.Writer) int {
	var occ timeFlag
	return clientCommand("maintenance end", "maintenance end ID [-occurrence START]", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.Var(&occ, "occurrence", "the occurrence that started at `START` (default: the one in progress)")
		},
		func(c *client, pos []string) error {
			start := occ.t
			if start.IsZero() {
				o, err := c.inProgress(pos[0])
				if err != nil {
					return err
				}
				start = o.Start
			}
			raw, err := c.call(http.MethodPost, occurrencePath(pos[0], start, "end"), nil, nil)
			if err != nil {
				return err
			}
			return c.showOccurrence(stdout, raw)
		})
}

func maintenanceExtend(args []string, stdout, stderr io.Writer) int {
	var occ, end timeFlag
	var by *time.Duration
	return clientCommand("maintenance extend", "maintenance extend ID (-end TIME | -by DURATION) [-occurrence START]", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			fs.Var(&occ, "occurrence", "the occurrence that starts at `START` (default: the one in progress)")
			fs.Var(&end, "end", "the new end, RFC 3339")
			by = fs.Duration("by", 0, "move the end this much later, such as 30m")
		},
		func(c *client, pos []string) error {
			if end.t.IsZero() == (*by == 0) {
				return usagef("give one of -end TIME and -by DURATION")
			}
			if *by < 0 {
				return usagef("-by %s: an extension moves the end later", *by)
			}
			start, newEnd := occ.t, end.t
			if start.IsZero() || *by > 0 {
				var o occurrenceView
				var err error
				if start.IsZero() {
					o, err = c.inProgress(pos[0])
				} else {
					o, err = c.occurrence(pos[0], start)
				}
				if err != nil {
					return err
				}
				start = o.Start
				if *by > 0 {
					newEnd = o.End.Add(*by)
				}
			}
			raw, err := c.call(http.MethodPost, occurrencePath(pos[0], start, "extend"), nil, map[string]time.Time{"end": newEnd.UTC()})
			if err != nil {
				return err
			}
			return c.showOccurrence(stdout, raw)
		})
}

// occurrence finds one of a window's next occurrences by its start.
func (c *client) occurrence(id string, start time.Time) (occurrenceView, error) {
	var w windowView
	if _, err := c.get(windowPath(id), nil, &w); err != nil {
		return occurrenceView{}, err
	}
	for _, o := range w.Next {
		if o.Start.Equal(start) {
			return o, nil
		}
	}
	return occurrenceView{}, &apiError{Status: http.StatusNotFound, Code: "not_found", local: true,
		Message: fmt.Sprintf("window %s has no coming occurrence starting at %s", id, start.UTC().Format(time.RFC3339))}
}

func maintenanceList(args []string, stdout, stderr io.Writer) int {
	return clientCommand("maintenance list", "maintenance list", 0, true, args, stdout, stderr, nil,
		func(c *client, _ []string) error {
			var v struct {
				Windows []windowView `json:"windows"`
			}
			raw, err := c.get("/api/admin/v1/maintenance", nil, &v)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(tw *tabwriter.Writer) {
				fmt.Fprintln(tw, "ID\tTITLE\tCOMPONENTS\tSCHEDULE\tZONE\tNEXT START (UTC)\tSTATUS")
				for _, w := range v.Windows {
					next, status := "-", "-"
					if len(w.Next) > 0 {
						next, status = w.Next[0].Start.UTC().Format(time.RFC3339), w.Next[0].Status
					}
					if w.CancelledAt != nil {
						status = "cancelled"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.Title, strings.Join(w.Components, ","), w.schedule(),
						orDash(w.TimeZone), next, status)
				}
			})
		})
}
