#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libpapyra and runs the whole test suite against a private
# redis-server on 127.0.0.1 (a free port, stopped on exit).
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

redis_dir=$(mktemp -d)
cleanup() {
    if [ -f "$redis_dir/redis.pid" ]; then
        kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null || true
    fi
    rm -rf "$redis_dir"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$redis_dir" --save "" --appendonly no \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
export PAPYRA_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
export PAPYRA_TEST_REQUIRE_REDIS=1

meson test -C "$build" --print-errorlogs --num-processes 2
