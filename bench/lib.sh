# SPDX-License-Identifier: Apache-2.0
# Shared helpers for bench/*.sh (sourced). measure NAME BYTES RECORDS CMD...
# runs CMD once (after one warm-up read of the page cache by the caller),
# prints one row, and stores the seconds in $LAST_S for ratios.
BUILD=${BUILD:-build}
KENSA=$BUILD/kensa
GEN=$BUILD/kensa-gen
BENCH_DIR=$BUILD/bench
mkdir -p "$BENCH_DIR"
CORPUS=${KENSA_CORPUS:-../shared/corpus}

header() {
    printf '%-34s %9s %9s %12s %10s %9s\n' tool seconds MB/s records/s peakRSS_MB ratio
}

# measure LABEL BYTES RECORDS BASELINE_SECONDS CMD...
measure() {
    label=$1; bytes=$2; recs=$3; base=$4; shift 4
    /usr/bin/time -f '%e %M' -o "$BENCH_DIR/.time" sh -c "$*" >/dev/null 2>"$BENCH_DIR/.err" || true
    set -- $(cat "$BENCH_DIR/.time" | tail -1)
    s=$1; rss=$2
    LAST_S=$s
    awk -v l="$label" -v s="$s" -v b="$bytes" -v r="$recs" -v rss="$rss" -v base="$base" 'BEGIN {
        if (s <= 0) s = 0.001;
        ratio = (base > 0) ? sprintf("%.2fx", base / s) : "-";
        printf "%-34s %9.2f %9.1f %12.0f %10.1f %9s\n", l, s, b / s / 1e6, r / s, rss / 1024, ratio }'
}
