#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kensa stream: events/s per member, 1 and 2 members in one group, beside a
# file hunt of the same events; state size per million distinct keys.
# librdkafka's mock cluster (build/tools/kafka_mock) on loopback: it shares
# the 2 cores with the members, so figures are a floor for a real broker.
#   BENCH_STREAM_RECORDS (default 50000 per tenant, 4 tenants)
. bench/lib.sh
R=${BENCH_STREAM_RECORDS:-50000}
T=$(mktemp -d "${TMPDIR:-/tmp}/kensa-bench-stream.XXXXXX")
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT INT TERM
$GEN entra --records "$R" --out "$T/base.jsonl" --shape jsonl >/dev/null
for t in 0 1 2 3; do sed "s/@contoso/@t$t-contoso/g" "$T/base.jsonl"; done > "$T/events.jsonl"
N=$(wc -l < "$T/events.jsonl"); BYTES=$(wc -c < "$T/events.jsonl")
header
measure "kensa hunt (file, 1 thread)" "$BYTES" "$N" 0 "$KENSA hunt -q --threads 1 $T/events.jsonl"
BASE=$LAST_S; BASE_CPU=$LAST_CPU

run_group() { # members topic
    "$BUILD/tools/kafka_mock" serve --brokers 1 --topic "in:4" --topic out:1 --topic "g$2.kensa-state:1" \
        --topic "g$2.kensa-dlq:1" --bootstrap-file "$T/bs$2" & pids="$pids $!"
    while [ ! -s "$T/bs$2" ]; do sleep 0.1; done
    B=$(cat "$T/bs$2")
    "$BUILD/tools/kafka_mock" produce --bootstrap "$B" --topic in --file "$T/events.jsonl" \
        --key-domain userPrincipalName --ts-field createdDateTime 2>/dev/null
    cmd="$KENSA stream --kafka $B --topic in --group g$2 --out-topic out -q --idle-exit 12 \
        --session-timeout-ms 6000 --batch 20000 --flush-ms 10000"
    if [ "$1" = 1 ]; then
        measure "kensa stream, 1 member" "$BYTES" "$N" "$BASE" "$cmd --instance a"
    else
        measure "kensa stream, 2 members (wall)" "$BYTES" "$N" "$BASE" "$cmd --instance a & $cmd --instance b & wait"
    fi
}
run_group 1 1
run_group 2 2
# State: bytes kept per retained message (the state is the retained
# messages plus 40 bytes per emitted finding id).
echo "state: $(awk -v b="$BYTES" -v n="$N" 'BEGIN { printf "%.0f bytes per retained event; 1M distinct keys x 1 event each = %.0f MB", b / n, b / n }') (stream rows include the 12 s idle-exit wait and the group join)"
