package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/upstate-dev/upstate/apikey"
	"github.com/upstate-dev/upstate/service"
)

func keys(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "Usage: upstate keys create|list|revoke -config FILE ...\n")
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := newFlags("keys "+sub, "keys "+sub+" -config FILE", stderr)
	configPath := fs.String("config", "upstate.yaml", "the config `file` naming the store")
	var name, scopes *string
	switch sub {
	case "create":
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: upstate keys create -config FILE -name NAME -scope read,incidents,maintenance,admin\n\nFlags:\n")
			fs.PrintDefaults()
		}
		name = fs.String("name", "", "a `name` for the key; the audit log records changes under it")
		scopes = fs.String("scope", "read", "comma-separated `scopes`: read, incidents, maintenance, admin")
	case "list":
	case "revoke":
		fs.Usage = func() {
			fmt.Fprint(stderr, "Usage: upstate keys revoke -config FILE ID\n\nFlags:\n")
			fs.PrintDefaults()
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, "Usage: upstate keys create|list|revoke -config FILE ...\n")
		return 0
	default:
		fmt.Fprintf(stderr, "upstate keys: unknown subcommand %q (want create, list or revoke)\n", sub)
		return 2
	}
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	cfg, ok := loadConfig(*configPath, stderr)
	if !ok {
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "upstate keys: open store: %v\n", err)
		return 1
	}
	defer st.Close()
	who := service.Actor{Name: "cli"}
	if u, err := user.Current(); err == nil {
		who.Name = "cli:" + u.Username
	}
	svc := service.New(service.Options{Store: st})
	switch sub {
	case "create":
		sc, err := apikey.ParseScopes(*scopes)
		if err != nil {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 2
		}
		key, token, err := svc.Keys.Create(ctx, who, *name, sc)
		var invalid *service.ValidationError
		if errors.As(err, &invalid) {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 2
		} else if err != nil {
			fmt.Fprintf(stderr, "upstate keys create: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "Created key %q (id %s, scopes %s). This is the only time the token is shown:\n", key.Name, key.ID, *scopes)
		fmt.Fprintln(stdout, token)
	case "list":
		list, err := st.ListKeys(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "upstate keys list: %v\n", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tREVOKED")
		for _, k := range list {
			sc := make([]string, len(k.Scopes))
			for i, s := range k.Scopes {
				sc[i] = string(s)
			}
			sort.Strings(sc)
			revoked := "-"
			if k.Revoked() {
				revoked = k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(sc, ","), k.CreatedAt.Format(time.RFC3339), revoked)
		}
		tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			fs.Usage()
			return 2
		}
		id := fs.Arg(0)
		if err := svc.Keys.Revoke(ctx, who, id); err != nil {
			fmt.Fprintf(stderr, "upstate keys revoke: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s\n", id)
	}
	return 0
}
