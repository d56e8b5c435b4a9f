#!/usr/bin/env python3
"""The table `make bench-fleet` prints (tools/bench-fleet.sh): both engines' steady device-steps/s
per plan, the ratio measured in this run, and the trainable tail's fraction of the sgemm peak.

  python3 tools/bench_fleet_summary.py OUT      (OUT holds bench-fleet.sh's JSON files)
"""
import glob
import json
import os
import sys


def layout_text(layout):
    weights = ", ".join(f"{n} {k}/{c}" for n, (k, c) in sorted(layout["weights"].items()))
    return f"{len(layout['biases'])} biases, weights [{weights or 'none'}]"


def main():
    out = sys.argv[1]
    rows = []
    for plan in ("1MB-b8", "256KB-b1"):
        flower_path = os.path.join(out, f"{plan}-flower.json")
        flower = json.load(open(flower_path)) if os.path.exists(flower_path) else None
        for precision in ("int8", "fp32"):
            parts = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"{plan}-{precision}-sparsefleet-*.json")))]
            if not parts:
                continue
            rate = sum(p["steadyDeviceStepsPerSecond"] for p in parts)
            tail = [p["tailPercentOfSgemmPeak"] for p in parts]
            same = flower is not None and parts[0]["layout"] == flower["layout"]
            rows.append((plan, precision, len(parts), sum(p["devices"] for p in parts), rate, flower, tail, parts[0], same))
    print("| plan | device | SparseFleet device-steps/s | Flower device-steps/s | ratio | tail step MFLOP | tail % of sgemm peak (per process) | sgemm peak GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for plan, precision, procs, devices, rate, flower, tail, first, same in rows:
        f = flower["steadyDeviceStepsPerSecond"] if flower else None
        ratio = f"{rate / f:.1f}×" if f else "-"
        theirs = f"{f:.1f}" if f else "-"
        note = "" if same else " (own layout)"
        print(f"| {plan} | {precision}{note} | {rate:.1f} ({procs} processes, {devices} devices) | {theirs} | {ratio} | "
              f"{first['tailFlops'] / 1e6:.1f} | {' + '.join(f'{t:.1f} %' for t in tail)} | {first['sgemmPeakGFLOPS']:.1f} |")
    for plan, precision, procs, devices, rate, flower, tail, first, same in rows:
        if precision != "int8":
            continue
        print(f"\n{plan}: layout {layout_text(first['layout'])}; SparseFleet RSS {first['rssBytes'] / 2**20:.0f} MiB per process")
        if flower:
            print(f"  Flower {flower['flwr']} (torch {flower['torch']}, {flower['actors']} Ray actors): "
                  f"peak RSS of its process tree {flower['peakRSSBytes'] / 2**30:.2f} GiB")
    print("\nSteady state: rounds 2.. (round 1 builds SparseFleet's frozen-front caches and starts Ray). "
          "Ratios are from this run on this machine; compare them, not the absolute figures, across CPUs.")


if __name__ == "__main__":
    main()
