#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Rewrites the generated table of docs/CONFIG.md from the option registry
# (`kensa help options --markdown`); test_cli fails while they differ.
set -e
BUILD=${BUILD:-build}
doc=docs/CONFIG.md
tmp=$(mktemp)
"$BUILD/kensa" help options --markdown > "$tmp.table"
awk -v table="$tmp.table" '
    /^<!-- BEGIN kensa help options/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
    /^<!-- END kensa help options/ { skip = 0 }
    !skip { print }' "$doc" > "$tmp"
mv "$tmp" "$doc"
rm -f "$tmp.table"
