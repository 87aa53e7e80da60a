#!/usr/bin/env bash
# Builds kakehashi's libFuzzer targets with clang-14 (address and undefined-behaviour sanitizers
# on) in build/fuzz, and runs each for a bounded time on its seed corpus and dictionary.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60 (CI-sized); run longer by hand (900 for the 15-minute runs)
#   TARGET              agreements, consent, engine, database, fhir_consent (default: all)
# New inputs found go to build/fuzz/corpus/<target>/ (the seeds in fuzz/corpus/ stay as they
# are); a crash leaves its input in build/fuzz/ and fails the script. Keep such an input as a
# regression case in the ordinary tests.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(agreements consent engine database fhir_consent)
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

"$root/scripts/install-deps.sh" --with clang-14 libclang-rt-14-dev

flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g -O1"
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" \
  -DKAKEHASHI_BUILD_FUZZERS=ON -DKAKEHASHI_BUILD_TESTS=OFF -DKAKEHASHI_BUILD_EXAMPLES=OFF \
  -DKAKEHASHI_BUILD_TOOLS=OFF -DKAKEHASHI_INSTALL=OFF >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target "${targets[@]/%/_fuzz}"

for t in "${targets[@]}"; do
  mkdir -p "$build_dir/corpus/$t"
  echo "== $t: ${seconds}s"
  case $t in
    engine) dict=() ;;  # its bytes are opcodes, not text
    database) dict=(-dict="$root/fuzz/database.dict") ;;
    *) dict=(-dict="$root/fuzz/json.dict") ;;
  esac
  (cd "$build_dir" && "./fuzz/${t}_fuzz" -max_total_time="$seconds" "${dict[@]}" \
    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$build_dir/corpus/$t" "$root/fuzz/corpus/$t")
done
