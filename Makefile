# docker_logs: a Fluent Bit input plugin for Docker container logs.
#
#   make            build build/docker_logs.so and the test host build/flbhost
#   make test       every test: unit (CGO_ENABLED=0), race, short fuzz runs,
#                   and integration against a private dockerd (installs
#                   Debian's docker.io when missing)
#   make run        the main job: the plugin against a Docker daemon, printing
#                   records (real fluent-bit if on PATH, else the test host)
#   make fuzz       fuzz runs of the decoders (FUZZTIME=10s each)
#   make bench      every benchmark below, plus the Go benchmarks of the hot path
#   make bench-rotation  dockerd CPU per stream reopen, since alone vs since+tail
#   make bench-shards    ingest rate with 1, 2 and 4 shard inputs
#   make soak       the load and review tests unscaled (10 min each; not in CI)

SHELL   := bash
GO      ?= go
CC      ?= gcc
SO      := build/docker_logs.so
HOST    := build/flbhost
GO_SRC  := $(shell find plugin engine conf docker -name '*.go' -not -name '*_test.go') go.mod go.sum
FUZZTIME ?= 10s

.PHONY: all test unit race fuzz integration run bench bench-go bench-rotation bench-shards soak clean

all: $(SO) $(HOST)

$(SO): $(GO_SRC)
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath -o $@ ./plugin

$(HOST): tests/host/flbhost.c
	@mkdir -p build
	$(CC) -O2 -g -Wall -Wextra -Werror -pthread -o $@ $< -ldl

test: all unit race fuzz integration

unit:
	$(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -count=1 ./conf/... ./docker/... ./engine/...

race:
	$(GO) test -race -count=1 ./engine/...

fuzz:
	$(GO) test ./docker/ -run '^$$' -fuzz '^FuzzLogReader$$' -fuzztime $(FUZZTIME)
	$(GO) test ./docker/ -run '^$$' -fuzz '^FuzzParseTimestamp$$' -fuzztime $(FUZZTIME)

integration: all
	set -o pipefail; $(GO) test -count=1 -timeout 20m -v ./tests/... 2>&1 | tee build/integration.log | \
		grep -E --line-buffered '^(=== RUN|\s*--- |PASS|FAIL|ok|panic)|_test.go'

run: all
	bash tests/run.sh

bench: bench-go bench-rotation bench-shards

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/ ./docker/

BENCH_ROTATION_ARGS ?= -sizes 1,10,40 -reconnects 10
bench-rotation:
	bash tests/docker/dockerd.sh start
	bash tests/docker/dockerd.sh image
	$(GO) run ./tests/bench/rotation $(BENCH_ROTATION_ARGS)

BENCH_SHARDS_ARGS ?= -shards 1,2,4 -containers 8 -lines 75000
bench-shards: all
	bash tests/docker/dockerd.sh start
	bash tests/docker/dockerd.sh image
	$(GO) run ./tests/bench/shards $(BENCH_SHARDS_ARGS)

SOAK_SECONDS ?= 600
soak: all
	SOAK_LOAD_SECONDS=$(SOAK_SECONDS) $(GO) test -count=1 -timeout 0 -v -run 'TestExactlyOnce|TestTasksStayRunning' ./tests/

clean:
	rm -rf build
