#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: builds libpapyra and the papyra CLI, runs the quickstart
# workload against the embedded default store (a JSON-lines file under
# ./papyra-data/), and shows the counters it made from another process.
#
#   scripts/demo.sh [BUILD_DIR]
#
# Installs the Debian packages it needs first (apt-get; sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
papyra_install_deps

build=${1:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

"$build/examples/quickstart"
"$build/cli/papyra" persistence scan
"$build/cli/papyra" metrics persistence
