#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# JSON-lines ingest: kensa (parse + flatten + all detectors) vs `jq -c .`
# vs `cat > /dev/null` (the I/O floor), on generated Entra sign-in records.
# ratio = jq seconds / tool seconds (x_cpu: CPU seconds; >1: cheaper than jq).
set -e
. bench/lib.sh
N=${JSON_RECORDS:-2000000}
gen_input "$BENCH_DIR/signins-$N.jsonl" entra --records "$N"
echo "JSON ingest: $N records, $((BYTES / 1000000)) MB ($(nproc) cores)"
header
measure "cat > /dev/null (I/O floor)" "$BYTES" "$N" 0 "cat $F"
FLOOR=$LAST_S
measure "jq -c ." "$BYTES" "$N" 0 "jq -c . $F"
JQ=$LAST_S; BASE_CPU=$LAST_CPU
measure "kensa hunt --threads 1" "$BYTES" "$N" "$JQ" "$KENSA hunt -q --threads 1 $F"
measure "kensa hunt (all cores)" "$BYTES" "$N" "$JQ" "$KENSA hunt -q $F"
gzip -1 -kf "$F"
measure "kensa hunt .gz --threads 1" "$BYTES" "$N" "$JQ" "$KENSA hunt -q --threads 1 $F.gz"
echo "(ratio = jq seconds / kensa seconds; floor ${FLOOR}s)"
# Parsers alone, same loop (bench/tools/json_peers.c): the choice in docs/JSON.md.
P=$BENCH_DIR/json_peers
cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc/lib bench/tools/json_peers.c bench/tools/json_peers_jansson.c -o "$P" \
    "$BUILD/libkensa.a" $(pkg-config --cflags --libs jansson json-c yara libcrypto libhs yaml-0.1 sqlite3 libcurl libmicrohttpd libpcre2-8 zlib libzstd) -lpthread -lm
echo "JSON parsers, one thread, parse + visit every leaf"
header
BASE_CPU=0 # jansson's own row has no ratio (it was jq's CPU / jansson's)
measure "jansson 2.14" "$BYTES" "$N" 0 "$P jansson $F"
JA=$LAST_S; BASE_CPU=$LAST_CPU
measure "json-c 0.16" "$BYTES" "$N" "$JA" "$P json-c $F"
measure "kensa flattener" "$BYTES" "$N" "$JA" "$P kensa $F"
echo "(ratio = jansson seconds / parser seconds)"
