#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The exposure index and portal: index build throughput (a generated
# address-dense dump of PORTAL_NOTES notes x 100 addresses, and generated
# mail on one core), then wrk against the k-anonymity range endpoint and
# the owner's exposure endpoint of `kensa serve` on loopback (rate limits
# off, PORTAL_THREADS server threads, PORTAL_SECONDS per run). The issue's
# goal: a 10M-address index (PORTAL_NOTES=100000), p99 < 5 ms at 10k req/s,
# index build >= 100 MB/s of mail per core. Numbers: docs/PORTAL.md.
set -e
. bench/lib.sh
NOTES=${PORTAL_NOTES:-100000}
SECS=${PORTAL_SECONDS:-10}
THREADS=${PORTAL_THREADS:-2}
MAIL=${PORTAL_MAIL:-200M}
W=$BENCH_DIR/portal-$NOTES
DB=$W/index.db
mkdir -p "$W"
[ -d "$W/dump" ] || $GEN dump --out "$W/dump" --orgs 100 --mails 2000 --docs 0 --notes 0 --formats eml,txt \
    --big "$NOTES" --truth "$W/truth.jsonl" >/dev/null
BYTES=$(du -sb "$W/dump" | cut -f1)
echo "Index build: $NOTES notes x 100 addresses + 2000 mails, 100 organisations, $((BYTES / 1000000)) MB"
header
if [ ! -f "$DB" ]; then
    measure "kensa index build" "$BYTES" "$((NOTES * 100))" 0 "$KENSA index build -q --db $DB $W/dump"
fi
measure "kensa index build (re-run, all known)" "$BYTES" 0 0 "$KENSA index build -q --db $DB $W/dump"
[ -d "$W/mail" ] || $GEN mailbox --out "$W/mail" --size "$MAIL" >/dev/null
MB=$(du -sb "$W/mail" | cut -f1)
rm -f "$W/mail.db" "$W/mail.db-wal" "$W/mail.db-shm"
echo "Index build on generated mail ($((MB / 1000000)) MB, one thread)"
header
measure "kensa index build -t 1 (mail)" "$MB" 0 0 "$KENSA index build -q -t 1 --db $W/mail.db $W/mail"

# ---- the portal under wrk
command -v wrk >/dev/null 2>&1 || { echo "portal: wrk missing, skipped"; exit 0; }
command -v dnsmasq >/dev/null 2>&1 || { echo "portal: dnsmasq missing, skipped"; exit 0; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DNSP=$(free_port)
$KENSA serve --db "$DB" --listen 127.0.0.1:0 --rate-ip 0 --rate-account 0 -t "$THREADS" \
    --resolver 127.0.0.1:$DNSP --audit "$W/audit.jsonl" 2> "$W/serve.log" &
SRV=$!
trap 'kill $SRV $DNS 2>/dev/null' EXIT
for i in $(seq 1 100); do grep -q listening "$W/serve.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$W/serve.log" | head -1)
B=http://127.0.0.1:$PORT
curl -s -X POST -d 'name=bench&password=benchmark-password' $B/api/v1/accounts >/dev/null
TOK=$(curl -s -X POST -d 'name=bench&password=benchmark-password' $B/api/v1/tokens | sed 's/.*"token":"\([0-9a-f]*\)".*/\1/')
VAL=$(curl -s -H "Authorization: Bearer $TOK" -X POST -d 'domain=org01.example' $B/api/v1/domains |
      sed 's/.*"value":"\([^"]*\)".*/\1/')
dnsmasq --no-daemon --port=$DNSP --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
    --conf-file=/dev/null --pid-file= --txt-record=org01.example,$VAL >/dev/null 2>&1 &
DNS=$!
sleep 0.5
curl -s -H "Authorization: Bearer $TOK" -X POST -d method=dns $B/api/v1/domains/org01.example/verify >/dev/null
cat > "$W/range.lua" <<'LUA'
-- a random 5-hex prefix per request
math.randomseed(os.time())
request = function()
    return wrk.format("GET", string.format("/api/v1/range/%05X", math.random(0, 0xFFFFF)))
end
LUA
run_wrk() { # label, extra args...
    label=$1; shift
    wrk -t2 -c64 -d"${SECS}s" --latency "$@" > "$W/wrk.txt" 2>&1 || true
    rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
    printf '%-28s %12s req/s   p50 %8s   p99 %8s\n' "$label" "$rps" "$p50" "$p99"
}
echo "Portal on loopback: wrk -t2 -c64 ${SECS}s, $THREADS server threads (same 2 cores as wrk)"
run_wrk "range (random prefixes)" -s "$W/range.lua" "$B"
run_wrk "exposure (owner token)" -H "Authorization: Bearer $TOK" "$B/api/v1/domains/org01.example/exposure"
run_wrk "exposure (no token: 401)" "$B/api/v1/domains/org01.example/exposure"
echo "audit log lines: $(wc -l < "$W/audit.jsonl")"
