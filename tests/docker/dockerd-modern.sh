#!/usr/bin/env bash
# Builds dockerd 28.5.2, the last release of the github.com/docker/docker Go
# module, so that the integration tests can run against a modern daemon next
# to Debian's 20.10 (DL_DOCKERD=build/dockerd-28.5.2/dockerd dockerd.sh start).
#
# Usage: tests/docker/dockerd-modern.sh [build|path]
#
#   build  build build/dockerd-28.5.2/dockerd unless it exists (default);
#          a cold build takes about 2-5 minutes on 2 cores
#   path   print the binary's path (whether built or not)
#
# The module has vendor.mod, not go.mod (it is not a Go module proper), so a
# small module under build/dockerd-28.5.2/src takes vendor.mod as its go.mod
# (module line renamed), vendor.sum as its go.sum, requires the module and
# builds its cmd/dockerd. The daemon runs Debian's containerd and runc, which
# come with docker.io (dockerd.sh install).
set -euo pipefail

VERSION=28.5.2
MODULE=github.com/docker/docker
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$REPO_ROOT/build/dockerd-$VERSION"
BIN="$OUT/dockerd"
# The daemon's own build tags: no btrfs or devicemapper graph drivers (their
# cgo headers are not installed; the tests use vfs). Dynamically linked like
# upstream's dynbinary; nothing else needs cgo.
TAGS="exclude_graphdriver_btrfs exclude_graphdriver_devicemapper"
# What `dockerd --version` and `docker version` print: no git commit exists
# in a module zip.
LDFLAGS="-X $MODULE/dockerversion.Version=$VERSION -X $MODULE/dockerversion.GitCommit=go-module"

PROG=dockerd-modern.sh
# shellcheck source=tests/docker/common.sh
source "$REPO_ROOT/tests/docker/common.sh"

cmd_build() {
    mkdir -p "$OUT"
    # One build at a time (parallel make targets or test runs).
    exec 9>"$OUT/build.lock"
    flock 9
    if [[ -x "$BIN" ]]; then
        say "$("$BIN" --version) already built ($BIN)"
        return 0
    fi
    local go start
    go="$(go_bin)"
    start=$SECONDS
    # Explicit flags rather than the caller's GOFLAGS (the repo's go env has
    # -buildvcs=false; build/ is inside its git work tree): -mod=mod lets go
    # add the go.sum lines vendor.sum lacks (the module's own, x/ tools).
    export GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off
    local dir
    # From / : inside the repo's module, go mod download would edit its go.sum.
    dir="$(cd / && "$go" mod download -json "$MODULE@v$VERSION+incompatible" |
        sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [[ -f "$dir/vendor.mod" ]] || die "no vendor.mod in $MODULE@v$VERSION ($dir)"
    mkdir -p "$OUT/src"
    {
        sed 's|^module github.com/docker/docker$|module dockerd-build|' "$dir/vendor.mod"
        printf '\nrequire %s v%s+incompatible\n' "$MODULE" "$VERSION"
    } >"$OUT/src/go.mod"
    # Not cp: files in the module cache are read-only.
    rm -f "$OUT/src/go.sum"
    cat "$dir/vendor.sum" >"$OUT/src/go.sum"
    say "building dockerd $VERSION into $BIN (a few minutes)"
    (cd "$OUT/src" && nice "$go" build -trimpath -tags "$TAGS" -ldflags "$LDFLAGS" \
        -o "$BIN.tmp" "$MODULE/cmd/dockerd") || die "building dockerd $VERSION failed"
    mv "$BIN.tmp" "$BIN"
    say "built $("$BIN" --version) in $((SECONDS - start))s"
}

case "${1:-build}" in
build) cmd_build ;;
path) echo "$BIN" ;;
*)
    echo "usage: $0 [build|path]" >&2
    exit 2
    ;;
esac
