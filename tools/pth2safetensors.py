#!/usr/bin/env python3
"""Converts a PyTorch checkpoint (.pth/.pt state dict) to safetensors without importing torch.

Reads both torch serialization formats:
  * zip (torch.save default since 1.6): <prefix>/data.pkl plus one <prefix>/data/<key> file per
    storage; tensors appear as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
    with persistent ids ('storage', storage_type, key, location, numel).
  * legacy (torch.save(..., _use_new_zipfile_serialization=False), e.g. the EfficientNet-Lite0
    wheel): pickles of the magic number, protocol version and sys info, the object pickle, the
    list of storage keys, then each storage as an 8-byte little-endian element count and its raw
    bytes.
Only a fixed set of globals is resolved (to stubs); anything else is refused, so no code from the
checkpoint runs.

Floating tensors are written as F32 (or F16 with --dtype f16), in order of name. Non-floating
tensors (such as BatchNorm's int64 num_batches_tracked) and non-tensor entries are dropped and
listed on stderr. Needs only the Python standard library and numpy.
"""

import argparse
import collections
import hashlib
import os
import pickle
import struct
import sys
import tarfile
import zipfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch storage class name -> numpy dtype. bfloat16 is read as raw uint16 and widened later.
STORAGE_DTYPES = {
    "DoubleStorage": np.dtype("<f8"), "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"), "BFloat16Storage": np.dtype("<u2"),
    "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"), "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"), "BoolStorage": np.dtype("?"),
    "UntypedStorage": np.dtype("u1"),
}
FLOAT_STORAGES = {"DoubleStorage", "FloatStorage", "HalfStorage", "BFloat16Storage"}


class ConversionError(Exception):
    """The input cannot be converted; the message names the problem."""


class StorageType:
    """Stands in for torch.FloatStorage and friends."""

    def __init__(self, name):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


class Storage:
    """A storage named by a persistent id; `array` (1-D numpy) is filled in once read."""

    def __init__(self, storage_type, key, numel):
        self.type = storage_type
        self.key = key
        self.numel = numel
        self.array = None


class LazyTensor:
    """A strided view of a Storage, materialised after all storages have been read."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    @property
    def is_float(self):
        return self.storage.type.name in FLOAT_STORAGES

    @property
    def dtype_name(self):
        return self.storage.type.name.replace("Storage", "").lower() or "untyped"

    def materialize(self, name):
        base = self.storage.array
        if base is None:
            raise ConversionError(f"tensor {name!r}: storage {self.storage.key!r} was never read")
        if len(self.size) != len(self.stride):
            raise ConversionError(f"tensor {name!r}: size {self.size} and stride {self.stride} "
                                  "differ in rank")
        count = int(np.prod(self.size, dtype=np.int64))
        if count > 0:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
            if self.offset < 0 or min(self.stride, default=0) < 0 or last >= base.size:
                raise ConversionError(
                    f"tensor {name!r}: view (offset {self.offset}, size {self.size}, stride "
                    f"{self.stride}) exceeds its storage of {base.size} elements")
            item = base.itemsize
            view = np.lib.stride_tricks.as_strided(
                base[self.offset:], shape=self.size,
                strides=tuple(s * item for s in self.stride), writeable=False)
            array = np.array(view)  # contiguous copy
        else:
            array = np.zeros(self.size, dtype=base.dtype)
        if self.storage.type.name == "BFloat16Storage":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    if not isinstance(storage, Storage):
        raise ConversionError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


def _rebuild_from_type_v2(func, _new_type, args, _state):
    return func(*args)


class _Stub:
    """Stands in for torch.Tensor / torch.nn.Parameter as a type argument."""


_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _Stub,
    ("torch.nn.parameter", "Parameter"): _Stub,
    ("torch", "Size"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("_codecs", "encode"): lambda s, enc="latin1": s.encode(enc),
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages):
        super().__init__(file, encoding="utf-8")
        self.storages = storages  # key -> Storage

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name)
        if (module, name) in _GLOBALS:
            return _GLOBALS[(module, name)]
        if module.startswith("torch.nn.modules") or module == "__main__":
            raise ConversionError(f"the checkpoint pickles a whole module ({module}.{name}); "
                                  "save model.state_dict() instead")
        raise ConversionError(f"the checkpoint refers to {module}.{name}, which this converter "
                              "does not handle")

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise ConversionError(f"unexpected persistent id {pid!r}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage":
            raise ConversionError(f"unsupported persistent id of kind {kind!r}")
        storage_type, key, _location, numel = pid[1:5]
        view_metadata = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, StorageType):
            raise ConversionError(f"unexpected storage type {storage_type!r}")
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = Storage(storage_type, key, int(numel))
        if view_metadata is not None:  # very old format: a view into a root storage
            _view_key, offset, view_size = view_metadata
            return _StorageView(storage, int(offset), int(view_size))
        return storage


class _StorageView(Storage):
    """A legacy storage view (offset, size) into a root storage."""

    def __init__(self, root, offset, size):
        super().__init__(root.type, root.key, size)
        self.root, self.offset = root, offset

    @property
    def array(self):
        if self.root.array is None:
            return None
        return self.root.array[self.offset:self.offset + self.numel]

    @array.setter
    def array(self, _value):
        pass


def _load_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise ConversionError(f"not a readable zip archive ({e})") from None
    with archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pkl:
            raise ConversionError("zip archive has no <prefix>/data.pkl; "
                                  "is this a torch.save checkpoint?")
        prefix = pkl[0][: -len("data.pkl")]
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()
        storages = {}
        with archive.open(pkl[0]) as f:
            obj = _unpickle(f, storages)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            try:
                raw = archive.read(member)
            except KeyError:
                raise ConversionError(f"storage file {member} is missing from the archive") from None
            dt = storage.type.dtype
            if len(raw) < storage.numel * dt.itemsize:
                raise ConversionError(f"storage file {member} has {len(raw)} bytes, expected "
                                      f"{storage.numel} x {dt.itemsize}")
            storage.array = _to_native(np.frombuffer(raw, dtype=dt, count=storage.numel), byteorder)
    return obj


def _load_legacy(path):
    with open(path, "rb") as f:
        try:
            magic = pickle.load(f)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
            raise ConversionError(f"not a PyTorch checkpoint (cannot read a pickle: {e})") from None
        if magic != LEGACY_MAGIC:
            raise ConversionError("not a PyTorch checkpoint (the first pickle is not torch's "
                                  "magic number)")
        protocol = pickle.load(f)
        if protocol != LEGACY_PROTOCOL:
            raise ConversionError(f"unsupported legacy protocol version {protocol!r}")
        sys_info = pickle.load(f)
        byteorder = "little" if sys_info.get("little_endian", True) else "big"
        storages = {}
        obj = _unpickle(f, storages)
        try:
            keys = pickle.load(f)
        except Exception as e:  # noqa: BLE001
            raise ConversionError(f"truncated or corrupt after the object pickle ({e})") from None
        for key in keys:
            key = key.decode("ascii") if isinstance(key, bytes) else str(key)
            storage = storages.get(key)
            if storage is None:
                raise ConversionError(f"storage key {key!r} listed but never referenced")
            head = f.read(8)
            if len(head) != 8:
                raise ConversionError(f"file ends before storage {key!r}")
            (count,) = struct.unpack("<q" if byteorder == "little" else ">q", head)
            dt = storage.type.dtype
            raw = f.read(count * dt.itemsize)
            if count < 0 or len(raw) != count * dt.itemsize:
                raise ConversionError(f"file ends inside storage {key!r} ({len(raw)} of "
                                      f"{count * dt.itemsize} bytes)")
            storage.array = _to_native(np.frombuffer(raw, dtype=dt), byteorder)
    return obj


def _unpickle(f, storages):
    try:
        return _Unpickler(f, storages).load()
    except ConversionError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ConversionError(f"corrupt or truncated pickle ({type(e).__name__}: {e})") from None


def _to_native(array, byteorder):
    if byteorder == "big" and array.dtype.itemsize > 1:
        array = array.byteswap()
    return array


def load_checkpoint(path):
    """Returns the unpickled object of a torch checkpoint with tensors as LazyTensor."""
    if not os.path.exists(path):
        raise ConversionError("no such file")
    if os.path.isdir(path):
        raise ConversionError("is a directory, expected a .pth file")
    if zipfile.is_zipfile(path):
        return _load_zip(path), "zip"
    if tarfile.is_tarfile(path):
        raise ConversionError("this is torch's pre-0.4 tar format, which is not supported; "
                              "re-save it with a recent torch")
    with open(path, "rb") as f:
        head = f.read(2)
    if len(head) < 2 or head[0] != 0x80:
        raise ConversionError("not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    return _load_legacy(path), "legacy"


def select(obj, key):
    """Walks into nested dicts along a '/'-separated key; returns the state dict found there."""
    if key:
        for part in key.split("/"):
            if not isinstance(obj, dict) or part not in obj:
                have = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
                raise ConversionError(f"--key {key!r}: no entry {part!r} (found {have})")
            obj = obj[part]
    if not isinstance(obj, dict):
        raise ConversionError(f"expected a dict of tensors, found {type(obj).__name__}")
    if not any(isinstance(v, LazyTensor) for v in obj.values()):
        nested = [str(k) for k, v in obj.items() if isinstance(v, dict)]
        hint = f"; pass --key with one of {nested}" if nested else ""
        raise ConversionError(f"the dict holds no tensors (keys: {sorted(map(str, obj))}){hint}")
    return obj


def convert(src, dst, dtype="f32", key=None, strip_prefix=None, log=sys.stderr):
    """Converts checkpoint `src` to safetensors `dst`. Returns (written names, dropped notes)."""
    obj, fmt = load_checkpoint(src)
    state = select(obj, key)
    target = np.float32 if dtype == "f32" else np.float16
    tensors, dropped = {}, []
    for name, value in state.items():
        name = str(name)
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix):]
        if not isinstance(value, LazyTensor):
            dropped.append(f"{name} (not a tensor: {type(value).__name__})")
            continue
        if not value.is_float:
            dropped.append(f"{name} ({value.dtype_name}, shape {list(value.size)})")
            continue
        if name in tensors:
            raise ConversionError(f"two tensors are named {name!r} after --strip-prefix")
        array = value.materialize(name)
        if dtype == "f16":
            finite = np.isfinite(array)
            if np.any(np.abs(array[finite]) > np.finfo(np.float16).max):
                print(f"warning: {name} has values beyond the float16 range", file=log)
        tensors[name] = array.astype(target)
    if not tensors:
        raise ConversionError("no floating-point tensors to write")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    metadata = {"source": os.path.basename(src), "source_sha256": digest,
                "source_format": f"torch {fmt}", "converter": "tools/pth2safetensors.py"}
    if key:
        metadata["source_key"] = key
    safetensors_io.save(dst, tensors, metadata)
    return sorted(tensors), dropped


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Convert a PyTorch state dict (.pth, zip or legacy format) to safetensors "
                    "using only the standard library and numpy.",
        epilog="example: %(prog)s efficientnet-lite0.pth efficientnet-lite0.safetensors")
    parser.add_argument("input", help="the .pth/.pt checkpoint to read")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--dtype", choices=["f32", "f16"], default="f32",
                        help="storage type for floating tensors (default: f32)")
    parser.add_argument("--key", default=None,
                        help="path to the state dict inside a nested checkpoint, parts separated "
                             "by '/' (e.g. state_dict or model/ema)")
    parser.add_argument("--strip-prefix", default=None, metavar="PREFIX",
                        help="remove PREFIX (e.g. 'module.') from tensor names that start with it")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    try:
        names, dropped = convert(args.input, args.output, args.dtype, args.key, args.strip_prefix)
    except ConversionError as e:
        print(f"error: {args.input}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: {e.filename or args.output}: {e.strerror}", file=sys.stderr)
        return 1
    if not args.quiet:
        for note in dropped:
            print(f"dropped {note}", file=sys.stderr)
        print(f"wrote {len(names)} tensors ({args.dtype.upper()}) to {args.output}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
