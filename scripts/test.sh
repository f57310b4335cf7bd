#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libpapyra and runs the whole test suite; the Redis tests start
# private redis-servers on 127.0.0.1 on free ports.
#
#   scripts/test.sh [BUILD_DIR] [extra meson setup options...]
#
# Installs the Debian packages it needs first (apt-get; sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
papyra_install_deps

build=${1:-build}
shift || true
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$@"
elif [ $# -gt 0 ]; then
    meson configure "$build" "$@"
fi
ninja -C "$build"

# The Redis and CLI tests start their own redis-server on 127.0.0.1 on a free
# port (tests/redis-harness.c), so each can stop and restart it; here we only
# make sure they run and never skip.
export PAPYRA_TEST_REQUIRE_REDIS=1
export PAPYRA_TEST_REQUIRE_STRACE=1
export PAPYRA_TEST_REQUIRE_PROMETHEUS=1

meson test -C "$build" --print-errorlogs --num-processes 2
