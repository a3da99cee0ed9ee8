#!/bin/bash
# Fluent Bit runs a Go input in a thread of its own unless `threaded false`:
# this measures both, the plugin at its default keys otherwise. CONTAINERS
# containers each write RATE lines/s (half stdout, half stderr) for SECONDS
# s while Fluent Bit (Flush FLUSH s) prints the records to a pipe as
# json_lines. Per mode: the latency from each line's Docker timestamp to its
# arrival at the output (p50, p99, max), lines arrived (distinct, of those
# written), and Fluent Bit's CPU per line over the run.
#
#   bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
#   bash tests/bench/threaded.sh [CONTAINERS RATE SECONDS FLUSH]    # 20 100 30 1
#
# Fluent Bit: $FLUENT_BIT, else ../shared/fluent-bit/v5.1.1, else PATH.
# Touches only the containers it creates.
set -u
CONTAINERS=${1:-20} RATE=${2:-100} SECONDS_=${3:-30} FLUSH=${4:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FB=${FLUENT_BIT:-}
[ -n "$FB" ] || { [ -x "$ROOT/../shared/fluent-bit/v5.1.1/fluent-bit" ] && FB=$ROOT/../shared/fluent-bit/v5.1.1/fluent-bit; }
[ -n "$FB" ] || FB=$(command -v fluent-bit) || { echo "threaded.sh: no Fluent Bit (FLUENT_BIT, ../shared/fluent-bit, PATH)" >&2; exit 1; }
DIR=${DL_DOCKER_DIR:-/tmp/docker_logs-dockerd}
export DOCKER_HOST=unix://$DIR/docker.sock
DOCKER=${DL_DOCKER_CLI:-/usr/bin/docker}
SO=$ROOT/build/docker_logs.so
W=$(mktemp -d /tmp/docker_logs-threaded.XXXX)
N=$((RATE * SECONDS_ / 2))
cleanup() {
	"$DOCKER" ps -aq --filter "label=docker_logs.bench=threaded-$$" | xargs -r "$DOCKER" rm -f >/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

echo "# $(date -u +%FT%RZ) $FB; $CONTAINERS containers x $RATE lines/s for ${SECONDS_} s; Flush $FLUSH; machine: nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| mode | latency to the output p50 / p99 / max ms | lines arrived (distinct) of written | Fluent Bit CPU s per M lines |"
echo "|---|---|---|---|"
for mode in true false; do
	label="docker_logs.threaded=$$-$mode"
	python3 - "$FB" "$SO" "$DOCKER_HOST" "$label" "$mode" "$FLUSH" "$((CONTAINERS * 2 * N))" "$SECONDS_" >"$W/$mode.row" <<'EOF' &
import json, os, re, subprocess, sys, time
fb, so, host, label, threaded, flush, want, secs = sys.argv[1:9]
want, secs = int(want), int(secs)
p = subprocess.Popen([fb, "-e", so, "-i", "docker_logs", "-p", "docker_host=" + host, "-p", "include_labels=" + label,
                      "-p", "threaded=" + threaded, "-o", "stdout", "-p", "format=json_lines", "-p", "json_date_format=epoch",
                      "-m", "*", "-f", flush], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1 << 20)
def cpu():
    f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
ours = re.compile(r"^(stdout|stderr) c[0-9]+ [0-9]{8}$")
lat, seen, total = [], set(), 0
c0 = cpu()
deadline = time.time() + secs + 90
for line in p.stdout:
    now = time.time()
    try:
        r = json.loads(line)
    except ValueError:
        continue
    log = r.get("log", "").rstrip("\n")
    if not ours.match(log):
        continue
    total += 1
    seen.add(r.get("container_id", "") + log)
    lat.append((now - float(r["date"])) * 1000)
    if len(seen) >= want or now > deadline:
        break
c1 = cpu()
p.terminate()
p.wait()
lat.sort()
q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] if lat else float("nan")
mode = "threaded (default)" if threaded == "true" else "threaded false"
print("| %s | %.0f / %.0f / %.0f | %d (%d) of %d | %.2f |" % (mode, q(0.5), q(0.99), lat[-1] if lat else float("nan"),
      total, len(seen), want, (c1 - c0) / max(total, 1) * 1e6))
EOF
	reader=$!
	sleep 3 # Fluent Bit started and connected
	for i in $(seq 1 "$CONTAINERS"); do
		"$DOCKER" run -d --network none --label "$label" --label "docker_logs.bench=threaded-$$" \
			docker_logs-loggen:test -n "$N" -stream both -rate "$RATE" -tag "c$i" >/dev/null
	done
	wait "$reader"
	cat "$W/$mode.row"
done
