"""Reading and writing safetensors files, written from the format's specification.

safetensors is the format in which Hugging Face publishes pretrained weights: a flat map from
names to tensors, nothing else, so reading one runs no code. A file has three parts::

    bytes 0 .. 8        N, the length of the header: an unsigned 64-bit integer, little-endian
    bytes 8 .. 8+N      the header, a UTF-8 JSON object:
                          {"__metadata__": {"format": "pt"},            (optional; str -> str)
                           "emb.weight": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]},
                           ...}
    bytes 8+N .. end    the data buffer: every tensor's bytes, little-endian, row-major (C order);
                        ``data_offsets`` [begin, end) count from the start of this buffer

Before any tensor is read, the header is checked: its length fits in the file (and is under
100 MB), it is a JSON object with no name twice, every entry has exactly ``dtype``, ``shape`` and
``data_offsets``, ``end - begin`` is the byte size that dtype and shape need, and the tensors tile
the data buffer exactly: every byte of it belongs to exactly one tensor (the reference
implementation refuses files with gaps or overlaps too). Each problem is a :class:`SafetensorsError` naming the
tensor and the numbers.

minilm Tensors are float32, float64, int64 or bool, so reading converts: F16 and BF16 become
float32 (exactly: both are narrower floats), I32, I16, I8 and U8 become int64, BOOL stays bool.
BF16 ("brain float") is the top half of a float32, so a BF16 value shifted 16 bits to the left
*is* that float32. Writing takes minilm Tensors and NumPy arrays of F64, F32, F16, I64, I32, I16,
I8, U8 and BOOL. The writer orders tensors by falling item size, so each starts at a multiple of
its own item size, and pads the header with spaces to a multiple of 8: every tensor is aligned.
"""

from __future__ import annotations

import json
import math
import os
from typing import NamedTuple

import numpy as np

from minilm import backend
from minilm.tensor import Tensor

MAX_HEADER = 100_000_000  # bytes; real headers are a few MB at most

#: safetensors dtype -> how its bytes are stored (little-endian NumPy dtype)
STORED = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("u1"),
}  # fmt: skip
#: NumPy dtype name -> safetensors dtype, for writing (NumPy has no bfloat16)
CODES = {
    "float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}  # fmt: skip


class SafetensorsError(ValueError):
    """A safetensors file whose header is malformed or does not match its data."""


class _Entry(NamedTuple):
    """One tensor of the header, checked: its name, safetensors dtype, shape and byte range."""

    name: str
    dtype: str
    shape: tuple
    begin: int
    end: int


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


def read_safetensors(path, device=None) -> dict[str, Tensor]:
    """All tensors of a safetensors file, by name in header order, as minilm Tensors on ``device``
    (``"cpu"`` when None). F16 and BF16 are converted to float32 (BF16 by shifting its 16 bits into
    the top half of a float32's 32), I32/I16/I8/U8 to int64; F64, F32, I64 and BOOL keep their dtype.

    The file is read with one ``np.fromfile``; tensors on the CPU are views of that buffer when
    their bytes are aligned and little-endian, copies otherwise. FileNotFoundError for a missing
    file, :class:`SafetensorsError` for a malformed one."""
    from minilm.io import check_readable  # here, not at the top: minilm.io imports this module

    dev = backend.CPU if device is None else backend.device(device)
    path = check_readable(path, "read_safetensors")
    who = f"read_safetensors: '{path}'"
    buf = np.fromfile(path, dtype=np.uint8)
    n = _header_length(buf[:8].tobytes(), buf.size, who)
    header = _parse_header(buf[8 : 8 + n].tobytes(), who)
    _check_metadata(header, who)
    data = buf[8 + n :]
    out = {}
    for e in _check_entries(header, data.size, who):
        out[e.name] = Tensor._wrap(backend.to_device(_decode(data[e.begin : e.end], e.dtype, e.shape), dev))
    return out


def safetensors_metadata(path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file ({} when it has none), after checking the whole
    header; only the header is read."""
    from minilm.io import check_readable

    path = check_readable(path, "safetensors_metadata")
    who = f"safetensors_metadata: '{path}'"
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = _header_length(f.read(8), size, who)
        header = _parse_header(f.read(n), who)
    metadata = _check_metadata(header, who)
    _check_entries(header, size - 8 - n, who)
    return metadata


def _header_length(first8: bytes, size: int, who: str) -> int:
    """N from the first 8 bytes, after checking that it is plausible for a file of ``size`` bytes."""
    if size < 8:
        raise SafetensorsError(
            f"{who} is only {size} bytes long, but a safetensors file starts with an 8-byte header length "
            "(truncated, or not a safetensors file)"
        )
    n = int.from_bytes(first8, "little")
    if n > MAX_HEADER:
        raise SafetensorsError(
            f"{who}: header length {n} is over the {MAX_HEADER}-byte limit (corrupt, or not a safetensors file)"
        )
    if n > size - 8:
        raise SafetensorsError(
            f"{who}: header length {n} is more than the {size - 8} bytes that follow it (truncated, or not a "
            "safetensors file)"
        )
    return n


def _parse_header(text: bytes, who: str) -> dict:
    """The header as a dict; a name that appears twice is an error, not silently the last one."""

    def no_duplicates(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise SafetensorsError(f"{who}: the header names '{key}' twice")
            seen[key] = value
        return seen

    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=no_duplicates)
    except SafetensorsError:
        raise
    except (ValueError, RecursionError) as e:
        raise SafetensorsError(f"{who}: the header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{who}: the header must be a JSON object, got a {type(header).__name__}")
    return header


def _check_metadata(header: dict, who: str) -> dict[str, str]:
    """The optional ``__metadata__``: a map from strings to strings."""
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict):
        raise SafetensorsError(f"{who}: '__metadata__' must be a JSON object, got {metadata!r:.60}")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise SafetensorsError(f"{who}: '__metadata__' must map strings to strings, but '{key}' is {value!r:.60}")
    return metadata


def _check_entries(header: dict, buffer_size: int, who: str) -> list[_Entry]:
    """Check every tensor entry and that the tensors tile the data buffer; return them in header order."""
    entries = [_check_entry(name, info, buffer_size, who) for name, info in header.items() if name != "__metadata__"]
    position, previous = 0, None
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        if e.begin < position:
            raise SafetensorsError(
                f"{who}: tensors '{previous.name}' (bytes [{previous.begin}, {previous.end})) and '{e.name}' "
                f"(bytes [{e.begin}, {e.end})) overlap"
            )
        if e.begin > position:
            raise SafetensorsError(f"{who}: bytes [{position}, {e.begin}) of the data buffer belong to no tensor")
        position, previous = e.end, e
    if position != buffer_size:
        raise SafetensorsError(
            f"{who}: the data buffer has {buffer_size} bytes but the tensors cover only the first {position}; "
            f"bytes [{position}, {buffer_size}) belong to no tensor"
        )
    return entries


def _check_entry(name: str, info, buffer_size: int, who: str) -> _Entry:
    """One header entry, checked on its own: keys, dtype, shape, offsets, byte size."""
    where = f"{who}: tensor '{name}'"
    if not isinstance(info, dict) or sorted(info) != ["data_offsets", "dtype", "shape"]:
        got = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise SafetensorsError(f"{where}: expected exactly the keys ['data_offsets', 'dtype', 'shape'], got {got}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in STORED:
        raise SafetensorsError(f"{where}: dtype {dtype!r} is not supported; minilm reads {', '.join(STORED)}")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise SafetensorsError(f"{where}: shape must be a list of non-negative integers, got {shape!r:.60}")
    ok = isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
    if not ok or not 0 <= offsets[0] <= offsets[1]:
        raise SafetensorsError(
            f"{where}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r:.60}"
        )
    begin, end = offsets
    need = math.prod(shape) * STORED[dtype].itemsize
    if end - begin != need:
        raise SafetensorsError(
            f"{where}: dtype {dtype} and shape {shape} need {need} bytes, but data_offsets {offsets} span {end - begin}"
        )
    if end > buffer_size:
        raise SafetensorsError(
            f"{where}: data_offsets {offsets} reach past the end of the {buffer_size}-byte data buffer "
            "(the file is truncated or corrupt)"
        )
    return _Entry(name, dtype, tuple(shape), begin, end)


def _decode(raw: np.ndarray, dtype: str, shape: tuple) -> np.ndarray:
    """Bytes (a uint8 array) -> an array of a minilm dtype (float32, float64, int64 or bool)."""
    values = raw.view(STORED[dtype]).reshape(shape)
    if dtype == "BF16":
        return (values.astype(np.uint32) << 16).view(np.float32)
    if dtype == "BOOL":
        return values != 0
    if dtype == "F16":
        return values.astype(np.float32)
    if dtype in ("I32", "I16", "I8", "U8"):
        return values.astype(np.int64)
    native = values.astype(values.dtype.newbyteorder("="), copy=False)  # no copy on little-endian machines
    return native if native.flags.aligned else native.copy()


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def write_safetensors(tensors: dict, path, metadata: dict[str, str] | None = None) -> None:
    """Write ``{name: Tensor or NumPy array}`` to ``path`` as safetensors, replacing the file
    atomically; ``metadata`` (str -> str) goes into ``__metadata__``. Tensors on a GPU are copied
    to the CPU first; gradients and ``requires_grad`` are not stored."""
    from minilm.io import atomic_open  # here, not at the top: minilm.io imports this module

    if not isinstance(tensors, dict):
        raise TypeError(f"write_safetensors: tensors must be a dict of name -> tensor, got {type(tensors).__name__}")
    arrays = {name: _as_array(name, value) for name, value in tensors.items()}
    header, order = _layout(arrays, _checked_metadata(metadata))
    with atomic_open(path, "write_safetensors") as f:
        f.write(len(header).to_bytes(8, "little"))
        f.write(header)
        for name in order:
            f.write(memoryview(arrays[name].reshape(-1)))


def _layout(arrays: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> tuple[bytes, list[str]]:
    """The header bytes (JSON padded with spaces to a multiple of 8) and the order of the tensors in
    the data buffer: largest item size first, then by name, so every tensor starts aligned."""
    order = sorted(arrays, key=lambda name: (-arrays[name].dtype.itemsize, name))
    header: dict = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name in order:
        a = arrays[name]
        offsets = [offset, offset + a.nbytes]
        header[name] = {"dtype": CODES[a.dtype.name], "shape": list(a.shape), "data_offsets": offsets}
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return text + b" " * (-len(text) % 8), order


def _as_array(name, value) -> np.ndarray:
    """A tensor to write as a little-endian, C-contiguous NumPy array of a dtype safetensors knows."""
    if not isinstance(name, str):
        raise TypeError(f"write_safetensors: tensor names must be str, got {name!r} of type '{type(name).__name__}'")
    if name == "__metadata__":
        raise ValueError("write_safetensors: '__metadata__' is reserved; pass metadata= instead")
    if isinstance(value, Tensor):
        arr = backend.to_device(value.data, backend.CPU)
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        raise TypeError(
            f"write_safetensors: tensor '{name}' is a {type(value).__name__}, not a minilm Tensor or NumPy array"
        )
    if arr.dtype.name not in CODES:
        raise TypeError(
            f"write_safetensors: tensor '{name}' has dtype {arr.dtype}, which safetensors cannot hold here; "
            f"use one of {', '.join(CODES)}"
        )
    return arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)


def _checked_metadata(metadata) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"write_safetensors: metadata must be a dict of str -> str, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"write_safetensors: metadata must map str to str, but {key!r} -> {value!r:.60} does not; "
                "convert values with str() or json.dumps()"
            )
    return metadata
