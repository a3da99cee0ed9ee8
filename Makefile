# docker_logs: a Fluent Bit input plugin for Docker container logs.
#
#   make            build build/docker_logs.so and the test host build/flbhost
#   make test       every test: unit (CGO_ENABLED=0, and the cgo shim's), race, short fuzz runs,
#                   and integration against a private dockerd (installs
#                   Debian's docker.io when missing), then the daemon-facing
#                   part of it against dockerd 28.5.2 (integration-modern)
#   make integration-modern  capture, exactly-once (daemon kill included),
#                   rotation, file source and --rm under load against
#                   dockerd 28.5.2 built from source (build/dockerd-28.5.2,
#                   a few minutes the first time)
#   make run        the main job: the plugin against a Docker daemon, printing
#                   records (real fluent-bit if on PATH, else the test host)
#   make dist       build/docker_logs-VERSION-linux-ARCH.tar.gz: the stripped
#                   .so, example configs, README, LICENSE, SHA256SUMS
#   make fuzz       fuzz runs of the decoders (FUZZTIME=60000x executions each)
#   make bench      every benchmark below, plus the Go benchmarks of the hot
#                   path, then one table of every figure against its goal
#   make bench-go        Go benchmarks: frame decoding, dedup, msgpack encoding
#   make bench-ingest    P1 ingest rate vs the daemon's, P2 CPU per line (vs
#                        Fluent Bit tail when fluent-bit is on PATH)
#   make bench-source    F1-F3 whole-host CPU per line (reader + dockerd) of
#                        source api vs source file (vs Fluent Bit tail when
#                        fluent-bit is on PATH), backlog and live; dockerd's
#                        CPU during source file vs with no reader
#   make bench-rotation  P3 dockerd CPU per stream reopen, since alone vs since+tail
#   make bench-shards    ingest rate with 1, 2 and 4 shard inputs
#   make bench-scale     P4 500 containers: RSS, goroutines, CPU, latency
#   make bench-scale-fb  the same in real Fluent Bit (the plugin's histogram)
#   make bench-idle      idle CPU of 50 quiet containers in real Fluent Bit,
#                        per source (api, file, auto)
#   make bench-outage    an output outage in real Fluent Bit: peak RSS, every
#                        line, against tail (mem_buf_limit 2M)
#   make bench-threaded  threaded against threaded false in real Fluent Bit:
#                        latency to the output, lines, CPU per line
#   make bench-pause     P5 paused a minute under load: peak RSS vs buffer_max_size
#   make bench-crash     lines lost or repeated when real Fluent Bit is SIGKILLed,
#                        per db.commit_delay (needs fluent-bit; not in make bench)
#   make bench-long      the long test: 50 containers for an hour (not in make bench)
#   make soak       the load and review tests unscaled (10 min each; not in CI)

SHELL   := bash
GO      ?= go
CC      ?= gcc
SO      := build/docker_logs.so
HOST    := build/flbhost
# The same host without flb_input_log_append exported: a Fluent Bit built
# without its symbols exported, where the plugin falls back to one collect
# buffer a second.
HOST_NOAPPEND := build/flbhost-noappend
# What the fluent-bit executable exports (ENABLE_EXPORTS) and the plugin
# looks up: the appends, the instance's name, its event collector, cmetrics.
HOST_EXPORTS := flb_input_log_append flb_input_log_append_records flb_input_name cmt_counter_create cmt_gauge_create \
	flb_input_set_collector_event flb_input_collector_pause flb_input_collector_resume \
	cmt_counter_set cmt_gauge_set
GO_SRC  := $(shell find plugin engine conf docker -name '*.go' -not -name '*_test.go') plugin/flb.c plugin/flb.h go.mod go.sum
# A count, not a duration: with a duration, Go 1.26's fuzzing coordinator
# can report its own deadline as a failure (golang/go#75804, fixed in 1.27;
# seen here in CI as "--- FAIL: FuzzParseTimestamp ... context deadline
# exceeded" with no failing input). 60000 runs take about 10 s here.
FUZZTIME ?= 60000x

.PHONY: all test unit race fuzz integration integration-modern run dist bench bench-go bench-rotation bench-shards \
	bench-ingest bench-source bench-scale bench-scale-fb bench-idle bench-outage bench-threaded bench-pause bench-crash bench-long bench-results bench-summary bench-daemon soak clean

all: $(SO) $(HOST) $(HOST_NOAPPEND)

$(SO): $(GO_SRC)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -o $@ ./plugin

$(HOST): tests/host/flbhost.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -pthread $(HOST_EXPORTS:%=-Wl,--export-dynamic-symbol=%) -o $@ $< -ldl

$(HOST_NOAPPEND): tests/host/flbhost.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -ldl

test: all unit race fuzz integration integration-modern

unit:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./conf/... ./docker/... ./engine/...
	$(GO) test -count=1 ./plugin/

race:
	$(GO) test -race -count=1 ./engine/... ./docker/...

fuzz:
	$(GO) test ./docker/ -run '^$$' -fuzz '^FuzzLogReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./docker/ -run '^$$' -fuzz '^FuzzParseTimestamp$$' -fuzztime $(FUZZTIME)
	$(GO) test ./docker/ -run '^$$' -fuzz '^FuzzDecodeJSONFileLine$$' -fuzztime $(FUZZTIME)

# -p 1: one test binary at a time on these 2-core machines (the fault
# server's tests expect sub-second deadlines).
integration: all
	set -o pipefail; $(GO) test -p 1 -count=1 -timeout 30m -v ./tests/... 2>&1 | tee build/integration.log | \
		grep -E --line-buffered '^(=== RUN|\s*--- |PASS|FAIL|ok|panic)|_test.go'

# Debian's dockerd is 20.10 (API 1.41); the plugin must also be right on a
# current daemon (DOCKER_API.md: 23.0+ and 24.0+ changed the follower and
# since). dockerd 28.5.2, the last github.com/docker/docker module release,
# built once into build/ (tests/docker/dockerd-modern.sh), runs with Debian's
# containerd and runc in directories of its own, apart from 20.10's:
# /tmp/dl-dockerd28, and a directory a test names gets "-28.5.2" appended
# (the daemon kill test's /tmp/dl-dockerd28-kill-28.5.2).
DOCKERD_MODERN := build/dockerd-28.5.2/dockerd
DL_DOCKER_DIR_MODERN ?= /tmp/dl-dockerd28
INTEGRATION_MODERN_RUN ?= ^(TestCapture|TestExactlyOnce|TestFluentBitCapture|TestFluentBitExactlyOnce|TestRotatedAwayLinesAreReported|TestGapReportedAfterRotation|TestFileAndAPIRecordsAreEqual|TestSource|TestShortLivedRemovedContainersUnderLoad)
integration-modern: all
	bash tests/docker/dockerd-modern.sh build
	set -o pipefail; DL_DOCKERD=$(CURDIR)/$(DOCKERD_MODERN) DL_DOCKER_DIR=$(DL_DOCKER_DIR_MODERN) \
		$(GO) test -count=1 -timeout 20m -v -run '$(INTEGRATION_MODERN_RUN)' ./tests/ 2>&1 | \
		tee build/integration-modern.log | \
		grep -E --line-buffered '^(=== RUN|\s*--- |PASS|FAIL|ok|panic)|_test.go'

run: all
	bash tests/run.sh

# The release archive. The .so is stripped (-s -w: no symbol table or DWARF,
# a third of the size); Fluent Bit needs only its exported callbacks.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST    := docker_logs-$(VERSION)-linux-$(shell $(GO) env GOARCH)
dist:
	rm -rf build/dist/$(DIST) build/$(DIST).tar.gz
	mkdir -p build/dist/$(DIST)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -ldflags "-s -w" -o build/dist/$(DIST)/docker_logs.so ./plugin
	rm build/dist/$(DIST)/docker_logs.h
	cp -r README.md LICENSE conf/examples build/dist/$(DIST)/
	cd build/dist/$(DIST) && find . -type f ! -name SHA256SUMS | LC_ALL=C sort | sed 's|^\./||' | xargs sha256sum > SHA256SUMS
	tar -C build/dist --owner=0 --group=0 -czf build/$(DIST).tar.gz $(DIST)
	cd build && sha256sum $(DIST).tar.gz > $(DIST).tar.gz.sha256
	@echo "built build/$(DIST).tar.gz"

# Each benchmark program prints its own table with the command that made it
# and leaves its rows in $(BENCH_DIR); bench-summary prints them as one table.
BENCH_DIR ?= build/bench

bench: bench-results bench-go bench-ingest bench-source bench-rotation bench-shards bench-scale bench-scale-fb bench-idle bench-pause bench-outage bench-threaded
	@$(MAKE) --no-print-directory bench-summary

# A fresh start: the summary shows only what this run measured.
bench-results:
	rm -rf $(BENCH_DIR)
	mkdir -p $(BENCH_DIR)

bench-summary:
	$(GO) run ./tests/bench/summary -dir $(BENCH_DIR) -go $(BENCH_DIR)/bench-go.txt

bench-daemon:
	bash tests/docker/dockerd.sh start
	bash tests/docker/dockerd.sh image

bench-go:
	@mkdir -p $(BENCH_DIR)
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem ./engine/ ./docker/ | tee $(BENCH_DIR)/bench-go.txt

BENCH_INGEST_ARGS ?= -lines 1000000 -rounds 3
bench-ingest: all bench-daemon
	$(GO) run ./tests/bench/ingest -result-dir $(BENCH_DIR) $(BENCH_INGEST_ARGS)

BENCH_SOURCE_ARGS ?= -lines 1000000 -rate 20000 -seconds 30 -rounds 1
bench-source: all bench-daemon
	$(GO) run ./tests/bench/source -result-dir $(BENCH_DIR) $(BENCH_SOURCE_ARGS)

BENCH_ROTATION_ARGS ?= -sizes 1,10,40 -reconnects 10 -tail 200 -back 100
bench-rotation: bench-daemon
	$(GO) run ./tests/bench/rotation -result-dir $(BENCH_DIR) $(BENCH_ROTATION_ARGS)

BENCH_SHARDS_ARGS ?= -shards 1,2,4 -containers 8 -lines 75000
bench-shards: all bench-daemon
	$(GO) run ./tests/bench/shards -result-dir $(BENCH_DIR) $(BENCH_SHARDS_ARGS)

BENCH_SCALE_ARGS ?= -containers 500 -rate 5 -duration 2m -sample 10s
bench-scale: all bench-daemon
	$(GO) run ./tests/bench/scale -result-dir $(BENCH_DIR) $(BENCH_SCALE_ARGS)

# The same load in real Fluent Bit (../shared/fluent-bit/v5.1.1, else
# fluent-bit on PATH; fails without one): its RSS, the plugin's latency.
BENCH_SCALE_FB_ARGS ?= -containers 500 -rate 5 -duration 2m -sample 10s
bench-scale-fb: all bench-daemon
	$(GO) run ./tests/bench/scale -name scale-fb -fluent-bit auto -result-dir $(BENCH_DIR) $(BENCH_SCALE_FB_ARGS)

# 50 quiet containers in real Fluent Bit: idle CPU, per source (file and
# auto must idle no dearer than api).
BENCH_IDLE_ARGS ?= -containers 50 -rate 0.001 -duration 1m -sample 10s -goal-cpu 0.5
bench-idle: all bench-daemon
	for s in api file auto; do \
		$(GO) run ./tests/bench/scale -name idle-$$s -fluent-bit auto -result-dir $(BENCH_DIR) $(BENCH_IDLE_ARGS) -p source=$$s || exit 1; \
	done

# threaded (Fluent Bit's default for a Go input) against threaded false,
# in real Fluent Bit: latency from Docker's timestamp to the output, lines,
# CPU per line; prints its own table (not in the summary).
bench-threaded: all bench-daemon
	bash tests/bench/threaded.sh

# An output outage in real Fluent Bit (mem_buf_limit 2M): peak RSS and
# every line, against tail; prints its own table (not in the summary).
bench-outage: all bench-daemon
	bash tests/bench/outage.sh

BENCH_PAUSE_ARGS ?= -buffers 4M,32M -pause 60s
bench-pause: all bench-daemon
	$(GO) run ./tests/bench/pause -result-dir $(BENCH_DIR) $(BENCH_PAUSE_ARGS)

# Not in make bench: it needs real Fluent Bit (the test host has no window
# between an append and its chunk reaching the disk).
BENCH_CRASH_ARGS ?= -kills 20
bench-crash: all bench-daemon
	$(GO) run ./tests/bench/crash -result-dir $(BENCH_DIR) $(BENCH_CRASH_ARGS)

# Not in make bench (an hour): 50 containers logging steadily, goroutines
# and RSS sampled each minute, every container delivering every minute;
# its rows go to $(BENCH_DIR)-long, which make bench does not clear.
BENCH_LONG_ARGS ?= -containers 50 -rate 10 -duration 1h -sample 1m
bench-long: all bench-daemon
	@mkdir -p $(BENCH_DIR)-long
	$(GO) run ./tests/bench/scale -name long -result-dir $(BENCH_DIR)-long $(BENCH_LONG_ARGS)
	$(GO) run ./tests/bench/summary -dir $(BENCH_DIR)-long -go ''

SOAK_SECONDS ?= 600
soak: all
	SOAK_LOAD_SECONDS=$(SOAK_SECONDS) $(GO) test -count=1 -timeout 0 -v -run 'TestExactlyOnce|TestTasksStayRunning' ./tests/

clean:
	rm -rf build
