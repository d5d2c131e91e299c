#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# DNS log throughput: Windows DNS debug log lines per second per core,
# kensa (dnsdebug input + network view + sunburst + c2 + beacon) beside
# ripgrep searching the same file for the indicator literals (the floor:
# a literal scan does no parsing), first with kensa's bundled lists, then
# with 100,000 generated domain indicators loaded (rg -F with the same
# 100,000 literals). One thread each (x_cpu compares CPU seconds).
#   BENCH=dns make bench      [DNS_CLIENTS=2000 DNS_HOURS=24]
set -e
. bench/lib.sh
D=$BENCH_DIR/dns
CLIENTS=${DNS_CLIENTS:-2000}
HOURS=${DNS_HOURS:-24}
if [ ! -f "$D/.done-$CLIENTS-$HOURS" ]; then
    rm -rf "$D"
    "$GEN" dns --out "$D" --clients "$CLIENTS" --hours "$HOURS" >/dev/null
    touch "$D/.done-$CLIENTS-$HOURS"
fi
F=$D/dns/dns.log
BYTES=$(stat -c %s "$F")
LINES=$(wc -l < "$F")
grep -hv '^#' rules/ioc/sunburst-c2.txt rules/ioc/sunburst-c2-addresses.txt | grep -v '^$' > "$D/lits.txt"
# 100k indicators: generated names no benign lookup hits, plus the real ones
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "c2-%06d-%x.example\n", i, i * 2654435761 % 65536 }' > "$D/c2-100k.txt"
cat "$D/lits.txt" >> "$D/c2-100k.txt"
printf '# kensa: literal\n' | cat - "$D/c2-100k.txt" > "$D/c2-100k-list.txt"
echo "Windows DNS debug log: $LINES lines, $((BYTES / 1000000)) MB"
header
measure "rg -F bundled literals" "$BYTES" "$LINES" 0 rg -c -F -f "$D/lits.txt" "$F"
BASE=$LAST_S; BASE_CPU=$LAST_CPU
measure "kensa hunt (bundled lists), 1 thread" "$BYTES" "$LINES" "$BASE" \
    "$KENSA" hunt --threads 1 --set detector.sigma=false --set detector.yara=false --set detector.ioc=false "$F"
measure "rg -F 100k literals" "$BYTES" "$LINES" "$BASE" rg -c -F -f "$D/c2-100k.txt" "$F"
measure "kensa hunt (+100k indicators), 1 thread" "$BYTES" "$LINES" "$BASE" \
    "$KENSA" hunt --threads 1 --set detector.sigma=false --set detector.yara=false --set detector.ioc=false \
    --set c2.ioc="$D/c2-100k-list.txt" "$F"
