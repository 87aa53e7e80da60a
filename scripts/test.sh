#!/usr/bin/env bash
# Runs every kakehashi test: installs missing Debian packages, configures, builds with warnings
# as errors, runs ctest (unit tests and the package-consumer tests) and prints ctest's summary.
# Exits non-zero when anything fails.
#
# Usage: scripts/test.sh [--build-dir DIR] [--slow] [-- extra ctest arguments]
#   --slow             also run the tests labelled slow (long crash-consistency runs)
#   KAKEHASHI_JOBS=N   parallel build and test jobs (default: number of cores)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/test"
ctest_args=()
label_args=(-LE slow)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --slow) label_args=(); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

"$root/scripts/install-deps.sh"

echo "== configure ($build_dir)"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DKAKEHASHI_WARNINGS_AS_ERRORS=ON -DKAKEHASHI_BUILD_TESTS=ON -DKAKEHASHI_BUILD_EXAMPLES=ON \
  -DKAKEHASHI_BUILD_TOOLS=ON -DKAKEHASHI_BUILD_BENCH=ON -DKAKEHASHI_INSTALL=ON >/dev/null

echo "== build (warnings are errors; the benchmarks are built, not run)"
cmake --build "$build_dir" --parallel "$jobs"

echo "== test"
cd "$build_dir"
ctest --output-on-failure --parallel "$jobs" "${label_args[@]}" "${ctest_args[@]}"
