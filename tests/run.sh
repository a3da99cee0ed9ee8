#!/usr/bin/env bash
# The main job (`make run`): the plugin reading a Docker daemon, printing
# every record it hands Fluent Bit.
#
# - Daemon: $DOCKER_HOST, else /var/run/docker.sock, when it answers; else
#   the project's private dockerd (installed and started on demand, stopped
#   at the end) with a demo container writing a line every 200 ms on stdout
#   and stderr.
# - Fluent Bit: the real `fluent-bit` when it is on PATH (stdout output),
#   else the test host (tests/host), which prints records as JSON lines.
# - DURATION=N runs N seconds (default 15); DURATION=0 runs until Ctrl-C.
# - Extra plugin keys: PLUGIN_OPTS="read_from_head=true log_level=debug".
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
host="${DOCKER_HOST:-unix:///var/run/docker.sock}"
started_daemon=""
demo=""

cli() {
    if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker; else command -v docker || echo docker; fi
}

cleanup() {
    if [[ -n "$demo" ]]; then "$(cli)" -H "$host" rm -f "$demo" >/dev/null 2>&1 || true; fi
    if [[ -n "$started_daemon" ]]; then bash tests/docker/dockerd.sh stop >/dev/null || true; fi
}
trap cleanup EXIT

if ! timeout 10 "$(cli)" -H "$host" version >/dev/null 2>&1; then
    echo "run: no Docker daemon answers at $host; using the project's private one" >&2
    # Stop it at the end only if this run started it (tests may share it).
    bash tests/docker/dockerd.sh status >/dev/null 2>&1 || started_daemon=1
    bash tests/docker/dockerd.sh start >&2
    bash tests/docker/dockerd.sh image >&2
    host="$(bash tests/docker/dockerd.sh env | sed 's/^DOCKER_HOST=//')"
    demo="$("$(cli)" -H "$host" run -d --network none --name "docker_logs-demo-$$" \
        docker_logs-loggen:test -n 1000000 -rate 10 -stream both -tag demo)"
    echo "run: demo container ${demo:0:12} writes 5 lines/s on stdout and 5 on stderr" >&2
fi

props=(-p "docker_host=$host")
for kv in ${PLUGIN_OPTS:-}; do props+=(-p "$kv"); done

if command -v fluent-bit >/dev/null 2>&1; then
    echo "run: real Fluent Bit: $(command -v fluent-bit)" >&2
    cmd=(fluent-bit -e "$PWD/build/docker_logs.so" -i docker_logs "${props[@]}" -o stdout -m '*')
else
    echo "run: no fluent-bit on PATH; using the test host (records as JSON lines)" >&2
    cmd=(build/flbhost -i docker_logs "${props[@]}" "$PWD/build/docker_logs.so")
fi

if [[ "$DURATION" == 0 ]]; then
    "${cmd[@]}"
else
    # SIGTERM after DURATION: Fluent Bit's own clean shutdown.
    rc=0
    timeout --signal=TERM --kill-after=20 "$DURATION" "${cmd[@]}" || rc=$?
    # timeout's 124 means our SIGTERM ended it, as intended.
    if ((rc != 0 && rc != 124)); then exit "$rc"; fi
fi
