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
