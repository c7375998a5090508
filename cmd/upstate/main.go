// Command upstate is a self-hosted status page and availability monitor.
//
//	upstate serve -config upstate.yaml      run everything
//	upstate check-config upstate.yaml       validate a config file
//	upstate keys create|list|revoke         manage admin API keys
//	upstate healthcheck                     exit 0 when a running upstate is ready
//	upstate incident|maintenance|component  the SRE's client of a running upstate's API
//	upstate version (or --version)
//
// This package only wires the others together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	_ "time/tzdata" // zones must resolve on machines without a zoneinfo database

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/store"
	"github.com/upstate-dev/upstate/store/redis"
	"github.com/upstate-dev/upstate/store/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `Upstate: a self-hosted status page and availability monitor.

Usage:
  upstate serve -config FILE [-listen ADDR]   run the monitor, the page and the APIs
  upstate check-config FILE                   validate a config file; exit 1 on errors
  upstate keys create -config FILE -name NAME -scope SCOPES
  upstate keys list -config FILE
  upstate keys revoke -config FILE ID
  upstate sla deadlines -config FILE [-policy NAME] -severity P1 [-opened RFC3339]
  upstate report -config FILE -month YYYY-MM [-component ID] [-format json|csv]
  upstate export -config FILE [-o FILE]     everything, as JSON Lines
  upstate import -config FILE [-i FILE]     into an empty store; all or nothing
  upstate healthcheck [-config FILE | -url URL]   exit 0 if a running upstate is ready, 1 if not
  upstate notify test -config FILE TARGET   send a test message to a notification target
  upstate notify receive [-listen ADDR] [-secret S]   print the webhooks Upstate sends
  upstate mailcatcher [-listen ADDR]        print the mail Upstate sends (a local SMTP server)
  upstate subscriber list|add|remove|export|import|hash   subscribers (-server URL, UPSTATE_TOKEN)
  upstate target list|show|add|change|remove|test         notification targets, without a restart
  upstate incident declare|update|ack|resolve|list|show   the SRE's client (-server URL, UPSTATE_TOKEN)
  upstate maintenance create|cancel|delete|end|extend|list see docs/api.md
  upstate component status [ID...]
  upstate version                           (also --version)

Run "upstate COMMAND -help" for a command's flags.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stdout, stderr)
	case "check-config":
		return checkConfig(rest, stdout, stderr)
	case "keys":
		return keys(rest, stdout, stderr)
	case "sla":
		return sla(rest, stdout, stderr)
	case "report":
		return report(rest, stdout, stderr)
	case "export":
		return exportCmd(rest, stdout, stderr)
	case "import":
		return importCmd(rest, stdout, stderr)
	case "healthcheck":
		return healthcheck(rest, stdout, stderr)
	case "notify":
		return notifyCmd(rest, stdout, stderr)
	case "subscriber":
		return subscriberCmd(rest, stdout, stderr)
	case "target":
		return targetCmd(rest, stdout, stderr)
	case "mailcatcher":
		return mailcatcher(rest, stdout, stderr)
	case "incident":
		return incidentCmd(rest, stdout, stderr)
	case "maintenance":
		return maintenanceCmd(rest, stdout, stderr)
	case "component":
		return componentCmd(rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "upstate %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "upstate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// newFlags makes a subcommand's flag set whose -help prints its usage.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: upstate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; it returns an exit code when the command should stop (after -help, 0).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func loadConfig(path string, stderr io.Writer) (*configs.Config, bool) {
	cfg, err := configs.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return cfg, true
}

func newLogger(cfg *configs.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured backend for a command that reads, or writes through short
// transactions (keys, report, export): it works while serve runs.
func openStore(ctx context.Context, cfg *configs.Config) (store.Store, error) {
	return openStoreAs(ctx, cfg, false)
}

// openStoreExclusive opens the configured backend for serve and import. On SQLite it takes the
// database's lock for the life of the store, so a second serve (or an import while one runs)
// refuses to start with sqlite.ErrLocked. Redis is shared by design: no lock.
func openStoreExclusive(ctx context.Context, cfg *configs.Config) (store.Store, error) {
	return openStoreAs(ctx, cfg, true)
}

func openStoreAs(ctx context.Context, cfg *configs.Config, exclusive bool) (store.Store, error) {
	switch cfg.Storage.Backend {
	case "redis":
		r := cfg.Storage.Redis
		return redis.Open(ctx, redis.Options{Addrs: r.Addrs, MasterName: r.MasterName, Cluster: r.Cluster,
			Username: r.Username, Password: r.Password, DB: r.DB, KeyPrefix: r.KeyPrefix})
	default:
		path := cfg.SQLitePath()
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create the database directory: %w", err)
		}
		if exclusive {
			return sqlite.OpenExclusive(ctx, path)
		}
		return sqlite.Open(ctx, path)
	}
}
