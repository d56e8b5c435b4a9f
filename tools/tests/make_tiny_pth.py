#!/usr/bin/env python3
"""Writes the tiny checkpoints that test tools/pth2safetensors.py (dev-only: needs torch).

  tools/tests/data/tiny_legacy.pth   flat state dict, torch legacy (non-zip) format
  tools/tests/data/tiny_zip.pth      {"state_dict": <same dict>, "epoch": 3}, zip format
  tools/tests/data/tiny_expected.npz expected float values (bfloat16 widened to float32)

The dict holds a contiguous float32 tensor, a matrix and its transpose (shared storage, the
transpose non-contiguous), a view with a storage offset, float16, bfloat16 and float64 tensors,
a 0-d scalar, an nn.Parameter and an int64 num_batches_tracked (to be dropped).
Run once from the repository root: python3 tools/tests/make_tiny_pth.py
"""
import collections
import os

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def main():
    torch.manual_seed(1234)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(3, 2, 1, 2)
    base = torch.randn(4, 5)
    sd["fc.weight"] = base
    sd["fc.weight_t"] = base.t()                                 # stride (1, 5)
    big = torch.arange(20, dtype=torch.float32) * 0.25 - 1.0
    sd["offset.view"] = big[7:13].view(2, 3)                     # storage offset 7
    sd["strided.cols"] = torch.randn(3, 6)[:, 1::2]              # offset 1, stride (6, 2)
    sd["half.weight"] = torch.randn(5).half()
    sd["bf16.weight"] = torch.randn(2, 2).bfloat16()
    sd["double.weight"] = torch.randn(3, dtype=torch.float64)
    sd["scalar"] = torch.tensor(2.5)
    sd["param.bias"] = torch.nn.Parameter(torch.randn(4))
    sd["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    assert not sd["fc.weight_t"].is_contiguous()
    assert sd["offset.view"].storage_offset() == 7

    torch.save(sd, os.path.join(HERE, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": sd, "epoch": 3}, os.path.join(HERE, "tiny_zip.pth"))

    expected = {}
    for k, v in sd.items():
        if v.is_floating_point():
            v = v.detach()
            expected[k] = (v.float() if v.dtype == torch.bfloat16 else v).numpy()
    np.savez(os.path.join(HERE, "tiny_expected.npz"), **expected)
    for name in ("tiny_legacy.pth", "tiny_zip.pth", "tiny_expected.npz"):
        print(name, os.path.getsize(os.path.join(HERE, name)), "bytes")


if __name__ == "__main__":
    main()
