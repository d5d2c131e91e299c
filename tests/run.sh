#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every test binary, golden case and fuzz-corpus replay; sums the
# per-binary "N passed, N failed" lines into the closing line CI reads.
# Exit status: 0 only when nothing failed.
BUILD=${BUILD:-build}
export BUILD
P=0; F=0
run_one() { # name, command...
    name=$1; shift
    out=$("$@" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    if [ -z "$line" ]; then
        if [ $rc -eq 0 ]; then line="1 passed, 0 failed"; else line="0 passed, 1 failed"; fi
    elif [ $rc -ne 0 ] && printf '%s' "$line" | grep -q ', 0 failed'; then
        line=$(printf '%s' "$line" | sed 's/, 0 failed/, 1 failed/')  # crashed after summary
    fi
    p=$(printf '%s' "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    P=$((P + p)); F=$((F + f))
    if [ "$f" -ne 0 ] || [ $rc -ne 0 ]; then
        printf '%s\n' "$out" | tail -40 | sed "s|^|  $name: |"
        echo "FAILED $name: $line"
    else
        printf '%s\n' "$out" | grep -E '^(INFO|RECALL|SKIP|FP|LOAD|BENCH)' | sed "s|^|  $name: |"
        echo "ok     $name: $line"
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
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
