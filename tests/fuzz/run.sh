#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan (clang) and
# runs each for SECONDS (or only the ones named), FUZZ_JOBS harnesses at a
# time. New crashers land in build-fuzz/crash-<name>-*; copy them into
# tests/fuzz/corpus/<name>/ once fixed so `make check` replays them forever.
# Ends with one table (runs, coverage, corpus size, crashes) and exits 1
# when any harness crashed, so a release run can not pass over a crash.
set -e
SECONDS_EACH=${1:-60}
shift || true
ONLY="$*"
JOBS=${FUZZ_JOBS:-1}
B=${FUZZ_BUILD:-build-fuzz}
# -fsanitize-link-c++-runtime: the libphonenumber shim is C++ and UBSan's
# vptr checks in it need the C++ half of the runtime, which the clang (C)
# driver does not link by itself.
FLAGS="-O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fsanitize-link-c++-runtime"
# The library is instrumented for coverage too (fuzzer-no-link): without it
# libFuzzer sees only the harness and mutates blind.
make --no-print-directory -j"$(nproc)" BUILD=$B CC=clang CXX=clang++ \
    OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    $B/libkensa.a
# The Makefile's package list, so harnesses link what the library uses.
PKGS=$(sed -n '/^PKGS *:=/,/[^\\]$/p' Makefile | sed 's/^PKGS *:=//; s/\\$//' | tr '\n' ' ')

wanted() {
    [ -z "$ONLY" ] && return 0
    for w in $ONLY; do [ "$w" = "$1" ] && return 0; done
    return 1
}

names=""
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c); name=${name#fuzz_}
    wanted "$name" || continue
    # the portal's parsers live beside the server, not in the library
    extra=""
    [ "$name" = portal ] && extra="-Isrc src/httpd/route.c src/httpd/verify.c"
    [ "$name" = portal_handle ] && extra="-Isrc $(ls src/httpd/*.c | grep -v serve.c)"
    clang -std=c17 -D_GNU_SOURCE $FLAGS -Iinclude -Isrc/lib $(pkg-config --cflags $PKGS) \
        -o $B/fuzz_$name "$src" $extra $B/libkensa.a \
        $(pkg-config --libs $PKGS) -lphonenumber -lstdc++ -lpthread -lm
    names="$names $name"
done

run_one() {
    name=$1
    mkdir -p $B/corpus-$name
    # a dictionary of the format's tokens, where there is one
    dict=""
    [ -f tests/fuzz/$name.dict ] && dict="-dict=tests/fuzz/$name.dict"
    echo "fuzz: $name for ${SECONDS_EACH}s"
    $B/fuzz_$name -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 $dict \
        -artifact_prefix=$B/crash-$name- $B/corpus-$name tests/fuzz/corpus/$name \
        > $B/log-$name.txt 2>&1 || true
}

# FUZZ_JOBS harnesses at a time: a wait after every JOBS starts keeps the
# script plain sh (no job-control builtins beyond wait).
rm -f $B/crash-*.tmp
n=0
for name in $names; do
    run_one "$name" &
    n=$((n + 1))
    [ $((n % JOBS)) -eq 0 ] && wait
done
wait

crashed=0
printf '%-16s %12s %8s %8s %8s %s\n' harness runs cov ft corpus result
for name in $names; do
    log=$B/log-$name.txt
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    runs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    if grep -qE '^==[0-9]+==ERROR|runtime error|deadly signal|ERROR: libFuzzer' "$log"; then
        result="CRASH (see $log)"; crashed=1
    else
        result=ok
    fi
    printf '%-16s %12s %8s %8s %8s %s\n' "$name" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $crashed
