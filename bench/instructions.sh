#!/usr/bin/env bash
# Instructions per engine command (issue 18's item 2), counted by callgrind, which counts the same
# whatever else the machine does: `cancel` of a proposed referral, COMMANDS (default 5,000) in
# transactions of PER_TRANSACTION (default 100), synchronous=NORMAL, on a file; only the cancels
# are collected (run_cancels in bench/cancel_workload.cpp), commits included.
#
# With a SHAPE (engine, reshaped, reshaped_intkey, floor), the same cancels hand-written through
# the SQLite C API on the engine's schema or a reshaped one instead (bench/schema_shapes.cpp).
#
# Usage: bench/instructions.sh [BUILD_DIR=build/release] [COMMANDS] [PER_TRANSACTION] [SHAPE]
# Needs a build with -DKAKEHASHI_BUILD_BENCH=ON (Release) and valgrind.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/release}
commands=${2:-5000}
per_txn=${3:-100}
shape=(${4:-})
binary="$build/bench/kakehashi_cancel_workload"
[[ ${#shape[@]} -eq 0 ]] || binary="$build/bench/kakehashi_schema_shapes"
[[ -x "$binary" ]] || { echo "instructions.sh: $binary not built (-DKAKEHASHI_BUILD_BENCH=ON)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*run_cancels*' \
  --callgrind-out-file="$out/callgrind.out" "$binary" "${shape[@]}" "$commands" "$per_txn" 2> "$out/valgrind.log"
total=$(grep -E '^summary:|^totals:' "$out/callgrind.out" | head -1 | awk '{print $2}')
echo "instructions${4:+ ($4)}: $total for $commands cancels ($per_txn per transaction): $((total / commands)) per command"
