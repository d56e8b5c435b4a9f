"""Tests for tools/pth2safetensors.py and tools/safetensors_io.py (pytest, numpy only).

The checkpoints under data/ were written once by make_tiny_pth.py (torch); the expected values
are in data/tiny_expected.npz. Comparisons are exact: conversion to F32 must be lossless for
float32/float16/bfloat16 inputs and round-to-nearest for float64.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
SCRIPT = os.path.join(TOOLS, "pth2safetensors.py")
sys.path.insert(0, TOOLS)

import safetensors_io  # noqa: E402

LEGACY = os.path.join(DATA, "tiny_legacy.pth")
ZIP = os.path.join(DATA, "tiny_zip.pth")

# Runs the converter with `import torch` made to fail, proving it does not need torch.
_NO_TORCH = ("import sys, runpy; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")


def run(*args):
    return subprocess.run([sys.executable, "-c", _NO_TORCH, SCRIPT, *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(DATA, "tiny_expected.npz")) as z:
        return {k: z[k] for k in z.files}


def check_values(tensors, expected, dtype):
    assert sorted(tensors) == sorted(expected)
    for name, want in expected.items():
        got = tensors[name]
        assert got.dtype == dtype, name
        assert got.shape == want.shape, name
        np.testing.assert_array_equal(got, want.astype(dtype), err_msg=name)


@pytest.mark.parametrize("src,key", [(LEGACY, None), (ZIP, "state_dict")])
def test_converts_exactly(tmp_path, expected, src, key):
    out = tmp_path / "out.safetensors"
    result = run(src, out, *(["--key", key] if key else []))
    assert result.returncode == 0, result.stderr
    assert "dropped bn.num_batches_tracked" in result.stderr
    tensors, metadata = safetensors_io.load(out)
    check_values(tensors, expected, np.float32)
    assert metadata["source"] == os.path.basename(src)
    assert metadata["source_format"] == ("torch legacy" if src == LEGACY else "torch zip")


def test_f16_output(tmp_path, expected):
    out = tmp_path / "out.safetensors"
    result = run(LEGACY, out, "--dtype", "f16")
    assert result.returncode == 0, result.stderr
    tensors, _ = safetensors_io.load(out)
    check_values(tensors, expected, np.float16)


def test_header_layout(tmp_path):
    out = tmp_path / "out.safetensors"
    assert run(LEGACY, out).returncode == 0
    blob = out.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    assert (8 + n) % 8 == 0
    text = blob[8:8 + n].decode("utf-8")
    assert text.endswith("}") or text.rstrip(" ").endswith("}")  # padded with spaces only
    header = json.loads(text)
    assert "__metadata__" in header
    names = [k for k in header if k != "__metadata__"]
    assert names == sorted(names)
    offset = 0
    for name in names:  # sorted, contiguous, nothing left over
        begin, end = header[name]["data_offsets"]
        assert begin == offset
        assert header[name]["dtype"] == "F32"
        assert end - begin == 4 * int(np.prod(header[name]["shape"]))
        offset = end
    assert offset == len(blob) - 8 - n


def test_nested_without_key_names_the_key(tmp_path):
    result = run(ZIP, tmp_path / "out.safetensors")
    assert result.returncode != 0
    assert "state_dict" in result.stderr and "--key" in result.stderr


def test_wrong_key(tmp_path):
    result = run(ZIP, tmp_path / "out.safetensors", "--key", "model")
    assert result.returncode != 0
    assert "'model'" in result.stderr


def test_strip_prefix(tmp_path):
    out = tmp_path / "out.safetensors"
    assert run(LEGACY, out, "--strip-prefix", "fc.").returncode == 0
    tensors, _ = safetensors_io.load(out)
    assert "weight_t" in tensors and "fc.weight" not in tensors


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pth"
    result = run(missing, tmp_path / "out.safetensors")
    assert result.returncode == 1
    assert str(missing) in result.stderr and "no such file" in result.stderr


@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint", b"\x80\x02K\x05."])
def test_not_a_checkpoint(tmp_path, content):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    result = run(bad, tmp_path / "out.safetensors")
    assert result.returncode == 1
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_truncated_legacy(tmp_path):
    blob = open(LEGACY, "rb").read()
    for cut in (len(blob) // 3, len(blob) - 5):
        bad = tmp_path / f"cut{cut}.pth"
        bad.write_bytes(blob[:cut])
        result = run(bad, tmp_path / "out.safetensors")
        assert result.returncode == 1, cut
        assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_truncated_zip(tmp_path):
    bad = tmp_path / "cut.pth"
    bad.write_bytes(open(ZIP, "rb").read()[:-200])
    result = run(bad, tmp_path / "out.safetensors")
    assert result.returncode == 1
    assert str(bad) in result.stderr and "Traceback" not in result.stderr


def test_help():
    result = run("--help")
    assert result.returncode == 0
    assert "--dtype" in result.stdout and "--key" in result.stdout


def test_safetensors_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {
        "b.f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "a.f16": rng.standard_normal(5).astype(np.float16),
        "c.i8": rng.integers(-128, 128, size=(3, 3)).astype(np.int8),
        "d.scalar": np.array(1.5, dtype=np.float32),
        "e.empty": np.zeros((0, 4), dtype=np.float32),
    }
    path = tmp_path / "x.safetensors"
    safetensors_io.save(path, tensors, {"note": "hi"})
    got, metadata = safetensors_io.load(path)
    assert metadata == {"note": "hi"}
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_safetensors_rejects_bad_input(tmp_path):
    with pytest.raises(safetensors_io.SafetensorsError):
        safetensors_io.serialize({"x": np.zeros(2, dtype=np.int64)})
    blob = bytearray(safetensors_io.serialize({"x": np.zeros(4, dtype=np.float32)}))
    with pytest.raises(safetensors_io.SafetensorsError):
        safetensors_io.parse(bytes(blob[:-1]))
    with pytest.raises(safetensors_io.SafetensorsError):
        safetensors_io.parse(b"\xff" * 16)
