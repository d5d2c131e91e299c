#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Identity analytics at scale: IDENTITY_RECORDS (default 10M) generated
# Entra sign-ins as JSON lines; kensa with only the identity detector, and
# with everything; events/s and peak RSS. jq as the peer for parsing speed.
set -e
. bench/lib.sh
N=${IDENTITY_RECORDS:-10000000}
gen_input "$BENCH_DIR/signins-$N.jsonl" entra --records "$N"
echo "Identity: $N sign-in records, $((BYTES / 1000000)) MB ($(nproc) cores)"
header
ONLY="--no-builtin --set detector.sigma=false --set detector.exchange=false"
measure "kensa identity only, 1 thread" "$BYTES" "$N" 0 "$KENSA hunt -q --threads 1 $ONLY $F"
BASE_CPU=$LAST_CPU
measure "kensa identity only, all cores" "$BYTES" "$N" 0 "$KENSA hunt -q $ONLY $F"
measure "kensa all detectors, all cores" "$BYTES" "$N" 0 "$KENSA hunt -q $F"
