#!/usr/bin/env bash
# Runs every kakehashi test: installs missing Debian packages, configures, builds with warnings
# as errors, runs ctest (unit, tool, example, simulator, FHIR-validation, PostgreSQL (on a
# throwaway server that pg_virtualenv starts and drops), browser (the HTML report in headless
# chromium) and package-consumer tests; the FHIR validators and the browser driver come from
# npm, pinned by tests/fhir/package-lock.json and tests/browser/package-lock.json) and prints
# ctest's summary.
# Exits non-zero when anything fails.
#
# Usage: scripts/test.sh [--build-dir DIR] [--slow] [--sanitize=LIST] [-- extra ctest arguments]
#   --slow             also run the tests labelled slow (long crash-consistency runs)
#   --sanitize=LIST    build with -fsanitize=LIST (address,undefined or thread) in its own build
#                      directory and run the suite under it; any report fails the run. The
#                      package tests (a consumer built without the sanitizer) are skipped.
#   KAKEHASHI_JOBS=N   parallel build and test jobs (default: number of cores)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/test"
ctest_args=()
label_args=(-LE slow)
sanitize=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --slow) label_args=(); shift ;;
    --sanitize=*) sanitize=${1#--sanitize=}; shift ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

config_args=(-DKAKEHASHI_BUILD_BENCH=ON -DKAKEHASHI_INSTALL=ON)
if [[ -n "$sanitize" ]]; then
  case "$sanitize" in
    address|undefined|address,undefined|undefined,address|thread) ;;
    *) echo "test.sh: --sanitize=$sanitize: expected address,undefined or thread" >&2; exit 2 ;;
  esac
  [[ "$build_dir" == "$root/build/test" ]] && build_dir="$root/build/sanitize-${sanitize//,/-}"
  flags="-fsanitize=$sanitize -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g"
  config_args=(-DKAKEHASHI_BUILD_BENCH=OFF -DKAKEHASHI_INSTALL=OFF
    "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=$sanitize")
  if [[ ${#label_args[@]} -gt 0 ]]; then label_args=(-LE 'slow|package'); else label_args=(-LE package); fi
  # Any report stops the program with a non-zero status, which fails its test.
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
fi

# With the packages of the browser test (label browser): Debian's chromium, a Japanese font
# (fonts-noto-cjk) and a Latin font with Vietnamese diacritics (fonts-noto-core's Noto Sans).
"$root/scripts/install-deps.sh" --with chromium fonts-noto-cjk fonts-noto-core

# The FHIR validators the tests run (label fhir), from the npm registry, pinned by
# tests/fhir/package-lock.json: installed again only when the lockfile changes.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  "$root/scripts/install-deps.sh" --with nodejs npm
fi
validators="$build_dir/fhir-validators"
mkdir -p "$validators"
cp "$root/tests/fhir/"*.mjs "$validators/"  # validate.mjs, serve_client.mjs
if ! cmp -s "$root/tests/fhir/package-lock.json" "$validators/package-lock.json" ||
   [[ ! -d "$validators/node_modules/@medplum/core" ]]; then
  echo "== FHIR validators (npm ci into $validators)"
  cp "$root/tests/fhir/package.json" "$root/tests/fhir/package-lock.json" "$validators/"
  (cd "$validators" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The browser test's driver: puppeteer-core (no browser download), pinned by
# tests/browser/package-lock.json, installed again only when the lockfile changes.
browser_tests="$build_dir/browser-tests"
mkdir -p "$browser_tests"
if ! cmp -s "$root/tests/browser/package-lock.json" "$browser_tests/package-lock.json" ||
   [[ ! -d "$browser_tests/node_modules/puppeteer-core" ]]; then
  echo "== browser test driver (npm ci into $browser_tests)"
  cp "$root/tests/browser/package.json" "$root/tests/browser/package-lock.json" "$browser_tests/"
  (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== configure ($build_dir)"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DKAKEHASHI_WARNINGS_AS_ERRORS=ON -DKAKEHASHI_BUILD_TESTS=ON -DKAKEHASHI_BUILD_EXAMPLES=ON \
  -DKAKEHASHI_BUILD_TOOLS=ON "-DKAKEHASHI_FHIR_VALIDATORS=$validators" \
  "-DKAKEHASHI_BROWSER_TESTS=$browser_tests" "${config_args[@]}" >/dev/null

echo "== build (warnings are errors${sanitize:+, -fsanitize=$sanitize})"
cmake --build "$build_dir" --parallel "$jobs"

echo "== test"
cd "$build_dir"
ctest --output-on-failure --parallel "$jobs" "${label_args[@]}" "${ctest_args[@]}"
