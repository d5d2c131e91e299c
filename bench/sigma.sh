#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Sigma throughput: events/s on one core with 0 (ingest only), 1, 100 and
# all SigmaHQ rules, peak RSS, and the all/1 ratio (goal < 3x). Also all
# rules with the Vectorscan prefilter switched off, to show what it buys.
#
# Input: the Mordor Windows event sets in ../shared/corpus (PurpleSharp AD
# playbook + ProxyLogon, JSON lines, ~36k events), concatenated
# SIGMA_COPIES times (default 8, ~290k events, ~470 MB) under build/bench/.
# No Sigma peer tool (hayabusa, chainsaw, zircolite, sigma-cli) is packaged
# in Debian; docs/SIGMA.md quotes their published figures instead.
set -e
. bench/lib.sh
[ -d "$CORPUS" ] || CORPUS=../../shared/corpus
if [ ! -d "$CORPUS/sigma/rules" ]; then
    echo "SKIP sigma bench: no corpus at $CORPUS"
    exit 0
fi
COPIES=${SIGMA_COPIES:-8}
M=$CORPUS/otrf-security-datasets/extracted
F=$BENCH_DIR/sigma-winevents-x$COPIES.jsonl
if [ ! -s "$F" ]; then
    zcat "$M"/purplesharp_ad_playbook_I/*.json.gz "$M"/proxylogon_ssrf_rce_poc/*.json.gz > "$BENCH_DIR/.one.jsonl"
    : > "$F"
    i=0
    while [ $i -lt "$COPIES" ]; do cat "$BENCH_DIR/.one.jsonl" >> "$F"; i=$((i + 1)); done
    rm -f "$BENCH_DIR/.one.jsonl"
fi
N=$(wc -l < "$F")
warm "$F"

# rule sets: 1 and 100 process_creation / builtin windows rules, and everything
R1=$BENCH_DIR/sigma-rules-1
R100=$BENCH_DIR/sigma-rules-100
rm -rf "$R1" "$R100"
mkdir -p "$R1" "$R100"
find "$CORPUS/sigma/rules/windows" -name '*.yml' | sort | head -1 | xargs -I{} cp {} "$R1/"
find "$CORPUS/sigma/rules/windows" -name '*.yml' | sort | awk 'NR % 24 == 1' | head -100 | xargs -I{} cp {} "$R100/"
ALL="--rules $CORPUS/sigma/rules --rules $CORPUS/sigma/rules-emerging-threats --rules $CORPUS/sigma/rules-threat-hunting"
NALL=$($KENSA rules check --quiet "$CORPUS/sigma/rules" "$CORPUS/sigma/rules-emerging-threats" \
       "$CORPUS/sigma/rules-threat-hunting" | sed -n 's/.* \([0-9]*\) loaded.*/\1/p')
RUN="$KENSA hunt -q --threads 1 --no-builtin"
# CPU seconds (user + sys) of one run: per-core rates that hold on a shared,
# busy machine where wall time does not.
cpu() {
    /usr/bin/time -f '%U %S' -o "$BENCH_DIR/.cpu" sh -c "$*" >/dev/null 2>&1 || true
    tail -n 1 "$BENCH_DIR/.cpu" | awk '{ printf "%.2f", $1 + $2 }'
}

echo "Sigma: $N Windows events (JSON lines), $((BYTES / 1000000)) MB, one thread; machine shared, $(nproc) cores"
header
measure "ingest only (no rules)" "$BYTES" "$N" 0 "$RUN $F"
T0=$LAST_S
measure "1 rule" "$BYTES" "$N" 0 "$RUN --rules $R1 $F"
T1=$LAST_S
measure "100 rules" "$BYTES" "$N" 0 "$RUN --rules $R100 $F"
T100=$LAST_S
measure "all SigmaHQ ($NALL rules)" "$BYTES" "$N" 0 "$RUN $ALL $F"
TALL=$LAST_S
measure "all SigmaHQ, all $(nproc) cores" "$BYTES" "$N" 0 "$KENSA hunt -q --no-builtin $ALL $F"
echo '{}' > "$BENCH_DIR/.empty.json"
measure "all SigmaHQ, load+compile only" 1 1 0 "$RUN $ALL $BENCH_DIR/.empty.json"
TLOAD=$LAST_S
measure "all SigmaHQ, prefilter off" "$BYTES" "$N" 0 "$RUN $ALL --set sigma.prefilter=false $F"
TOFF=$LAST_S
C0=$(cpu "$RUN $F"); C1=$(cpu "$RUN --rules $R1 $F"); CALL=$(cpu "$RUN $ALL $F")
CL=$(cpu "$RUN $ALL $BENCH_DIR/.empty.json")
awk -v n="$N" -v c0="$C0" -v c1="$C1" -v ca="$CALL" -v cl="$CL" 'BEGIN {
    printf "CPU seconds: ingest %.2f, 1 rule %.2f, all rules %.2f (of which loading %.2f)\n", c0, c1, ca, cl;
    printf "CPU all/1 rule ratio: %.2fx; Sigma stage alone (all rules, CPU, excluding loading): %.0f events/s per core\n",
        ca / c1, n / ((ca - cl - c0) > 0 ? ca - cl - c0 : 0.001) }'
awk -v n="$N" -v tl="$TLOAD" -v t0="$T0" -v t1="$T1" -v t100="$T100" -v tall="$TALL" -v toff="$TOFF" 'BEGIN {
    printf "all/1 rule time ratio: %.2fx (goal < 3x); all/ingest: %.2fx\n", tall / t1, tall / t0;
    s = tall - t0; if (s <= 0) s = 0.001;
    printf "Sigma stage alone with all rules: %.0f events/s per core (total minus ingest)\n", n / s;
    s2 = s - tl; if (s2 <= 0) s2 = 0.001;
    printf "  ... and minus rule loading/compilation (%.2fs): %.0f events/s per core\n", tl, n / s2;
    printf "prefilter speed-up with all rules: %.1fx\n", toff / tall }'

# ---- the same over EVTX: the attack samples (277 files, every tactic), copied
# SIGMA_EVTX_COPIES times (default 16, ~200k events, ~690 MB)
if [ -d "$CORPUS/evtx-attack-samples" ] && $KENSA formats 2>/dev/null | grep -q evtx; then
    EC=${SIGMA_EVTX_COPIES:-16}
    D=$BENCH_DIR/sigma-evtx-x$EC
    if [ ! -d "$D" ]; then
        i=0
        while [ $i -lt "$EC" ]; do mkdir -p "$D/$i"; cp -r "$CORPUS/evtx-attack-samples/." "$D/$i/"; i=$((i + 1)); done
    fi
    EB=$(du -sb "$D" | cut -f1)
    EN=$($KENSA hunt -v -q --threads 1 --no-builtin --set sigma.stats=true --rules "$R1" "$D" 2>&1 |
         sed -n 's/.*\[sigma\] \([0-9]*\) events.*/\1/p')
    echo
    echo "Sigma over EVTX: $EN events in $((EB / 1000000)) MB of .evtx, one thread"
    header
    measure "1 rule" "$EB" "$EN" 0 "$RUN --rules $R1 $D"
    E1=$LAST_S
    measure "100 rules" "$EB" "$EN" 0 "$RUN --rules $R100 $D"
    measure "all SigmaHQ ($NALL rules)" "$EB" "$EN" 0 "$RUN $ALL $D"
    EALL=$LAST_S
    measure "all SigmaHQ, all $(nproc) cores" "$EB" "$EN" 0 "$KENSA hunt -q --no-builtin $ALL $D"
    EC1=$(cpu "$RUN --rules $R1 $D"); ECALL=$(cpu "$RUN $ALL $D")
    awk -v n="$EN" -v c1="$EC1" -v ca="$ECALL" -v cl="$CL" 'BEGIN {
        printf "EVTX CPU seconds: 1 rule %.2f, all rules %.2f (loading %.2f); CPU all/1 ratio %.2fx\n", c1, ca, cl, ca / c1;
        printf "EVTX parse + all rules, CPU, excluding loading: %.0f events/s per core; Sigma stage alone: %.0f events/s per core\n",
            n / (ca - cl), n / ((ca - cl - c1) > 0 ? ca - cl - c1 : 0.001) }'
    awk -v a="$EALL" -v o="$E1" -v tl="$TLOAD" -v n="$EN" 'BEGIN {
        printf "EVTX all/1 rule time ratio: %.2fx (goal < 3x)\n", a / o;
        s = a - tl; if (s <= 0) s = 0.001;
        printf "EVTX parse + Sigma with all rules, excluding rule loading: %.0f events/s per core\n", n / s }'
fi
