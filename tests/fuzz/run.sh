#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan (clang) and
# runs each for SECONDS (or only the one named). New crashers land in
# build-fuzz/crash-<name>-*; copy them into tests/fuzz/corpus/<name>/ once
# fixed so `make check` replays them forever.
set -e
SECONDS_EACH=${1:-60}
ONLY=${2:-}
B=build-fuzz
FLAGS="-O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
# The library is instrumented for coverage too (fuzzer-no-link): without it
# libFuzzer sees only the harness and mutates blind.
make --no-print-directory -j"$(nproc)" BUILD=$B CC=clang CXX=clang++ \
    OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
    $B/libkensa.a
# The Makefile's package list, so harnesses link what the library uses.
PKGS=$(sed -n '/^PKGS *:=/,/[^\\]$/p' Makefile | sed 's/^PKGS *:=//; s/\\$//' | tr '\n' ' ')
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c); name=${name#fuzz_}
    [ -n "$ONLY" ] && [ "$ONLY" != "$name" ] && continue
    # the portal's parsers live beside the server, not in the library
    extra=""
    [ "$name" = portal ] && extra="-Isrc src/httpd/route.c src/httpd/verify.c"
    [ "$name" = portal_handle ] && extra="-Isrc $(ls src/httpd/*.c | grep -v serve.c)"
    clang -std=c17 -D_GNU_SOURCE $FLAGS -Iinclude -Isrc/lib $(pkg-config --cflags $PKGS) \
        -o $B/fuzz_$name "$src" $extra $B/libkensa.a \
        $(pkg-config --libs $PKGS) -lphonenumber -lstdc++ -lpthread -lm
    mkdir -p $B/corpus-$name
    echo "fuzz: $name for ${SECONDS_EACH}s"
    # a dictionary of the format's tokens, where there is one
    dict=""
    [ -f tests/fuzz/$name.dict ] && dict="-dict=tests/fuzz/$name.dict"
    $B/fuzz_$name -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 $dict \
        -artifact_prefix=$B/crash-$name- $B/corpus-$name tests/fuzz/corpus/$name > $B/log-$name.txt 2>&1 || true
    grep -E "^(==[0-9]+==ERROR|SUMMARY)|runtime error|Done [0-9]+ runs" $B/log-$name.txt | head -5
    # coverage and speed at the end, for the release notes
    grep -E "^#[0-9]+.*(DONE|pulse)" $B/log-$name.txt | tail -1
done
