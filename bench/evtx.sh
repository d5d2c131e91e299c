#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# EVTX parsing throughput: kensa vs libevtx's evtxexport vs python-evtx on
# the same files in one run: the corpus EVTX files (when ../shared exists)
# and a generated file of EVTX_MB (default 1024) MB. Parsing only: kensa
# runs with no rules (--no-builtin, events mode). python-evtx is run on a
# 20 MB slice only (it parses ~0.1 MB/s), its ratio scaled to throughput.
set -e
. bench/lib.sh
MB=${EVTX_MB:-1024}
BIG=$BENCH_DIR/security-${MB}mb.evtx
if [ ! -s "$BIG" ]; then
    RECS=$((MB * 1000000 / 395))
    $GEN evtx --records "$RECS" --out "$BIG"
fi
SMALL=$BENCH_DIR/security-20mb.evtx
[ -s "$SMALL" ] || $GEN evtx --records 95000 --out "$SMALL"
count() { $KENSA evtx dump "$1" --json 2>/dev/null | wc -l; }
KOPT="hunt -q --no-builtin --set mode=events --set detector.identity=false --set detector.exchange=false --set detector.sigma=false --set detector.cloud=false"

run_set() { # label files...
    label=$1; shift
    bytes=0; for f in "$@"; do bytes=$((bytes + $(stat -c %s "$f"))); done
    recs=0; for f in "$@"; do recs=$((recs + $(count "$f"))); done
    cat "$@" > /dev/null
    echo "EVTX parse: $label: $# files, $((bytes / 1000000)) MB, $recs records"
    header
    LIST=$(printf "'%s' " "$@")
    measure "evtxexport (libevtx)" "$bytes" "$recs" 0 "for f in $LIST; do evtxexport \"\$f\"; done"
    EX=$LAST_S; BASE_CPU=$LAST_CPU
    measure "kensa --threads 1" "$bytes" "$recs" "$EX" "$KENSA $KOPT --threads 1 $LIST"
    measure "kensa (all $(nproc) cores)" "$bytes" "$recs" "$EX" "$KENSA $KOPT $LIST"
    echo "(ratio = evtxexport seconds / tool seconds)"
}

if [ -d "$CORPUS/evtx-attack-samples" ]; then
    # shellcheck disable=SC2046
    set -- $(find "$CORPUS/evtx-attack-samples" "$CORPUS/evtx-rs-samples" -name '*.evtx' | tr ' ' '?' | sort)
    run_set "corpus" "$@"
fi
run_set "generated ${MB} MB" "$BIG"

bytes=$(stat -c %s "$SMALL"); recs=$(count "$SMALL")
echo "python-evtx on a $((bytes / 1000000)) MB slice, $recs records"
header
measure "evtxexport (libevtx)" "$bytes" "$recs" 0 "evtxexport $SMALL"
EX=$LAST_S; BASE_CPU=$LAST_CPU
measure "python-evtx evtx_dump.py" "$bytes" "$recs" "$EX" "/usr/bin/python3 /usr/bin/evtx_dump.py $SMALL"
measure "kensa --threads 1" "$bytes" "$recs" "$EX" "$KENSA $KOPT --threads 1 $SMALL"
