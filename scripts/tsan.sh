#!/usr/bin/env bash
# ThreadSanitizer over the engine's multi-threaded paths: builds the unit tests with
# -fsanitize=thread in build/sanitize-thread (tools and examples off) and runs the test cases that
# share an engine or a file between threads and processes: [concurrency] (threads and processes
# on one file, threads on one engine), [group] (group commit), [fault] (storage faults, a group
# among them) and the crash test (writers killed mid-load, some with four threads); then the
# [backends] cases of [concurrency] and [group] again on PostgreSQL. Any report
# stops the program and fails the script.
#
# Usage: scripts/tsan.sh [extra Catch2 arguments]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/sanitize-thread"
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

"$root/scripts/install-deps.sh"

flags="-fsanitize=thread -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DKAKEHASHI_WARNINGS_AS_ERRORS=ON \
  -DKAKEHASHI_BUILD_TESTS=ON -DKAKEHASHI_BUILD_EXAMPLES=OFF -DKAKEHASHI_BUILD_TOOLS=OFF \
  -DKAKEHASHI_BUILD_BENCH=OFF -DKAKEHASHI_INSTALL=OFF \
  "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread" >/dev/null
echo "== build (-fsanitize=thread)"
cmake --build "$build_dir" --parallel "$jobs" --target kakehashi_tests

echo "== test under ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
cd "$build_dir"
./tests/kakehashi_tests "[concurrency],[group],[fault]" "$@"
./tests/kakehashi_tests "writers killed mid-load lose no acknowledged command and leave a verifiable log" "$@"
# The same threads and processes on PostgreSQL (a throwaway server by pg_virtualenv).
pg_virtualenv -v 15 env KAKEHASHI_TEST_POSTGRES=postgresql:// \
  ./tests/kakehashi_tests "[concurrency][backends],[group][backends]" "$@"
