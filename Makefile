# Upstate: the two commands that matter are `make run` and `make test`.
GO      ?= go
CONFIG  ?= configs/upstate.example.yaml
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run test build fmt-check vet race fuzz bench bench-page bench-probes bench-ha bench-notify bench-subscribers clean

## run: start the whole product on the embedded store with the example config
run:
	$(GO) run ./cmd/upstate serve -config $(CONFIG)

## test: gofmt check, go vet, and every test with the race detector
test: fmt-check vet race

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

race:
	$(GO) test -race -count=1 -timeout 20m ./...

## build: a static binary in bin/upstate
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/upstate ./cmd/upstate

## fuzz: run each fuzz target for a short while (FUZZTIME=30s)
FUZZTIME ?= 20s
fuzz:
	$(GO) test ./configs -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./statuspage -run '^$$' -fuzz '^FuzzAdminJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./statuspage -run '^$$' -fuzz '^FuzzWriteAPIs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./statuspage -run '^$$' -fuzz '^FuzzReadAPIs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./statuspage -run '^$$' -fuzz '^FuzzStoredText$$' -fuzztime $(FUZZTIME)
	$(GO) test ./maintenance -run '^$$' -fuzz '^FuzzRule$$' -fuzztime $(FUZZTIME)
	$(GO) test ./probe -run '^$$' -fuzz '^FuzzHTTPBody$$' -fuzztime $(FUZZTIME)

## bench: the Go benchmarks (see BENCHMARKS.md for the load commands)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-page: load / and /api/v2/summary.json with 200 and 1,000 components, then with 10,000 in
## 500 groups and 100,000 incidents of history on SQLite and on Redis, half the clients busting
## the cache with random query strings (BENCHMARKS.md)
PAGE_HISTORY = -components 10000 -groups 500 -incidents 100000 -big-incidents 5 -bust 0.5 -duration 10s
bench-page:
	$(GO) build -o bin/pageload ./internal/bench/pageload
	bin/pageload -components 200 -duration 10s
	bin/pageload -components 1000 -duration 10s
	bin/pageload -backend sqlite $(PAGE_HISTORY)
	bin/pageload -backend redis $(PAGE_HISTORY)

## bench-probes: 1,000 and 10,000 HTTP monitors every 10s, targets answering at once and after 50ms (BENCHMARKS.md)
PROBE_DURATION ?= 90s
bench-probes:
	$(GO) build -o bin/probeload ./internal/bench/probeload
	bin/probeload -monitors 1000 -delay 0 -duration $(PROBE_DURATION)
	bin/probeload -monitors 1000 -delay 50ms -duration $(PROBE_DURATION)
	bin/probeload -monitors 10000 -delay 0 -duration $(PROBE_DURATION)
	bin/probeload -monitors 10000 -delay 50ms -duration $(PROBE_DURATION)

## bench-ha: three upstate serve processes on one redis-server, 10,000 monitors every 10s: checks, duplicates, CPU and Redis commands per check, take-over after kill -9 of the leader and of a prober (BENCHMARKS.md)
HA_DURATION ?= 120s
bench-ha:
	$(GO) build -o bin/upstate ./cmd/upstate
	$(GO) build -o bin/haload ./internal/bench/haload
	bin/haload -upstate bin/upstate -monitors 10000 -interval 10s -duration $(HA_DURATION)

## bench-notify: one incident update to 1,000 webhook targets and 1,000 mail recipients on loopback, on SQLite and on Redis: time until all are delivered, deliveries/s, CPU, memory, outbox rows/s (BENCHMARKS.md)
bench-notify:
	$(GO) build -o bin/notifyload ./internal/bench/notifyload
	bin/notifyload -webhooks 1000 -emails 1000 -backend sqlite
	bin/notifyload -webhooks 1000 -emails 1000 -backend redis

## bench-subscribers: one incident update to 100,000 confirmed email subscribers, each mail handed to an SMTP server on loopback, on SQLite and on Redis: the SRE's call, time to the last mail, mails/s, CPU, memory (BENCHMARKS.md)
bench-subscribers:
	$(GO) build -o bin/subload ./internal/bench/subload
	bin/subload -subscribers 100000 -backend sqlite
	bin/subload -subscribers 100000 -backend redis

clean:
	rm -rf bin
