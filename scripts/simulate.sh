#!/usr/bin/env bash
# Runs kakehashi's main job: installs missing Debian packages, configures and builds
# (incrementally, in build/release), then runs the referral walk-through.
#
# Until the referral simulator exists, the main job is examples/01_referral_lifecycle: one
# referral from K Hospital (Hanoi) to Shonan Kamakura (Kanagawa) through every state.
#
# Usage: scripts/simulate.sh [arguments passed to the program]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$root/build/release"
jobs=${KAKEHASHI_JOBS:-$(nproc 2>/dev/null || echo 2)}

"$root/scripts/install-deps.sh" >&2

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DKAKEHASHI_BUILD_EXAMPLES=ON -DKAKEHASHI_BUILD_TOOLS=ON -DKAKEHASHI_BUILD_TESTS=OFF >/dev/null
cmake --build "$build_dir" --parallel "$jobs" --target 01_referral_lifecycle kakehashi_cli >&2

exec "$build_dir/examples/01_referral_lifecycle" "$@"
