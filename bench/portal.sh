#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The exposure index and portal (issue goals: index build >= 100 MB/s of
# mail per core; p99 < 5 ms at 10k requests/s for the k-anonymity range
# endpoint and the owner's exposure endpoint with a 10M-address index).
#
#  1. Index build: `kensa index build -t 1` on a generated mailbox
#     (PORTAL_MAIL, 200M) and on an address-dense dump (PORTAL_NOTES notes
#     x 100 addresses, 1000). PORTAL_BUILD=0 skips it.
#  2. The portal: a PORTAL_ADDRS-address index (10000000, over 100
#     organisations) made by bench/tools/portal_fill.c (the store's own
#     keyed hashes and sealing, straight into SQLite: the builder's speed is
#     measured in 1), `kensa serve` on loopback (rate limits off,
#     PORTAL_THREADS server threads), then wrk on the same two cores:
#     - "max": closed loop, PORTAL_CONNS connections (16), as fast as it goes;
#     - "paced": PORTAL_PACED_CONNS connections (40) each waiting 3 ms
#       between requests (wrk's delay()): at most 40 / (3 ms + latency),
#       about 11.5k requests/s offered at sub-millisecond latency, so the
#       row shows the latency at (and a little above) the goal's 10k/s.
#       32 connections could never reach 10k/s (32 / 3.4 ms = 9.4k). Debian's wrk has no fixed-rate mode (wrk2's -R); with a closed
#       loop, latency = connections / throughput (Little's law), so a
#       64-connection run cannot show p99 < 5 ms at 10k/s whatever the server.
# Results: bench/RESULTS.md, docs/PORTAL.md.
set -e
. bench/lib.sh
NOTES=${PORTAL_NOTES:-1000}
ADDRS=${PORTAL_ADDRS:-10000000}
SECS=${PORTAL_SECONDS:-10}
THREADS=${PORTAL_THREADS:-2}
CONNS=${PORTAL_CONNS:-16}
PACED=${PORTAL_PACED_CONNS:-40}
MAIL=${PORTAL_MAIL:-200M}

if [ "${PORTAL_BUILD:-1}" != 0 ]; then
    W=$BENCH_DIR/portal-build
    mkdir -p "$W"
    [ -d "$W/mail" ] || $GEN mailbox --out "$W/mail" --size "$MAIL" >/dev/null
    MB=$(du -sb "$W/mail" | cut -f1)
    rm -f "$W"/mail.db*
    echo "Index build on generated mail ($((MB / 1000000)) MB, one thread)"
    header
    measure "kensa index build -t 1 (mail)" "$MB" 0 0 "$KENSA index build -q -t 1 --db $W/mail.db $W/mail"
    echo "   MB per CPU-second: $(awk -v b="$MB" -v c="$LAST_CPU" 'BEGIN { printf "%.1f", b / c / 1e6 }')"
    [ -d "$W/dump-$NOTES" ] || $GEN dump --out "$W/dump-$NOTES" --orgs 100 --mails 2000 --docs 0 --notes 0 \
        --formats eml,txt --big "$NOTES" --truth "$W/truth-$NOTES.jsonl" >/dev/null
    BYTES=$(du -sb "$W/dump-$NOTES" | cut -f1)
    rm -f "$W"/dense.db*
    echo "Index build: $NOTES notes x 100 addresses + 2000 mails, 100 organisations, $((BYTES / 1000000)) MB"
    header
    measure "kensa index build (dense)" "$BYTES" "$((NOTES * 100))" 0 "$KENSA index build -q --db $W/dense.db $W/dump-$NOTES"
    measure "kensa index build (re-run, all known)" "$BYTES" 0 0 "$KENSA index build -q --db $W/dense.db $W/dump-$NOTES"
fi

# ---- the portal under wrk
command -v wrk >/dev/null 2>&1 || { echo "portal: wrk missing, skipped"; exit 0; }
command -v dnsmasq >/dev/null 2>&1 || { echo "portal: dnsmasq missing, skipped"; exit 0; }
W=$BENCH_DIR/portal-$ADDRS
DB=$W/index.db
mkdir -p "$W"
if [ ! -f "$DB" ]; then
    FILL=$BENCH_DIR/portal_fill
    cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude -Isrc/lib bench/tools/portal_fill.c -o "$FILL" "$BUILD/libkensa.a" \
        $(pkg-config --libs yara libcrypto libhs yaml-0.1 sqlite3 libcurl libmicrohttpd libpcre2-8 zlib libzstd \
          gmime-3.0 libarchive poppler-glib libgit2 libsodium gnutls rdkafka libnats libpff libpst libytnef \
          libolecf libxml-2.0) -lphonenumber -lstdc++ -lpthread -lm
    echo "Filling a $ADDRS-address index (bench/tools/portal_fill.c)"
    header
    measure "portal_fill $ADDRS" 0 "$ADDRS" 0 "$FILL $DB $ADDRS 100"
fi
rm -f "$W/audit.jsonl"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DNSP=$(free_port)
$KENSA serve --db "$DB" --listen 127.0.0.1:0 --rate-ip 0 --rate-account 0 -t "$THREADS" \
    --resolver 127.0.0.1:$DNSP --audit "$W/audit.jsonl" 2> "$W/serve.log" &
SRV=$!
DNS=
trap 'kill $SRV $DNS 2>/dev/null' EXIT
for i in $(seq 1 100); do grep -q listening "$W/serve.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$W/serve.log" | head -1)
B=http://127.0.0.1:$PORT
U=bench$$
curl -s -X POST -d "name=$U&password=benchmark-password" $B/api/v1/accounts >/dev/null
TOK=$(curl -s -X POST -d "name=$U&password=benchmark-password" $B/api/v1/tokens | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
VAL=$(curl -s -H "Authorization: Bearer $TOK" -X POST -d 'domain=org001.example' $B/api/v1/domains |
      sed 's/.*"value":"\([^"]*\)".*/\1/')
dnsmasq --no-daemon --port=$DNSP --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --conf-file=/dev/null --pid-file= --txt-record=org001.example,$VAL >/dev/null 2>&1 &
DNS=$!
sleep 0.5
curl -s -H "Authorization: Bearer $TOK" -X POST -d method=dns $B/api/v1/domains/org001.example/verify >/dev/null
# a random 5-hex prefix per request; PACE (ms) between a connection's requests
cat > "$W/range.lua" <<'LUA'
math.randomseed(os.time())
request = function()
    return wrk.format("GET", string.format("/api/v1/range/%05X", math.random(0, 0xFFFFF)))
end
local pace = tonumber(os.getenv("PACE") or "0")
if pace > 0 then delay = function() return pace end end
LUA
cat > "$W/pace.lua" <<'LUA'
local pace = tonumber(os.getenv("PACE") or "0")
if pace > 0 then delay = function() return pace end end
LUA
# the server's CPU time (user + system, clock ticks) from /proc: with wrk
# and other work on the same cores, CPU per request is the figure that
# does not move with the load
srv_ticks() { awk '{ print $14 + $15 }' /proc/$SRV/stat; }
TCK=$(getconf CLK_TCK)
run_wrk() { # label, connections, pace ms, extra args...
    label=$1; c=$2; pace=$3; shift 3
    t0=$(srv_ticks)
    PACE=$pace wrk -t2 -c"$c" -d"${SECS}s" --latency "$@" > "$W/wrk.txt" 2>&1 || true
    t1=$(srv_ticks)
    rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.txt")
    nreq=$(awk '/requests in/ {print $1}' "$W/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
    us=$(awk -v a="$t0" -v b="$t1" -v n="${nreq:-0}" -v hz="$TCK" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / hz * 1e6 / n; else print "-" }')
    errs=$(awk '/Non-2xx|Socket errors/ {print}' "$W/wrk.txt" | tr '\n' ' ')
    printf '%-40s %10s req/s   p50 %8s   p99 %8s   server %6s us CPU/req %s\n' "$label" "$rps" "$p50" "$p99" "$us" "$errs"
}
echo "Portal on loopback, $ADDRS-address index: wrk -t2 ${SECS}s, $THREADS server threads (wrk on the same 2 cores), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_wrk "range, max (-c$CONNS)" "$CONNS" 0 -s "$W/range.lua" "$B"
run_wrk "range, paced ~11k/s (-c$PACED, 3 ms)" "$PACED" 3 -s "$W/range.lua" "$B"
run_wrk "exposure, max (-c$CONNS)" "$CONNS" 0 -s "$W/pace.lua" -H "Authorization: Bearer $TOK" \
    "$B/api/v1/domains/org001.example/exposure"
run_wrk "exposure, paced ~11k/s (-c$PACED, 3 ms)" "$PACED" 3 -s "$W/pace.lua" -H "Authorization: Bearer $TOK" \
    "$B/api/v1/domains/org001.example/exposure"
run_wrk "exposure, no token (401), max" "$CONNS" 0 "$B/api/v1/domains/org001.example/exposure"
kill $SRV 2>/dev/null; wait $SRV 2>/dev/null || true
echo "audit log: $(wc -l < "$W/audit.jsonl") lines, chain $(/usr/bin/python3 -c 'import hashlib,json,sys
p="0"*64
for l in open(sys.argv[1],"rb"):
    l=l.rstrip(b"\n")
    if json.loads(l)["prev"]!=p: print("BROKEN"); sys.exit(1)
    p=hashlib.sha256(l).hexdigest()
print("intact")' "$W/audit.jsonl")"
