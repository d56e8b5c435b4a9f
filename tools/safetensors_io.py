"""Minimal safetensors reader and writer (numpy only).

File layout (https://github.com/huggingface/safetensors):
  u64 little-endian N | N bytes of UTF-8 JSON header | data
The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
relative to the start of the data) and may hold "__metadata__": {str: str}. We write tensors
sorted by name, contiguous and little-endian, and pad the header with spaces so that the data
starts at a multiple of 8 bytes.

Supported dtypes: F32, F16, I8 for reading and writing; F64, I32, I64, U8, BF16 (as float32)
for reading only.
"""

import json
import struct

import numpy as np

# safetensors dtype name -> numpy little-endian dtype, for writing and reading.
WRITE_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I8": np.dtype("i1")}
READ_DTYPES = dict(WRITE_DTYPES, F64=np.dtype("<f8"), I32=np.dtype("<i4"),
                   I64=np.dtype("<i8"), U8=np.dtype("u1"))
_NUMPY_TO_NAME = {np.dtype(v).newbyteorder("="): k for k, v in WRITE_DTYPES.items()}

_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A safetensors file is malformed or a tensor cannot be written."""


def dtype_name(array):
    """The safetensors dtype name for a numpy array (F32, F16 or I8)."""
    name = _NUMPY_TO_NAME.get(np.dtype(array.dtype).newbyteorder("="))
    if name is None:
        raise SafetensorsError(
            f"dtype {array.dtype} is not writable; convert to float32, float16 or int8 first")
    return name


def serialize(tensors, metadata=None):
    """Returns the bytes of a safetensors file holding `tensors` (name -> numpy array)."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"metadata must map str to str, got {k!r}: {type(v).__name__}")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot name a tensor")
        array = np.asarray(tensors[name])
        dt = dtype_name(array)
        data = np.ascontiguousarray(array, dtype=WRITE_DTYPES[dt]).tobytes()
        header[name] = {"dtype": dt, "shape": [int(d) for d in array.shape],
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def save(path, tensors, metadata=None):
    """Writes `tensors` (name -> numpy array of float32, float16 or int8) to `path`."""
    blob = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(blob)


def parse(blob, source="<bytes>"):
    """Parses safetensors bytes. Returns (tensors: dict name -> numpy array, metadata: dict)."""
    if len(blob) < 8:
        raise SafetensorsError(f"{source}: too short for a safetensors file ({len(blob)} bytes)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER or 8 + n > len(blob):
        raise SafetensorsError(f"{source}: header length {n} exceeds the file size {len(blob)}")
    try:
        header = json.loads(bytes(blob[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{source}: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{source}: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n:]
    tensors = {}
    spans = []
    for name, info in header.items():
        try:
            dt = READ_DTYPES[info["dtype"]] if info["dtype"] != "BF16" else None
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{source}: tensor {name!r} has an unsupported or malformed "
                                   f"entry {info!r}") from None
        itemsize = 2 if dt is None else dt.itemsize
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * itemsize:
            raise SafetensorsError(f"{source}: tensor {name!r} has data_offsets [{begin}, {end}] "
                                   f"that do not fit shape {list(shape)} of {info['dtype']} "
                                   f"in {len(data)} data bytes")
        raw = data[begin:end]
        if dt is None:  # bfloat16: the upper half of a float32
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))
        tensors[name] = array.reshape(shape)
        spans.append((begin, end, name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError(f"{source}: tensors {n0!r} and {n1!r} overlap")
    return tensors, metadata


def load(path):
    """Reads a safetensors file. Returns (tensors: dict name -> numpy array, metadata: dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    return parse(blob, source=str(path))
