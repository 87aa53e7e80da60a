#!/usr/bin/env python3
"""Group commit at FULL: each submitter count beside one submitter and beside the JS peer.

This VM's speed drifts by 30-40% over minutes, so each round runs every row of
engine_group_commit (1, 2, 4, 8, 16 submitters at FULL; 1 and 16 at NORMAL) and, with --peer,
the XState + better-sqlite3 peer (bench/peer) with 1 and 16 workers, back to back; ratios are
taken within a round and reported as median (min-max) over the rounds.

    bench/group_commit_ratios.py [--rounds 5] [--bench build/release/bench/kakehashi_bench]
                                 [--peer build/peer]   # npm ci in a copy of bench/peer

Prints a Markdown table.
"""
import argparse
import json
import statistics
import subprocess
import sys


def engine_round(binary):
    out = subprocess.run([binary, "--benchmark_filter=engine_group_commit", "--benchmark_format=json"],
                         check=True, capture_output=True, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        parts = dict(p.split(":") for p in b["run_name"].split("/")[1:] if ":" in p)
        rows[(int(parts["full"]), int(parts["submitters"]))] = b
    return rows


def peer_round(directory, workers):
    out = subprocess.run(["node", "xstate_peer.mjs", "--commands", "3000", "--workers", str(workers)],
                         cwd=directory, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def fmt(values):
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--bench", default="build/release/bench/kakehashi_bench")
    p.add_argument("--peer", help="a directory with bench/peer installed (npm ci)")
    a = p.parse_args()
    rounds = []
    for k in range(a.rounds):
        r = {"engine": engine_round(a.bench)}
        if a.peer:
            r["peer"] = {w: peer_round(a.peer, w) for w in (1, 16)}
        rounds.append(r)
        print(f"round {k + 1}/{a.rounds} done", file=sys.stderr)

    def rate(r, key):
        return r["engine"][key]["commands_per_second"]

    def peer_best(r):
        return max(x["commands_per_second"] for x in r["peer"].values())

    head = "| durability | submitters | commands/s | x 1 submitter (same durability) | p50 ms | p99 ms | commands per commit |"
    if a.peer:
        head += " x peer (its best of 1 and 16 workers) |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for key in sorted(rounds[0]["engine"], key=lambda k: (-k[0], k[1])):
        full, n = key
        cells = [
            "FULL" if full else "NORMAL", str(n),
            f"{statistics.median(rate(r, key) for r in rounds):,.0f}",
            fmt([rate(r, key) / rate(r, (full, 1)) for r in rounds]),
            f"{statistics.median(r['engine'][key]['p50_ms'] for r in rounds):.2f}",
            f"{statistics.median(r['engine'][key]['p99_ms'] for r in rounds):.2f}",
            f"{statistics.median(r['engine'][key]['per_commit'] for r in rounds):.1f}",
        ]
        if a.peer:
            cells.append(fmt([rate(r, key) / peer_best(r) for r in rounds]) if full else "")
        print("| " + " | ".join(cells) + " |")
    if a.peer:
        for w in (1, 16):
            values = [r["peer"][w]["commands_per_second"] for r in rounds]
            p99 = statistics.median(r["peer"][w]["p99_ms"] for r in rounds)
            print(f"\npeer (XState + better-sqlite3, FULL) with {w} worker(s): "
                  f"{statistics.median(values):,.0f} commands/s, p99 {p99:.2f} ms")
    print(f"\n{a.rounds} rounds; ratio = median over rounds (min-max), each taken within one round.")


if __name__ == "__main__":
    main()
