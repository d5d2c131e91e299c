#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Real web applications from Debian packages, unpacked (never installed)
# into a cache outside the repository, for measuring the web shell rules'
# false positives (tests/unit/test_yara_quality.c). `apt-get download`
# needs no root install; without network or apt the script fails and the
# test reports SKIP.
#   scripts/benign-trees.sh [DIR]   (default $KENSA_BENIGN_CACHE or ~/.cache/kensa/benign-trees)
#   scripts/benign-trees.sh --can-fetch   exit 0 when the trees are cached or
#       a package can be downloaded now (tests/expected-skips: debian-mirror)
set -e
can_fetch=
if [ "$1" = --can-fetch ]; then can_fetch=1; shift; fi
dir=${1:-${KENSA_BENIGN_CACHE:-$HOME/.cache/kensa/benign-trees}}
# one folder per package list: a checkout with an older list sharing the
# cache must not scan (or unpack) packages its rules were never measured on
dir=$dir/v2
# PHP applications (adminer is the database console shell kits imitate), JSP
# (Tomcat's admin pages and examples), ASP.NET (Mono's samples)
php="wordpress phpmyadmin roundcube-core mediawiki dokuwiki adminer postfixadmin cacti
 zabbix-frontend-php icingaweb2 phpldapadmin tt-rss gosa"
pkgs="$php tomcat10-admin tomcat10-examples asp.net-examples mono-xsp4-base"
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "no apt-get/dpkg" >&2; exit 1; }
if [ -n "$can_fetch" ]; then
    missing=
    for p in $pkgs; do [ -d "$dir/x/$p" ] || missing=1; done
    [ -z "$missing" ] && exit 0
    t=$(mktemp -d)
    rc=0
    (cd "$t" && timeout 120 apt-get download adminer >/dev/null 2>&1) || rc=1
    rm -rf "$t"
    exit $rc
fi
mkdir -p "$dir/deb" "$dir/x"
cd "$dir/deb"
for p in $pkgs; do
    ls "$p"_*.deb >/dev/null 2>&1 || apt-get download "$p" >/dev/null 2>&1 || echo "could not download $p" >&2
done
for p in $pkgs; do
    for f in "$p"_*.deb; do
        [ -f "$f" ] || continue
        [ -d "$dir/x/$p" ] || { rm -rf "$dir/x/$p.tmp" && mkdir -p "$dir/x/$p.tmp" && dpkg -x "$f" "$dir/x/$p.tmp" && mv "$dir/x/$p.tmp" "$dir/x/$p"; }
    done
done
ls "$dir/x" | grep -q . || exit 1
echo "$dir/x"
