#!/usr/bin/env python3
"""The Flower baseline of `make bench-fleet` (issue 16): SparseFleet's `node bench` workload under
Flower's simulation engine (Ray) with PyTorch clients. Dev-only: needs flwr[simulation] and torch
(tools/bench-fleet.sh installs them in a virtualenv; CI never does).

  python3 tools/bench_flower.py --layout bench.json [--devices 16] [--rounds 3] [--actors 2] [--json out.json]

The same workload as `node bench` (its --json file gives the layout, the batch and the local steps):
- EfficientNet-Lite0 (tools/reference/models.py, BatchNorm folded, channels-last) at 64x64 with
  10 classes, on synthetic images (100 per device, seeded per device), as `node bench` uses;
- every round samples every device; each runs `steps` local SGD steps of `batch` images;
- trainable: the classifier, the biases of the convs `node bench` trains biases of, and the
  weights of its weight convs, where after each backward only the top-k input channels by
  gradient norm keep their gradient (k = the channels per step of `node bench`'s layout: a
  DGSU-like dynamic top-k; PyTorch computes the full gradient first, as any PyTorch client would);
- clients send only the trainable tensors (FedAvg over them), which favours Flower: dense FedAvg
  would ship the whole model;
- one Ray actor per core (--actors), one torch thread each.

Run it on an otherwise idle machine: Ray starts its worker processes at nice 15 (measured here), so
any other load takes their cores first.

Prints the device-steps/s of the steady rounds (2..R: round 1 includes Ray's start and the
actors' first model build), the time per round and the peak RSS of the whole process tree.
"""
import argparse
import json
import os
import platform
import sys
import threading
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import models  # noqa: E402

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

SAMPLES_PER_DEVICE = 100
RESOLUTION = 64


def build_model():
    """EfficientNet-Lite0, 10 classes, BN folded (non-trivial statistics), channels-last."""
    torch.manual_seed(0)
    m = models.EfficientNetLite0(num_classes=10)
    with torch.no_grad():
        for bn in m.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.running_var.uniform_(0.5, 2.0)
                bn.running_mean.normal_(0, 0.1)
    models.fold_bn(m.eval())
    return m.to(memory_format=torch.channels_last)


def trainable(model, layout):
    """Sets requires_grad per `layout`; returns {state-dict name: parameter} and the top-k convs."""
    for p in model.parameters():
        p.requires_grad_(False)
    modules = dict(model.named_modules())
    chosen, topk = {}, []
    for name in layout["biases"]:
        chosen[name + ".bias"] = modules[name].bias
    for name, (k, cin) in layout["weights"].items():
        conv = modules[name]
        assert conv.weight.shape[1] == cin and conv.kernel_size == (1, 1), name
        chosen[name + ".weight"] = conv.weight
        topk.append((conv.weight, k))
    if layout["classifier"]:
        chosen["_fc.weight"] = model._fc.weight
        chosen["_fc.bias"] = model._fc.bias
    for p in chosen.values():
        p.requires_grad_(True)
    return chosen, topk


def device_data(index):
    """The synthetic shard of device `index`: seeded images (ImageNet-normalised range) and labels."""
    g = torch.Generator().manual_seed(1000 + index)
    x = torch.randn(SAMPLES_PER_DEVICE, 3, RESOLUTION, RESOLUTION, generator=g)
    y = torch.randint(0, 10, (SAMPLES_PER_DEVICE,), generator=g)
    return x.contiguous(memory_format=torch.channels_last), y


def actor_cache():
    """Per Ray worker process: the model and its trainable parameters, built once. Flower
    unpickles the ClientApp for every message, so a global of this script would start empty each
    time; the imported `models` module stays in the worker's sys.modules. Caching favours Flower:
    its usual client builds its model in every call."""
    if not hasattr(models, "_bench_flower_cache"):
        models._bench_flower_cache = {}
    return models._bench_flower_cache


def client_app(layout, batch, steps):
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context):
        torch.set_num_threads(1)
        _actor = actor_cache()
        built = "model" not in _actor
        if built:
            model = build_model()
            _actor["model"] = model
            _actor["params"] = trainable(model, layout)
        model, (params, topk) = _actor["model"], _actor["params"]
        state = msg.content["arrays"].to_torch_state_dict()
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name])
        x, y = device_data(int(context.node_config["partition-id"]))
        opt = torch.optim.SGD(list(params.values()), lr=0.05, momentum=0.0)
        g = torch.Generator().manual_seed(int(msg.content["config"]["server-round"]))
        t0 = time.perf_counter()
        for _ in range(steps):
            idx = torch.randint(0, SAMPLES_PER_DEVICE, (batch,), generator=g)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            with torch.no_grad():
                for w, k in topk:  # keep the k input channels with the largest gradient norm
                    norms = w.grad.pow(2).sum(dim=(0, 2, 3))
                    mask = torch.zeros_like(norms)
                    mask[torch.topk(norms, k).indices] = 1
                    w.grad.mul_(mask.view(1, -1, 1, 1))
            opt.step()
        seconds = time.perf_counter() - t0
        reply = RecordDict({"arrays": ArrayRecord({n: p.detach().clone() for n, p in params.items()}),
                            "metrics": MetricRecord({"num-examples": steps * batch, "train-seconds": seconds,
                                                     "model-builds": int(built)})})
        return Message(content=reply, reply_to=msg)

    return app


class TimedFedAvg(FedAvg):
    """FedAvg that records when each round's tasks go out and its aggregate is done."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.opened, self.closed, self.train_seconds, self.builds = {}, {}, {}, {}

    def configure_train(self, server_round, arrays, config, grid):
        self.opened[server_round] = time.perf_counter()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        ok = [r for r in replies if r.has_content()]
        self.train_seconds[server_round] = sum(float(r.content["metrics"]["train-seconds"]) for r in ok)
        self.builds[server_round] = sum(int(r.content["metrics"]["model-builds"]) for r in ok)
        out = super().aggregate_train(server_round, replies)
        self.closed[server_round] = time.perf_counter()
        return out


def server_app(layout, rounds, strategy_box):
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context):
        model = build_model()
        params, _ = trainable(model, layout)
        strategy = TimedFedAvg(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=1, min_evaluate_nodes=0, min_available_nodes=1)
        strategy_box.append(strategy)
        strategy.start(grid=grid, initial_arrays=ArrayRecord({n: p.detach().clone() for n, p in params.items()}),
                       train_config=ConfigRecord({}), num_rounds=rounds)

    return app


def tree_rss():
    """Resident memory of this process and all its descendants (Ray's workers), bytes, from /proc."""
    parent, rss = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(pid)] = int(fields[1])
            rss[int(pid)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    tree, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        p = frontier.pop()
        for child, par in parent.items():
            if par == p and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(rss.get(p, 0) for p in tree)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layout", required=True, help="`node bench --json` output: layout, batch, local steps")
    ap.add_argument("--devices", type=int, default=16, help="simulated devices (supernodes), all sampled every round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; the steady state is rounds 2..R")
    ap.add_argument("--actors", type=int, default=os.cpu_count(), help="Ray actors (one core each)")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    if args.rounds < 2:
        ap.error("--rounds must be at least 2 (round 1 is warm-up)")
    spec = json.load(open(args.layout))
    layout, batch, steps = spec["layout"], spec["batch"], spec["steps"]
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.5):
            peak[0] = max(peak[0], tree_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    box = []
    started = time.perf_counter()
    run_simulation(server_app=server_app(layout, args.rounds, box), client_app=client_app(layout, batch, steps),
                   num_supernodes=args.devices,
                   backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0},
                                   "init_args": {"num_cpus": args.actors, "include_dashboard": False}})
    wall = time.perf_counter() - started
    done.set()
    s = box[0]
    rounds = sorted(s.closed)
    per_round = [s.closed[r] - s.opened[r] for r in rounds]
    steady = sum(per_round[1:])
    rate = args.devices * steps * (len(rounds) - 1) / steady
    for r, t in zip(rounds, per_round):
        print(f"round {r}: {t:.2f} s, {args.devices * steps / t:.1f} device-steps/s "
              f"(clients' own training {s.train_seconds[r]:.2f} s of {args.actors} actors' {args.actors * t:.2f} s; "
              f"{s.builds[r]} model builds)")
    print(f"flower steady state (rounds 2-{rounds[-1]}): {steady / (len(rounds) - 1):.2f} s per round, "
          f"{rate:.1f} device-steps/s; peak RSS {peak[0] / 2**30:.2f} GiB; wall {wall:.1f} s")
    if args.json:
        import flwr
        info = {"engine": "flower", "flwr": flwr.__version__, "torch": torch.__version__,
                "python": platform.python_version(), "cpus": os.cpu_count(), "actors": args.actors,
                "devices": args.devices, "rounds": args.rounds, "batch": batch, "steps": steps,
                "layout": layout, "roundSeconds": per_round, "steadyDeviceStepsPerSecond": rate,
                "peakRSSBytes": peak[0], "wallSeconds": wall}
        with open(args.json, "w") as f:
            json.dump(info, f, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
