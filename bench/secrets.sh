#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Secrets and personal data: MB/s per core on decoded text and on a
# generated mailbox (base64 / quoted-printable bodies, docx/zip
# attachments), beside ripgrep with the same patterns (rg -P -f: a regex
# floor without validation) and YARA with the patterns its dialect reads.
# Goal: >= 500 MB/s per core on decoded text with validation on; memory
# flat as the mailbox grows (peak RSS at 1x and 10x).
set -e
. bench/lib.sh
SIZE=${SECRETS_SIZE:-1G}
MB=$BENCH_DIR/mailbox-$SIZE
[ -s "$MB/mailbox.mbox" ] || $GEN mailbox --out "$MB" --size "$SIZE"
T=$BENCH_DIR/secrets-text.txt
# decoded text: the mailbox's own text with the MIME armour as it is (the
# scanner sees text either way); cut to 512 MB
[ -s "$T" ] || head -c 536870912 "$MB/mailbox.mbox" > "$T"
TB=$BENCH_DIR/textscan_bench
cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc/lib -DKS_RULES_DIR_DEFAULT=\"$(pwd)/rules\" \
    bench/tools/textscan_bench.c -o "$TB" "$BUILD/libkensa.a" \
    $(pkg-config --libs yara libcrypto libhs yaml-0.1 sqlite3 libcurl libmicrohttpd libpcre2-8 zlib libzstd \
      gmime-3.0 libarchive poppler-glib libgit2 libsodium gnutls rdkafka libnats libpff libpst libytnef \
      libolecf libxml-2.0) -lphonenumber -lstdc++ -lpthread -lm
$TB patterns "$BENCH_DIR/secrets.patterns"
$TB yara "$BENCH_DIR/secrets.yar"
BYTES=$(stat -c %s "$T")
MBYTES=$(stat -c %s "$MB/mailbox.mbox")
cat "$T" > /dev/null
echo "Decoded text: $((BYTES / 1000000)) MB, one core"
header
measure "kensa text scanner (validation on)" "$BYTES" 0 0 "$TB scan $T"
K=$LAST_S; BASE_CPU=$LAST_CPU
measure "rg -P -f (same patterns)" "$BYTES" 0 "$K" "rg -j1 -P -c -f $BENCH_DIR/secrets.patterns $T"
measure "yara (patterns it reads)" "$BYTES" 0 "$K" "yara -p 1 $BENCH_DIR/secrets.yar $T"
echo "(x = kensa seconds / peer seconds: below 1 means kensa is faster)"
echo "Mailbox $SIZE ($((MBYTES / 1000000)) MB): decode + scan, one core, and all cores"
BASE_CPU=0
header
measure "kensa hunt --threads 1" "$MBYTES" 0 0 "$KENSA hunt -q --threads 1 --set detector.yara=false --set detector.ioc=false $MB/mailbox.mbox"
measure "kensa hunt (all cores)" "$MBYTES" 0 0 "$KENSA hunt -q --set detector.yara=false --set detector.ioc=false $MB/mailbox.mbox"
