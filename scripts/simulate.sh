#!/usr/bin/env bash
# Runs kakehashi's main job: installs missing Debian packages, configures and builds
# (incrementally, in build/release), then runs the referral simulator: a year of Vietnam -> Japan
# referrals on the real engine, written to an SQLite database whose audit log it verifies.
#
# Usage: scripts/simulate.sh [referral-simulator options]
#   The shipped scenario and agreements; the database and the HTML report go to build/simulation/
#   (replaced on each run) unless --db or --report (or --no-report) name others. Options are
#   passed on after --agreements data/agreements.json --scenario examples/simulator/scenario.json
#   (which they override); see scripts/simulate.sh --help.
set -euo pipefail

#   KAKEHASHI_SIMULATOR=PATH  run this simulator binary, without installing or building (tests)
#   KAKEHASHI_SIMULATION_DIR=DIR  the default output folder (default: build/simulation)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
out_dir=${KAKEHASHI_SIMULATION_DIR:-"$root/build/simulation"}
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}
simulator=${KAKEHASHI_SIMULATOR:-"$build_dir/examples/simulator/referral-simulator"}

if [[ -z "${KAKEHASHI_SIMULATOR:-}" ]]; then
  "$root/scripts/install-deps.sh" >&2
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DKAKEHASHI_BUILD_EXAMPLES=ON -DKAKEHASHI_BUILD_TOOLS=ON -DKAKEHASHI_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build_dir" --parallel "$jobs" --target referral-simulator 01_referral_lifecycle kakehashi_cli >&2
fi

# The default output folder stays unless the user names another file: a database the user names
# is never overwritten unless they pass --overwrite themselves.
defaults=()
has() { local a; for a in "${@:2}"; do [[ "$a" == "$1" || "$a" == "$1="* ]] && return 0; done; return 1; }
if ! has --db "$@"; then defaults+=(--db "$out_dir/sim.db" --overwrite); fi
if ! has --report "$@" && ! has --no-report "$@"; then defaults+=(--report "$out_dir/report.html"); fi
[[ ${#defaults[@]} -gt 0 ]] && mkdir -p "$out_dir"
exec "$simulator" \
  --agreements "$root/data/agreements.json" \
  --scenario "$root/examples/simulator/scenario.json" "${defaults[@]}" "$@"
