#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Optimisations must not change what kensa finds. This runs two kensa
# binaries (a reference built before a change, and the current one) on the
# same inputs and compares their findings: same rule, same evidence, same
# values, after the golden normalisation (tests/golden/run.sh: seq, stats
# and checkout paths dropped, lines sorted). `evtx dump` output must be
# byte-identical.
#
#   sh tests/scripts/findings_same.sh REF_KENSA [NEW_KENSA]
#
# Inputs: the corpus (EVTX attack and evtx-rs samples, the OTRF Windows and
# Azure JSON sets, SigmaHQ rules over them, web shells and benign web files
# for YARA) when ../shared/corpus exists, and generated data (EVTX, Entra
# sign-ins, Exchange IIS with attacks, DNS) made once under
# build/bench/same/ by the reference kensa-gen (SAME_SCALE multiplies the
# generated sizes, default 1). Both binaries read the bundled rules of this
# checkout (KENSA_RULES_DIR). Prints one line per case and exits 1 on the
# first difference set, with the diff.
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
REF=${1:?usage: findings_same.sh REF_KENSA [NEW_KENSA]}
NEW=${2:-$BUILD/kensa}
GEN=${GEN:-$(dirname "$REF")/kensa-gen}
[ -x "$GEN" ] || GEN=$BUILD/kensa-gen
SCALE=${SAME_SCALE:-1}
CORPUS=${KENSA_CORPUS:-../shared/corpus}
[ -d "$CORPUS" ] || CORPUS=../../shared/corpus
KENSA_RULES_DIR=$ROOT/rules
export KENSA_RULES_DIR
D=$BUILD/bench/same
mkdir -p "$D"
command -v jq >/dev/null 2>&1 || { echo "SKIP findings_same: jq not installed"; exit 0; }

# ---- generated inputs (deterministic generators; made once per scale)
if [ ! -f "$D/.done-$SCALE" ]; then
    "$GEN" evtx --records $((40000 * SCALE)) --out "$D/security.evtx" >/dev/null
    "$GEN" entra --records $((100000 * SCALE)) --out "$D/signins.jsonl" --shape jsonl >/dev/null
    "$GEN" exchange --out "$D/iis.log" --records $((100000 * SCALE)) --attack >/dev/null
    rm -rf "$D/dns"
    "$GEN" dns --out "$D/dns" --clients $((50 * SCALE)) --hours 4 >/dev/null
    touch "$D/.done-$SCALE"
fi

normalize() {
    jq -c -S 'del(.seq) | del(.stats)
              | if (.details | type) == "object" and (.details | has("ctime"))
                then del(.details.ctime) | del(.details.owner) | del(.last) else . end' |
        sed "s|$ROOT/||g" | LC_ALL=C sort
}

FAIL=0
N=0
# same NAME ARGS...: kensa ARGS with --json - from both binaries, compared
same() {
    name=$1; shift
    "$REF" "$@" --json - 2>/dev/null | normalize > "$D/ref.out" || true
    "$NEW" "$@" --json - 2>/dev/null | normalize > "$D/new.out" || true
    N=$((N + 1))
    if cmp -s "$D/ref.out" "$D/new.out"; then
        printf 'same  %-40s %6d findings\n' "$name" "$(wc -l < "$D/new.out")"
    else
        printf 'DIFF  %-40s ref %d, new %d findings\n' "$name" "$(wc -l < "$D/ref.out")" "$(wc -l < "$D/new.out")"
        diff "$D/ref.out" "$D/new.out" | head -20
        FAIL=$((FAIL + 1))
    fi
}
# counts NAME ARGS...: findings per rule from both binaries
counts() {
    name=$1; shift
    "$REF" "$@" --json - 2>/dev/null | jq -r .rule_id | LC_ALL=C sort | uniq -c > "$D/ref.out" || true
    "$NEW" "$@" --json - 2>/dev/null | jq -r .rule_id | LC_ALL=C sort | uniq -c > "$D/new.out" || true
    N=$((N + 1))
    if cmp -s "$D/ref.out" "$D/new.out"; then
        printf 'same  %-40s %6d rules (counts per rule)\n' "$name" "$(wc -l < "$D/new.out")"
    else
        printf 'DIFF  %-40s counts per rule differ\n' "$name"
        diff "$D/ref.out" "$D/new.out" | head -20
        FAIL=$((FAIL + 1))
    fi
}
# bytes NAME ARGS...: stdout of kensa ARGS byte for byte
bytes() {
    name=$1; shift
    N=$((N + 1))
    a=$("$REF" "$@" 2>/dev/null | md5sum)
    b=$("$NEW" "$@" 2>/dev/null | md5sum)
    if [ "$a" = "$b" ]; then
        printf 'same  %-40s (byte-identical)\n' "$name"
    else
        printf 'DIFF  %-40s output bytes differ\n' "$name"
        FAIL=$((FAIL + 1))
    fi
}

H="hunt -q --threads 1"
same "generated evtx, bundled rules" $H "$D/security.evtx"
same "generated entra, bundled rules" $H "$D/signins.jsonl"
same "generated exchange iis, bundled rules" $H "$D/iis.log"
same "generated dns, bundled rules" $H "$D/dns"
# Two threads: which findings fill a rule's cap and which events are a
# finding's evidence samples depend on arrival order (so two runs of one
# binary differ there); what must not change is the count per rule.
counts "generated entra, 2 threads" hunt -q --threads 2 "$D/signins.jsonl"
bytes "evtx dump --json (generated)" evtx dump --json "$D/security.evtx"
bytes "evtx dump --xml (generated)" evtx dump --xml "$D/security.evtx"

if [ -d "$CORPUS/evtx-attack-samples" ]; then
    EV="$CORPUS/evtx-attack-samples $CORPUS/evtx-rs-samples"
    OT=$CORPUS/otrf-security-datasets/extracted
    S=$CORPUS/sigma
    SIG="--rules $S/rules --rules $S/rules-emerging-threats --rules $S/rules-threat-hunting"
    # shellcheck disable=SC2086
    same "corpus evtx, bundled rules" $H $EV
    # shellcheck disable=SC2086
    same "corpus evtx, all SigmaHQ rules" $H $SIG $EV
    same "corpus otrf json, bundled rules" $H "$OT"
    # shellcheck disable=SC2086
    same "corpus otrf json, all SigmaHQ rules" $H $SIG "$OT"
    # shellcheck disable=SC2086
    same "generated evtx, all SigmaHQ rules" $H $SIG "$D/security.evtx"
    # shellcheck disable=SC2086
    same "generated iis, all SigmaHQ rules" $H $SIG "$D/iis.log"
    for f in $(find "$CORPUS/evtx-rs-samples" -name '*.evtx' | sort | head -20); do
        bytes "evtx dump --json $(basename "$f")" evtx dump --json "$f"
    done
    same "corpus web shells, bundled yara+ioc" scan -q --threads 1 "$CORPUS/tennc-webshell" "$CORPUS/benign-web"
    if [ -d "$CORPUS/signature-base/yara" ]; then
        same "corpus web shells, signature-base" scan -q --threads 1 --yara "$CORPUS/signature-base/yara" \
            "$CORPUS/tennc-webshell" "$CORPUS/benign-web"
    fi
else
    echo "SKIP findings_same: corpus cases (no corpus at $CORPUS)"
fi
echo "$((N - FAIL)) same, $FAIL different"
[ "$FAIL" = 0 ]
