#!/usr/bin/env python3
"""Combines the JSON files of tools/results-table.sh into BENCHMARKS.md's results table.

    python3 tools/results_summary.py results/            # every <row>.json in the folder

Per row (file × policy): mean test accuracy ± the 95 % confidence interval of the mean over seeds
(Student t), the per-seed values, the rates and schedule chosen on the held-out slice, the planned
and measured peak, conv weights updated per step and over the run. Then, within each file, the
paired differences dgsu − static and dgsu − random over the same seeds (same data order, init and
held-out choice per seed), with their 95 % interval: the comparison the paper's claim is about.
A row without its .json yet (still running, or stopped) is read from its .log: accuracies and
rates only (peaks and coverage show as 0). A row split over processes (`engine-bench results
--first-seed`) writes ROW.PART.json files: they join ROW, sorted by seed. Standard library only.
"""
import json
import math
import os
import re
import statistics
import sys

T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262]


def ci95(xs):
    if len(xs) < 2:
        return 0.0
    t = T975[len(xs) - 2] if len(xs) - 1 <= len(T975) else 1.96
    return t * statistics.stdev(xs) / math.sqrt(len(xs))


def kb(b):
    return f"{b / 1024:.1f} KB" if b < 1 << 20 else f"{b / (1 << 20):.2f} MB"


def from_log(path):
    """Runs of a row still going (or stopped): seed, accuracy and chosen rates from its .log."""
    runs, rates, schedule = [], None, "constant"
    for line in open(path):
        m = re.match(r"chose lr head ([0-9.e-]+), bias ([0-9.e-]+), weights ([0-9.e-]+), schedule (\w+)", line)
        if m:
            rates = {"head": float(m.group(1)), "bias": float(m.group(2)), "weights": float(m.group(3))}
            schedule = m.group(4)
        m = re.match(r"(.+) seed (\d+): test accuracy ([0-9.]+) %", line)
        if m:
            policy = m.group(1).split(" (")[0].split(",")[0]
            runs.append({"policy": policy, "seed": int(m.group(2)), "testAccuracy": float(m.group(3)) / 100,
                         "learningRates": rates or {"head": 0, "bias": 0, "weights": 0}, "schedule": schedule,
                         "plannedPeak": 0, "measuredPeak": 0, "convWeightsPerStep": 0, "convWeightsOverRun": 0})
    return runs


def main(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".json"))
    logs = sorted(f[:-4] + ".json" for f in os.listdir(folder) if f.endswith(".log") and f[:-4] + ".json" not in files)
    if not files and not logs:
        sys.exit(f"no <row>.json or <row>.log in {folder}; run tools/results-table.sh {folder} first")
    rows = {}
    for f in sorted(files + logs):
        rows.setdefault(f.split(".")[0], []).append(f)
    print("| row | policy | test accuracy % (mean ± 95 % CI) | per seed | rates (head, bias, weights), schedule | peak planned / measured | conv weights per step / over the run % |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    paired = []
    for row, parts in rows.items():
        f = row + ".json"
        runs = []
        for part in parts:
            path = os.path.join(folder, part)
            runs += json.load(open(path)) if os.path.exists(path) else from_log(path[:-5] + ".log")
        runs.sort(key=lambda r: r["seed"])
        if not runs:
            continue
        by = {}
        for r in runs:
            by.setdefault(r["policy"], []).append(r)
        order = ["head", "bias", "static", "dgsu", "random", "dense"]
        for policy, rs in sorted(by.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)):
            acc = [100 * r["testAccuracy"] for r in rs]
            r0 = rs[0]
            lr = r0["learningRates"]
            rates = (f'{lr:g} for all' if isinstance(lr, (int, float)) else f'{lr["head"]:g}, {lr["bias"]:g}, {lr["weights"]:g}') + f', {r0.get("schedule", "constant")}'
            print(f'| {f[:-5]} | {policy} | {statistics.mean(acc):.2f} ± {ci95(acc):.2f} | {" ".join(f"{a:.2f}" for a in acc)} | {rates} '
                  f'| {kb(r0["plannedPeak"])} / {kb(max(r["measuredPeak"] for r in rs))} '
                  f'| {100 * r0["convWeightsPerStep"]:.2f} / {statistics.mean(100 * r["convWeightsOverRun"] for r in rs):.2f} |')
        for other in ("static", "random"):
            if "dgsu" in by and other in by:
                a = {r["seed"]: 100 * r["testAccuracy"] for r in by["dgsu"]}
                b = {r["seed"]: 100 * r["testAccuracy"] for r in by[other]}
                d = [a[s] - b[s] for s in sorted(set(a) & set(b))]
                paired.append((f[:-5], other, d))
    if paired:
        print()
        print("| row | dgsu − … | paired difference, points (mean ± 95 % CI) | per seed | verdict |")
        print("| --- | --- | --- | --- | --- |")
        for row, other, d in paired:
            m, h = statistics.mean(d), ci95(d)
            verdict = ("one seed: no interval" if len(d) < 2 else "dgsu ahead" if m - h > 0
                       else "dgsu behind" if m + h < 0 else "no difference shown")
            print(f'| {row} | {other} | {m:+.2f} ± {h:.2f} | {" ".join(f"{x:+.2f}" for x in d)} | {verdict} |')


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results")
