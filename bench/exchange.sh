#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Exchange / IIS W3C throughput: lines/s and MB/s over a generated IIS log
# (EXCHANGE_BENCH_SIZE, default 1.1G; ProxyLogon + ProxyShell lines among
# benign Exchange traffic), peak RSS, and the ratio to the peers on the same
# file in the same run:
#   cat > /dev/null              the I/O floor
#   rg -c -i -e PATTERN ...      the same URI/cookie patterns as the Exchange
#                                Sigma rules, case-insensitive like Sigma:
#                                the I/O-and-regex floor a grep sweep costs
#   kensa hunt                   W3C parse + every bundled rule (all of
#                                rules/sigma incl. rules/sigma/exchange) +
#                                the exchange chain detector
# ratio = rg seconds / tool seconds (>1: faster than rg).
set -e
. bench/lib.sh
SIZE=${EXCHANGE_BENCH_SIZE:-1.1G}
gen_input "$BENCH_DIR/exchange-iis-$SIZE.log" exchange --size "$SIZE" --attack
N=$(grep -vc '^#' "$F" || true)
echo "Exchange IIS W3C: $N lines, $((BYTES / 1000000)) MB ($(nproc) cores; numbers taken on a shared machine)"
header
measure "cat > /dev/null (I/O floor)" "$BYTES" "$N" 0 "cat $F"
# The literals and regexes of rules/sigma/exchange/*.yml that touch the URI
# and cookie fields of a W3C line.
PAT=$BENCH_DIR/exchange-patterns.txt
cat > "$PAT" <<'PATTERNS'
X-AnonResource-Backend=
X-BEResource=
/ecp/[a-z0-9]{1,2}\.js\b
/owa/auth/Current/themes/resources/
/ecp/DDI/DDIService\.svc/SetObject
schema=(Reset)?OABVirtualDirectory
/autodiscover/autodiscover\.json
/mapi/nspi
/powershell
X-Rps-CAT=
/aspnet_client/[^ ]*\.as[hp]x
/owa/auth/[^ ]*\.as[hp]x
/ecp/auth/[^ ]*\.as[hp]x
proxy&port=
PATTERNS
measure "rg -c -i (same patterns, 1 thread)" "$BYTES" "$N" 0 "rg -c -i -j1 -f $PAT $F"
RG=$LAST_S
measure "kensa hunt --threads 1" "$BYTES" "$N" "$RG" "$KENSA hunt -q --threads 1 --set mode=events $F"
measure "kensa hunt (all cores)" "$BYTES" "$N" "$RG" "$KENSA hunt -q --set mode=events $F"
measure "kensa hunt exchange rules only, 1 thr" "$BYTES" "$N" "$RG" \
    "$KENSA hunt -q --threads 1 --set mode=events --no-builtin --rules rules/sigma/exchange $F"
echo "(ratio = rg seconds / kensa seconds)"
$KENSA hunt -q --set mode=events --json - "$F" 2>/dev/null | jq -r '.title' | sort | uniq -c | sed 's/^/  found: /'
