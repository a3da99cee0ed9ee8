#!/bin/bash
# Records across a Fluent Bit forward hop: a container writing RATE lines/s
# for 30 s is read by the plugin in real Fluent Bit at the default keys and
# sent by out_forward to a second Fluent Bit, whose in_forward accepts at
# most LIMIT bytes a message (its default is 6144000; a chunk is sent as one
# message, and a larger one is dropped with "incoming data exceed limit").
# Prints how many distinct lines arrived, how many in all, and the errors.
#
#   bash tests/docker/dockerd.sh start && bash tests/docker/dockerd.sh image && make
#   PATH=/path/to/fluent-bit/bin:$PATH bash tests/bench/forward_hop.sh 25000 2200000
#
# Needs fluent-bit on PATH; touches only the container it creates.
set -u
RATE=${1:-25000} LIMIT=${2:-6144000}
N=$((RATE * 30))
export DOCKER_HOST=unix:///tmp/docker_logs-dockerd/docker.sock
FB=$(command -v fluent-bit) || { echo "forward_hop.sh: no fluent-bit on PATH" >&2; exit 1; }
SO=$(cd "$(dirname "$0")/../.." && pwd)/build/docker_logs.so
W=$(mktemp -d /tmp/docker_logs-forward-hop.XXXX)
port=$((24000 + RANDOM % 1000))
name=docker_logs-hop-$$
trap 'kill -INT $p1 $p2 2>/dev/null; wait 2>/dev/null; docker rm -f $name >/dev/null 2>&1; rm -rf "$W"' EXIT

"$FB" -i forward -p listen=127.0.0.1 -p port=$port -p buffer_max_size=$LIMIT -p buffer_chunk_size=1M \
	-o file -p path="$W" -p file=out.txt -m '*' -f 1 >"$W/receiver.log" 2>&1 &
p2=$!
sleep 2
"$FB" -e "$SO" -i docker_logs -p docker_host=$DOCKER_HOST -p include_names=$name \
	-o forward -p host=127.0.0.1 -p port=$port -m '*' -f 1 >"$W/sender.log" 2>&1 &
p1=$!
sleep 2
docker run -d --name $name --network none docker_logs-loggen:test -n $N -rate $RATE -size 100 -then sleep >/dev/null || exit 1
t0=$(date +%s)
until [ "$(grep -c 'stdout - ' "$W/out.txt" 2>/dev/null || echo 0)" -ge $N ] || [ $(($(date +%s) - t0)) -gt 120 ]; do
	sleep 1
done
sleep 3 # room for a late duplicate
echo "$RATE lines/s for 30 s, in_forward buffer_max_size $LIMIT: $(grep -o 'stdout - [0-9]*' "$W/out.txt" | sort -u | wc -l) distinct of $N lines arrived ($(grep -c 'stdout - ' "$W/out.txt") records), $(($(date +%s) - t0)) s after the container started"
echo "receiver: $(grep -c 'exceed limit' "$W/receiver.log") messages over the limit; sender: $(grep -c -E '\[ ?(warn|error)\]' "$W/sender.log") warnings or errors"
