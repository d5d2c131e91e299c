#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages kensa needs, only those missing, and says so.
# Build: compilers and -dev libraries. Tests/bench: peer tools and oracles.
# Arguments name more packages (make bench adds clamav, a peer tool only
# the file-hunting benchmark runs).
set -e
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libyara-dev libvectorscan-dev libyaml-dev libsqlite3-dev libcurl4-openssl-dev
libmicrohttpd-dev libpcre2-dev zlib1g-dev libzstd-dev libssl-dev
libjansson-dev libjson-c-dev
libgmime-3.0-dev libarchive-dev libpoppler-glib-dev libgit2-dev libsodium-dev
libgnutls28-dev librdkafka-dev libnats-dev libpff-dev libpst-dev libytnef0-dev
libolecf-dev libxml2-dev libphonenumber-dev g++
nats-server dnsmasq wrk hyperfine chromium chromium-driver python3-jsonschema
jq yara ripgrep libevtx-utils python3-evtx time zstd gzip curl $*"
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
# Node.js may come from another packager (nodesource): ask for the command.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "deps: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
