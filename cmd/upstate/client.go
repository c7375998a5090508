package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
)

// The SRE's client: incident, maintenance and component commands talk to a running upstate's
// HTTP API, as gh and kubectl do, never to its store. docs/api.md documents the commands and
// their exit codes.

// Exit codes of the client commands (docs/api.md).
const (
	exitOK       = 0
	exitAPI      = 1 // the API refused the request (other than below), or the server could not be reached
	exitUsage    = 2 // bad flags or arguments, no server or key, a client config that is unsafe or does not parse
	exitNotFound = 3 // 404: no such incident, window, occurrence or component
	exitConflict = 4 // 409: the change conflicts with the current state (already resolved, already started...)
)

// clientConfig is the client's config file: ~/.config/upstate/client.yaml (or
// $XDG_CONFIG_HOME/upstate/client.yaml, or $UPSTATE_CLIENT_CONFIG).
type clientConfig struct {
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
}

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server  *string
	output  *string
	timeout *time.Duration
	config  *string
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	return &clientFlags{
		server:  fs.String("server", "", "the upstate `URL` (default $UPSTATE_SERVER, then the client config's server)"),
		output:  fs.String("o", "table", "output: table or json (the API's JSON)"),
		timeout: fs.Duration("timeout", 30*time.Second, "how long to wait for the server"),
		config: fs.String("client-config", "", "the client config `file` (default $UPSTATE_CLIENT_CONFIG, "+
			"then ~/.config/upstate/client.yaml); it holds server and token and must not be readable by others"),
	}
}

// client calls the API of one server.
type client struct {
	base    string // without a trailing slash
	token   string
	json    bool // -o json
	http    *http.Client
	timeout time.Duration
}

// usageError is a mistake in how a command was called: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// apiError is an error the API answered: its status and the {"error": {...}} body. A local one
// is the client's own finding in the API's terms (no such occurrence in progress), with the exit
// code of that status.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
	local   bool
}

func (e *apiError) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Code == "" {
		msg = e.Message
	}
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		msg += " (field " + e.Field + ")"
	}
	if e.local {
		return msg
	}
	return fmt.Sprintf("%s [HTTP %d]", msg, e.Status)
}

// exitCode is the documented exit code for err.
func exitCode(err error) int {
	var ue *usageError
	var ae *apiError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return exitNotFound
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		return exitConflict
	}
	return exitAPI
}

// fail prints err as the command's error and returns its exit code.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "upstate %s: %v\n", cmd, err)
	return exitCode(err)
}

// connect makes the client from the flags, the environment and the client config file: the
// server from -server, UPSTATE_SERVER, then the file; the key from UPSTATE_TOKEN, then the file.
// needKey: the command uses the admin API.
func (f *clientFlags) connect(needKey bool) (*client, error) {
	if *f.output != "table" && *f.output != "json" {
		return nil, usagef("-o %q: want table or json", *f.output)
	}
	cfg, path, err := loadClientConfig(*f.config)
	if err != nil {
		return nil, err
	}
	server := firstSet(*f.server, os.Getenv("UPSTATE_SERVER"), cfg.Server)
	if server == "" {
		return nil, usagef("no server: pass -server URL, set UPSTATE_SERVER, or put server: in %s", path)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("server %q: want a URL such as https://status.example.com", server)
	}
	token := firstSet(os.Getenv("UPSTATE_TOKEN"), cfg.Token)
	if needKey && token == "" {
		return nil, usagef("no API key: set UPSTATE_TOKEN, or put token: in %s (create one with upstate keys create)", path)
	}
	return &client{base: strings.TrimRight(server, "/"), token: token, json: *f.output == "json",
		http: &http.Client{Timeout: *f.timeout}, timeout: *f.timeout}, nil
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// clientConfigPath is where the client config is read from, and whether it was chosen
// explicitly (an explicit file must exist).
func clientConfigPath(flagPath string) (string, bool) {
	if p := firstSet(flagPath, os.Getenv("UPSTATE_CLIENT_CONFIG")); p != "" {
		return p, true
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return filepath.Join("~", ".config", "upstate", "client.yaml"), false
	}
	return filepath.Join(dir, "upstate", "client.yaml"), false
}

// loadClientConfig reads the client config. A missing default file is an empty config; a file
// others can read is refused, as ssh refuses such a key, since it holds an API key.
func loadClientConfig(flagPath string) (clientConfig, string, error) {
	path, explicit := clientConfigPath(flagPath)
	var cfg clientConfig
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return cfg, path, nil
	}
	if err != nil {
		return cfg, path, usagef("client config: %v", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return cfg, path, usagef("client config %s is open to others (mode %04o): it holds an API key; chmod 600 it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, path, usagef("client config: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, path, usagef("client config %s: %v", path, err)
	}
	return cfg, path, nil
}

// call sends one request. body, when not nil, is sent as JSON. The answer's JSON is returned
// as it came; an error status is an *apiError from the API's error body.
func (c *client) call(method, path string, query url.Values, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "upstate-cli/"+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" && strings.HasPrefix(path, "/api/admin/") {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base, unwrapURLError(err))
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		return nil, errorFrom(resp.StatusCode, out)
	}
	return out, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorFrom reads the API's {"error": {"code", "message", "field"}}; a body that is not one
// (a proxy's page) is shown by its status and first line.
func errorFrom(status int, body []byte) error {
	var v struct {
		Error *apiError `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && v.Error != nil && v.Error.Message != "" {
		v.Error.Status = status
		return v.Error
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "…"
	}
	msg := http.StatusText(status)
	if line != "" {
		msg += ": " + line
	}
	return &apiError{Status: status, Message: "the server answered " + msg}
}

// get calls and decodes the answer into v.
func (c *client) get(path string, query url.Values, v any) ([]byte, error) {
	raw, err := c.call(http.MethodGet, path, query, nil)
	if err != nil {
		return nil, err
	}
	return raw, decode(raw, v)
}

func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("the server's answer is not what this client expects: %w", err)
	}
	return nil
}

// show writes the answer: its JSON as the API gave it (indented) with -o json, else the table.
func (c *client) show(stdout io.Writer, raw []byte, table func(w *tabwriter.Writer)) error {
	if c.json {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

// parseArgs parses flags wherever they stand among the positional arguments (Go's flag package
// stops at the first positional one), and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// clientCommand runs one client command: it parses the flags and arguments (want of them), connects,
// and maps an error to its exit code.
func clientCommand(name, synopsis string, want int, needKey bool, args []string, stdout, stderr io.Writer,
	setup func(fs *flag.FlagSet), run func(c *client, pos []string) error) int {
	fs := newFlags(name, synopsis, stderr)
	cf := addClientFlags(fs)
	if setup != nil {
		setup(fs)
	}
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if want >= 0 && len(pos) != want {
		fmt.Fprintf(stderr, "upstate %s: want %d argument(s), got %d\n", name, want, len(pos))
		fs.Usage()
		return exitUsage
	}
	c, err := cf.connect(needKey)
	if err != nil {
		return fail(stderr, name, err)
	}
	if err := run(c, pos); err != nil {
		return fail(stderr, name, err)
	}
	return exitOK
}

// subcommand dispatches "upstate NOUN VERB ...".
func subcommand(noun string, verbs map[string]func(args []string, stdout, stderr io.Writer) int, help string,
	args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, help)
		return exitOK
	}
	verb, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "upstate %s: unknown command %q\n\n%s", noun, args[0], help)
		return exitUsage
	}
	return verb(args[1:], stdout, stderr)
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// timeFlag is an RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(v string) error {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-25T05:00:00Z")
	}
	f.t = t
	return nil
}

// orDash shows an absent value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
