#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Real web applications from Debian packages, unpacked (never installed)
# into a cache outside the repository, for measuring the web shell rules'
# false positives (tests/unit/test_yara_quality.c). `apt-get download`
# needs no root install; without network or apt the script fails and the
# test reports SKIP.
#   scripts/benign-trees.sh [DIR]   (default $KENSA_BENIGN_CACHE or ~/.cache/kensa/benign-trees)
set -e
dir=${1:-${KENSA_BENIGN_CACHE:-$HOME/.cache/kensa/benign-trees}}
pkgs="wordpress phpmyadmin roundcube-core mediawiki dokuwiki tomcat10-admin asp.net-examples"
mkdir -p "$dir/deb" "$dir/x"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "no apt-get/dpkg" >&2; exit 1; }
cd "$dir/deb"
for p in $pkgs; do
    ls "$p"_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null 2>&1 || echo "could not download $p" >&2
done
for f in *.deb; do
    n=${f%%_*}
    [ -d "$dir/x/$n" ] || { mkdir -p "$dir/x/$n.tmp" && dpkg -x "$f" "$dir/x/$n.tmp" && mv "$dir/x/$n.tmp" "$dir/x/$n"; }
done
ls "$dir/x" | grep -q . || exit 1
echo "$dir/x"
