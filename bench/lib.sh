# SPDX-License-Identifier: Apache-2.0
# Shared helpers for bench/*.sh (sourced).
#   measure LABEL BYTES RECORDS BASE_WALL CMD...
# runs CMD once and prints one row; $LAST_S / $LAST_CPU keep its wall and
# CPU (user+sys) seconds. Ratios: x_wall = BASE_WALL / wall; x_cpu =
# $BASE_CPU / cpu when the script set BASE_CPU (after its baseline run:
# BASE_CPU=$LAST_CPU). The CPU ratio stays meaningful when other work
# shares the machine; the wall ratio shows what parallelism buys.
BUILD=${BUILD:-build}
KENSA=$BUILD/kensa
GEN=$BUILD/kensa-gen
BENCH_DIR=$BUILD/bench
mkdir -p "$BENCH_DIR"
CORPUS=${KENSA_CORPUS:-../shared/corpus}
BASE_CPU=${BASE_CPU:-0}

header() {
    printf '%-34s %7s %7s %9s %11s %10s %7s %7s\n' tool wall_s cpu_s MB/s records/s peakRSS_MB x_wall x_cpu
}

measure() {
    label=$1; bytes=$2; recs=$3; base=$4; shift 4
    /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/.time" sh -c "$*" >/dev/null 2>"$BENCH_DIR/.err" || true
    set -- $(tail -1 "$BENCH_DIR/.time")
    LAST_S=$1
    LAST_CPU=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
    awk -v l="$label" -v s="$1" -v c="$LAST_CPU" -v b="$bytes" -v r="$recs" -v rss="$4" -v base="$base" -v bc="$BASE_CPU" 'BEGIN {
        if (s <= 0) s = 0.01; if (c <= 0) c = 0.01;
        rw = (base > 0) ? sprintf("%.1fx", base / s) : "-";
        rc = (base > 0 && bc > 0) ? sprintf("%.1fx", bc / c) : "-";
        printf "%-34s %7.2f %7.2f %9.1f %11.0f %10.1f %7s %7s\n", l, s, c, b / s / 1e6, r / s, rss / 1024, rw, rc }'
}
