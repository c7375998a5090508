package configs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upstate-dev/upstate/configs"
	"github.com/upstate-dev/upstate/incidents"
	"github.com/upstate-dev/upstate/maintenance"
	"github.com/upstate-dev/upstate/probe"
)

func TestLoadBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"bad-backend.yaml", []string{`2:12: storage.backend: unknown backend "postgres" (want sqlite or redis)`}},
		{"bad-component-id.yaml", []string{`2:9: components[0].id: invalid id "Public API": must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit`}},
		{"bad-component-name.yaml", []string{`2:5: components[0].name: is required`}},
		{"bad-duplicate-id.yaml", []string{`7:9: components[1].id: duplicate id "core" (also used by groups[0])`}},
		{"bad-duplicate-key.yaml", []string{`3:3: server.title: given twice (first on line 2)`}},
		{"bad-expect-status.yaml", []string{
			`10:28: monitors[0].http.expect_status[1]: invalid range "299-200": the end is below the start`,
			`10:39: monitors[0].http.expect_status[2]: invalid status "2xx": want a code such as 200 or a range such as 200-299`,
		}},
		{"bad-http-url.yaml", []string{
			`9:12: monitors[0].http.url: invalid URL "ftp://files.example.com/": want an absolute http or https URL`,
			`10:5: monitors[1].http: is required for kind http`,
		}},
		{"bad-interval.yaml", []string{`8:15: monitors[0].interval: must be at least 1s`}},
		{"bad-kind.yaml", []string{
			`7:11: monitors[0].kind: unknown kind "gopher" (supported: http, tcp, tls, dns, icmp, heartbeat)`,
			`8:5: monitors[1].icmp: is required for kind icmp`,
			`17:13: monitors[2].icmp.host: invalid host "10.0.0.1/8": want a name or an IP address`,
			`19:16: monitors[2].icmp.spacing: 5 requests 300ms apart do not fit in the 1s timeout`,
			`20:16: monitors[2].icmp.network: unknown network "ipx" (want ip, ip4 or ip6)`,
			`21:19: monitors[2].icmp.privileged: unknown value "maybe" (want auto, on or off)`,
			`28:20: monitors[3].icmp.min_replies: must be between 1 and count (2)`,
		}},
		{"bad-kinds-specs.yaml", []string{
			`9:16: monitors[0].tcp.address: invalid address "localhost": want host:port`,
			`10:5: monitors[1].tls: is required for kind tls`,
			`14:7: monitors[1].http: belongs to kind http, but the monitor is kind tls`,
			`19:7: monitors[2].dns.name: is required`,
			`19:13: monitors[2].dns.type: unknown record type "SRV" (want A, AAAA, CNAME, MX, NS or TXT)`,
			`20:15: monitors[2].dns.server: invalid resolver address "8.8.8.8": want host:port, such as 127.0.0.1:53`,
			`21:18: monitors[2].dns.transport: unknown transport "quic" (want udp or tcp)`,
		}},
		{"bad-locations.yaml", []string{
			`8:16: monitors[0].locations: must be between 1 and 16`,
			`14:16: monitors[1].locations: a heartbeat monitor is checked in by its job, not probed from locations`,
		}},
		{"bad-heartbeat.yaml", []string{
			`9:14: monitors[0].heartbeat.token: must be 22 to 128 characters of A-Z, a-z, 0-9, '-' and '_' (make one with: openssl rand -base64 24 | tr '+/' '-_')`,
			`10:15: monitors[0].heartbeat.period: must be at least 1m`,
			`16:17: monitors[1].heartbeat.schedule: invalid cron schedule "61 2 * * *": end of range (61) above maximum (59): 61`,
			`17:18: monitors[1].heartbeat.time_zone: unknown time zone "Mars/Olympus" (use an IANA name such as Asia/Shanghai)`,
			`22:14: monitors[2].heartbeat.token: is also the token of monitors[1].heartbeat: each heartbeat needs its own`,
			`24:17: monitors[2].heartbeat.schedule: give a period or a schedule, not both`,
			`25:14: monitors[2].heartbeat.grace: must not be negative`,
			`26:5: monitors[3].heartbeat: is required for kind heartbeat`,
		}},
		{"bad-http-assertions.yaml", []string{
			"10:19: monitors[0].http.body_regex: invalid regular expression: error parsing regexp: missing closing ): `(unclosed`",
			`11:20: monitors[0].http.json_equals: needs json_path`,
			`12:22: monitors[0].http.cert_min_days: applies to https URLs only`,
			`13:19: monitors[0].http.ip_version: must be 4 or 6 (or left out for either)`,
		}},
		{"bad-listen.yaml", []string{`2:11: server.listen: invalid address "localhost": want host:port, such as 127.0.0.1:8080`}},
		{"bad-probes.yaml", []string{`2:19: probes.max_concurrent: must be 1 to 65536, not -3`}},
		{"bad-log.yaml", []string{
			`2:10: log.level: unknown level "loud" (want debug, info, warn or error)`,
			`3:11: log.format: unknown format "xml" (want text or json)`,
		}},
		{"bad-maintenance-end-equals-start.yaml", []string{`12:12: maintenance.windows[0].end: must differ from the start time`}},
		{"bad-maintenance-forms.yaml", []string{
			`8:25: maintenance.windows[0].components[1]: unknown component "db"`,
			`10:19: maintenance.windows[0].days[1]: unknown day "someday" (want mon, tue, wed, thu, fri, sat or sun)`,
			`11:14: maintenance.windows[0].start: invalid time of day "9pm": want HH:MM between 00:00 and 24:00`,
			`18:16: maintenance.windows[1].ends_at: invalid time "tomorrow" (use RFC 3339 with an offset, such as 2026-12-05T02:00:00+08:00)`,
		}},
		{"bad-maintenance-period.yaml", []string{`12:17: maintenance.windows[0].duration: an occurrence (26h0m0s) would last longer than the time between two occurrences (23h0m0s)`}},
		{"bad-maintenance-byday.yaml", []string{`10:14: maintenance.windows[0].rrule: BYDAY +10SA: a month has at most five of each weekday (numbers from -5 to 5)`}},
		{"bad-maintenance-rrule.yaml", []string{`10:14: maintenance.windows[0].rrule: BYHOUR is not supported (supported: FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY)`}},
		{"bad-maintenance-first-date.yaml", []string{
			`13:13: maintenance.windows[0].from: must be between 2000-01-01 and 2199-12-31`,
			`18:18: maintenance.windows[1].starts_at: must be between 2000-01-01 and 2199-12-31`,
		}},
		{"bad-machine-zone.yaml", []string{
			`9:18: maintenance.windows[0].time_zone: "Local" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`,
			`13:7: maintenance.windows[1].time_zone: is required (use an IANA name such as Asia/Shanghai)`,
			`22:16: objectives[0].time_zone: "posixrules" depends on the machine's settings; name the zone (use an IANA name such as Asia/Shanghai)`,
		}},
		{"bad-maintenance-zone.yaml", []string{`9:18: maintenance.windows[0].time_zone: unknown time zone "Asia/Atlantis" (use an IANA name such as Asia/Shanghai)`}},
		{"bad-monitor-component.yaml", []string{`6:16: monitors[0].component: unknown component "website"`}},
		{"bad-not-a-list.yaml", []string{`2:3: components: must be a list`}},
		{"bad-notify-targets.yaml", []string{
			`5:3: notify.smtp.host: is required when a target sends email`,
			`8:12: notify.targets[0].url: must be an absolute http or https URL`,
			`9:7: notify.targets[1].routing_key: is required for a pagerduty target`,
			`9:11: notify.targets[1].id: duplicate target "hook" (also notify.targets[0])`,
			`13:12: notify.targets[2].url: not a chat URL shoutrrr knows (slack://, teams://, discord://, telegram://, ntfy://...): unknown service`,
			`14:15: notify.targets[2].secret: does not apply to a chat target`,
			`17:29: notify.targets[3].to[1]: invalid address "not an address": want name@example.com`,
			`19:13: notify.targets[4].kind: unknown kind "pigeon" (want email, webhook, chat, pagerduty)`,
			`20:16: notify.targets[4].timeout: must be between 100ms and 5m`,
		}},
		{"bad-notify-routes.yaml", []string{
			`13:34: notify.routes[0].kinds[1]: unknown kind "monitor.exploded" (want one of ` + strings.Join(configs.RouteKinds, ", ") + `)`,
			`14:25: notify.routes[0].components[1]: unknown component "billing"`,
			`15:24: notify.routes[0].severities[1]: unknown severity "P9" (want P0, P1, P2, P3, or page or ticket for burn-rate alerts)`,
			`16:22: notify.routes[0].targets[1]: unknown target "pager" (declare it under notify.targets, or notify.api_targets for one made through the admin API)`,
			`17:29: notify.routes[0].group_by[1]: unknown field "colour" (want component, kind, severity, monitor, incident)`,
			`18:19: notify.routes[0].group_wait: must be between 0s and 1h`,
			`19:15: notify.routes[0].repeat: must be at least 1m`,
			`20:7: notify.routes[1].targets: give at least one target`,
			`20:7: notify.routes[1].group_wait: group_by needs a group_wait, such as 30s`,
			`23:17: notify.routes[2].targets[0]: target pd is a pagerduty target: its alerts each have a lifecycle, so its routes do not group (leave group_wait out)`,
		}},
		{"bad-notify-smtp.yaml", []string{
			`4:11: notify.smtp.port: must be 1 to 65535`,
			`5:10: notify.smtp.tls: unknown value "always" (want starttls, tls, opportunistic or none)`,
			`6:15: notify.smtp.username: give both a username and a password, or neither`,
			`7:11: notify.smtp.auth: unknown mechanism "magic" (want plain, login, cram-md5 or scram-sha-256)`,
			`8:11: notify.smtp.from: invalid address "status at example dot com": want an address such as "Status <status@example.com>"`,
			`9:14: notify.smtp.ca_file: cannot read: no such file or directory`,
			`12:10: notify.retry.max: must not be shorter than min (1m0s)`,
			`13:23: notify.sla_warnings[1]: must be a fraction between 0 and 1, such as 0.5`,
		}},
		{"bad-notify-api-targets.yaml", []string{
			`9:28: notify.api_targets[1]: target "oncall" is declared in this file (notify.targets[0]): an admin API target cannot have its id`,
			`9:36: notify.api_targets[2]: invalid id "Bad Id": must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit`,
			`12:36: notify.routes[0].targets[2]: unknown target "teamhook" (declare it under notify.targets, or notify.api_targets for one made through the admin API)`,
		}},
		{"bad-notify-escalation.yaml", []string{
			`16:20: policies[0].escalation.P1.steps[1].after: steps go in order: 10m0s comes after 30m0s`,
			`17:22: policies[0].escalation.P1.steps[1].notify[0]: unknown target "manager" (declare it under notify.targets, or notify.api_targets for one made through the admin API)`,
			`18:17: policies[0].escalation.P1.steps[2].at: invalid share "150%": want a percentage of the first-response target, such as 50%`,
			`20:13: policies[0].escalation.P1.steps[3]: give after (working time, such as 15m) or at (a share of the first-response target, such as 50%)`,
			`21:17: policies[0].escalation.P1.repeat: must be at least 1m`,
			`23:9: policies[0].escalation.P7: unknown severity "P7" (want P0, P1, P2 or P3)`,
		}},
		{"bad-objectives.yaml", []string{
			`6:13: objectives[0].target: must be a percentage between 0 and 100, such as 99.5`,
			`7:12: objectives[0].basis: unknown basis "generous" (want calendar or eligible)`,
			`8:16: objectives[0].time_zone: unknown time zone "Moon/Base" (use an IANA name such as Asia/Shanghai)`,
			`10:23: objectives[0].weights.partial_outage: must be between 0 and 1`,
			`11:23: objectives[0].components[1]: unknown component "web"`,
			`14:18: objectives[1].components[0]: component "api" already has objective strict`,
		}},
		{"bad-subscribers.yaml", []string{
			`2:12: subscribers.enabled: needs notify.smtp: confirmations and notices are mailed`,
			`3:19: subscribers.confirm_within: must be between 10m and 720h`,
			`4:18: subscribers.suspend_after: must be at least 1m`,
			`5:20: subscribers.recipient_limit: must be 1 to 100 mails an hour`,
			`6:17: subscribers.client_limit: must be 1 to 10000 requests an hour`,
			`7:21: subscribers.mail_connections: must be 1 to 256`,
			`9:22: subscribers.self_hosted_chats: needs subscribers.chats: the form offers no chat room`,
		}},
		{"bad-public-url.yaml", []string{`2:15: server.public_url: must be an absolute http or https URL, such as https://status.example.com`}},
		{"bad-cluster.yaml", []string{
			`2:13: cluster.instance: invalid instance "web 1": 1-100 characters of letters, digits, '.', '_', ':' and '-', starting with a letter or digit`,
			`3:13: cluster.location: invalid location "EU West": must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit`,
			`4:10: cluster.lease: must be at least 1s`,
			`5:14: cluster.heartbeat: must be at least 100ms`,
			`6:19: cluster.member_timeout: must be at least twice the heartbeat (50ms)`,
			`7:19: cluster.pending_writes: must be at least 100`,
		}},
		{"bad-redis-addrs.yaml", []string{`4:5: storage.redis.addrs: at least one address is required when backend is redis`}},
		{"bad-secret-both.yaml", []string{`6:20: storage.redis.password_file: give password or password_file, not both`}},
		{"bad-secret-env.yaml", []string{`5:15: storage.redis.password: environment variable UPSTATE_TEST_UNSET_SECRET is not set`}},
		{"bad-syntax.yaml", []string{`2:1: invalid YAML: found unexpected end of stream`}},
		{"bad-text.yaml", []string{
			`2:10: server.title: holds the control character U+001B at byte 4 (no control characters)`,
			`3:16: server.description: holds the control character U+0007 at byte 26 (no control characters other than tab and newline)`,
			`6:11: groups[0].name: holds the control character U+0009 at byte 4 (no control characters)`,
			`10:18: components[0].description: holds the control character U+0000 at byte 10 (no control characters other than tab and newline)`,
			`14:14: maintenance.windows[0].title: holds the control character U+0085 at byte 2 (no control characters)`,
		}},
		{"bad-three-mistakes.yaml", []string{
			`3:14: server.time_zone: unknown time zone "Europe/Atlantis" (use an IANA name such as Asia/Shanghai)`,
			`12:14: monitors[0].timeout: must be shorter than interval (10s)`,
			`15:7: monitors[0].http.expect_staus: unknown field (did you mean "expect_status"?)`,
		}},
		{"bad-thresholds.yaml", []string{
			`9:15: monitors[0].failures: must be between 1 and 100`,
			`10:24: monitors[0].latency_threshold: must be shorter than timeout (2s), or the monitor could never be degraded`,
			`18:14: monitors[1].retries: 3 retries 1s apart (each up to the 4s timeout) do not fit in the 10s interval`,
		}},
		{"bad-time-zone.yaml", []string{`2:14: server.time_zone: unknown time zone "Mars/Olympus_Mons" (use an IANA name such as Asia/Shanghai)`}},
		{"bad-timeout.yaml", []string{`9:14: monitors[0].timeout: must be shorter than interval (10s)`}},
		{"bad-type.yaml", []string{
			`8:15: monitors[0].interval: invalid duration "soon" (use a number and a unit, such as 30s or 5m)`,
			`9:15: monitors[0].failures: invalid value "two": must be an integer`,
		}},
		{"bad-sla.yaml", []string{
			`7:15: calendars[0].hours.funday: unknown day "funday" (want mon ... sun, or a range such as mon-fri)`,
			`10:12: calendars[1].hours: the calendar has no working time`,
			`14:7: calendars[2].hours: Monday spans 08:00-12:00 and 11:00-13:00 overlap`,
			`14:13: calendars[2].hours.mon[0]: invalid span "9-17": want HH:MM-HH:MM, such as 08:00-20:00`,
			`21:30: policies[0].severities.P1.first_response_warn: must be shorter than the target (2h)`,
			`22:21: policies[0].severities.P1.resolution: "1bd" counts business days, but the working days of calendar office are not all the same length: give hours`,
			`24:9: policies[0].severities.P5: unknown severity "P5" (want P0, P1, P2 or P3)`,
			`27:30: policies[0].severities.P2.resolution_calendar: unknown calendar "nowhere"`,
		}},
		{"bad-include.yaml", []string{
			`3:5: include[1]: cannot read no-such-file.yaml: open testdata/no-such-file.yaml: no such file or directory`,
			`testdata/bad-included-policy.yaml:5:25: policies[0].severities.P0.first_response: invalid target "soon": want a duration such as 30m or 4h, or business days such as 1bd`,
			`testdata/bad-included-policy.yaml:6:9: policies[0].severities.P0.respond_in: unknown field`,
		}},
		{"bad-included-policy.yaml", []string{
			`5:25: policies[0].severities.P0.first_response: invalid target "soon": want a duration such as 30m or 4h, or business days such as 1bd`,
			`6:9: policies[0].severities.P0.respond_in: unknown field`,
		}},
		{"bad-unknown-field.yaml", []string{`3:3: server.titel: unknown field (did you mean "title"?)`}},
		{"bad-unknown-group.yaml", []string{`4:12: components[0].group: unknown group "backend"`}},
		{"bad-language.yaml", []string{`2:13: server.language: no messages for "fr" (have en, zh-Hans): add assets/i18n/<tag>.yaml to add a language`}},
		{"bad-frame-ancestors.yaml", []string{
			`4:7: server.frame_ancestors[1]: invalid source "https://app.example.com/embed": want 'self', * or an origin such as https://app.example.com (a host may start with *.)`,
			`5:7: server.frame_ancestors[2]: invalid source "app.example.com": want 'self', * or an origin such as https://app.example.com (a host may start with *.)`,
			`8:7: server.frame_ancestors[5]: invalid source "https://evil.example.com; script-src *": want 'self', * or an origin such as https://app.example.com (a host may start with *.)`,
		}},
		{"bad-brand-color.yaml", []string{
			`5:26: server.brand.colors.header_background: invalid colour "navy": want #rgb, #rrggbb or #rrggbbaa, such as #0a7d4f`,
			`7:14: server.brand.dark_colors.major: invalid colour "#12345": want #rgb, #rrggbb or #rrggbbaa, such as #0a7d4f`,
		}},
		{"bad-brand-file.yaml", []string{
			`3:11: server.brand.logo: cannot read brand/missing.svg: no such file or directory`,
			`4:14: server.brand.favicon: "brand/favicon.bmp" is not one of the kinds of file allowed here (.ico, .png, .svg)`,
			`5:10: server.brand.css: "brand/style.scss" is not one of the kinds of file allowed here (.css)`,
		}},
		{"bad-brand-logo-dark.yaml", []string{`3:16: server.brand.logo_dark: needs server.brand.logo (the logo in the light scheme)`}},
		{"bad-visibility.yaml", []string{
			`4:17: groups[0].visibility: unknown visibility "private" (want public or internal)`,
			`9:17: components[0].visibility: unknown visibility "Internal" (want public or internal)`,
		}},
	}
	files, _ := filepath.Glob("testdata/bad-*.yaml")
	if len(files) != len(tests) {
		t.Errorf("%d bad-*.yaml files but %d cases: every file needs its case", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			cfg, err := configs.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, cfg)
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
				if strings.HasPrefix(w, "testdata/") {
					want[i] = w // a line about an included file names that file
				}
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("Load(%s) error:\n got  %s\n want %s", path, got, strings.Join(want, "\n"))
			}
			var ve *configs.ValidationError
			if !errors.As(err, &ve) || ve.File != path || ve.Line == 0 {
				t.Errorf("error is not a located *ValidationError: %#v", err)
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	cfg, err := configs.Load("upstate.example.yaml")
	if err != nil {
		t.Fatalf("the example config must load: %v", err)
	}
	if cfg.Location.String() != "Asia/Shanghai" {
		t.Errorf("Location = %v, want Asia/Shanghai", cfg.Location)
	}
	if got, want := cfg.SQLitePath(), filepath.Join("..", "data", "upstate.db"); got != want {
		t.Errorf("SQLitePath = %q, want %q (relative to the config file)", got, want)
	}
	comps := cfg.ComponentList(time.Unix(0, 0))
	if len(comps) != 6 || !comps[0].IsGroup || comps[2].ID != "api" || comps[2].GroupID != "core" || comps[2].Position != 2 {
		t.Errorf("ComponentList = %+v", comps)
	}
	var windows []maintenance.Window
	for _, sp := range cfg.MaintenanceSpecs() {
		w, errs := sp.Window(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		if len(errs) > 0 {
			t.Fatalf("spec %s: %v", sp.ID, errs)
		}
		windows = append(windows, w)
	}
	if len(windows) != 2 || windows[0].Rule != "FREQ=DAILY" || windows[1].Rule != "FREQ=WEEKLY;BYDAY=TU" || windows[1].Duration != 2*time.Hour ||
		windows[0].FirstDate.String() != "2026-11-01" || windows[0].Location() == nil {
		t.Errorf("MaintenanceSpecs = %+v", windows)
	}
	if o := cfg.ObjectiveFor("api"); o.Objective.Target != 0.995 || o.Location.String() != "Asia/Shanghai" || o.Notice != 24*time.Hour || o.Objective.Weights.PartialOutage != 0.3 {
		t.Errorf("ObjectiveFor(api) = %+v", o)
	}
	mons := cfg.ProbeMonitors()
	if len(mons) != 5 {
		t.Fatalf("ProbeMonitors = %d monitors, want 5", len(mons))
	}
	if tcp := mons[4]; tcp.Kind != probe.KindTCP || tcp.TCP == nil || tcp.TCP.Address != "127.0.0.1:8080" {
		t.Errorf("tcp monitor = %+v", tcp)
	}
	api := mons[0]
	if api.Kind != probe.KindHTTP || api.Interval != 10*time.Second || api.Timeout != 3*time.Second ||
		api.Thresholds != (probe.Thresholds{Failures: 2, Successes: 1, LatencyThreshold: 500 * time.Millisecond, Retries: 1, RetrySpacing: time.Second}) {
		t.Errorf("api monitor = %+v", api)
	}
	if h := api.HTTP; h.Method != "GET" || h.MaxRedirects != 5 || len(h.ExpectStatus) != 1 || h.ExpectStatus[0] != (probe.StatusRange{Min: 200, Max: 200}) {
		t.Errorf("api http spec = %+v", h)
	}
	if r := mons[3].HTTP.ExpectStatus; len(r) != 1 || r[0] != (probe.StatusRange{Min: 200, Max: 299}) {
		t.Errorf("legacy expect_status = %+v, want 200-299", r)
	}
	// Defaults: timeout is 10s capped at 4/5 of the interval.
	if m := mons[2]; m.Interval != 30*time.Second || m.Timeout != 10*time.Second {
		t.Errorf("metrics monitor interval/timeout = %s/%s, want 30s/10s", m.Interval, m.Timeout)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := configs.Parse("min.yaml", []byte("components: [{id: api, name: API}]\nmonitors: [{id: m, component: api, kind: http, interval: 5s, http: {url: 'http://127.0.0.1/'}}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Server.PublicURL != "http://127.0.0.1:8080" || cfg.Server.TimeZone != "UTC" ||
		cfg.Storage.Backend != "sqlite" || cfg.Server.RequestTimeout != 10*time.Second {
		t.Errorf("server/storage defaults wrong: %+v %+v", cfg.Server, cfg.Storage)
	}
	if m := cfg.Monitors[0]; m.Timeout != 4*time.Second || m.Failures != 2 || m.Successes != 1 || m.Name != "m" {
		t.Errorf("monitor defaults wrong: %+v", m)
	}
	if cfg.Probes.MaxConcurrent != 512 {
		t.Errorf("probes.max_concurrent defaults to %d, want 512", cfg.Probes.MaxConcurrent)
	}
}

func noEnv(string) (string, bool) { return "", false }

func TestSecretsOnlyInSecretFields(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "REDIS_PW" {
			return "s3cret", true
		}
		return "", false
	}
	src := "server:\n  title: 'Costs ${REDIS_PW}'\nstorage:\n  backend: redis\n  redis:\n    addrs: ['127.0.0.1:6379']\n    password: 'pw-${REDIS_PW}'\n"
	cfg, err := configs.Parse("s.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Redis.Password != "pw-s3cret" {
		t.Errorf("password = %q, want the variable expanded", cfg.Storage.Redis.Password)
	}
	if cfg.Server.Title != "Costs ${REDIS_PW}" {
		t.Errorf("title = %q: ${ENV} must not be expanded outside secret fields", cfg.Server.Title)
	}
}

func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "storage:\n  backend: redis\n  redis:\n    addrs: ['127.0.0.1:6379']\n    password_file: pw\n"
	cfg, err := configs.Parse(filepath.Join(dir, "upstate.yaml"), []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Redis.Password != "from-file" {
		t.Errorf("password = %q, want the file's content without its newline", cfg.Storage.Redis.Password)
	}
	_, err = configs.Parse(filepath.Join(dir, "upstate.yaml"), []byte(strings.Replace(src, "pw\n", "missing\n", 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), "storage.redis.password_file: cannot read: no such file or directory") {
		t.Errorf("missing password file: got %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	_, err := configs.Parse("empty.yaml", nil, noEnv)
	if err == nil || err.Error() != "empty.yaml: the file is empty" {
		t.Errorf("empty file: got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "upstate.example.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := configs.Parse("fuzz.yaml", data, noEnv)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line without its file: %q", line)
				}
			}
			return
		}
		// A valid config is usable: its conversions do not panic.
		_ = cfg.ComponentList(time.Unix(0, 0))
		_ = cfg.ProbeMonitors()
	})
}

// TestAliasBomb feeds a document that expands to tens of millions of values: it must be
// rejected quickly, with a bounded list of errors.
func TestAliasBomb(t *testing.T) {
	// Expanded naively this is tens of millions of values.
	src := `server:
  links: &l0 [{title: t, url: 'http://a'}, {title: t, url: 'http://a'}, {title: t, url: 'http://a'}]
groups:
  - &l1 [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]
  - &l2 [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]
  - &l3 [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]
  - &l4 [*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3]
  - &l5 [*l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4, *l4]
  - &l6 [*l5, *l5, *l5, *l5, *l5, *l5, *l5, *l5, *l5]
  - &l7 [*l6, *l6, *l6, *l6, *l6, *l6, *l6, *l6, *l6]
  - &l8 [*l7, *l7, *l7, *l7, *l7, *l7, *l7, *l7, *l7]
components:
  - &c1 {id: a, name: [*l8, *l8, *l8, *l8, *l8, *l8, *l8, *l8]}
`
	_, err := configs.Parse("bomb.yaml", []byte(src), noEnv)
	if err == nil {
		t.Fatal("an alias bomb must be rejected")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n > 101 {
		t.Errorf("%d error lines, want at most 101", n)
	}
}

// TestShippedConfigsLoad keeps every config file the project ships valid.
func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	more, _ := filepath.Glob("policies/*.yaml")
	for _, f := range append(files, more...) {
		if _, err := configs.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if len(files) < 2 {
		t.Errorf("found %d shipped configs, want the example and the container's", len(files))
	}
}

// TestSeedDeadlines checks the shipped policy files (the seeds) against deadlines computed by
// hand: after hours, on Fridays, across the fall-back night, with business days and warnings.
func TestSeedDeadlines(t *testing.T) {
	cfg, err := configs.Load("upstate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.SLAPolicies()
	tests := []struct {
		name, policy                   string
		sev                            incidents.Severity
		opened                         string // RFC 3339 with the local offset
		frDue, frWarn, resDue, resWarn string
	}{
		{"Jenny P1 on a Friday evening", "jenny", incidents.P1, "2026-11-20T19:30:00+08:00",
			"2026-11-21T09:30:00+08:00", "2026-11-21T09:00:00+08:00", "2026-11-21T19:30:00+08:00", "2026-11-21T16:30:00+08:00"},
		{"Jenny P1 after hours", "jenny", incidents.P1, "2026-11-20T23:00:00+08:00",
			"2026-11-21T10:00:00+08:00", "2026-11-21T09:30:00+08:00", "2026-11-21T20:00:00+08:00", "2026-11-21T17:00:00+08:00"},
		{"Jenny P0 at night, around the clock", "jenny", incidents.P0, "2026-11-21T02:00:00+08:00",
			"2026-11-21T02:30:00+08:00", "2026-11-21T02:22:30+08:00", "2026-11-21T06:00:00+08:00", "2026-11-21T05:00:00+08:00"},
		{"Jenny P2: 24 h response, 3 business days", "jenny", incidents.P2, "2026-11-21T21:00:00+08:00",
			"2026-11-22T21:00:00+08:00", "2026-11-22T15:00:00+08:00", "2026-11-24T20:00:00+08:00", "2026-11-24T11:00:00+08:00"},
		{"Jenny P3: no resolution target", "jenny", incidents.P3, "2026-11-21T21:00:00+08:00",
			"2026-11-22T21:00:00+08:00", "2026-11-22T15:00:00+08:00", "", ""},
		{"Zenput Critical across the fall-back night", "zenput", incidents.P0, "2026-11-01T00:30:00-07:00",
			"2026-11-01T01:30:00-08:00", "2026-11-01T01:00:00-08:00", "", ""},
		{"Zenput Minor: three days", "zenput", incidents.P2, "2026-11-20T10:00:00-08:00",
			"2026-11-23T10:00:00-08:00", "2026-11-22T16:00:00-08:00", "", ""},
		{"Jungleworks High late on a Friday", "jungleworks", incidents.P1, "2026-11-20T23:45:00+05:30",
			"2026-11-23T00:15:00+05:30", "2026-11-21T00:00:00+05:30", "2026-11-23T17:45:00+05:30", "2026-11-23T11:45:00+05:30"},
		{"Jungleworks Urgent on a Sunday", "jungleworks", incidents.P0, "2026-11-22T10:00:00+05:30",
			"2026-11-22T10:30:00+05:30", "2026-11-22T10:15:00+05:30", "2026-11-22T11:00:00+05:30", "2026-11-22T10:45:00+05:30"},
	}
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ps[tt.policy].Deadlines(tt.sev, parse(tt.opened))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				what      string
				got, want time.Time
			}{
				{"first response due", d.FirstResponseDue, parse(tt.frDue)}, {"first response warning", d.FirstResponseWarn, parse(tt.frWarn)},
				{"resolution due", d.ResolutionDue, parse(tt.resDue)}, {"resolution warning", d.ResolutionWarn, parse(tt.resWarn)},
			} {
				if !c.got.Equal(c.want) {
					t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
				}
			}
		})
	}
}
