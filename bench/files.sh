#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# File hunting: `kensa scan` vs `yara -r -p <cores>` with the same rules on
# the same tree, in one run. Tree: ../shared/corpus tennc-webshell +
# benign-web when present (else a generated tree); rules: signature-base's
# community YARA set + kensa's bundled rules (bundled only without corpus).
# yara gets the rules precompiled by yarac (compile time excluded) and the
# Loki/THOR external variables defined empty; kensa uses its compiled-rules
# cache (warmed first). MB/s and files/s over the whole tree; ratio = yara
# seconds / tool seconds (>1: faster than yara).
set -e
. bench/lib.sh
CORES=$(nproc)
# A worktree sits one level deeper than a clone: look there too.
[ -d "$CORPUS" ] || [ ! -d ../../shared/corpus ] || CORPUS=../../shared/corpus
RULES_DIRS="rules/yara"
if [ -d "$CORPUS/tennc-webshell" ] && [ -d "$CORPUS/signature-base/yara" ]; then
    TREE=$BENCH_DIR/files-tree
    if [ ! -d "$TREE" ]; then
        mkdir -p "$TREE"
        cp -r "$CORPUS/tennc-webshell" "$CORPUS/benign-web" "$TREE/"
    fi
    RULES_DIRS="$CORPUS/signature-base/yara rules/yara"
else
    TREE=$BENCH_DIR/files-gen
    [ -d "$TREE" ] || $GEN files --out "$TREE" --files ${FILES_N:-20000} --shells 200 >/dev/null
fi
NFILES=$(find "$TREE" -type f | wc -l)
BYTES=$(find "$TREE" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
# yara: one namespace per rule file (the same as kensa), precompiled.
ARGS=""
i=0
for d in $RULES_DIRS; do
    for f in $(find "$d" -name '*.yar' -o -name '*.yara' | sort); do
        i=$((i + 1)); ARGS="$ARGS n$i:$f"
    done
done
EXT="-d filename= -d filepath= -d extension= -d filetype= -d owner="
yarac -w $EXT $ARGS "$BENCH_DIR/files-rules.yarc" 2>/dev/null
KARGS="--no-builtin"
for d in $RULES_DIRS; do KARGS="$KARGS --yara $d"; done
find "$TREE" -type f -exec cat {} + > /dev/null
$KENSA scan -q $KARGS --set detector.ioc=false /dev/null >/dev/null 2>&1 || true   # warm the rules cache
echo "File hunting: $NFILES files, $((BYTES / 1000000)) MB, $i rule files ($CORES cores; numbers taken on a shared machine)"
header
measure "yara 4.2 -r -p $CORES" "$BYTES" "$NFILES" 0 "yara -w -C -r -p $CORES $BENCH_DIR/files-rules.yarc $TREE > $BENCH_DIR/yara.out"
Y=$LAST_S
measure "yara 4.2 -r -p 1" "$BYTES" "$NFILES" "$Y" "yara -w -C -r -p 1 $BENCH_DIR/files-rules.yarc $TREE"
measure "kensa scan (yara only)" "$BYTES" "$NFILES" "$Y" "$KENSA scan -q $KARGS --set detector.ioc=false --json $BENCH_DIR/kensa.jsonl $TREE"
measure "kensa scan --threads 1 (yara only)" "$BYTES" "$NFILES" "$Y" "$KENSA scan -q --threads 1 $KARGS --set detector.ioc=false $TREE"
measure "kensa scan (yara + IOCs)" "$BYTES" "$NFILES" "$Y" "$KENSA scan -q $KARGS $TREE"
echo "(files/s in the records/s column; ratio = yara -p $CORES seconds / tool seconds)"
YM=$(wc -l < "$BENCH_DIR/yara.out")
KM=$(grep -c '"detector":"yara"' "$BENCH_DIR/kensa.jsonl" || true)
echo "matches: yara $YM (rule, file) pairs, kensa $KM findings (kensa sets real filepath/extension, so path rules may add matches)"
