package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/upstate-dev/upstate/configs"
)

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", "check-config FILE", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg, err := configs.Load(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		if n := strings.Count(err.Error(), "\n") + 1; n > 1 {
			fmt.Fprintf(stderr, "%d problems\n", n)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d groups, %d components, %d monitors, %s store)\n",
		fs.Arg(0), len(cfg.Groups), len(cfg.Components), len(cfg.Monitors), cfg.Storage.Backend)
	return 0
}
