#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A real hunt beside its floors (issue 21's table), one thread, CPU seconds:
#   EVTX, bundled + all SigmaHQ rules   vs parse alone (no detector)
#   IIS W3C, bundled + all SigmaHQ      vs rg -i -f with the rule literals
#   evtx dump --json / --xml            vs evtxexport and vs parse alone
#   start-up with all SigmaHQ rules     (load + compile, warm caches)
# Inputs are generated: HUNT_EVTX_RECORDS (default 250,000 = ~100 MB) and
# HUNT_IIS_RECORDS (default 350,000 = ~100 MB). Modest on purpose (shared
# machine): per-CPU-second rates hold for 1 GB inputs, RSS growth does not
# (bench/memory.sh measures it).
#   BENCH=hunt make bench
set -e
. bench/lib.sh
[ -d "$CORPUS" ] || CORPUS=../../shared/corpus
NE=${HUNT_EVTX_RECORDS:-250000}
NI=${HUNT_IIS_RECORDS:-350000}
E=$BENCH_DIR/hunt-$NE.evtx
I=$BENCH_DIR/hunt-iis-$NI.log
[ -s "$E" ] || $GEN evtx --records "$NE" --out "$E" >/dev/null
[ -s "$I" ] || $GEN exchange --records "$NI" --out "$I" --attack >/dev/null 2>&1
EB=$(stat -c %s "$E"); IB=$(stat -c %s "$I")
IN=$(grep -vc '^#' "$I" || true)
SIG=""
if [ -d "$CORPUS/sigma/rules" ]; then
    S=$CORPUS/sigma
    SIG="--rules $S/rules --rules $S/rules-emerging-threats --rules $S/rules-threat-hunting"
fi
H="$KENSA hunt -q --threads 1"
PARSE="$H --no-builtin --set mode=events --set detector.identity=false --set detector.exchange=false --set detector.sigma=false --set detector.cloud=false"
rate() { awk -v n="$1" -v c="$2" 'BEGIN { printf "%.0f", n / (c > 0 ? c : 0.01) }'; }
ok() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? "yes" : "no" }'; }

echo "EVTX: $NE records, $((EB / 1000000)) MB, one thread"
header
measure "parse alone (floor)" "$EB" "$NE" 0 "$PARSE $E"
P=$LAST_CPU; PR=$LAST_RSS_MB; BASE_CPU=$P
measure "bundled rules" "$EB" "$NE" 0 "$H $E"
measure "bundled + all SigmaHQ rules" "$EB" "$NE" 0 "$H $SIG $E"
goal "EVTX bundled + SigmaHQ: events/s per CPU s" "$(rate "$NE" "$LAST_CPU") (parse $(rate "$NE" "$P"))" ">= 400000" \
    "$(ok "$(rate "$NE" "$LAST_CPU")" 400000)"
goal "EVTX bundled + SigmaHQ: peak RSS MB" "$LAST_RSS_MB (parse $PR)" "< 200 (1 GB input)" \
    "$(awk -v r="$LAST_RSS_MB" 'BEGIN { print (r < 200) ? "yes at this size" : "no" }')"

BASE_CPU=0
echo "evtx dump, one thread"
header
measure "evtxexport (libevtx)" "$EB" "$NE" 0 "evtxexport $E"
X=$LAST_CPU; BASE_CPU=$X
measure "kensa evtx dump --json" "$EB" "$NE" 0 "$KENSA evtx dump --json $E"
J=$LAST_CPU
measure "kensa evtx dump --xml" "$EB" "$NE" 0 "$KENSA evtx dump --xml $E"
goal "evtx dump --json: x evtxexport CPU" "$(awk -v a="$X" -v b="$J" 'BEGIN { printf "%.1fx", a / b }')" ">= 50x" \
    "$(ok "$(awk -v a="$X" -v b="$J" 'BEGIN { print a / b }')" 50)"
goal "evtx dump --json: x parse cost" "$(awk -v a="$P" -v b="$J" 'BEGIN { printf "%.2fx", b / a }')" "<= 1.5x" \
    "$(awk -v a="$P" -v b="$J" 'BEGIN { print (b / a <= 1.5) ? "yes" : "no" }')"

BASE_CPU=0
# The literals of the Exchange/IIS Sigma rules (rg's floor, as in exchange.sh)
PAT=$BENCH_DIR/hunt-iis-literals.txt
printf '%s\n' 'X-AnonResource-Backend=' 'X-BEResource=' '/owa/auth/Current/themes/resources/' \
    '/ecp/DDI/DDIService.svc/SetObject' 'OABVirtualDirectory' '/autodiscover/autodiscover.json' '/mapi/nspi' \
    '/powershell' 'X-Rps-CAT=' '/aspnet_client/' '/owa/auth/' '/ecp/auth/' 'proxy&port=' > "$PAT"
echo "IIS W3C: $IN lines, $((IB / 1000000)) MB, one thread"
header
measure "rg -i -F -f rule literals (floor)" "$IB" "$IN" 0 "rg -c -i -j1 -F -f $PAT $I"
R=$LAST_CPU; BASE_CPU=$R
measure "kensa bundled rules" "$IB" "$IN" 0 "$H $I"
measure "kensa bundled + all SigmaHQ rules" "$IB" "$IN" 0 "$H $SIG $I"
goal "IIS all rules: x rg CPU" "$(awk -v a="$R" -v b="$LAST_CPU" 'BEGIN { printf "%.2fx", a / b }')" ">= 0.5x" \
    "$(ok "$(awk -v a="$R" -v b="$LAST_CPU" 'BEGIN { print a / b }')" 0.5)"

BASE_CPU=0
if [ -n "$SIG" ]; then
    echo '{}' > "$BENCH_DIR/.empty.json"
    $H --no-builtin $SIG "$BENCH_DIR/.empty.json" >/dev/null 2>&1 || true # warm
    echo "Start-up, all SigmaHQ rules (warm)"
    header
    measure "load + compile all SigmaHQ" 0 0 0 "$H --no-builtin $SIG $BENCH_DIR/.empty.json"
    goal "start-up with all SigmaHQ rules" "${LAST_CPU} s CPU, ${LAST_RSS_MB} MB" "< 0.1 s" \
        "$(awk -v c="$LAST_CPU" 'BEGIN { print (c < 0.1) ? "yes" : "no" }')"
    measure "load + compile bundled rules" 0 0 0 "$H $BENCH_DIR/.empty.json"
fi
