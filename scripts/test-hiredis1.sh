#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the whole suite against hiredis 1.x. Debian bookworm packages hiredis
# 0.14, so this builds 1.2.0 (Debian trixie's) from the archive's source
# tarball, checksum verified, into a directory of its own, and links a
# separate build of libpapyra against it. The backend uses only API that
# both versions have; this proves it. hiredis is built with SSL (USE_SSL=1),
# so this build has hiredis_ssl and runs the TLS tests (redis-tls) for real.
#
#   scripts/test-hiredis1.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
papyra_install_deps
# hiredis's SSL part and the test certificates (tests/test-redis-tls.c).
papyra_install_deps libssl-dev openssl

build=${1:-build-hiredis1}
version=1.2.0
sha256=82ad632d31ee05da13b537c124f819eb88e18851d9cb0c30ae0552084811588c
deps=$PWD/$build-deps
prefix=$deps/hiredis-$version

# The source comes from the Debian archive this machine's apt configuration
# uses: where apt would fetch hiredis's own package from, its pool holds the
# 1.2.0 source too.
archive_uri() {
    apt-get --print-uris download libhiredis-dev 2>/dev/null |
        sed -n "s|^'\(.*\)/pool/.*|\1|p" | head -n 1
}

# hiredis_ssl.pc: an older cached build made without SSL is made again.
if [ ! -f "$prefix/lib/pkgconfig/hiredis_ssl.pc" ]; then
    tarball=$deps/hiredis_${version}.orig.tar.gz
    # A tarball already fetched is used again when its checksum matches.
    if [ -f "$tarball" ] && ! echo "$sha256  $tarball" | sha256sum -c --quiet 2>/dev/null; then
        rm -f "$tarball"
    fi
fi
if [ ! -f "$prefix/lib/pkgconfig/hiredis_ssl.pc" ] && [ ! -f "${tarball:-}" ]; then
    archive=$(archive_uri)
    if [ -z "$archive" ]; then
        sudo=()
        [ "$(id -u)" -eq 0 ] || sudo=(sudo)
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        archive=$(archive_uri)
    fi
    if [ -z "$archive" ]; then
        echo "test-hiredis1: apt knows no Debian archive to take hiredis $version from" >&2
        exit 1
    fi
    url=$archive/pool/main/h/hiredis/hiredis_${version}.orig.tar.gz
    mkdir -p "$deps"
    python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
        "$url" "$tarball"
fi
if [ ! -f "$prefix/lib/pkgconfig/hiredis_ssl.pc" ]; then
    echo "$sha256  $tarball" | sha256sum -c --quiet
    rm -rf "$deps/src" && mkdir -p "$deps/src"
    tar xzf "$tarball" -C "$deps/src" --strip-components=1
    # hiredis's Makefile installs into $LIBRARY_PATH when it is set: keep it out.
    # USE_SSL=1 builds libhiredis_ssl too (needs libssl-dev): rediss:// in this build.
    env -u LIBRARY_PATH make -C "$deps/src" -j2 USE_SSL=1 PREFIX="$prefix" >/dev/null
    env -u LIBRARY_PATH make -C "$deps/src" USE_SSL=1 PREFIX="$prefix" install >/dev/null
fi
if [ ! -f "$build/build.ninja" ]; then
    PKG_CONFIG_PATH=$prefix/lib/pkgconfig meson setup "$build" -Dredis=enabled
fi
ninja -C "$build"
# The point of this run includes TLS: the build must have found hiredis_ssl.
if ! grep -q -- -DPAPYRA_HAVE_REDIS_TLS "$build/build.ninja"; then
    echo "test-hiredis1: $build was configured without hiredis_ssl (rediss://);" \
        "remove it and run again" >&2
    exit 1
fi
# The library must load this hiredis (soname libhiredis.so.1.1.0), not the system's 0.14.
# Whole, not piped into grep -q: under pipefail, grep leaving early would
# fail the pipeline with ldd's SIGPIPE.
loaded=$(ldd "$build/src/libpapyra.so")
if ! grep -q "libhiredis.so.1.1.0 => .*$(basename "$deps")/" <<<"$loaded"; then
    echo "test-hiredis1: $build does not load the hiredis of $prefix" >&2
    echo "$loaded" >&2
    exit 1
fi

export PAPYRA_TEST_REQUIRE_REDIS=1
export PAPYRA_TEST_REQUIRE_STRACE=1
meson test -C "$build" --print-errorlogs --num-processes 2
