#!/usr/bin/env bash
# The source's layers (README, "Other folders"): a folder of src/ includes only the folders below
# it, never one above. common is the bottom; the engine sits on everything but fhir.
# Usage: tests/layers.sh SOURCE_DIR   (ctest layers.includes, label unit)
set -euo pipefail
src="$1/src"
declare -A allowed=(
  [common]="common"
  [lifecycle]="common lifecycle"
  [agreements]="common agreements"
  [consent]="common consent"
  [store]="common store"
  [audit]="common store audit"
  [engine]="common lifecycle agreements consent store audit engine"
  [fhir]="common consent fhir"
)
status=0
for dir in "$src"/*/; do
  layer=$(basename "$dir")
  [[ -n "${allowed[$layer]+x}" ]] || { echo "src/$layer: a folder the layer map does not know" >&2; status=1; continue; }
  while IFS= read -r line; do
    file=${line%%:*}
    used=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${line#*:}")
    [[ "$used" == kakehashi ]] && continue  # the public headers
    if [[ " ${allowed[$layer]} " != *" $used "* ]]; then
      echo "${file#"$1"/}: includes src/$used/, a layer above src/$layer/" >&2
      status=1
    fi
  done < <(grep -rHE '^#include "[a-z_]+/' "$dir" || true)
done
[[ -z $(find "$src" -maxdepth 1 -type f) ]] || { echo "files directly in src/: put them in a layer" >&2; status=1; }
exit $status
