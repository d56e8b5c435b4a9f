#!/usr/bin/env python3
"""Coordinator memory under hostile floods (issue 11), measured with real processes.

Starts the release `coordinator` and one honest `node` (tiny model, synthetic data, plain tcp on
loopback, many rounds), then, from this script, floods the coordinator with
  1. 64 MiB frames from 8 connections (5 each), and
  2. a burst of JOINs from 8 connections, each naming 4,096 device ids (200 each),
and prints the coordinator's resident memory (VmRSS) before and after each flood, and how many
rounds closed meanwhile. Needs `pip install pyzmq` and `swift build -c release` first.

    python3 tools/bench_hostile_memory.py
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(__file__))
import sparsefleet_pb2 as pb  # noqa: E402

BIN = os.path.join(os.path.dirname(__file__), "..", ".build", "release")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def rounds_closed(log_path):
    with open(log_path, errors="replace") as f:
        return f.read().count("round closed")


def envelope(kind):
    return b"SPFL" + (1).to_bytes(2, "little") + bytes([kind, 0])


def main():
    work = tempfile.mkdtemp(prefix="sf-hostile-")
    port = 27000 + os.getpid() % 1000
    endpoint = f"tcp://127.0.0.1:{port}"
    config = {
        "seed": 3, "model": {"name": "tiny", "resolution": 16},
        "dataset": {"name": "synthetic", "syntheticCount": 600},
        "deviceDefaults": {"localSteps": 6, "batch": 4, "learningRate": 0.05},
        "devices": [{"id": "dev-0"}, {"id": "dev-1"}],
        "rounds": {"count": 100000, "deadlineMs": 20000, "joinWaitMs": 20000},
        "heartbeatMs": 200,
    }
    path = os.path.join(work, "fleet.json")
    with open(path, "w") as f:
        json.dump(config, f)
    clog = open(os.path.join(work, "coordinator.log"), "w")
    coord = subprocess.Popen([os.path.join(BIN, "coordinator"), "--config", path, "--bind", endpoint,
                              "--run-dir", os.path.join(work, "run")], stderr=clog)
    node = subprocess.Popen([os.path.join(BIN, "node"), "run", "--config", path, "--connect", endpoint,
                             "--name", "honest", "--devices", "dev-0,dev-1"], stderr=subprocess.DEVNULL)
    try:
        time.sleep(4)
        ctx = zmq.Context()
        print(f"coordinator RSS at rest: {rss_mb(coord.pid):.1f} MB, rounds closed: {rounds_closed(clog.name)}")

        big = b"\0" * (64 << 20)
        socks = []
        r0 = rounds_closed(clog.name)
        t0 = time.time()
        for i in range(8):
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDTIMEO, 2000)
            s.connect(endpoint)
            for _ in range(5):
                try:
                    s.send_multipart([envelope(4), big], copy=False)
                except zmq.Again:
                    break
            socks.append(s)
        time.sleep(3)
        print(f"after 8 connections x 5 frames of 64 MiB: RSS {rss_mb(coord.pid):.1f} MB, "
              f"rounds closed meanwhile: {rounds_closed(clog.name) - r0} in {time.time() - t0:.1f} s")
        for s in socks:
            s.close()

        join = pb.Join()
        join.node_name = "flood"
        for k in range(4096):
            d = join.devices.add()
            d.device_id = f"d{k}"
            d.shard_size = 1
            d.memory_budget_bytes = 1
        join.heartbeat_interval_ms = 100
        frames = [envelope(1), join.SerializeToString()]
        r0 = rounds_closed(clog.name)
        t0 = time.time()
        socks = []
        for i in range(8):
            s = ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.connect(endpoint)
            for _ in range(200):
                s.send_multipart(frames)
            socks.append(s)
        time.sleep(3)
        print(f"after 8 connections x 200 JOINs of 4,096 device ids: RSS {rss_mb(coord.pid):.1f} MB, "
              f"rounds closed meanwhile: {rounds_closed(clog.name) - r0} in {time.time() - t0:.1f} s")
        for s in socks:
            s.close()
        ctx.term()
        bound = re.search(r"bound\.per\.peer=(.*?) curve=", open(clog.name, errors="replace").read())
        print(f"coordinator's stated bound per connection: {bound.group(1) if bound else '?'}")
    finally:
        for p in (node, coord):
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
