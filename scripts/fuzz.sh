#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the fuzz targets of fuzz/ with clang, libFuzzer, AddressSanitizer
# and UndefinedBehaviorSanitizer (in build-fuzz, or $PAPYRA_FUZZ_BUILD), and
# runs each for SECONDS (default 60) over a copy of its committed corpus,
# two at a time. Exits 1 when any target finds something: its log, and the
# input that broke it, are kept in <build>/findings/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: json record url ...
#
# Installs the Debian packages it needs first (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
papyra_install_fuzz_deps

seconds=${1:-60}
shift || true
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 64
    ;;
esac
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for d in fuzz/corpus/*/; do
        targets+=("$(basename "$d")")
    done
fi

build=${PAPYRA_FUZZ_BUILD:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
    # libFuzzer needs clang; the library gets -fsanitize=fuzzer-no-link from
    # -Dfuzzing=true. Shared objects keep the sanitizers' symbols undefined.
    CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dtests=disabled -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$build" $(printf 'fuzz/fuzz-%s ' "${targets[@]}")

# Leaks are findings too; UBSan stops at the first report, as in .ci/run.
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:print_summary=1:halt_on_error=1

# The store targets write and fsync files on every run: on tmpfs when there is one.
tmpbase=${TMPDIR:-/tmp}
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    tmpbase=/dev/shm
fi
work=$(mktemp -d "$tmpbase/papyra-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
findings="$build/findings"

# Runs one target over a copy of its corpus (what it learns is not committed).
run_target() {
    local name=$1 dir="$work/$1"
    rm -rf "${findings:?}/$name" # what an earlier run found
    mkdir -p "$dir/corpus" "$dir/tmp" "$dir/artifacts"
    cp fuzz/corpus/"$name"/* "$dir/corpus/"
    # Tokens the mutations insert: fuzz/dict/url.dict, records.dict for the others.
    local dict=fuzz/dict/records.dict
    [ "$name" != url ] || dict=fuzz/dict/url.dict
    [ "$name" != metrics-file ] || dict=
    # The targets make their private directories under TMPDIR.
    if TMPDIR="$dir/tmp" "$build/fuzz/fuzz-$name" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=30 -max_len=65536 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        ${dict:+-dict="$dict"} "$dir/corpus" >"$dir/log" 2>&1; then
        echo "fuzz-$name: $(find "$dir/corpus" -type f | wc -l) inputs in its corpus, no finding" \
            "($(grep -E '^stat::number_of_executed_units' "$dir/log" | awk '{print $2}') runs)"
        return 0
    fi
    mkdir -p "$findings/$name"
    cp "$dir/log" "$dir"/artifacts/* "$findings/$name/" 2>/dev/null || true
    echo "fuzz-$name: FINDING; log and input in $findings/$name/" >&2
    grep -E -A25 'ERROR: |property failed|SUMMARY' "$dir/log" | head -60 >&2
    return 1
}

# Two at a time: the machine's two cores.
failed=0
running=0
for name in "${targets[@]}"; do
    [ -x "$build/fuzz/fuzz-$name" ] || { echo "no fuzz target $name" >&2; exit 64; }
    run_target "$name" &
    running=$((running + 1))
    if [ "$running" -ge 2 ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
exit "$failed"
