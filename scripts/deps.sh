#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages libpapyra needs to build, test and run.
# Sourced by scripts/demo.sh and scripts/test.sh; does nothing when all are there.
set -euo pipefail

PAPYRA_PACKAGES=(
    meson ninja-build pkg-config gcc clang
    libcjson-dev libhiredis-dev libcmocka-dev
    python3 python3-jinja2 python3-yaml python3-jsonschema
    redis-server redis-tools strace
    prometheus prometheus-node-exporter libmicrohttpd-dev
)

# Prints the packages of "$@" (default: PAPYRA_PACKAGES) that are not installed.
papyra_missing_packages() {
    local p
    [ $# -gt 0 ] || set -- "${PAPYRA_PACKAGES[@]}"
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

# Installs the packages of "$@" (default: PAPYRA_PACKAGES) that are missing.
papyra_install_deps() {
    local missing sudo=()
    missing=$(papyra_missing_packages "$@")
    [ -z "$missing" ] && return 0
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    echo "Installing: $(echo $missing)" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# scripts/fuzz.sh: libFuzzer is in the compiler-rt package of the installed
# clang's major version (libclang-rt-14-dev for clang 14).
papyra_install_fuzz_deps() {
    local major
    papyra_install_deps
    major=$(clang -dumpversion | cut -d. -f1)
    papyra_install_deps "libclang-rt-$major-dev"
}
