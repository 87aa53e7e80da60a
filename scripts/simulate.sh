#!/usr/bin/env bash
# Runs kakehashi's main job: installs missing Debian packages, configures and builds
# (incrementally, in build/release), then runs the referral simulator: a year of Vietnam -> Japan
# referrals on the real engine, written to an SQLite database whose audit log it verifies.
#
# Usage: scripts/simulate.sh [referral-simulator options]
#   Without options: the shipped scenario and agreements; the database and the HTML report go to
#   build/simulation/ (replaced on each run). With options, they are passed on as given, after
#   --agreements data/agreements.json --scenario examples/simulator/scenario.json (which later
#   options override); see scripts/simulate.sh --help.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
out_dir="$root/build/simulation"
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

"$root/scripts/install-deps.sh" >&2

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DKAKEHASHI_BUILD_EXAMPLES=ON -DKAKEHASHI_BUILD_TOOLS=ON -DKAKEHASHI_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target referral-simulator 01_referral_lifecycle kakehashi_cli >&2

if [ $# -eq 0 ]; then
  mkdir -p "$out_dir"
  set -- --db "$out_dir/sim.db" --overwrite --report "$out_dir/report.html"
fi
exec "$build_dir/examples/simulator/referral-simulator" \
  --agreements "$root/data/agreements.json" \
  --scenario "$root/examples/simulator/scenario.json" "$@"
