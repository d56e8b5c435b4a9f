#!/usr/bin/env python3
"""Time per round and resident memory of a finished `fleet run` (issue 16's huge fleet).

  python3 tools/fleet_memory.py RUN        (RUN: runs/<name>-<timestamp>)

Reads the coordinator's metrics.jsonl (wall seconds per round) and the logs: each node logs its
RSS when its devices are ready and at each round's first task (that is, as the previous round
left it), the coordinator at each round's close. Prints per round the time and every process's
RSS, then RSS per virtual device beyond what the node held when its devices were ready (model,
data, code), and the growth from round 2 to the last round.
"""
import glob
import json
import os
import re
import sys


def fields(line):
    return dict(re.findall(r"([\w.]+)=(\S+)", line))


def main():
    run = sys.argv[1]
    rounds = [json.loads(l) for l in open(os.path.join(run, "coordinator", "metrics.jsonl"))]
    nodes = {}
    for path in sorted(glob.glob(os.path.join(run, "logs", "node-*.log"))):
        name = os.path.basename(path)[:-4]
        ready, per_round = None, {}
        for line in open(path):
            if "devices ready" in line:
                f = fields(line); ready = (int(f["devices"]), int(f["rss.bytes"]))
            elif "round's first task" in line:
                f = fields(line); per_round[int(f["round"])] = int(f["rss.bytes"])
        nodes[name] = (ready, per_round)
    coordinator = {}
    for line in open(os.path.join(run, "logs", "coordinator.log")):
        if "round closed" in line and "rss.bytes=" in line:
            f = fields(line); coordinator[int(f["round"])] = int(f["rss.bytes"])
    mib = lambda b: f"{b / 2**20:.0f}"
    names = sorted(nodes)
    print("| round | seconds | " + " | ".join(f"{n} RSS MiB (at its first task)" for n in names) + " | coordinator RSS MiB (at close) |")
    print("| --- | --- | " + " | ".join("---" for _ in names) + " | --- |")
    for r in rounds:
        k = r["round"]
        cells = [mib(nodes[n][1][k]) if k in nodes[n][1] else "-" for n in names]
        print(f"| {k} | {r['wallSeconds']:.1f} | " + " | ".join(cells) + f" | {mib(coordinator[k]) if k in coordinator else '-'} |")
    secs = [r["wallSeconds"] for r in rounds[1:]]
    if secs:
        print(f"\nrounds 2-{rounds[-1]['round']}: {sum(secs) / len(secs):.1f} s per round (median {sorted(secs)[len(secs) // 2]:.1f} s)")
    for n in names:
        (devices, base), per_round = nodes[n]
        if not per_round:
            continue
        last = max(per_round)
        print(f"{n}: {devices} devices, {mib(base)} MiB when ready; round {last}: {mib(per_round[last])} MiB = "
              f"{(per_round[last] - base) / devices / 1e6:.3f} MB per virtual device beyond that", end="")
        if 2 in per_round and last > 2:
            print(f"; growth round 2 → {last}: {100 * (per_round[last] - per_round[2]) / per_round[2]:+.1f} %")
        else:
            print()
    if coordinator:
        ks = sorted(coordinator)
        print(f"coordinator: {mib(coordinator[ks[0]])} MiB after round {ks[0]}, {mib(coordinator[ks[-1]])} MiB after round {ks[-1]}")


if __name__ == "__main__":
    main()
