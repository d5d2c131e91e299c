#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# File hunting: `kensa scan` vs `yara -r -p <cores>` with the same rules on
# the same tree, in one run. Tree: ../shared/corpus tennc-webshell +
# benign-web when present (else a generated tree); rules: signature-base's
# community YARA set + kensa's bundled rules (bundled only without corpus).
# yara gets the rules precompiled by yarac (compile time excluded) and the
# Loki/THOR external variables defined empty; kensa uses its compiled-rules
# cache (warmed first). MB/s and files/s over the whole tree; ratio = yara
# CPU seconds / tool CPU seconds (>1: cheaper than yara).
set -e
. bench/lib.sh
CORES=$(nproc)
# A worktree sits one level deeper than a clone: look there too.
[ -d "$CORPUS" ] || [ ! -d ../../shared/corpus ] || CORPUS=../../shared/corpus
RULES_DIRS="rules/yara"
if [ -d "$CORPUS/tennc-webshell" ] && [ -d "$CORPUS/signature-base/yara" ]; then
    TREE=$BENCH_DIR/files-tree
    if [ ! -d "$TREE" ]; then
        mkdir -p "$TREE"
        cp -r "$CORPUS/tennc-webshell" "$CORPUS/benign-web" "$TREE/"
    fi
    RULES_DIRS="$CORPUS/signature-base/yara rules/yara"
else
    TREE=$BENCH_DIR/files-gen
    [ -d "$TREE" ] || $GEN files --out "$TREE" --files ${FILES_N:-20000} --shells 200 >/dev/null
fi
NFILES=$(find "$TREE" -type f | wc -l)
BYTES=$(find "$TREE" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
EXT="-d filename= -d filepath= -d extension= -d filetype= -d owner="
rule_files() { # DIR...: the rule files, in a stable order
    for d in "$@"; do find "$d" -name '*.yar' -o -name '*.yara' | sort; done
}
# yara: one namespace per rule file (the same as kensa), precompiled.
# precompile OUT DIR... sets $i to the number of rule files.
precompile() {
    out=$1; shift
    args=""; i=0
    for f in $(rule_files "$@"); do i=$((i + 1)); args="$args n$i:$f"; done
    yarac -w $EXT $args "$out" 2>/dev/null
}
precompile "$BENCH_DIR/files-rules.yarc" $RULES_DIRS
table_header() {
    printf '%-36s %8s %8s %8s %9s %10s %9s\n' tool wall_s cpu_s MB/s files/s peakRSS_MB cpu_ratio
}
KARGS="--no-builtin"
for d in $RULES_DIRS; do KARGS="$KARGS --yara $d"; done
find "$TREE" -type f -exec cat {} + > /dev/null
$KENSA scan -q $KARGS --set detector.ioc=false /dev/null >/dev/null 2>&1 || true   # warm the rules cache
# Wall time on a shared 2-core machine is noisy; CPU seconds (user + sys)
# are printed too, and the CPU ratio is the steadier comparison.
measure_cpu() { # LABEL BASE_CPU CMD (medians of BENCH_RUNS, bench/lib.sh)
    label=$1; base=$2; shift 2
    run_median "$@"
    awk -v l="$label" -v w="$LAST_S" -v c="$LAST_CPU" -v b="$BYTES" -v f="$NFILES" -v rss="$LAST_RSS_KB" -v base="$base" \
        -v sum="$BENCH_SUMMARY" -v bn="$BENCH_NAME" 'BEGIN {
        if (w <= 0) w = 0.001; if (c <= 0) c = 0.001;
        ratio = (base > 0) ? sprintf("%.2fx", base / c) : "-";
        printf "%-36s %8.2f %8.2f %8.1f %9.0f %10.1f %9s\n", l, w, c, b / w / 1e6, f / w, rss / 1024, ratio
        printf "%s\t%s\t%.2f\t%.2f\t%.1f\t%.0f\t%.1f\t-\t%s\n", bn, l, w, c, b / c / 1e6, f / c, rss / 1024, ratio >> sum }'
}
echo "File hunting: $NFILES files, $((BYTES / 1000000)) MB, $i rule files ($CORES cores; numbers taken on a shared machine)"
table_header
measure_cpu "yara 4.2 -r -p $CORES" 0 "yara -w -C -r -p $CORES $BENCH_DIR/files-rules.yarc $TREE > $BENCH_DIR/yara.out"
Y=$LAST_CPU
measure_cpu "yara 4.2 -f (fast mode) -r -p $CORES" "$Y" "yara -f -w -C -r -p $CORES $BENCH_DIR/files-rules.yarc $TREE"
measure_cpu "kensa scan (yara only)" "$Y" "$KENSA scan -q $KARGS --set detector.ioc=false --json $BENCH_DIR/kensa.jsonl $TREE"
measure_cpu "kensa scan --threads 1 (yara only)" "$Y" "$KENSA scan -q --threads 1 $KARGS --set detector.ioc=false $TREE"
measure_cpu "kensa scan (yara + IOCs)" "$Y" "$KENSA scan -q $KARGS --ioc rules/ioc $TREE"
measure_cpu "kensa scan (IOCs only)" "$Y" "$KENSA scan -q --set detector.yara=false $TREE"
echo "(MB/s and files/s from wall time; cpu_ratio = yara -p $CORES CPU seconds / tool CPU seconds)"
YM=$(wc -l < "$BENCH_DIR/yara.out")
KM=$(grep -c '"detector":"yara"' "$BENCH_DIR/kensa.jsonl" || true)
echo "matches: yara $YM (rule, file) pairs, kensa $KM findings (kensa sets real filepath/extension, so path rules may add matches)"

# clamscan (ClamAV) runs YARA rules too, but a subset of the language (no
# modules, no external variables, rules it cannot translate dropped) and
# refuses its whole database for one rule file it cannot parse: it gets the
# rule files it loads cleanly one by one, and yara and kensa run again on exactly
# those files. clamscan scans with one thread (so yara and kensa do here);
# --allmatch reports every matching rule, not just the first.
if command -v clamscan >/dev/null 2>&1; then
    CR=$BENCH_DIR/clam-rules
    # kept between runs, for the rule dirs it was made from
    if [ "$(cat "$CR/.done" 2>/dev/null)" != "$RULES_DIRS" ]; then
        rm -rf "$CR"
        mkdir -p "$CR"
        i=0
        : > "$BENCH_DIR/empty" # clamscan refuses /dev/null (special file)
        for f in $(rule_files $RULES_DIRS); do
            i=$((i + 1))
            # A file ClamAV half-loads (an error on one rule) silently
            # stops every YARA rule matching: only clean loads count.
            if clamscan --no-summary -d "$f" "$BENCH_DIR/empty" >"$BENCH_DIR/.clam" 2>&1 &&
                ! grep -q 'Error\|failed to parse' "$BENCH_DIR/.clam"; then
                cp "$f" "$CR/n$i-$(basename "$f")"
            fi
        done
        echo "$RULES_DIRS" > "$CR/.done"
    fi
    NCR=$(find "$CR" -name '*.yar' | wc -l)
    CLOADED=$(clamscan --debug --no-summary -d "$CR" "$BENCH_DIR/empty" 2>&1 |
        awk '/cli_loadyara: loaded/ { l += $5; t += $7 } END { printf "%d of %d", l, t }')
    precompile "$BENCH_DIR/clam-rules.yarc" "$CR"
    KC="$KENSA scan -q --threads 1 --no-builtin --yara $CR --set detector.ioc=false"
    $KC /dev/null >/dev/null 2>&1 || true # warm its rules cache
    echo
    echo "Same tree, the $NCR rule files clamscan accepts ($CLOADED rules loaded by ClamAV), one thread:"
    table_header
    measure_cpu "clamscan --allmatch" 0 "clamscan --no-summary -i -r --allmatch -d $CR $TREE > $BENCH_DIR/clam.out"
    C=$LAST_CPU
    measure_cpu "yara 4.2 -r -p 1" "$C" "yara -w -C -r -p 1 $BENCH_DIR/clam-rules.yarc $TREE > $BENCH_DIR/yara-clam.out"
    measure_cpu "kensa scan --threads 1" "$C" "$KC --json $BENCH_DIR/kensa-clam.jsonl $TREE"
    echo "(cpu_ratio = clamscan CPU seconds / tool CPU seconds)"
    # clamscan names a rule again for each layer it scans (a page and its
    # normalised text): distinct pairs. Its YARA translation keeps only part
    # of the language, so its pairs differ from yara's by design.
    echo "matches: clamscan $(grep ' FOUND$' "$BENCH_DIR/clam.out" | sort -u | wc -l), yara $(wc -l < "$BENCH_DIR/yara-clam.out"), kensa $(grep -c '"detector":"yara"' "$BENCH_DIR/kensa-clam.jsonl" || true) (rule, file) pairs"
fi
