# SPDX-License-Identifier: Apache-2.0
# Shared helpers for bench/*.sh (sourced).
#   measure LABEL BYTES RECORDS BASE_WALL CMD...
# runs CMD BENCH_RUNS times (default 3) and prints one row of medians (wall,
# CPU = user+sys, peak RSS); $LAST_S / $LAST_CPU / $LAST_RSS_MB keep them.
# Ratios: x_wall = BASE_WALL / wall (when given); x_cpu = $BASE_CPU / cpu when the script
# set BASE_CPU (after its baseline run: BASE_CPU=$LAST_CPU). The CPU ratio
# stays meaningful when other work shares the machine; the wall ratio shows
# what parallelism buys. Every row is also appended to $BENCH_SUMMARY (one
# tab-separated line: bench, label, wall, cpu, MB/s, records/s, RSS, ratios)
# so bench/run.sh can print one table of the whole run and record it in
# bench/RESULTS.md.
#   goal LABEL VALUE GOAL_TEXT [OK]
# adds a row that states a figure beside the goal (OK: yes/no).
#   warm FILE
# sets BYTES to FILE's size and reads it once, so the first measured run
# does not pay for the page cache.
#   gen_input FILE GEN_ARGS...
# makes FILE with `kensa-gen GEN_ARGS --out FILE` unless it is there; sets
# F and BYTES and warms it.
BUILD=${BUILD:-build}
KENSA=$BUILD/kensa
GEN=$BUILD/kensa-gen
BENCH_DIR=$BUILD/bench
mkdir -p "$BENCH_DIR"
# kensa's compiled-rule caches (YARA, Sigma, secrets) in a directory of the
# benchmark's own: the shared ~/.cache/kensa keeps only a few entries per
# kind, so other runs on the machine pruned "warm" entries mid-benchmark
# (a cold Sigma compile is seconds of CPU). Set KENSA_BENCH_CACHE to share one.
case $BENCH_DIR in /*) bench_abs=$BENCH_DIR ;; *) bench_abs=$(pwd)/$BENCH_DIR ;; esac
XDG_CACHE_HOME=${KENSA_BENCH_CACHE:-$bench_abs/cache}
export XDG_CACHE_HOME
CORPUS=${KENSA_CORPUS:-../shared/corpus}
BASE_CPU=${BASE_CPU:-0}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SUMMARY=${BENCH_SUMMARY:-$BENCH_DIR/summary.tsv}
BENCH_NAME=${BENCH_NAME:-$(basename "$0" .sh)}

warm() {
    BYTES=$(stat -c %s "$1")
    cat "$1" > /dev/null
}

gen_input() {
    F=$1; shift
    [ -s "$F" ] || $GEN "$@" --out "$F"
    warm "$F"
}

header() {
    printf '%-34s %7s %7s %9s %11s %10s %7s %7s\n' tool wall_s cpu_s MB/s records/s peakRSS_MB x_wall x_cpu
}

# run_median CMD: runs CMD $BENCH_RUNS times; sets LAST_S, LAST_CPU and
# LAST_RSS_KB to the medians of wall, CPU and peak RSS.
run_median() {
    : > "$BENCH_DIR/.times"
    r=0
    while [ "$r" -lt "$BENCH_RUNS" ]; do
        /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/.time" sh -c "$*" >/dev/null 2>"$BENCH_DIR/.err" || true
        tail -1 "$BENCH_DIR/.time" >> "$BENCH_DIR/.times"
        r=$((r + 1))
    done
    set -- $(awk '{ w[NR] = $1; c[NR] = $2 + $3; m[NR] = $4 }
        function med(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return a[int((n + 1) / 2)] }
        END { printf "%s %.2f %s\n", med(w, NR), med(c, NR), med(m, NR) }' "$BENCH_DIR/.times")
    LAST_S=$1; LAST_CPU=$2; LAST_RSS_KB=$3
    LAST_RSS_MB=$(awk -v k="$3" 'BEGIN { printf "%.1f", k / 1024 }')
}

measure() {
    label=$1; bytes=$2; recs=$3; base=$4; shift 4
    run_median "$@"
    awk -v l="$label" -v s="$LAST_S" -v c="$LAST_CPU" -v b="$bytes" -v r="$recs" -v rss="$LAST_RSS_KB" \
        -v base="$base" -v bc="$BASE_CPU" -v sum="$BENCH_SUMMARY" -v bn="$BENCH_NAME" 'BEGIN {
        if (s <= 0) s = 0.01; if (c <= 0) c = 0.01;
        rw = (base > 0) ? sprintf("%.2fx", base / s) : "-";
        rc = (bc > 0) ? sprintf("%.2fx", bc / c) : "-";
        printf "%-34s %7.2f %7.2f %9.1f %11.0f %10.1f %7s %7s\n", l, s, c, b / s / 1e6, r / s, rss / 1024, rw, rc
        printf "%s\t%s\t%.2f\t%.2f\t%.1f\t%.0f\t%.1f\t%s\t%s\n", bn, l, s, c, b / c / 1e6, r / c, rss / 1024, rw, rc >> sum }'
}

goal() { # LABEL VALUE GOAL [OK]
    printf '%-44s %-28s goal %-24s %s\n' "$1" "$2" "$3" "${4:-}"
    printf '%s\tGOAL %s\t%s\t%s\t%s\n' "$BENCH_NAME" "$1" "$2" "$3" "${4:-}" >> "$BENCH_SUMMARY"
}
