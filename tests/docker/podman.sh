#!/usr/bin/env bash
# Private Podman API service for the docker_logs integration tests: Podman's
# Docker-compatible socket (`podman system service`), which the plugin reads
# as it reads dockerd's.
#
# Usage: tests/docker/podman.sh install|start|stop|env|image|status|cli ARGS...
#
#   install  install Debian's podman and runc if podman is missing; quiet
#            unless it fails
#   start    install if needed, write the configuration, then start
#            `podman system service --time=0 unix://$DIR/podman.sock` in the
#            background (idempotent)
#   stop     stop the service and remove every container of this storage
#            (idempotent)
#   env      print DOCKER_HOST=unix://$DIR/podman.sock and the CONTAINERS_CONF
#            and CONTAINERS_STORAGE_CONF the podman CLI needs to see the same
#            containers
#   image    build docker_logs-loggen:test (tests/loggen, FROM scratch), the
#            image dockerd.sh builds, into podman's storage unless it is up to
#            date (sha256 label of the binary)
#   status   exit 0 if the service answers, 1 if not
#   cli      run the podman CLI on this storage, e.g. `podman.sh cli ps -a`
#
# Environment:
#   DL_PODMAN_DIR  state directory (default /tmp/docker_logs-podman); keep it
#                  short: the socket path must fit in 108 bytes
#
# Settings this machine needs (measured with Debian's podman 4.3.1): container
# ulimits no higher than the sandbox allows (default_ulimits nofile and nproc
# in a containers.conf named by CONTAINERS_CONF), runc (crun 1.8 refuses this
# cgroup layout), cgroupfs (no systemd), events in a file (no journal), and
# k8s-file logs. Storage, run state, events and network configuration all live
# under $DIR: the machine's own podman (/var/lib/containers) is never touched.
# Containers are run with --network none.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

DIR="${DL_PODMAN_DIR:-/tmp/docker_logs-podman}"
SOCK="$DIR/podman.sock"
HOST="unix://$SOCK"
PIDFILE="$DIR/service.pid"
LOG="$DIR/service.log"
IMAGE="docker_logs-loggen:test"
LABEL="docker_logs.loggen.sha256"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

export CONTAINERS_CONF="$DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$DIR/storage.conf"
# Never let a registries.conf or policy of the user's home interfere.
export XDG_CONFIG_HOME="$DIR/config"

PROG=podman.sh
# shellcheck source=tests/docker/common.sh
source "$REPO_ROOT/tests/docker/common.sh"

pm() { podman "$@"; }


service_pid() { pid_of "$PIDFILE" "$SOCK"; }

answers() {
    [[ -S "$SOCK" ]] || return 1
    curl -sf --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1
}


apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

cmd_install() {
    if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 &&
        command -v curl >/dev/null 2>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "podman missing and no apt-get to install it"
    local out rc=0
    out="$(mktemp)"
    # The package lists may be stale or absent: update once on failure.
    { apt_install podman runc curl || { apt-get update -qq && apt_install podman runc curl; }; } >"$out" 2>&1 || rc=$?
    if ((rc != 0)) || ! command -v podman >/dev/null 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        die "installing podman failed"
    fi
    rm -f "$out"
}

write_conf() {
    mkdir -p "$DIR/storage" "$DIR/run" "$DIR/tmp" "$DIR/events" "$DIR/networks" "$DIR/config" "$DIR/volumes"
    cat >"$CONTAINERS_CONF.tmp" <<EOF
# Written by tests/docker/podman.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
netns = "none"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/events/events.log"
tmp_dir = "$DIR/tmp"
volume_path = "$DIR/volumes"

[network]
network_config_dir = "$DIR/networks"
EOF
    mv "$CONTAINERS_CONF.tmp" "$CONTAINERS_CONF"
    cat >"$CONTAINERS_STORAGE_CONF.tmp" <<EOF
# Written by tests/docker/podman.sh
[storage]
driver = "overlay"
graphroot = "$DIR/storage"
runroot = "$DIR/run"
EOF
    mv "$CONTAINERS_STORAGE_CONF.tmp" "$CONTAINERS_STORAGE_CONF"
}


cmd_start() {
    cmd_install
    mkdir -p "$DIR"
    write_conf
    local pid i
    if pid="$(service_pid)"; then
        for ((i = 0; i < 150; i++)); do
            answers && { say "already running (pid $pid, DOCKER_HOST=$HOST)"; return 0; }
            sleep 0.2
        done
        log_tail
        die "podman service (pid $pid) is running but $SOCK does not answer"
    fi
    rm -f "$SOCK" "$PIDFILE"
    {
        echo
        echo "==== $(date -u +%FT%TZ) podman.sh start: podman $(podman --version 2>/dev/null)"
    } >>"$LOG"
    # Detached (own session), no inherited stdio, so that callers capturing
    # the script's output do not wait on the service.
    setsid podman system service --time=0 "$HOST" </dev/null >>"$LOG" 2>&1 9>&- &
    local launched=$!
    echo "$launched" >"$PIDFILE"
    for ((i = 0; i < 300; i++)); do
        if answers; then
            say "started (pid $launched, DOCKER_HOST=$HOST)"
            return 0
        fi
        if ! kill -0 "$launched" 2>/dev/null; then
            log_tail
            die "podman system service exited during startup"
        fi
        sleep 0.2
    done
    log_tail
    kill -KILL "$launched" 2>/dev/null || true
    die "podman system service did not answer on $SOCK within 60s"
}

cmd_stop() {
    local pid stopped=""
    if [[ -e "$CONTAINERS_CONF" ]] && command -v podman >/dev/null 2>&1; then
        if [[ -n "$(pm ps -aq 2>/dev/null)" ]]; then
            pm rm -af -t 0 >/dev/null 2>&1 || true
            stopped=1
        fi
    fi
    if pid="$(service_pid)"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_gone "$pid" 20; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 5 || die "podman service (pid $pid) survived SIGKILL"
        fi
        stopped=1
    fi
    rm -f "$SOCK" "$PIDFILE"
    if [[ -n "$stopped" ]]; then
        say "stopped"
    else
        say "not running"
    fi
}

cmd_env() {
    echo "DOCKER_HOST=$HOST"
    echo "CONTAINERS_CONF=$CONTAINERS_CONF"
    echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
}



cmd_image() {
    [[ -e "$CONTAINERS_CONF" ]] || write_conf
    command -v podman >/dev/null 2>&1 || die "podman missing (run: $0 install)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    build_loggen "$tmp"
    local sum have
    sum="$(sha256sum "$tmp/loggen" | cut -d' ' -f1)"
    have="$(pm image inspect -f "{{index .Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)"
    if [[ "$have" == "$sum" ]]; then
        say "image $IMAGE up to date (loggen sha256 ${sum:0:12})"
        return 0
    fi
    cat >"$tmp/Containerfile" <<EOF
FROM scratch
COPY loggen /loggen
LABEL $LABEL=$sum
ENTRYPOINT ["/loggen"]
EOF
    local out
    out="$(pm build -q --network none -f "$tmp/Containerfile" -t "$IMAGE" "$tmp" 2>&1)" ||
        { echo "$out" >&2; die "podman build failed"; }
    pm image prune -f >/dev/null 2>&1 || true
    say "built $IMAGE (loggen sha256 ${sum:0:12})"
}


case "${1:-}" in
install) cmd_install ;;
start) lock && cmd_start ;;
stop) lock && cmd_stop ;;
env) cmd_env ;;
image) lock && cmd_image ;;
status) cmd_status ;;
cli)
    shift
    [[ -e "$CONTAINERS_CONF" ]] || write_conf
    exec podman "$@"
    ;;
*)
    echo "usage: $0 install|start|stop|env|image|status|cli ARGS..." >&2
    exit 2
    ;;
esac
