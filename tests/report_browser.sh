#!/usr/bin/env bash
# The simulator's HTML report in a real browser (issue 20): the shipped scenario's report, in
# each language of its switch and at 1,400 and 360 pixels wide, rendered by Debian's chromium
# (headless) and checked by tests/browser/check_report.mjs: nothing wider than the page, no text
# out of its box, no chart label outside its chart or on another, Japanese and Vietnamese drawn
# by fonts that have their glyphs. Then the checker itself, on a page known to be broken, must
# find each kind of fault. Screenshots go to WORK_DIR/screenshots for a person to look at.
#
# Usage: tests/report_browser.sh SIMULATOR SOURCE_DIR MODULES_DIR WORK_DIR  (ctest report.browser)
#   MODULES_DIR: where scripts/test.sh ran npm ci of tests/browser (puppeteer-core)
# Needs chromium, fonts-noto-cjk and fonts-noto-core (scripts/test.sh installs them) and node.
set -euo pipefail

simulator=$(realpath "$1")
source_dir=$(realpath "$2")
modules=$(realpath "$3")
work=$4
chromium=${KAKEHASHI_CHROMIUM:-$(command -v chromium || true)}
if [[ -z "$chromium" ]]; then
  echo "report_browser: chromium is not installed (scripts/test.sh installs it)" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work"
cp "$source_dir/tests/browser/check_report.mjs" "$modules/"
check() { node "$modules/check_report.mjs" --chromium "$chromium" "$@"; }

# The report as scripts/simulate.sh writes it, Vietnamese first (the others one click away).
"$simulator" --agreements "$source_dir/data/agreements.json" \
  --scenario "$source_dir/examples/simulator/scenario.json" --db "$work/sim.db" \
  --report "$work/report.html" --lang vi --quiet >/dev/null
check --screenshots "$work/screenshots" "$work/report.html"

# The test of the test: each kind of fault, on a page made to have it, is reported.
check --screenshots "$work/broken" --widths 400 \
  --expect page-width,text-overflow,chart-shown,chart-width,chart-label-outside,chart-label-overlap,language,font \
  "$source_dir/tests/browser/broken_report.html"
echo "report_browser: screenshots in $work/screenshots"
