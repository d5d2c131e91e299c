#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Golden tests (jq / suricata-verify spirit): every directory under
# tests/golden/ that holds a `cmd` file is a case. `cmd` is a shell snippet
# run inside the case directory with $KENSA set to the kensa binary; its
# stdout (JSON lines: `$KENSA hunt --json - ...`) is normalized — keys
# sorted, volatile members dropped, lines sorted — and compared with the
# case's expected.jsonl. UPDATE_GOLDEN=1 rewrites expected.jsonl for review
# (git diff). Prints a diff for each failure and "N passed, N failed".
# A case whose command prints no finding at all fails unless its
# expected.jsonl is empty too (diff catches it).
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KENSA=${KENSA:-$ROOT/$BUILD/kensa}
export KENSA
P=0; F=0
# Without jq nothing is compared: that is a skip run.sh refuses (tag
# "tool": make deps installs jq), never a pass.
if ! command -v jq >/dev/null 2>&1; then
    echo "SKIP [tool] golden: jq not installed"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
# Drops what legitimately changes between runs (emission order, timings).
# Absolute paths (rule files in the checkout) are made relative to it; file
# facts that depend on the checkout (ctime, owner, and .last = max(mtime,
# ctime)) are dropped — cases pin mtimes with touch -d.
normalize() {
    jq -c -S 'del(.seq) | del(.stats)
              | if (.details | type) == "object" and (.details | has("ctime"))
                then del(.details.ctime) | del(.details.owner) | del(.last) else . end' |
        sed "s|$ROOT/||g" | LC_ALL=C sort
}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for cmd in $(find "$ROOT/tests/golden" -name cmd -type f | LC_ALL=C sort); do
    dir=$(dirname "$cmd")
    name=${dir#"$ROOT/tests/golden/"}
    (cd "$dir" && sh ./cmd) 2>"$TMP/err" | normalize >"$TMP/out"
    if [ -n "$UPDATE_GOLDEN" ]; then
        cp "$TMP/out" "$dir/expected.jsonl"
        echo "updated $name ($(wc -l <"$TMP/out") findings)"
        P=$((P + 1))
        continue
    fi
    if [ ! -f "$dir/expected.jsonl" ]; then
        echo "FAIL $name: no expected.jsonl (run with UPDATE_GOLDEN=1)"
        F=$((F + 1))
    elif diff -u "$dir/expected.jsonl" "$TMP/out" >"$TMP/diff"; then
        echo "ok   $name ($(wc -l <"$TMP/out") findings)"
        P=$((P + 1))
    else
        echo "FAIL $name:"
        head -60 "$TMP/diff" | cut -c1-400
        sed 's/^/  stderr: /' "$TMP/err" | head -10
        F=$((F + 1))
    fi
done
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
