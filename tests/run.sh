#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every test binary, golden case and fuzz-corpus replay; sums the
# per-binary "N passed, N failed[, N skipped]" lines into the closing line
# CI reads: "N passed, N failed, N skipped".
# A skip ("SKIP [TAG] ...") is checked against tests/expected-skips: one
# that is not expected here counts as a failure. A binary that prints no
# closing line counts by its exit status; one that exits non-zero after a
# clean closing line (a crash, a leak report) counts one failure.
# Exit status: 0 only when nothing failed.
BUILD=${BUILD:-build}
export BUILD
P=0; F=0; S=0
# ks_test_corpus()'s candidates, for the "corpus" condition
KENSA_CORPUS_DIR=
if [ -n "${KENSA_CORPUS+set}" ]; then cands=$KENSA_CORPUS; else cands="../shared/corpus ../../shared/corpus"; fi
for c in $cands; do
    if [ -d "$c" ]; then KENSA_CORPUS_DIR=$c; break; fi
done
export KENSA_CORPUS_DIR
EXPECTED=$(grep -v '^#' tests/expected-skips | while read -r tag cond; do
    [ -n "$tag" ] || continue
    if sh -c "$cond" >/dev/null 2>&1; then printf '%s ' "$tag"; fi
done)
expected_skip() { # tag
    case " $EXPECTED " in *" $1 "*) return 0 ;; esac
    return 1
}
run_one() { # name, command...
    name=$1; shift
    t0=$(date +%s)
    out=$("$@" 2>&1); rc=$?
    secs=$(( $(date +%s) - t0 ))
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$line" ]; then
        if [ $rc -eq 0 ]; then line="1 passed, 0 failed"; else line="0 passed, 1 failed"; fi
    elif [ $rc -ne 0 ] && printf '%s' "$line" | grep -q ', 0 failed'; then
        line=$(printf '%s' "$line" | sed 's/, 0 failed/, 1 failed/')  # crashed after summary
    fi
    p=$(printf '%s' "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(printf '%s' "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    s=${s:-0}
    unexpected=$(printf '%s\n' "$out" | grep -E '^SKIP' | while read -r _ tag rest; do
        tag=$(printf '%s' "$tag" | tr -d '[]')
        expected_skip "$tag" || printf 'UNEXPECTED SKIP [%s] %s\n' "$tag" "$rest"
    done)
    if [ -n "$unexpected" ]; then
        nu=$(printf '%s\n' "$unexpected" | wc -l)
        f=$((f + nu)); s=$((s > nu ? s - nu : 0))
        out=$(printf '%s\n%s' "$out" "$unexpected")
    fi
    P=$((P + p)); F=$((F + f)); S=$((S + s))
    summary="$p passed, $f failed, $s skipped (${secs} s)"
    if [ "$f" -ne 0 ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | tail -40 | sed "s|^|  $name: |"
        echo "FAILED $name: $summary"
    else
        printf '%s\n' "$out" | grep -E '^(INFO|RECALL|SKIP|FP|LOAD|BENCH)' | sed "s|^|  $name: |"
        echo "ok     $name: $summary"
    fi
}
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for f in "$BUILD"/fuzz-replay/fuzz_*; do
    [ -x "$f" ] || continue
    n=$(basename "$f")
    run_one "$n-replay" "$f" "tests/fuzz/corpus/${n#fuzz_}"
done
# Script tests (oracles against peer tools): Debian's python3, not a venv.
for s in tests/scripts/*.py; do
    [ -f "$s" ] || continue
    run_one "$(basename "$s" .py)" /usr/bin/python3 "$s"
done
# Stream scenario: two members on librdkafka's mock cluster, kill -9, restart.
if [ -x "$BUILD/tools/kafka_mock" ]; then
    run_one stream_demo sh tests/stream/demo.sh --check
fi
if [ -x "$BUILD/tools/nats_tool" ]; then
    run_one stream_nats sh tests/stream/nats.sh --check
fi
if [ -x tests/golden/run.sh ]; then
    run_one golden tests/golden/run.sh
fi
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
