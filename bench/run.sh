#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark harness: `make bench` runs every bench/<name>.sh, or the one
# named (BENCH=name). Each benchmark runs kensa and the peer tools on the
# same input in the same run and prints MB/s, records/s, peak RSS, ratios.
# Inputs are generated under build/bench/ (never committed) or taken from
# ../shared/corpus when present.
set -e
cd "$(dirname "$0")/.."
. bench/lib.sh
if [ -n "$1" ]; then
    sh "bench/$1.sh"
else
    for b in bench/*.sh; do
        case "$b" in bench/run.sh|bench/lib.sh) continue ;; esac
        echo "== $(basename "$b" .sh)"
        sh "$b" || echo "bench $(basename "$b" .sh) failed"
    done
fi
