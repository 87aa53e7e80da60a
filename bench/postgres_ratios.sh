#!/usr/bin/env bash
# The engine on PostgreSQL beside hand-written libpq code and beside SQLite (issue 17's
# benchmark), and the chain designs it compares, in one run on a throwaway server (pg_virtualenv,
# 127.0.0.1), with the ratios.
# Usage: bench/postgres_ratios.sh [BUILD_DIR=build/bench]   (a Release build with
# -DKAKEHASHI_BUILD_BENCH=ON; needs postgresql-15)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build/bench}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pg_virtualenv -v 15 env KAKEHASHI_BENCH_POSTGRES=postgresql:// \
  "$build/bench/kakehashi_bench" --benchmark_filter='pg_' --benchmark_out="$out" \
  --benchmark_out_format=json --benchmark_repetitions="${REPETITIONS:-3}" >&2
python3 - "$out" <<'PY'
import json, sys
# The median of the repetitions (each one run of 3,000 commands); with one repetition, the run.
benchmarks = json.load(open(sys.argv[1]))["benchmarks"]
medians = [b for b in benchmarks if b.get("aggregate_name") == "median"]
runs = {b["name"]: b["commands_per_second"] for b in (medians or benchmarks)}
def rate(name): return next(v for k, v in runs.items() if k.startswith(name + "/"))
print("commands per second, median of the repetitions, full durability")
print(f"{'clients':>7} {'engine PG':>10} {'libpq':>10} {'ratio':>6} {'engine SQLite':>14} {'PG/SQLite':>9}")
for c in (1, 4, 16):
    e = rate(f"pg_engine/backend:1/clients:{c}")
    h = rate(f"pg_handwritten/design:0/clients:{c}")
    s = rate(f"pg_engine/backend:0/clients:{c}")
    print(f"{c:>7} {e:>10.0f} {h:>10.0f} {e / h:>6.2f} {s:>14.0f} {e / s:>9.2f}")
print()
print("one engine shared by the clients' threads (group commit), commands per second")
for c in (4, 16):
    print(f"{c:>7} {rate(f'pg_engine_shared/clients:{c}'):>10.0f}")
print()
print("the chain designs, hand-written libpq, commands per second (ratio to the table lock)")
designs = ("one chain, LOCK TABLE (kept)", "one chain, head row FOR UPDATE", "8 chains, head rows + blocks")
print(f"{'clients':>7} " + " ".join(f"{d:>31}" for d in designs))
for c in (1, 4, 16):
    base = rate(f"pg_handwritten/design:0/clients:{c}")
    cells = []
    for d in range(3):
        v = rate(f"pg_handwritten/design:{d}/clients:{c}")
        cells.append(f"{v:>22.0f} ({v / base:>5.2f}x)")
    print(f"{c:>7} " + " ".join(cells))
PY
