#!/bin/bash
# An output outage in real Fluent Bit: CONTAINERS containers each write RATE
# lines/s to stdout and as many to stderr for SECONDS s. Fluent Bit reads
# them with mem_buf_limit 2M and sends them by out_forward to a port that
# nobody listens on for OUTAGE s; then a receiver (a second Fluent Bit,
# in_forward to out_file) starts. Side by side, a second sender reads the
# same json-files with tail + parser docker, its own outage and receiver
# the same: the control. Prints each sender's peak RSS (VmHWM) and how many
# lines arrived, distinct and in all, of how many written.
#
#   bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
#   bash tests/bench/outage.sh [CONTAINERS RATE SECONDS OUTAGE]    # 10 300 60 40
#
# Fluent Bit: $FLUENT_BIT, else ../shared/fluent-bit/v5.1.1, else PATH.
# Extra plugin keys: OUTAGE_PLUGIN_ARGS (e.g. "-p buffer_max_size=32M").
# Touches only the containers it creates.
set -u
CONTAINERS=${1:-10} RATE=${2:-300} SECONDS_=${3:-60} OUTAGE=${4:-40}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FB=${FLUENT_BIT:-}
[ -n "$FB" ] || { [ -x "$ROOT/../shared/fluent-bit/v5.1.1/fluent-bit" ] && FB=$ROOT/../shared/fluent-bit/v5.1.1/fluent-bit; }
[ -n "$FB" ] || FB=$(command -v fluent-bit) || { echo "outage.sh: no Fluent Bit (FLUENT_BIT, ../shared/fluent-bit, PATH)" >&2; exit 1; }
DIR=${DL_DOCKER_DIR:-/tmp/docker_logs-dockerd}
export DOCKER_HOST=unix://$DIR/docker.sock
DOCKER=${DL_DOCKER_CLI:-/usr/bin/docker}
SO=$ROOT/build/docker_logs.so
W=$(mktemp -d /tmp/docker_logs-outage.XXXX)
LABEL=docker_logs.bench=outage-$$
N=$((RATE * SECONDS_))
pids=()
cleanup() {
	kill -INT "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	"$DOCKER" ps -aq --filter "label=$LABEL" | xargs -r "$DOCKER" rm -f >/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cat >"$W/parsers.conf" <<'EOF'
[PARSER]
    Name        docker
    Format      json
    Time_Key    time
    Time_Format %Y-%m-%dT%H:%M:%S.%L
    Time_Keep   On
EOF

port_plugin=$(free_port) port_tail=$(free_port)
"$FB" -e "$SO" -i docker_logs -p docker_host="$DOCKER_HOST" -p include_labels="$LABEL" -p mem_buf_limit=2M \
	${OUTAGE_PLUGIN_ARGS:-} -o forward -p host=127.0.0.1 -p port="$port_plugin" -p retry_limit=no_limits -m '*' -f 1 \
	>"$W/plugin.log" 2>&1 &
plugin=$!
pids+=("$plugin")
"$FB" -R "$W/parsers.conf" -i tail -p path="$DIR/data/containers/*/*-json.log" -p parser=docker -p read_from_head=true \
	-p refresh_interval=1 -p mem_buf_limit=2M \
	-o forward -p host=127.0.0.1 -p port="$port_tail" -p retry_limit=no_limits -m '*' -f 1 >"$W/tail.log" 2>&1 &
tail_=$!
pids+=("$tail_")
sleep 2
ids=()
for i in $(seq 1 "$CONTAINERS"); do
	ids+=("$("$DOCKER" run -d --network none --label "$LABEL" --name "outage-$$-$i" docker_logs-loggen:test \
		-n "$N" -stream both -rate $((2 * RATE)) -tag "c$i")")
done
echo "# $(date -u +%FT%RZ) $FB; $CONTAINERS containers x 2 streams x $RATE lines/s for ${SECONDS_} s; outage ${OUTAGE} s; mem_buf_limit 2M"
echo "# plugin keys: ${OUTAGE_PLUGIN_ARGS:-(defaults)}"
sleep "$OUTAGE"
for p in plugin:$port_plugin tail:$port_tail; do
	"$FB" -i forward -p listen=127.0.0.1 -p port="${p#*:}" -o file -p path="$W" -p file="${p%%:*}.out" -p format=plain \
		-m '*' -f 1 >"$W/receiver-${p%%:*}.log" 2>&1 &
	pids+=($!)
done
want=$((CONTAINERS * 2 * N))
count() { # lines of containers c1..cN that reached a receiver: all, distinct
	python3 - "$1" <<'EOF'
import json, re, sys
ours = re.compile(r"^(stdout|stderr) c[0-9]+ [0-9]{8}$")
seen, total = set(), 0
try:
    for line in open(sys.argv[1]):
        try:
            log = json.loads(line)["log"].rstrip("\n")
        except Exception:
            continue
        if not ours.match(log):
            continue
        total += 1
        seen.add(log)
except FileNotFoundError:
    pass
print(total, len(seen))
EOF
}
deadline=$((SECONDS + SECONDS_ + 120))
while [ $SECONDS -lt $deadline ]; do
	read -r pt pd < <(count "$W/plugin.out")
	read -r tt td < <(count "$W/tail.out")
	[ "$pd" -ge "$want" ] && [ "$td" -ge "$want" ] && break
	sleep 5
done
hwm() { awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
echo "| sender | peak RSS (VmHWM) | lines arrived | distinct | written |"
echo "|---|---|---|---|---|"
echo "| Fluent Bit + docker_logs | $(hwm "$plugin") | $pt | $pd | $want |"
echo "| Fluent Bit tail + parser docker | $(hwm "$tail_") | $tt | $td | $want |"
grep -h "\[ warn\]\|\[error\]" "$W/plugin.log" | grep -v "connection #\|no upstream connections\|retry\|Connection refused\|failed to flush\|cannot connect" | head -5
