#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Cloud audit at scale: 10,000 generated storage accounts and containers.
set -e
. bench/lib.sh
N=${CLOUD_ACCOUNTS:-10000}
D=$BENCH_DIR/cloud-$N
[ -d "$D" ] || $GEN cloud --accounts "$N" --out "$D"
BYTES=$(du -sb "$D" | cut -f1)
echo "Cloud audit: $N accounts + $N containers, $((BYTES / 1000)) KB"
header
measure "kensa cloud audit" "$BYTES" "$((2 * N))" 0 "$KENSA cloud audit -q $D"

# Probe: CLOUD_PROBE containers (default 200, half public) on Azurite.
P=${CLOUD_PROBE:-200}
NPM=$BUILD/npm
if command -v npm >/dev/null 2>&1 && { [ -x $NPM/node_modules/.bin/azurite-blob ] ||
    timeout 240 npm install --prefix $NPM --no-audit --no-fund azurite@3 @azure/storage-blob@12 >/dev/null 2>&1; }; then
    PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    $NPM/node_modules/.bin/azurite-blob --blobHost 127.0.0.1 --blobPort "$PORT" --inMemoryPersistence \
        --skipApiVersionCheck --silent > "$BENCH_DIR/azurite.log" 2>&1 &
    AZ=$!
    trap 'kill $AZ 2>/dev/null' EXIT
    for i in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
    NODE_PATH=$NPM/node_modules node tests/data/cloud/azurite_setup.js "$PORT" 0 "$P"
    i=0; : > "$BENCH_DIR/targets.txt"
    while [ $i -lt "$P" ]; do printf 'http://127.0.0.1:%s/devstoreaccount1/bench%04d\n' "$PORT" $i >> "$BENCH_DIR/targets.txt"; i=$((i + 1)); done
    echo "Cloud probe: $P containers on Azurite (half public, 5 blobs each), 8 in parallel"
    header
    measure "kensa cloud probe" 0 "$P" 0 "$KENSA cloud probe -q --provider azure --targets $BENCH_DIR/targets.txt --json $BENCH_DIR/probe.jsonl"
    echo "findings: $(wc -l < "$BENCH_DIR/probe.jsonl") listable containers of $P; containers/s = records/s column"
    kill $AZ 2>/dev/null || true
else
    echo "Cloud probe: skipped (no npm / azurite)"
fi
