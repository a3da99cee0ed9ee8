#!/usr/bin/env bash
# Private Docker daemon for the docker_logs integration tests.
#
# Usage: tests/docker/dockerd.sh install|start|stop|kill|env|image|status
#
#   install  install Debian's docker.io (dockerd, containerd, runc, docker CLI)
#            if dockerd is missing; quiet unless it fails
#   start    install if needed, then start a private dockerd (idempotent);
#            works after stop and after kill
#   stop     stop that dockerd (SIGTERM, 20 s, SIGKILL), the containerd it
#            spawned, and any container still running under it (live-restore);
#            remove the socket (idempotent)
#   kill     SIGKILL the dockerd only (simulated crash; with --live-restore,
#            containerd and its shims keep the containers running)
#   env      print DOCKER_HOST=unix://$DIR/docker.sock
#   image    build docker_logs-loggen:test (tests/loggen, FROM scratch) into the
#            daemon unless it is up to date (sha256 label of the binary)
#   status   exit 0 if the daemon answers, 1 if not
#
# Environment:
#   DL_DOCKER_DIR          state directory (default /tmp/docker_logs-dockerd);
#                          keep it short: unix socket paths under it must fit
#                          in 108 bytes
#   DL_DOCKERD_EXTRA_ARGS  extra dockerd arguments (word-split), e.g.
#                          --live-restore
#   DL_DOCKER_CLI          docker client to use (default /usr/bin/docker, the
#                          one that comes with docker.io, else docker in PATH)
#   DL_DOCKERD             dockerd binary to start (default: dockerd in PATH,
#                          Debian's 20.10), e.g. build/dockerd-28.5.2/dockerd
#                          from tests/docker/dockerd-modern.sh; it runs
#                          Debian's containerd and runc. A directory serves
#                          one dockerd version: start refuses a $DIR last
#                          started by another version (a newer daemon migrates
#                          data-root, an older one cannot read it) or a running
#                          daemon of another version
#
# Everything lives under $DIR: the system daemon (/var/run/docker.sock,
# /var/lib/docker) and a system containerd (/run/containerd/containerd.sock)
# are never touched. dockerd runs its own containerd with its socket, root and
# state under $DIR (exec/containerd, data/containerd). The only path outside
# $DIR is /run/containerd/s/<sha256>, where containerd 1.6's runc-v2 shims
# always put their sockets; the name hashes our containerd's address, so it
# cannot collide with a system containerd.
set -euo pipefail

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

DIR="${DL_DOCKER_DIR:-/tmp/docker_logs-dockerd}"
SOCK="$DIR/docker.sock"
HOST="unix://$SOCK"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"
CTRD_PIDFILE="$DIR/exec/containerd/containerd.pid"
CTRD_ADDR="$DIR/exec/containerd/containerd.sock"
RUNC_ROOT="$DIR/exec/runtime-runc/moby"
BINFILE="$DIR/dockerd.bin"
IMAGE="docker_logs-loggen:test"
LABEL="docker_logs.loggen.sha256"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

PROG=dockerd.sh
# shellcheck source=tests/docker/common.sh
source "$REPO_ROOT/tests/docker/common.sh"

docker_cli() {
    if [[ -n "${DL_DOCKER_CLI:-}" ]]; then
        echo "$DL_DOCKER_CLI"
    elif [[ -x /usr/bin/docker ]]; then
        echo /usr/bin/docker
    elif command -v docker >/dev/null 2>&1; then
        command -v docker
    else
        die "no docker client found (run: $0 install)"
    fi
}

dk() { "$(docker_cli)" -H "$HOST" "$@"; }


dockerd_pid() { pid_of "$PIDFILE" "dockerd"; }
containerd_pid() { pid_of "$CTRD_PIDFILE" "$DIR/exec/containerd/containerd.toml"; }

answers() { dk version >/dev/null 2>&1; }

# dockerd_bin: the absolute path of the dockerd to start.
dockerd_bin() {
    local bin="${DL_DOCKERD:-dockerd}" path
    path="$(command -v "$bin")" || die "dockerd binary not found: $bin"
    [[ -x "$path" ]] || die "not executable: $path (DL_DOCKERD)"
    readlink -f "$path"
}

# version_of BIN: what BIN --version says ("Docker version 28.5.2, build
# ..."): a directory serves one daemon version, wherever its binary lies (a
# clone in another place builds the same one).
version_of() { "$1" --version 2>/dev/null | head -n 1; }

# same_version BIN: $DIR was last started with BIN's version (or never
# started). Kept across stop/kill, so that a restart after a crash uses the
# same daemon.
same_version() {
    [[ -e "$BINFILE" ]] || return 0
    local was
    was="$(cat "$BINFILE")"
    # Written by an older dockerd.sh: the binary's path.
    [[ "$was" != /* ]] || was="$(version_of "$was")"
    [[ -z "$was" || "$was" == "$(version_of "$1")" ]]
}


# term_wait PID SECONDS WHAT: SIGTERM, wait, then SIGKILL.
term_wait() {
    local pid="$1" secs="$2" what="$3"
    kill -TERM "$pid" 2>/dev/null || return 0
    if ! wait_gone "$pid" "$secs"; then
        say "$what (pid $pid) still running after ${secs}s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "$what (pid $pid) survived SIGKILL"
    fi
}

cmd_install() {
    if command -v dockerd >/dev/null 2>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || die "dockerd missing and no apt-get to install docker.io"
    local out created_policy=""
    out="$(mktemp)"
    # Never let the package's postinst start the system docker service.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    local rc=0
    {
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io
    } >"$out" 2>&1 || rc=$?
    [[ -n "$created_policy" ]] && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)) || ! command -v dockerd >/dev/null 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        die "installing docker.io failed"
    fi
    rm -f "$out"
}


# wait_answers SECONDS [PID]: poll `docker version`; fail early if neither
# PID nor the dockerd of the pidfile has been alive for a second.
wait_answers() {
    local secs="$1" pid="${2:-}" i dead=0
    for ((i = 0; i < secs * 5; i++)); do
        answers && return 0
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null && ! dockerd_pid >/dev/null; then
            ((++dead >= 5)) && return 1
        else
            dead=0
        fi
        sleep 0.2
    done
    return 1
}

cmd_start() {
    cmd_install
    mkdir -p "$DIR"
    local pid bin
    bin="$(dockerd_bin)"
    if pid="$(dockerd_pid)"; then
        # The tests must not run against another daemon than the one asked
        # for. (/proc/PID/exe runs even when its file was deleted since.)
        local running
        running="$(version_of "/proc/$pid/exe")"
        [[ "$running" == "$(version_of "$bin")" ]] ||
            die "dockerd (pid $pid) of $DIR is ${running:-unknown}, not $(version_of "$bin"): use another DL_DOCKER_DIR"
        if answers || wait_answers 60 "$pid"; then
            say "already running (pid $pid, DOCKER_HOST=$HOST)"
            return 0
        fi
        log_tail
        die "dockerd (pid $pid) is running but $SOCK does not answer"
    fi

    local -a extra=()
    if [[ -n "${DL_DOCKERD_EXTRA_ARGS:-}" ]]; then
        read -r -a extra <<<"$DL_DOCKERD_EXTRA_ARGS"
    fi
    local -a args=(
        --host "$HOST"
        --data-root "$DIR/data"
        --exec-root "$DIR/exec"
        --pidfile "$PIDFILE"
        --storage-driver=vfs
        --iptables=false
        --ip-masq=false
        --ip6tables=false
        --bridge=none
        # No systemd in the sandbox: manage cgroups directly, and under a
        # parent of our own so they never mix with a system daemon's /docker.
        --exec-opt native.cgroupdriver=cgroupfs
        --cgroup-parent=/docker_logs-dockerd
        # Do not read /etc/docker/daemon.json of the machine.
        --config-file "$DIR/daemon.json"
        "${extra[@]}"
    )
    same_version "$bin" ||
        die "$DIR was used by $(cat "$BINFILE"), not $(version_of "$bin"): use another DL_DOCKER_DIR (or stop it and rm -rf $DIR)"
    [[ -e "$DIR/daemon.json" ]] || echo '{}' >"$DIR/daemon.json"
    rm -f "$PIDFILE"
    # After a kill, dockerd's containerd dies too (parent-death signal) but
    # PID 1 of this sandbox reaps orphans only now and then: a zombie with the
    # pid of containerd.pid makes the new dockerd wait for it ("containerd is
    # still running") and time out. Drop a pidfile that names no live
    # containerd; a live one is reused (as dockerd would).
    if [[ -e "$CTRD_PIDFILE" ]] && ! containerd_pid >/dev/null; then
        rm -f "$CTRD_PIDFILE"
    fi
    {
        echo
        echo "==== $(date -u +%FT%TZ) dockerd.sh start: $bin ${args[*]}"
    } >>"$LOG"
    version_of "$bin" >"$BINFILE"
    # Detached (own session), no inherited stdio: callers that capture the
    # script's output (e.g. exec.Cmd.CombinedOutput) must not wait on it.
    setsid "$bin" "${args[@]}" </dev/null >>"$LOG" 2>&1 9>&- &
    local launched=$!
    if ! wait_answers 60 "$launched"; then
        log_tail
        if pid="$(dockerd_pid)" || { kill -0 "$launched" 2>/dev/null && pid=$launched; }; then
            kill -KILL "$pid" 2>/dev/null || true
            die "dockerd did not answer on $SOCK within 60s"
        fi
        die "dockerd exited during startup"
    fi
    pid="$(dockerd_pid || echo "$launched")"
    say "started (pid $pid, DOCKER_HOST=$HOST)"
}

# shim_pids: containerd-shim processes serving our containerd.
shim_pids() {
    local p cmd
    for p in /proc/[0-9]*; do
        cmd="$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" || continue
        case "$cmd" in
        *containerd-shim*"-address $CTRD_ADDR "*) echo "${p#/proc/}" ;;
        esac
    done
}

cmd_stop() {
    local pid stopped=""
    if pid="$(dockerd_pid)"; then
        term_wait "$pid" 20 dockerd
        stopped=1
    fi
    # Containers left running (live-restore, or dockerd killed): kill them.
    if command -v runc >/dev/null 2>&1 && [[ -d "$RUNC_ROOT" ]]; then
        local id
        for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
            runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
            stopped=1
        done
    fi
    if pid="$(containerd_pid)"; then
        term_wait "$pid" 10 containerd
        stopped=1
    fi
    for pid in $(shim_pids); do
        kill -KILL "$pid" 2>/dev/null || true
        stopped=1
    done
    # Sockets of killed shims: containerd 1.6 names them
    # /run/containerd/s/sha256(<containerd address>/<namespace>/<id>).
    local task sum
    for task in "$DIR"/exec/containerd/daemon/io.containerd.runtime.v2.task/*/*; do
        [[ -d "$task" ]] || continue
        sum="$(printf '%s' "$CTRD_ADDR/$(basename "$(dirname "$task")")/$(basename "$task")" |
            sha256sum | cut -d' ' -f1)"
        rm -f "/run/containerd/s/$sum"
    done
    # Leftover mounts under $DIR (container shm after a crash), deepest first.
    local mnt
    while read -r mnt; do
        umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
    rm -f "$SOCK" "$PIDFILE"
    if [[ -n "$stopped" ]]; then
        say "stopped"
    else
        say "not running"
    fi
}

cmd_kill() {
    local pid
    if pid="$(dockerd_pid)"; then
        kill -KILL "$pid"
        wait_gone "$pid" 10 || die "dockerd (pid $pid) survived SIGKILL"
        say "killed dockerd (pid $pid)"
    else
        say "dockerd not running"
    fi
}

cmd_env() { echo "DOCKER_HOST=$HOST"; }



cmd_image() {
    answers || die "daemon not answering on $SOCK (run: $0 start)"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    build_loggen "$tmp"
    local sum have
    sum="$(sha256sum "$tmp/loggen" | cut -d' ' -f1)"
    have="$(dk image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$IMAGE" 2>/dev/null || true)"
    if [[ "$have" == "$sum" ]]; then
        say "image $IMAGE up to date (loggen sha256 ${sum:0:12})"
        return 0
    fi
    cat >"$tmp/Dockerfile" <<EOF
FROM scratch
COPY loggen /loggen
LABEL $LABEL=$sum
ENTRYPOINT ["/loggen"]
EOF
    local out how
    if out="$(DOCKER_BUILDKIT=0 dk build -q -t "$IMAGE" "$tmp" 2>&1)"; then
        how="legacy builder"
    else
        echo "$out" >&2
        say "docker build failed; falling back to docker import"
        out="$(tar -C "$tmp" -cf - loggen |
            dk import --change 'ENTRYPOINT ["/loggen"]' --change "LABEL $LABEL=$sum" - "$IMAGE" 2>&1)" ||
            { echo "$out" >&2; die "docker import failed"; }
        how="docker import"
    fi
    dk image prune -f >/dev/null 2>&1 || true
    say "built $IMAGE with the $how (loggen sha256 ${sum:0:12})"
}


case "${1:-}" in
install) cmd_install ;;
start) lock && cmd_start ;;
stop) lock && cmd_stop ;;
kill) lock && cmd_kill ;;
env) cmd_env ;;
image) lock && cmd_image ;;
status) cmd_status ;;
*)
    echo "usage: $0 install|start|stop|kill|env|image|status" >&2
    exit 2
    ;;
esac
