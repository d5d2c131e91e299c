#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Memory as the input grows: each input at 1x and 10x, `kensa hunt` with
# the bundled rules on one thread, peak RSS of both and the growth ratio
# (goal < 1.2x: state bounded by open windows, not by events), and the
# same for `evtx dump --xml` (pages released as they are rendered).
#   BENCH=memory make bench     [MEM_SCALE=1: 1x is ~15 MB of each input]
# The inputs are modest on purpose (the machine is shared): 10x is
# ~150 MB; growth from 1 GB inputs is extrapolated from these two points.
set -e
. bench/lib.sh
S=${MEM_SCALE:-1}
D=$BENCH_DIR/memory
mkdir -p "$D"
gen() { # NAME X GENERATOR ARGS... (ARGS use @N@ for the record count)
    name=$1; x=$2; base=$3; shift 3
    out=$D/$name-${x}x
    [ -s "$out" ] && return 0
    n=$((base * x * S))
    eval "$GEN $(echo "$*" | sed "s|@N@|$n|g; s|@OUT@|$out|g")" >/dev/null 2>&1
}
row() { # LABEL FILE CMD-PREFIX: 1x and 10x, then the growth ratio
    what=$1; f=$2; shift 2
    b1=$(stat -c %s "$f-1x"); b10=$(stat -c %s "$f-10x")
    measure "$what 1x" "$b1" 0 0 "$* $f-1x"
    r1=$LAST_RSS_KB
    measure "$what 10x" "$b10" 0 0 "$* $f-10x"
    r10=$LAST_RSS_KB
    g=$(awk -v a="$r1" -v b="$r10" 'BEGIN { printf "%.2f", b / a }')
    goal "$what: RSS growth 1x -> 10x" "${g}x ($((r1 / 1024)) -> $((r10 / 1024)) MB)" "< 1.2x" \
        "$(awk -v g="$g" 'BEGIN { print (g < 1.2) ? "yes" : "no" }')"
}
for x in 1 10; do
    gen evtx $x 40000 evtx --records @N@ --out @OUT@
    gen entra $x 30000 entra --records @N@ --out @OUT@ --shape jsonl
    gen iis $x 70000 exchange --records @N@ --out @OUT@ --attack
done
echo "Memory growth, 1x and 10x inputs (1x: $(du -sh "$D/evtx-1x" | cut -f1) EVTX, $(du -sh "$D/entra-1x" | cut -f1) Entra JSON, $(du -sh "$D/iis-1x" | cut -f1) IIS W3C), one thread"
header
H="$KENSA hunt -q --threads 1"
row "EVTX, bundled rules" "$D/evtx" "$H"
row "Entra JSON, bundled rules" "$D/entra" "$H"
row "IIS W3C, bundled rules" "$D/iis" "$H"
row "evtx dump --xml" "$D/evtx" "$KENSA evtx dump --xml"
row "evtx dump --json" "$D/evtx" "$KENSA evtx dump --json"
