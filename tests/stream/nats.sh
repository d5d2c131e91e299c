#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kensa stream over NATS JetStream against a real nats-server (Debian's),
# started on 127.0.0.1 by this script and stopped at the end: one tenant's
# Entra sign-ins published to events.t0, half before kensa starts, kensa
# killed with kill -9 mid-stream, the other half, kensa restarted; the
# findings stream is compared with a file hunt (tests/stream/compare.py).
# Prints SKIP and exits 0 without nats-server.
BUILD=${BUILD:-build}
K=$BUILD/kensa
TOOL=$BUILD/tools/nats_tool
CHECK=${1:-}
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || {
    echo "SKIP nats-server not installed"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
NS=$(command -v nats-server || echo /usr/sbin/nats-server)
T=$(mktemp -d "${TMPDIR:-/tmp}/kensa-nats.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT INT TERM
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$NS" -js -a 127.0.0.1 -p "$PORT" -sd "$T/js" >"$T/server.log" 2>&1 &
pids="$pids $!"
URL="nats://127.0.0.1:$PORT"
i=0
until "$TOOL" setup --url "$URL" 2>/dev/null; do
    i=$((i + 1)); [ $i -ge 50 ] && { echo "nats stream: server did not start"; exit 2; }; sleep 0.2
done
$BUILD/kensa-gen entra --records 6000 --out "$T/events.jsonl" --shape jsonl >/dev/null || exit 2
n=$(wc -l < "$T/events.jsonl"); half=$((n / 2))
"$K" hunt -q --json "$T/file.jsonl" "$T/events.jsonl"
[ $? -ge 2 ] && { echo "nats stream: file hunt failed"; exit 2; }
member() { exec "$K" stream --nats "$URL" --topic events.t0 --group g --out-topic findings \
    --idle-exit 5 --batch 2000 --flush-ms 500 2>>"$T/member.log"; }
"$TOOL" publish --url "$URL" --subject events.t0 --file "$T/events.jsonl" --from 0 --count "$half" 2>/dev/null
member & m=$!
pids="$pids $m"
sleep 2
kill -9 "$m" 2>/dev/null
"$TOOL" publish --url "$URL" --subject events.t0 --file "$T/events.jsonl" --from "$half" --count "$n" 2>/dev/null
member & m2=$!
pids="$pids $m2"
wait "$m2"
"$TOOL" dump --url "$URL" --stream FINDINGS --subject findings > "$T/stream.jsonl"
/usr/bin/python3 tests/stream/compare.py "$T/file.jsonl" "$T/stream.jsonl" "$CHECK"
