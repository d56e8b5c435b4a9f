#!/usr/bin/env python3
"""PyTorch eager CPU timings to compare the Swift engine with (dev-only: needs torch).

  python3 tools/bench_pytorch.py [--json out.json] [--runs 40] [--threads 1 2] [--batches 1 8]

Models (random init, 10 classes, eval, BatchNorm folded into the convs, channels-last):
EfficientNet-Lite0 at 64x64 and 128x128, MobileNetV2-w0.35 at 128x128. For each thread count
(torch.set_num_threads) and batch size it reports the median over --runs timed runs, after
warm-up, of
  forward   one forward pass under torch.inference_mode()
  sparse    one "sparse training step": forward + backward + SGD update (lr 0.01, no momentum,
            mean cross-entropy) with requires_grad only on the classifier, the biases of every
            conv in the last 4 MBConv blocks and of the head conv, and the weights of the 1x1
            (expand and project) convs of the last 2 MBConv blocks. PyTorch computes the full
            weight gradient of those 1x1 convs (all input channels), not a channel subset.
Prints a markdown table; --json also writes the numbers with machine information.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import models  # noqa: E402


def build(name):
    """Returns (model, mbconv blocks, head conv, classifier) for a model name."""
    if name == "efficientnet_lite0":
        m = models.EfficientNetLite0(num_classes=10)
        blocks, head, fc = list(m._blocks), m._conv_head, m._fc
    elif name == "mobilenetv2_w0.35":
        m = models.MobileNetV2(num_classes=10, width_mult=0.35)
        blocks, head, fc = list(m.features[1:-1]), m.features[-1][0], m.classifier[1]
    else:
        raise ValueError(name)
    with torch.no_grad():  # non-trivial BN statistics so folding does real work
        for bn in m.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.running_var.uniform_(0.5, 2.0)
                bn.running_mean.normal_(0, 0.1)
    models.fold_bn(m.eval())
    return m, blocks, head, fc


def sparse_params(model, blocks, head, fc):
    """Sets requires_grad per the sparse-update recipe; returns the trainable parameters."""
    for p in model.parameters():
        p.requires_grad_(False)
    chosen = list(fc.parameters()) + [head.bias]
    for block in blocks[-4:]:
        chosen += [c.bias for c in block.modules() if isinstance(c, nn.Conv2d)]
    for block in blocks[-2:]:
        chosen += [c.weight for c in block.modules()
                   if isinstance(c, nn.Conv2d) and c.kernel_size == (1, 1) and c.groups == 1]
    for p in chosen:
        p.requires_grad_(True)
    return chosen


def median_ms(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {"median_ms": statistics.median(times), "min_ms": times[0],
            "p90_ms": times[int(0.9 * (len(times) - 1))], "runs": runs}


def bench(name, res, batch, threads, runs, warmup):
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model, blocks, head, fc = build(name)
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, res, res).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))

    def forward():
        with torch.inference_mode():
            model(x)

    params = sparse_params(model, blocks, head, fc)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.0)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), labels).backward()
        opt.step()

    load_before = os.getloadavg()[0]
    fwd = median_ms(forward, runs, warmup)
    spr = median_ms(step, runs, warmup)
    return {"model": name, "input": res, "batch": batch, "threads": threads,
            "forward": fwd, "sparse_step": spr,
            "trainable_params": sum(p.numel() for p in params),
            "total_params": sum(p.numel() for p in model.parameters()),
            "loadavg_1min": [load_before, os.getloadavg()[0]]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per number (>= 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    if args.runs < 30:
        parser.error("--runs must be at least 30")
    configs = [("efficientnet_lite0", 64), ("efficientnet_lite0", 128),
               ("mobilenetv2_w0.35", 128)]
    results = []
    print("| model | input | batch | threads | forward ms | sparse step ms | trainable params "
          "| load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    for threads in args.threads:
        for name, res in configs:
            for batch in args.batches:
                r = bench(name, res, batch, threads, args.runs, args.warmup)
                results.append(r)
                print(f"| {name} | {res}x{res} | {batch} | {threads} "
                      f"| {r['forward']['median_ms']:.2f} | {r['sparse_step']['median_ms']:.2f} "
                      f"| {r['trainable_params']:,} of {r['total_params']:,} "
                      f"| {r['loadavg_1min'][0]:.1f}-{r['loadavg_1min'][1]:.1f} |", flush=True)
    print("\nMedian of", args.runs, "runs after", args.warmup, "warm-up runs; channels-last; BN "
          "folded. The sparse step's 1x1-conv weight gradients are full (all input channels).")
    if args.json:
        info = {"torch": torch.__version__, "python": platform.python_version(),
                "machine": platform.machine(), "processor": _cpu_name(),
                "cpus": os.cpu_count(), "runs": args.runs, "warmup": args.warmup,
                "note": "other work may have been running on the machine; see loadavg_1min",
                "results": results}
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
        print(f"wrote {args.json}")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
