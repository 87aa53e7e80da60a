#!/usr/bin/env python3
"""Runs the engine benchmark several times and reports each ratio per round.

This VM's speed drifts by 30-40% over minutes (disk and CPU), so medians taken from separate
repetitions compare figures measured at different moments. Here every round runs all five
benchmarks of a regime back to back (the order kakehashi_bench registers them in), the ratios are
taken within the round, and the report gives each ratio's median and range over the rounds.

    bench/engine_ratios.py [--rounds 5] [--bench build/release/bench/kakehashi_bench]

Prints a Markdown table (commands per second are medians over the rounds).
"""
import argparse
import json
import statistics
import subprocess
import sys

REGIMES = {"0": "FULL, 1 per commit", "1": "NORMAL, 1 per commit", "2": "NORMAL, 100 per transaction"}
NAMES = ["engine_cancel", "raw_engine_sql", "raw_audit_insert", "raw_transition", "raw_insert"]
# Which baseline each regime's target compares with, and the target (issue #5).
TARGETS = {"0": ("raw_audit_insert", 0.9), "1": ("raw_engine_sql", 0.85), "2": ("raw_engine_sql", 0.85)}


def one_round(binary):
    out = subprocess.run(
        [binary, "--benchmark_filter=engine_cancel|raw", "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    figures = {}
    for b in json.loads(out)["benchmarks"]:
        name, regime = b["run_name"].split("/")[:2]
        figures[(name, regime)] = b["items_per_second"]
    return figures


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--bench", default="build/release/bench/kakehashi_bench")
    a = p.parse_args()
    rounds = []
    for k in range(a.rounds):
        rounds.append(one_round(a.bench))
        print(f"round {k + 1}/{a.rounds} done", file=sys.stderr)

    def ratio(regime, base):
        return [r[("engine_cancel", regime)] / r[(base, regime)] for r in rounds]

    def fmt(values):
        return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"

    print("| regime | " + " | ".join(NAMES) + " | engine / raw_engine_sql | engine / raw_audit_insert "
          "| engine / raw_transition | engine / raw_insert | target |")
    print("|---" * (len(NAMES) + 6) + "|")
    for regime, label in REGIMES.items():
        cells = [f"{statistics.median(r[(n, regime)] for r in rounds):,.0f}" for n in NAMES]
        ratios = [fmt(ratio(regime, b)) for b in NAMES[1:]]
        base, target = TARGETS[regime]
        met = statistics.median(ratio(regime, base)) >= target
        verdict = f"{base} >= {target}x: {'met' if met else 'NOT met'}"
        print(f"| {label} | " + " | ".join(cells + ratios) + f" | {verdict} |")
    print(f"\n{a.rounds} rounds; ratio = median over rounds (min-max), each taken within one round.")


if __name__ == "__main__":
    main()
