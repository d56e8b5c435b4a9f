#!/usr/bin/env python3
"""A minimal SparseFleet node in Python: the interop example of PROTOCOL.md (SPFL/1).

It connects a DEALER socket to a coordinator, JOINs with one device, and then serves until
the coordinator says BYE (or --max-tasks tasks are done):

* MODEL  -> keeps the schema (SNAPSHOT) and the version;
* TASK   -> makes a deterministic sparse delta and sends an UPDATE;
* HEARTBEAT -> answers with a HEARTBEAT;
* ERROR  -> prints it and exits with status 2.

The delta it "trains" is deterministic so that a test can check it: for every tensor of the
task's assignments (or, without assignments, the first ceil(ratio * C) channels of every
rank >= 2 tensor, ratio = policy param "ratio", default 0.25) it sends the slice
[outer, k, inner] whose j-th value is ((seed + j) % 17 - 8) / 1000, plus the full bias of the
same layer ("<layer>.bias" for "<layer>.weight") when the schema has one, with the same rule.

Requires pyzmq and the protobuf runtime 4.21.x (tools/requirements-interop.txt) and the
generated tools/sparsefleet_pb2.py (tools/gen-proto.sh).

    python3 tools/interop_client.py --connect tcp://127.0.0.1:5555 --device py-0
    python3 tools/interop_client.py --connect tcp://host:5555 --server-key=<Z85> \
        --public-key=<Z85> --secret-key=<Z85>        # with CURVE; use "=": a Z85 key may start with "-"
"""

import argparse
import math
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import zmq  # noqa: E402
import sparsefleet_pb2 as pb  # noqa: E402

MAGIC = b"SPFL"
VERSION = 1
KIND = {"join": 1, "model": 2, "task": 3, "update": 4, "metrics": 5, "heartbeat": 6, "bye": 7, "error": 8}
KIND_NAME = {v: k for k, v in KIND.items()}


def envelope(kind):
    """Frame 0: magic, u16 LE version, kind, flags (PROTOCOL.md 3.1)."""
    return MAGIC + struct.pack("<HBB", VERSION, KIND[kind], 0)


def read_envelope(frame):
    """Returns the kind name of an envelope frame, or raises ValueError."""
    if len(frame) != 8 or frame[:4] != MAGIC:
        raise ValueError("not a SparseFleet envelope")
    version, kind, _flags = struct.unpack("<HBB", frame[4:])
    if version != VERSION:
        raise ValueError(f"peer speaks SPFL version {version}; this client speaks {VERSION}")
    if kind not in KIND_NAME:
        raise ValueError(f"unknown kind {kind}")
    return KIND_NAME[kind]


def product(xs):
    p = 1
    for x in xs:
        p *= x
    return p


def delta_values(seed, n):
    """The deterministic 'trained' delta: value j is ((seed + j) % 17 - 8) / 1000."""
    return [((seed + j) % 17 - 8) / 1000.0 for j in range(n)]


def pack_frame(spec, channels, values, encoding):
    """One tensor frame (PROTOCOL.md 5.2) and its TensorPayload header entry."""
    payload = pb.TensorPayload(name=spec.name, encoding=encoding)
    out = bytearray()
    if encoding == pb.VALUE_ENCODING_INT8:
        max_abs = max((abs(v) for v in values), default=0.0)
        scale = struct.unpack("<f", struct.pack("<f", max_abs / 127.0))[0]
        out += struct.pack("<f", scale)
    if channels is None:
        payload.index_width = pb.INDEX_WIDTH_NONE
    else:
        wide = spec.shape[spec.channel_axis] > 65536
        payload.index_width = pb.INDEX_WIDTH_U32 if wide else pb.INDEX_WIDTH_U16
        payload.channel_count = len(channels)
        out += struct.pack(f"<{len(channels)}{'I' if wide else 'H'}", *channels)
    if encoding == pb.VALUE_ENCODING_F32:
        out += struct.pack(f"<{len(values)}f", *values)
    elif encoding == pb.VALUE_ENCODING_F16:
        out += struct.pack(f"<{len(values)}e", *values)
    else:
        q = [0 if scale == 0 else max(-127, min(127, int(math.copysign(math.floor(abs(v / scale) + 0.5), v))))
             for v in values]
        out += struct.pack(f"<{len(q)}b", *q)
    return payload, bytes(out)


class Node:
    """The protocol state of one node hosting one device."""

    def __init__(self, sock, device, node_name):
        self.sock = sock
        self.device = device
        self.node_name = node_name
        self.schema = None  # name -> TensorSpec, in order
        self.version = 0
        self.heartbeats = 0

    def send(self, kind, header, tensor_frames=()):
        self.sock.send_multipart([envelope(kind), header.SerializeToString(), *tensor_frames])

    def join(self):
        join = pb.Join(node_name=self.node_name, heartbeat_interval_ms=1000,
                       encodings=[pb.VALUE_ENCODING_F32, pb.VALUE_ENCODING_F16, pb.VALUE_ENCODING_INT8],
                       policies=["interop-fixed"], capabilities=["python"])
        join.devices.add(device_id=self.device, shard_size=100, memory_budget_bytes=262144)
        self.send("join", join)

    def on_model(self, frames):
        model = pb.Model.FromString(frames[1])
        if model.form == pb.MODEL_FORM_SNAPSHOT:
            self.schema = {s.name: s for s in model.schema}
        elif self.schema is None or model.base_version != self.version:
            err = pb.Error(code=pb.ERROR_CODE_STALE, refused_kind=KIND["model"], peer_version=VERSION,
                           message=f"patch for version {model.base_version}, but this node holds {self.version}")
            self.send("error", err)
            return
        if zlib.crc32(b"".join(frames[2:])) != model.payload_crc32:
            raise SystemExit("MODEL checksum mismatch")
        self.version = model.version

    def on_task(self, frames):
        task = pb.Task.FromString(frames[1])
        if self.schema is None or task.model_version != self.version:
            err = pb.Error(code=pb.ERROR_CODE_STALE, refused_kind=KIND["task"], device_id=task.device_id,
                           round=task.round, peer_version=VERSION,
                           message=f"task for model version {task.model_version}, node holds {self.version}")
            self.send("error", err)
            return
        picks = [(a.tensor, list(a.channels)) for a in task.assignments]
        if not picks:
            ratio = task.policy.params.get("ratio", 0.25)
            for spec in self.schema.values():
                if len(spec.shape) >= 2:
                    c = spec.shape[spec.channel_axis]
                    picks.append((spec.name, list(range(max(1, math.ceil(ratio * c))))))
        for name, _ in list(picks):
            bias = name[: -len(".weight")] + ".bias" if name.endswith(".weight") else None
            if bias in self.schema and bias not in dict(picks):
                picks.append((bias, None))
        update = pb.Update(device_id=task.device_id, round=task.round, base_model_version=self.version,
                           sample_count=100)
        update.metrics.steps = task.local_steps
        update.metrics.loss_first = 2.3
        update.metrics.loss_last = 2.0
        update.metrics.accuracy = float("nan")
        frames_out = []
        for name, channels in picks:
            spec = self.schema[name]
            axis = spec.channel_axis
            k = spec.shape[axis] if channels is None else len(channels)
            n = product(spec.shape[:axis]) * k * product(spec.shape[axis + 1:])
            payload, frame = pack_frame(spec, channels, delta_values(task.seed, n), task.delta_encoding)
            update.tensors.append(payload)
            frames_out.append(frame)
        update.payload_crc32 = zlib.crc32(b"".join(frames_out))
        self.send("update", update, frames_out)

    def heartbeat(self):
        self.heartbeats += 1
        self.send("heartbeat", pb.Heartbeat(sequence=self.heartbeats, interval_ms=1000))


def main():
    ap = argparse.ArgumentParser(description="SparseFleet interop node (PROTOCOL.md section 12)")
    ap.add_argument("--connect", required=True, help="coordinator endpoint, e.g. tcp://127.0.0.1:5555")
    ap.add_argument("--device", default="py-0", help="the device id to host")
    ap.add_argument("--node", default="py-node", help="node name, also the routing identity")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each message")
    ap.add_argument("--max-tasks", type=int, default=0, help="exit after this many tasks (0: until BYE)")
    ap.add_argument("--server-key", help="coordinator's CURVE public key (Z85); enables CURVE")
    ap.add_argument("--public-key", help="this node's CURVE public key (Z85)")
    ap.add_argument("--secret-key", help="this node's CURVE secret key (Z85)")
    args = ap.parse_args()

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.ROUTING_ID, args.node.encode())
    if args.server_key:
        if not (args.public_key and args.secret_key):
            ap.error("--server-key needs --public-key and --secret-key")
        sock.curve_serverkey = args.server_key.encode()
        sock.curve_publickey = args.public_key.encode()
        sock.curve_secretkey = args.secret_key.encode()
    sock.connect(args.connect)

    node = Node(sock, args.device, args.node)
    node.join()
    tasks = 0
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    status = 0
    while True:
        if not poller.poll(int(args.timeout * 1000)):
            print(f"interop_client: nothing from {args.connect} in {args.timeout} s "
                  "(coordinator down, or CURVE keys refused)", file=sys.stderr)
            status = 1
            break
        frames = sock.recv_multipart()
        try:
            kind = read_envelope(frames[0])
        except ValueError as e:
            print(f"interop_client: dropping message: {e}", file=sys.stderr)
            continue
        if kind == "model":
            node.on_model(frames)
        elif kind == "task":
            node.on_task(frames)
            tasks += 1
            if args.max_tasks and tasks >= args.max_tasks:
                break
        elif kind == "heartbeat":
            node.heartbeat()
        elif kind == "bye":
            break
        elif kind == "error":
            err = pb.Error.FromString(frames[1])
            print(f"interop_client: coordinator refused a message: {pb.ErrorCode.Name(err.code)}: {err.message}",
                  file=sys.stderr)
            status = 2
            break
    node.send("bye", pb.Bye(reason="interop client done"))
    sock.close()
    ctx.term()
    print(f"interop_client: {tasks} task(s) done, exit {status}")
    return status


if __name__ == "__main__":
    sys.exit(main())
