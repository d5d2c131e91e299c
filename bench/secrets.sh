#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Secrets and personal data: MB/s per core on a generated mailbox
# (base64 / quoted-printable bodies, docx/zip attachments, .msg, TNEF).
#
#  1. extraction alone (mbox -> MIME -> attachments -> decoded UTF-8 text),
#     which also writes the decoded text;
#  2. the text scanner alone on that decoded text (validation on), beside
#     ripgrep with the same patterns (rg -P -f: regexes only, no
#     validation; the floor) and YARA with the patterns its dialect reads;
#  3. `kensa hunt --threads 1` on the mailbox (decode + scan + findings),
#     and peak RSS at 1x and 10x the mailbox size (memory must stay flat).
#
# MB/s are of CPU time (user + sys), so they stay meaningful while other
# work shares the machine. Goal (issue 16): >= 500 MB/s per core on decoded
# text with validation on. SECRETS_SIZE (default 200M) is the 10x mailbox,
# a tenth of it the 1x one; a 1 GB figure is extrapolated from the 10x run
# (the work is linear in the input: memory is flat).
set -e
. bench/lib.sh
# the MB/s of the last measured row from its CPU seconds
cpu_rate() {
    awk -v b="$1" -v c="$LAST_CPU" -v l="$2" 'BEGIN { if (c <= 0) c = 0.01; printf "  %-32s %7.1f MB/s per core (CPU time)\n", l, b / c / 1e6 }'
}
SIZE=${SECRETS_SIZE:-200M}
BIG=$BENCH_DIR/mailbox-$SIZE
SMALL=$BENCH_DIR/mailbox-$SIZE-tenth
[ -s "$BIG/mailbox.mbox" ] || $GEN mailbox --out "$BIG" --size "$SIZE" >/dev/null
if [ ! -s "$SMALL/mailbox.mbox" ]; then
    mkdir -p "$SMALL"
    MBB=$(stat -c %s "$BIG/mailbox.mbox")
    # cut at a From_ line so the last message is whole
    head -c $((MBB / 10)) "$BIG/mailbox.mbox" | awk 'BEGIN{b=""} /^From /{printf "%s", b; b=""} {b=b $0 "\n"}' \
        > "$SMALL/mailbox.mbox"
fi
TB=$BENCH_DIR/textscan_bench
cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc/lib -DKS_RULES_DIR_DEFAULT=\"$(pwd)/rules\" \
    bench/tools/textscan_bench.c -o "$TB" "$BUILD/libkensa.a" \
    $(pkg-config --libs yara libcrypto libhs yaml-0.1 sqlite3 libcurl libmicrohttpd libpcre2-8 zlib libzstd \
      gmime-3.0 libarchive poppler-glib libgit2 libsodium gnutls rdkafka libnats libpff libpst libytnef \
      libolecf libxml-2.0) -lphonenumber -lstdc++ -lpthread -lm
$TB patterns "$BENCH_DIR/secrets.patterns" 2>/dev/null
$TB yara "$BENCH_DIR/secrets.yar" 2>/dev/null
T=$BENCH_DIR/secrets-text-$SIZE.txt
MBYTES=$(stat -c %s "$BIG/mailbox.mbox")
SBYTES=$(stat -c %s "$SMALL/mailbox.mbox")
echo "Mailbox $SIZE: $((MBYTES / 1000000)) MB; 1x: $((SBYTES / 1000000)) MB"
echo "-- extraction alone (one core):"
$TB extract "$BIG/mailbox.mbox" "$T"
warm "$T"
echo "-- decoded text: $((BYTES / 1000000)) MB, one core (scanner times exclude rule compilation)"
$TB scan "$T"
header
BASE_CPU=0
measure "kensa text scanner (validation on)" "$BYTES" 0 0 "$TB scan $T"
cpu_rate "$BYTES" "kensa scanner (with compile)"
# the peers are much slower: they read a slice (SECRETS_PEER_MB, 20 MB),
# rated on its size
PS=$BENCH_DIR/secrets-text-slice.txt
head -c $((${SECRETS_PEER_MB:-20} * 1000000)) "$T" > "$PS"
PBYTES=$(stat -c %s "$PS")
# rg -P joins every pattern of a file into one regex, and the whole set is
# now "too large" for PCRE2 (rg exits 2 at once, and the row read as
# 2,000 MB/s): files of 16 patterns, one rg each over the slice, their CPU
# summed; an error fails the row (exit 2 is an error, 1 only "no match")
rm -f "$BENCH_DIR"/secrets.patterns.part.*
split -l 16 "$BENCH_DIR/secrets.patterns" "$BENCH_DIR/secrets.patterns.part."
printf 'for f in %s/secrets.patterns.part.*; do rg -j1 -P -c -f "$f" %s >/dev/null; rc=$?; [ $rc -le 1 ] || exit $rc; done\n' \
    "$BENCH_DIR" "$PS" > "$BENCH_DIR/secrets-rg.sh"
measure "rg -P -f (same patterns, slice)" "$PBYTES" 0 0 "sh $BENCH_DIR/secrets-rg.sh"
cpu_rate "$PBYTES" "rg"
measure "yara (patterns it reads, slice)" "$PBYTES" 0 0 "yara -p 1 $BENCH_DIR/secrets.yar $PS"
cpu_rate "$PBYTES" "yara"
echo "(rows include start-up: kensa's rule compilation, or its cache)"
echo "-- kensa hunt on the mailbox, one thread: 1x and 10x (peak RSS must stay flat)"
BASE_CPU=0
# a mailbox over walk.max_size (100M) is still read by the secrets detector
HUNT="$KENSA hunt -q --threads 1 --set detector.yara=false --set detector.ioc=false"
header
measure "kensa hunt 1x ($((SBYTES / 1000000)) MB)" "$SBYTES" 0 0 "$HUNT $SMALL/mailbox.mbox"
cpu_rate "$SBYTES" "kensa hunt 1x"
measure "kensa hunt 10x ($((MBYTES / 1000000)) MB)" "$MBYTES" 0 0 "$HUNT $BIG/mailbox.mbox"
cpu_rate "$MBYTES" "kensa hunt 10x"
awk -v c="$LAST_CPU" -v b="$MBYTES" 'BEGIN { printf "1 GB extrapolated: %.0f s of one core\n", c * 1e9 / b }'
