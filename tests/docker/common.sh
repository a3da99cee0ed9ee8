# Shared by dockerd.sh and podman.sh, which set PROG (their name), DIR,
# LOG, SOCK, HOST and REPO_ROOT, and define answers, before sourcing this.

die() { echo "$PROG: $*" >&2; exit 1; }
say() { echo "$PROG: $*"; }

# pid_of FILE NAME: the PID in FILE if that process is alive and its command
# line contains NAME.
pid_of() {
    local file="$1" name="$2" pid cmd
    [[ -s "$file" ]] || return 1
    pid="$(tr -dc '0-9' 2>/dev/null <"$file")" || return 1
    [[ -n "$pid" ]] || return 1
    # a zombie has an empty cmdline: not alive
    cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
    [[ "$cmd" == *"$name"* ]] || return 1
    echo "$pid"
}

# wait_gone PID SECONDS
wait_gone() {
    local pid="$1" i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        # a zombie whose parent has not reaped it yet counts as gone
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && return 0
        sleep 0.1
    done
    return 1
}

log_tail() {
    echo "---- last 50 lines of $LOG ----" >&2
    tail -n 50 "$LOG" >&2 2>/dev/null || true
    echo "----" >&2
}

cmd_status() {
    if answers; then
        say "running (DOCKER_HOST=$HOST)"
    else
        say "not answering on $SOCK"
        return 1
    fi
}

go_bin() {
    if command -v go >/dev/null 2>&1; then
        command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then
        echo /usr/local/go/bin/go
    else
        die "go not found"
    fi
}

# build_loggen DIR: the static loggen binary in DIR, for a FROM scratch image.
build_loggen() {
    (cd "$REPO_ROOT" && CGO_ENABLED=0 "$(go_bin)" build -trimpath -buildvcs=false \
        -ldflags='-s -w' -o "$1/loggen" ./tests/loggen) ||
        die "building tests/loggen failed"
}

# Serialize start/stop/kill/image between concurrent callers (e.g. test
# packages run in parallel by go test). fd 9 is closed for the daemons.
lock() {
    mkdir -p "$DIR"
    exec 9>"$DIR/$PROG.lock"
    flock 9
}
