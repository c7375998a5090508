package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/upstate-dev/upstate/service"
	"github.com/upstate-dev/upstate/store"
)

const subscriberUsage = `Usage: upstate subscriber list|add|remove|export|import|hash [flags] (-server URL, UPSTATE_TOKEN with the admin scope)

  upstate subscriber list [-state pending|confirmed|suspended] [-channel email|webhook] [-component ID] [-all]
  upstate subscriber add ADDRESS [-webhook URL | -chat URL] [-components api,db] [-language zh-Hans] [-component-updates] [-confirmed]
  upstate subscriber remove ID                 delete a subscriber for real (a person's request)
  upstate subscriber export [-state S] [-out FILE]   CSV of every subscriber
  upstate subscriber import [-confirmed] FILE  CSV with an address column (the export's columns), any size
  upstate subscriber hash ADDRESS              the hash the audit log keeps of an address (no server needed)

add without -confirmed mails a confirmation link; with it, the subscriber receives at once (you
vouch for the address). docs/subscribers.md. Exit codes: 0 ok, 1 API or network error, 2 usage,
3 no such subscriber, 4 the address is subscribed already.
`

func subscriberCmd(args []string, stdout, stderr io.Writer) int {
	return subcommand("subscriber", map[string]func([]string, io.Writer, io.Writer) int{
		"list": subscriberList, "add": subscriberAdd, "remove": subscriberRemove, "export": subscriberExport,
		"import": subscriberImport, "hash": subscriberHash,
	}, subscriberUsage, args, stdout, stderr)
}

type subscriberRow struct {
	ID         string   `json:"id"`
	Channel    string   `json:"channel"`
	Address    string   `json:"address"`
	URL        string   `json:"url"`
	Components []string `json:"components"`
	Language   string   `json:"language"`
	State      string   `json:"state"`
	Source     string   `json:"source"`
	CreatedAt  string   `json:"created_at"`
	Secret     string   `json:"secret"`
}

func subscriberList(args []string, stdout, stderr io.Writer) int {
	var state, channel, comp *string
	var all *bool
	return clientCommand("subscriber list", "subscriber list [-state S] [-channel C] [-component ID] [-all]", 0, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			state = fs.String("state", "", "only this state: pending, confirmed or suspended")
			channel = fs.String("channel", "", "only this channel: email or webhook")
			comp = fs.String("component", "", "only the subscribers who follow this component `ID` (or its group, or everything)")
			all = fs.Bool("all", false, "every page, not only the first 100")
		},
		func(c *client, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": *state, "channel": *channel, "component": *comp} {
				if v != "" {
					q.Set(k, v)
				}
			}
			var rows []subscriberRow
			var raw []byte
			for {
				var page struct {
					Subscribers []subscriberRow `json:"subscribers"`
					Next        string          `json:"next"`
				}
				b, err := c.get("/api/admin/v1/subscribers", q, &page)
				if err != nil {
					return err
				}
				raw = b
				rows = append(rows, page.Subscribers...)
				if !*all || page.Next == "" {
					break
				}
				q.Set("after", page.Next)
			}
			if c.json && *all {
				b, err := json.Marshal(map[string]any{"subscribers": rows})
				if err != nil {
					return err
				}
				raw = b
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) {
				fmt.Fprintln(w, "ID\tCHANNEL\tADDRESS\tSTATE\tCOMPONENTS\tLANGUAGE\tSOURCE")
				for _, s := range rows {
					addr := s.Address
					if s.Channel == "webhook" || s.Channel == "chat" { // a chat's URL is listed as its service and host
						addr = s.URL + " (" + s.Address + ")"
					}
					comps := strings.Join(s.Components, ",")
					if comps == "" {
						comps = "all"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Channel, addr, s.State, comps, s.Language, s.Source)
				}
			})
		})
}

func subscriberAdd(args []string, stdout, stderr io.Writer) int {
	var webhook, chat, language *string
	var comps stringList
	var updates, confirmed *bool
	return clientCommand("subscriber add", "subscriber add ADDRESS [-webhook URL | -chat URL] [-components IDS] [-language TAG] [-component-updates] [-confirmed]",
		1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			webhook = fs.String("webhook", "", "subscribe this webhook `URL`; ADDRESS is then its contact for failure notices")
			chat = fs.String("chat", "", "subscribe this chat room: its incoming webhook or shoutrrr `URL` (slack://, teams://, discord://...); ADDRESS is then its contact for failure notices")
			fs.Var(&comps, "components", "follow only these component or group `ids` (comma-separated; default every component)")
			language = fs.String("language", "", "the messages' language (default the page's)")
			updates = fs.Bool("component-updates", false, "also each status change of the components")
			confirmed = fs.Bool("confirmed", false, "add it confirmed (you vouch for the address): no confirmation mail")
		},
		func(c *client, pos []string) error {
			body := map[string]any{"address": pos[0], "confirmed": *confirmed, "component_updates": *updates}
			switch {
			case *webhook != "" && *chat != "":
				return usagef("give -webhook or -chat, not both")
			case *webhook != "":
				body["channel"], body["url"] = "webhook", *webhook
			case *chat != "":
				body["channel"], body["url"] = "chat", *chat
			}
			if len(comps) > 0 {
				body["components"] = []string(comps)
			}
			if *language != "" {
				body["language"] = *language
			}
			raw, err := c.call(http.MethodPost, "/api/admin/v1/subscribers", nil, body)
			if err != nil {
				return err
			}
			var s subscriberRow
			if err := decode(raw, &s); err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%s\t%s\t%s\n", s.ID, s.State, s.Address)
				if s.Secret != "" {
					fmt.Fprintf(w, "signing secret\t%s\n", s.Secret)
				}
			})
		})
}

func subscriberRemove(args []string, stdout, stderr io.Writer) int {
	return clientCommand("subscriber remove", "subscriber remove ID", 1, true, args, stdout, stderr, nil,
		func(c *client, pos []string) error {
			if _, err := c.call(http.MethodDelete, "/api/admin/v1/subscribers/"+url.PathEscape(pos[0]), nil, nil); err != nil {
				return err
			}
			if !c.json {
				fmt.Fprintf(stdout, "%s deleted\n", pos[0])
			}
			return nil
		})
}

func subscriberExport(args []string, stdout, stderr io.Writer) int {
	var state, channel, comp, out *string
	return clientCommand("subscriber export", "subscriber export [-state S] [-channel C] [-component ID] [-out FILE]", 0, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			state = fs.String("state", "", "only this state")
			channel = fs.String("channel", "", "only this channel")
			comp = fs.String("component", "", "only the subscribers who follow this component")
			out = fs.String("out", "-", "write the CSV to this `file` (- is standard output)")
		},
		func(c *client, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": *state, "channel": *channel, "component": *comp} {
				if v != "" {
					q.Set(k, v)
				}
			}
			body, err := c.raw(http.MethodGet, "/api/admin/v1/subscribers/export", q, "", nil)
			if err != nil {
				return err
			}
			if *out == "-" {
				_, err = stdout.Write(body)
				return err
			}
			return os.WriteFile(*out, body, 0o600) // addresses: not for others to read
		})
}

// importChunk is how many rows one import request carries (the API takes up to 10,000). Each
// row is its own durable write on the server, so a chunk must finish well within the server's
// request timeout (10 s by default) on a slow disk: 2,000 rows did not, under load, in CI.
const importChunk = 200

func subscriberImport(args []string, stdout, stderr io.Writer) int {
	var confirmed *bool
	return clientCommand("subscriber import", "subscriber import [-confirmed] FILE", 1, true, args, stdout, stderr,
		func(fs *flag.FlagSet) {
			confirmed = fs.Bool("confirmed", false, "add them confirmed (a list confirmed elsewhere): no confirmation mails")
		},
		func(c *client, pos []string) error {
			f, err := os.Open(pos[0])
			if err != nil {
				return usagef("%v", err)
			}
			defer f.Close()
			r := csv.NewReader(bufio.NewReader(f))
			r.FieldsPerRecord = -1
			head, err := r.Read()
			if err != nil {
				return usagef("%s: no header line: %v", pos[0], err)
			}
			q := url.Values{}
			if *confirmed {
				q.Set("confirmed", "true")
			}
			total := service.ImportResult{Errors: []service.ImportError{}}
			sent := 0
			for done := false; !done; {
				var buf bytes.Buffer
				w := csv.NewWriter(&buf)
				_ = w.Write(head)
				n := 0
				for n < importChunk {
					row, err := r.Read()
					if errors.Is(err, io.EOF) {
						done = true
						break
					}
					if err != nil {
						return usagef("%s: %v", pos[0], err)
					}
					_ = w.Write(row)
					n++
				}
				w.Flush()
				if n == 0 {
					break
				}
				raw, err := c.raw(http.MethodPost, "/api/admin/v1/subscribers/import", q, "text/csv", buf.Bytes())
				if err != nil {
					return fmt.Errorf("rows %d to %d: %w (the rows before were imported)", sent+1, sent+n, err)
				}
				var res service.ImportResult
				if err := decode(raw, &res); err != nil {
					return err
				}
				total.Added += res.Added
				total.Skipped += res.Skipped
				for _, e := range res.Errors {
					total.Errors = append(total.Errors, service.ImportError{Row: sent + e.Row, Message: e.Message})
				}
				sent += n
			}
			raw, err := json.Marshal(total)
			if err != nil {
				return err
			}
			return c.show(stdout, raw, func(w *tabwriter.Writer) {
				fmt.Fprintf(w, "%d added, %d subscribed already, %d refused\n", total.Added, total.Skipped, len(total.Errors))
				for _, e := range total.Errors {
					fmt.Fprintf(w, "row %d\t%s\n", e.Row, e.Message)
				}
			})
		})
}

func subscriberHash(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("subscriber hash", "subscriber hash ADDRESS", stderr)
	webhook := fs.Bool("webhook", false, "ADDRESS is a webhook's or a chat's URL (as stored: a chat's shoutrrr URL)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	ch := store.SubscriberEmail
	if *webhook {
		ch = store.SubscriberWebhook
	}
	fmt.Fprintln(stdout, service.AddressHash(ch, fs.Arg(0)))
	return exitOK
}

// raw sends a request with a body of its own type (CSV) and returns the answer as it came.
func (c *client) raw(method, path string, query url.Values, contentType string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "upstate-cli/"+version)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return nil, errorFrom(resp.StatusCode, out)
	}
	return out, nil
}
