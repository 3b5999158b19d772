"""Saving and loading: minilm's own checkpoints, and Hugging Face's safetensors format.

Two formats, one rule: **nothing in a file can run code when it is read.**

PyTorch's ``torch.save`` writes Python *pickles*, and unpickling calls whatever functions the file
names: loading a stranger's checkpoint can run a stranger's code. minilm never unpickles.

``minilm.save(obj, path)`` and ``minilm.load(path, map_location=None)``
    store a state dict: nested dicts (keys ``str`` or ``int``), lists, tuples, minilm Tensors,
    NumPy arrays and scalars, Python numbers (``nan`` and ``inf`` too), strings, ``None``. The file
    is a ``.npz`` archive, a zip of ``.npy`` arrays as ``numpy.savez`` writes it. Each tensor or
    array is one member, ``t0``, ``t1``, ...; the member ``__meta__`` holds the structure as UTF-8
    JSON (stored as a uint8 array) that names those members::

        {"format": "minilm.checkpoint", "version": 1,
         "root": {"type": "dict", "items": [
             ["lr", 0.1],
             ["weight", {"type": "tensor", "array": "t0", "dtype": "float32", "shape": [3, 2]}]]}}

    ``None``, booleans, ints, finite floats and strings are written as themselves; everything else
    is an object with a ``"type"``: ``float`` (nan/inf), ``list``, ``tuple``, ``dict`` (a list of
    ``[key, value]`` pairs, so int keys stay ints and the order is kept), ``tensor``, ``ndarray``,
    ``numpy_scalar``. The archive is read with ``numpy.load(..., allow_pickle=False)`` and every
    array is checked against the JSON (present, dtype, shape) before it is used. An array that the
    JSON does not mention is an error too: minilm.save never writes one, so the file was altered.

``write_safetensors(tensors, path)`` and ``read_safetensors(path)`` (see ``minilm/safetensors.py``)
    read and write the flat ``{name: tensor}`` files in which pretrained models are published.

Both formats are written to a temporary file beside the target, flushed to disk, then renamed
over the target (``os.replace`` is atomic), so a crash or a full disk leaves the old file as it
was, never half a file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import zipfile
import zlib
from typing import NoReturn

import numpy as np

from minilm import backend
from minilm.tensor import Tensor

FORMAT = "minilm.checkpoint"
VERSION = 1
META = "__meta__"

#: dtypes of the arrays a checkpoint may hold: a Tensor's four, and a few more for NumPy arrays.
TENSOR_DTYPES = tuple(d.name for d in backend.DTYPES)
ARRAY_DTYPES = TENSOR_DTYPES + ("float16", "int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64")

_FLOAT_WORDS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
#: what reading a damaged zip archive raises (caught only around the zip reads themselves)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError)


class CheckpointError(ValueError):
    """A file that minilm.load cannot read: not a checkpoint, truncated, corrupt, or altered."""


# ---------------------------------------------------------------------------------------------
# writing files safely
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_open(path, who: str):
    """Open a temporary file beside ``path`` for writing bytes; when the ``with`` block ends
    without an error, flush it to disk and rename it onto ``path``. On any error the temporary
    file is removed and ``path`` keeps its old content. ``who`` names the caller in errors."""
    path = os.fspath(path)
    _check_target(path, who)
    tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        with open(tmp, "xb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def write_json(obj, path, who: str = "write_json") -> None:
    """Write ``obj`` as indented JSON (keys sorted, a newline at the end) to ``path``, atomically
    (``atomic_open``): config files, summaries, Hugging Face's ``config.json``."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    with atomic_open(path, who) as f:
        f.write(text.encode("utf-8"))


def _check_target(path: str, who: str) -> None:
    """The directory must exist (it is not created) and ``path`` must not be a directory."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            f"{who}: cannot write '{path}': the directory '{parent}' does not exist; "
            f"create it first, e.g. os.makedirs({parent!r}, exist_ok=True)"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(f"{who}: '{path}' is a directory; give a file name inside it")


def _fsync_directory(directory: str) -> None:
    """Make the rename itself survive a power cut (POSIX; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_readable(path, who: str) -> str:
    """``path`` as a str; FileNotFoundError / IsADirectoryError naming it when it cannot be read."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{who}: no such file '{path}' (absolute path: {os.path.abspath(path)})")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{who}: '{path}' is a directory, not a file")
    return path


# ---------------------------------------------------------------------------------------------
# save: Python object -> JSON nodes + arrays
# ---------------------------------------------------------------------------------------------


def _at(where: str) -> str:
    return f"at {where}" if where else "at the top level"


class _Encoder:
    """Turns an object into JSON-able nodes, collecting its arrays in ``self.arrays`` as it goes."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}  # id(tensor or array) -> member: stored once if saved twice
        self._open: set[int] = set()  # ids of the containers being encoded, to catch a cycle

    def encode(self, obj, where: str = ""):
        """The JSON node for ``obj``; ``where`` is its path, e.g. ``['state'][0]``, for errors."""
        if obj is None or isinstance(obj, bool):
            return obj
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, np.generic):  # before int/float: np.float64 is a subclass of float
            return self._array_node("numpy_scalar", np.asarray(obj), obj, where)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"type": "float", "value": repr(float(obj))}
        if isinstance(obj, Tensor):
            return self._array_node("tensor", backend.to_device(obj.data, backend.CPU), obj, where)
        if isinstance(obj, np.ndarray):
            return self._array_node("ndarray", obj, obj, where)
        if isinstance(obj, (dict, list, tuple)):
            return self._container(obj, where)
        hint = " (wrap a CuPy array in a minilm Tensor, or copy it to the CPU with .get())"
        hint = hint if backend.is_cuda_array(obj) else ""
        raise TypeError(
            f"minilm.save: cannot store value of type '{type(obj).__name__}' {_at(where)}{hint}; a checkpoint "
            "holds only dicts, lists, tuples, Tensors, NumPy arrays, numbers, strings and None"
        )

    def _container(self, obj, where: str) -> dict:
        """A dict, list or tuple node; its contents are encoded recursively."""
        if id(obj) in self._open:
            raise ValueError(f"minilm.save: the object contains itself {_at(where)}; a checkpoint must be a tree")
        self._open.add(id(obj))
        if isinstance(obj, dict):
            items = [[_key(k, where), self.encode(v, f"{where}[{k!r}]")] for k, v in obj.items()]
            node = {"type": "dict", "items": items}
        else:
            kind = "tuple" if isinstance(obj, tuple) else "list"
            node = {"type": kind, "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        self._open.discard(id(obj))
        return node

    def _array_node(self, kind: str, arr: np.ndarray, owner, where: str) -> dict:
        """Store ``arr`` as the next member ``tN`` (once per ``owner``) and return its reference."""
        if arr.dtype.name not in ARRAY_DTYPES:
            raise TypeError(
                f"minilm.save: cannot store a {kind} of dtype {arr.dtype} {_at(where)}; "
                f"the dtypes a checkpoint holds are {', '.join(ARRAY_DTYPES)}"
            )
        name = self._names.get(id(owner))
        if name is None:
            name = self._names[id(owner)] = f"t{len(self.arrays)}"
            self.arrays[name] = arr.astype(arr.dtype.newbyteorder("="), copy=False)
        return {"type": kind, "array": name, "dtype": arr.dtype.name, "shape": list(arr.shape)}


def _key(k, where: str):
    """A dict key as stored in JSON: str and int only (an int key must come back as an int)."""
    if isinstance(k, bool) or not isinstance(k, (str, int)):
        raise TypeError(
            f"minilm.save: dict key {k!r} of type '{type(k).__name__}' {_at(where)} cannot be stored; "
            "keys must be str or int"
        )
    return str(k) if isinstance(k, str) else int(k)


def save(obj, path) -> None:
    """Save a state dict (or any nesting of dicts, lists, tuples, Tensors, NumPy arrays, numbers,
    strings and None) to ``path`` (str or os.PathLike), exactly that name, replacing the file
    atomically. Tensors are stored without their graph, ``requires_grad`` or ``.grad``; a tensor
    that appears twice is stored once. The directory must exist."""
    encoder = _Encoder()
    root = encoder.encode(obj)
    meta = {"format": FORMAT, "version": VERSION, "root": root}
    text = json.dumps(meta, allow_nan=False)  # nan/inf were tagged above: the JSON stays standard
    members = dict(encoder.arrays)
    members[META] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "minilm.save") as f:
        np.savez(f, **members)  # a file object, so NumPy does not append '.npz' to the name


# ---------------------------------------------------------------------------------------------
# load: file -> checked metadata -> Python object
# ---------------------------------------------------------------------------------------------


def load(path, map_location=None):
    """Load what :func:`save` wrote. Tensors come back as minilm Tensors on ``map_location``
    (``"cpu"`` when None, or e.g. ``"cuda"``); NumPy arrays and scalars stay NumPy, on the CPU.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for a file that is not
    a minilm checkpoint, is truncated or corrupt, or whose arrays do not match its metadata."""
    dev = backend.CPU if map_location is None else backend.device(map_location)
    path = check_readable(path, "minilm.load")
    with _open_npz(path) as npz:
        decoder = _Decoder(npz, path, dev)
        obj = decoder.decode(_read_meta(npz, path)["root"])
        decoder.check_all_used()
    return obj


def _damaged(path: str, problem: str) -> CheckpointError:
    return CheckpointError(
        f"minilm.load: '{path}' is truncated or corrupt ({problem}); it was cut short or damaged after it "
        "was written: save the checkpoint again, or use an earlier copy"
    )


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _open_npz(path: str):
    """``numpy.load(path, allow_pickle=False)``, after checking that the file starts as a zip archive
    does (otherwise NumPy would take it for a pickle, and refuse it with a less helpful message)."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip's first entry, or an empty zip
        _explain_not_zip(path, head)
    try:
        return np.load(path, allow_pickle=False)
    except (FileNotFoundError, PermissionError):
        raise
    except _ZIP_ERRORS as e:
        raise _damaged(path, _describe(e)) from None


def _explain_not_zip(path: str, head: bytes) -> NoReturn:
    """Raise the CheckpointError that says what the file is, as far as its first bytes tell."""
    if len(head) < 4 and b"PK\x03\x04".startswith(head):
        raise _damaged(path, f"the file is only {len(head)} bytes long")
    if head[:2] == b"PK":
        raise _damaged(path, f"it starts with {head[:4]!r}, which is no zip signature")
    if head.startswith(b"\x93NUMPY"):
        what = "it is a single .npy array; read it with numpy.load"
    elif len(head) == 9 and head[8:] == b"{":
        what = "it looks like a safetensors file; read it with minilm.io.read_safetensors"
    else:
        what = f"a .npz archive starts with the zip signature b'PK', this file with {head[:4]!r}"
    raise CheckpointError(f"minilm.load: '{path}' is not a minilm checkpoint ({what})")


def _read_member(npz, name: str, path: str) -> np.ndarray:
    """One array of the archive; a damaged or pickled member is a CheckpointError, never unpickled."""
    try:
        return npz[name]
    except _ZIP_ERRORS as e:
        raise _damaged(path, f"{_describe(e)}, reading '{name}'") from None
    except ValueError as e:  # e.g. an array of Python objects, which NumPy refuses to unpickle
        raise CheckpointError(
            f"minilm.load: '{path}': the array '{name}' cannot be read safely ({e}); the file was not "
            "written by minilm.save, or was altered"
        ) from None


def _read_meta(npz, path: str) -> dict:
    """The parsed ``__meta__`` JSON, after checking its format name and version."""
    if META not in npz.files:
        hint = "Read a plain .npz with numpy.load."
        if any(name.endswith("data.pkl") for name in npz.files):
            hint = "It looks like a torch.save file: those are pickles, which minilm never loads."
        raise CheckpointError(
            f"minilm.load: '{path}' is not a minilm checkpoint (it is a zip archive with the members "
            f"{sorted(npz.files)[:8]} but without the '{META}' entry that minilm.save writes). {hint}"
        )
    raw = _read_member(npz, META, path)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"it is an array of dtype {raw.dtype} and shape {raw.shape}, not 1-d uint8")
        meta = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(
            f"minilm.load: '{path}' has unreadable metadata: '{META}' is not UTF-8 JSON ({e})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(
            f"minilm.load: '{path}' is not a minilm checkpoint (its format is {found!r}, not {FORMAT!r})"
        )
    version = meta.get("version")
    if type(version) is not int or version != VERSION:
        newer = type(version) is int and version > VERSION
        raise CheckpointError(
            f"minilm.load: '{path}' has format version {version!r}, but this minilm reads version {VERSION}"
            + ("; it was written by a newer minilm: upgrade minilm to read it" if newer else "")
        )
    if "root" not in meta:
        raise CheckpointError(f"minilm.load: '{path}' has bad metadata: the key 'root' is missing")
    return meta


def _no_constants(word: str):
    raise ValueError(f"{word} is not standard JSON")


class _Decoder:
    """Turns checked JSON nodes back into Python values, reading the arrays they name."""

    def __init__(self, npz, path: str, dev: backend.Device):
        self.npz, self.path, self.dev = npz, path, dev
        self._arrays: dict[str, np.ndarray] = {}  # member -> array, each read once
        self._values: dict[tuple[str, str], object] = {}  # (kind, member) -> value: a shared tensor stays shared

    def bad(self, where: str, problem: str) -> NoReturn:
        raise CheckpointError(
            f"minilm.load: '{self.path}' has bad metadata {_at(where)}: {problem}; "
            "the file was altered after minilm.save wrote it"
        )

    def decode(self, node, where: str = ""):
        """The Python value that ``node`` describes."""
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        kind = node.get("type") if isinstance(node, dict) else None
        if kind == "float":
            if node.get("value") not in _FLOAT_WORDS:
                self.bad(where, f"a float must be 'nan', 'inf' or '-inf', got {node.get('value')!r}")
            return _FLOAT_WORDS[node["value"]]
        if kind in ("list", "tuple", "dict"):
            items = node.get("items")
            if not isinstance(items, list):
                self.bad(where, f"a {kind} needs a list of 'items', got {items!r:.60}")
            if kind == "dict":
                return self._dict(items, where)
            values = [self.decode(v, f"{where}[{i}]") for i, v in enumerate(items)]
            return tuple(values) if kind == "tuple" else values
        if kind in ("tensor", "ndarray", "numpy_scalar"):
            return self._array_value(kind, node, where)
        self.bad(where, f"expected a value or an object with a known 'type', got {node!r:.80}")

    def _dict(self, items: list, where: str) -> dict:
        out = {}
        for pair in items:
            ok = isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
            if not ok or isinstance(pair[0], bool):
                self.bad(where, f"a dict item must be [key, value] with a str or int key, got {pair!r:.60}")
            out[pair[0]] = self.decode(pair[1], f"{where}[{pair[0]!r}]")
        return out

    def _array_value(self, kind: str, node: dict, where: str):
        """A Tensor, ndarray or NumPy scalar, after checking its array against the metadata."""
        name, dtype, shape = node.get("array"), node.get("dtype"), node.get("shape")
        allowed = TENSOR_DTYPES if kind == "tensor" else ARRAY_DTYPES
        if not isinstance(name, str) or name == META or name not in self.npz.files:
            self.bad(where, f"the array {name!r} that it names is not in the file")
        if dtype not in allowed:
            self.bad(where, f"dtype {dtype!r} is not one of {', '.join(allowed)}")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            self.bad(where, f"shape must be a list of non-negative ints, got {shape!r:.60}")
        if kind == "numpy_scalar" and shape:
            self.bad(where, f"a NumPy scalar has shape [], got {shape}")
        if name not in self._arrays:
            self._arrays[name] = _read_member(self.npz, name, self.path)
        arr = self._arrays[name]
        if arr.dtype.newbyteorder("=") != np.dtype(dtype) or arr.shape != tuple(shape):
            found = f"{arr.dtype.name} {list(arr.shape)}"
            self.bad(where, f"the array '{name}' is {found}, but the metadata says {dtype} {shape}")
        if (kind, name) not in self._values:
            self._values[kind, name] = self._wrap(kind, arr.astype(dtype, copy=False))
        return self._values[kind, name]

    def _wrap(self, kind: str, arr: np.ndarray):
        if kind == "tensor":
            return Tensor._wrap(backend.to_device(arr, self.dev))
        return arr[()] if kind == "numpy_scalar" else arr

    def check_all_used(self) -> None:
        """Every array in the file must be named by the metadata: minilm.save writes no others."""
        extra = sorted(set(self.npz.files) - set(self._arrays) - {META})
        if extra:
            raise CheckpointError(
                f"minilm.load: '{self.path}' holds arrays that its metadata does not mention: {extra[:8]}; "
                "minilm.save writes none, so the file was altered after it was written"
            )


# The safetensors reader and writer live in their own file (which uses atomic_open and
# check_readable from this one); they are re-exported here, so minilm.io has both formats.
from minilm.safetensors import (
    SafetensorsError,
    read_safetensors,
    safetensors_metadata,
    write_safetensors,
)

__all__ = [
    "CheckpointError",
    "SafetensorsError",
    "atomic_open",
    "load",
    "read_safetensors",
    "safetensors_metadata",
    "save",
    "write_safetensors",
]
