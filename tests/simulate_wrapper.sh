#!/usr/bin/env bash
# scripts/simulate.sh with options keeps writing to its default folder (issue 14, defect 6: it
# used to write into the current directory, and a second run then failed), and never
# overwrites a database the user names.
# Usage: tests/simulate_wrapper.sh SIMULATOR SOURCE_DIR WORK_DIR   (ctest, label simulator)
set -euo pipefail
# What the tools print is read in English, whatever the machine's locale.
export LC_ALL=C.UTF-8
simulator=$(realpath "$1")
source_dir=$(realpath "$2")
work=$3
rm -rf "$work"
mkdir -p "$work/cwd" "$work/out"
cd "$work/cwd"
export KAKEHASHI_SIMULATOR="$simulator" KAKEHASHI_SIMULATION_DIR="$work/out"
fail() { echo "FAIL: $*" >&2; exit 1; }

for run in 1 2; do  # the second run replaces the first run's files
  "$source_dir/scripts/simulate.sh" --referrals 30 --days 60 --quiet >out.txt ||
    fail "run $run with options exited $?"
done
[[ -f "$work/out/sim.db" && -f "$work/out/report.html" ]] || fail "nothing in the default folder"
[[ -z "$(ls -A "$work/cwd" | grep -v '^out.txt$')" ]] || fail "files in the current directory: $(ls "$work/cwd")"

# A database the user names is theirs: written once, then refused rather than overwritten.
"$source_dir/scripts/simulate.sh" --referrals 30 --days 60 --quiet --db mine.db --no-report >out.txt
[[ -f mine.db ]] || fail "--db mine.db was not written"
if "$source_dir/scripts/simulate.sh" --referrals 30 --days 60 --quiet --db mine.db --no-report \
  >out.txt 2>err.txt; then
  fail "an existing --db was overwritten without --overwrite"
fi
grep -q "pass --overwrite" err.txt || fail "the refusal does not say how to overwrite: $(cat err.txt)"
echo "scripts/simulate.sh keeps its default folder and the user's files"
