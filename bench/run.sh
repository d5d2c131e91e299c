#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark harness: `make bench` runs every bench/<name>.sh, or the one
# named (BENCH=name, or several: BENCH="json memory"). Each benchmark runs
# kensa and the peer tools on the same input in the same run and prints
# MB/s, records/s, peak RSS, ratios (medians of BENCH_RUNS runs, default 3).
# At the end one summary table of every row (rates per CPU second, peak
# RSS, ratios, and the issue goals the scripts state) is printed and
# appended to bench/RESULTS.md with the date and the machine.
# Inputs are generated under build/bench/ (never committed) or taken from
# ../shared/corpus when present.
set -e
cd "$(dirname "$0")/.."
. bench/lib.sh
: > "$BENCH_SUMMARY"
export BENCH_SUMMARY
if [ -n "$1" ]; then
    NAMES=$*
else
    NAMES=$(for b in bench/*.sh; do
        case "$b" in bench/run.sh|bench/lib.sh) continue ;; esac
        basename "$b" .sh
    done)
fi
for n in $NAMES; do
    echo "== $n"
    BENCH_NAME=$n sh "bench/$n.sh" || echo "bench $n failed"
done

[ -s "$BENCH_SUMMARY" ] || exit 0
MACHINE="$(uname -srm), $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)"
WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
table() { # the summary as a Markdown table
    echo "| bench | row | wall s | CPU s | MB/s per CPU s | records/s per CPU s | peak RSS MB | x wall | x CPU |"
    echo "|---|---|---|---|---|---|---|---|---|"
    awk -F '\t' '$2 !~ /^GOAL / { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$BENCH_SUMMARY"
    if grep -q "	GOAL " "$BENCH_SUMMARY"; then
        echo
        echo "| bench | figure | now | goal | met |"
        echo "|---|---|---|---|---|"
        awk -F '\t' '$2 ~ /^GOAL / { sub(/^GOAL /, "", $2); printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$BENCH_SUMMARY"
    fi
}
echo
echo "== summary ($WHEN, $REV; $MACHINE; medians of $BENCH_RUNS)"
table
{
    echo
    echo "## $WHEN, $REV: $NAMES"
    echo
    echo "Machine: $MACHINE. Medians of $BENCH_RUNS runs${BENCH_NOTE:+; $BENCH_NOTE}."
    echo
    table
} >> bench/RESULTS.md
echo "(appended to bench/RESULTS.md)"
