#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builder changes must not change what an exposure index holds. This builds
# the same inputs with two kensa binaries (a reference built before a
# change, and the current one) under one key file and compares the indexes'
# contents: every item (organisation, kind, keyed hash, type, sealed value,
# seen count, first/last dates), every per-organisation count, every range
# bucket and every processed-file row. Batch ids and row ids are left out:
# where batches end depends on timing and on the commit policy, not on the
# data.
#
#   sh tests/scripts/index_same.sh REF_KENSA NEW_KENSA PATH...
#
# Prints "same" or the first differences and exits 1. INDEX_SAME_DIR
# (default /tmp/index-same.$$) keeps the two databases and dumps.
set -e
REF=${1:?usage: index_same.sh REF_KENSA NEW_KENSA PATH...}
NEW=${2:?usage: index_same.sh REF_KENSA NEW_KENSA PATH...}
shift 2
W=${INDEX_SAME_DIR:-/tmp/index-same.$$}
# both read the bundled rules of this checkout (a copied binary finds none)
KENSA_RULES_DIR=${KENSA_RULES_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/rules}
export KENSA_RULES_DIR
mkdir -p "$W"
rm -f "$W"/ref.db* "$W"/new.db* "$W/key"
head -c 32 /dev/urandom > "$W/key"
chmod 600 "$W/key"

# The index's contents in a canonical order, organisations by their keyed
# domain hash (row ids follow the order organisations were first seen).
dump() {
    sqlite3 "$1" <<'EOF'
.mode tabs
SELECT 'item', hex(o.dom_h), i.kind, hex(i.h), coalesce(i.type, ''), hex(i.enc), i.seen, i.first_ns, i.last_ns
  FROM items i JOIN orgs o ON o.id = i.org ORDER BY 2, 3, 4;
SELECT 'count', hex(o.dom_h), c.kind, c.type, c.distinct_n, c.seen, c.first_ns, c.last_ns
  FROM counts c JOIN orgs o ON o.id = c.org ORDER BY 2, 3, 4;
SELECT 'bucket', bucket, hex(enc) FROM rbuckets ORDER BY 2;
SELECT 'file', hex(path_h), size, mtime, hex(content_h) FROM files ORDER BY 2;
SELECT 'progress', count(*) FROM progress;
SELECT 'meta', k, v FROM meta WHERE k <> 'keycheck' ORDER BY 2;
EOF
}

for b in ref new; do
    [ "$b" = ref ] && K=$REF || K=$NEW
    "$K" index build -q -t 1 --db "$W/$b.db" --key "$W/key" "$@" 2> "$W/$b.log" || true
    dump "$W/$b.db" > "$W/$b.dump" 2>/dev/null || true
done
# an older reference has no progress table: its dump lacks that line
grep -v '^progress' "$W/ref.dump" > "$W/ref.cmp" || true
grep -v '^progress' "$W/new.dump" > "$W/new.cmp" || true
if cmp -s "$W/ref.cmp" "$W/new.cmp"; then
    echo "same ($(grep -c '^item' "$W/new.dump") items, $(grep -c '^count' "$W/new.dump") counts," \
         "$(grep -c '^bucket' "$W/new.dump") buckets, $(grep -c '^file' "$W/new.dump") files)"
    [ -n "$INDEX_SAME_DIR" ] || rm -rf "$W"
    exit 0
fi
echo "DIFFERENT: $W/ref.dump vs $W/new.dump"
diff "$W/ref.cmp" "$W/new.cmp" | head -20
exit 1
