package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck asks a running upstate whether it is ready (GET /readyz): exit 0 when it answers
// 200, 1 otherwise. It is the container's HEALTHCHECK (the distroless image has no curl) and
// works for any supervisor. The address comes from -url, or from the config's server.listen
// (UPSTATE_SERVER_LISTEN included), dialled on loopback when it listens on every address.
func healthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("healthcheck", "healthcheck [-config FILE | -url URL]", stderr)
	configPath := fs.String("config", "", "the config `file` whose server.listen to ask")
	target := fs.String("url", "", "the readiness `URL` to ask (default: http://<server.listen>/readyz)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *target == "" {
		listen := "127.0.0.1:8080"
		if *configPath != "" {
			cfg, ok := loadConfig(*configPath, stderr)
			if !ok {
				return 1
			}
			listen = cfg.Server.Listen
		}
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			fmt.Fprintf(stderr, "upstate healthcheck: server.listen %q: %v\n", listen, err)
			return 1
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		*target = "http://" + net.JoinHostPort(host, port) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "upstate healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "upstate healthcheck: %s: %v\n", *target, err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "upstate healthcheck: %s answered %d\n", *target, resp.StatusCode)
		return 1
	}
	fmt.Fprintf(stdout, "ready (%s)\n", *target)
	return 0
}
