"""Indexing: ``t[key]`` and ``gather``.

Forward picks elements; backward puts the gradient back where they came from, into a tensor of
zeros shaped like the input. With basic indexing (integers, slices, ``None``, ``...``) every
element is picked at most once and a plain assignment does it. With integer arrays the same
element can be picked twice (``x[[0, 0]]``); it then contributed twice to the loss and must
receive BOTH gradients, so backward uses a scatter-ADD (``backend.scatter_add``), not an
assignment, which would keep only one of them.

Boolean masks are turned into the integer arrays of their True positions (``mask.nonzero()``),
so that one code path serves both. Integer indices are checked against the sizes here, because
CuPy would silently wrap an index that is out of range.
"""

from __future__ import annotations

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.ops.shape import normalize_dim
from minilm.tensor import Tensor


def _to_index_array(k, device):
    """A Tensor, list or array inside an index, as an int64 or bool array on ``device``."""
    if isinstance(k, Tensor):
        arr = k.data
    else:
        arr = np.asarray(k) if isinstance(k, (list, tuple)) else k
    if arr.dtype.kind in "iu":
        arr = arr.astype(backend.int64, copy=False)
    elif arr.dtype.kind != "b":
        if arr.size == 0 and isinstance(k, (list, tuple)):
            arr = arr.astype(backend.int64)
        else:
            raise IndexError(f"index: tensors used as indices must be integer or bool, got {arr.dtype}")
    if backend.device_of(arr) != device:
        arr = backend.to_device(arr, device)
    return arr


def _is_array_index(k) -> bool:
    return isinstance(k, (Tensor, list, np.ndarray)) or backend.is_cuda_array(k)


def normalize_key(key, shape, device):
    """Return ``(key, advanced)``: the key as a tuple that NumPy and CuPy both understand, with
    bool masks replaced by integer arrays, every integer checked against its dimension's size,
    and whether it contains integer arrays (advanced indexing)."""
    if not isinstance(key, tuple):
        key = (key,)
    consumed = sum(
        (k.ndim if hasattr(k, "ndim") else np.ndim(k)) if _is_array_index(k) and _index_dtype_kind(k) == "b" else 1
        for k in key
        if k is not None and k is not Ellipsis
    )
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("index: an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"index: too many indices for a tensor of shape {shape}: {consumed} dimensions indexed")
    out, advanced, dim = [], False, 0
    for k in key:
        if k is None:
            out.append(None)
        elif k is Ellipsis:
            out.append(Ellipsis)
            dim += len(shape) - consumed
        elif isinstance(k, slice):
            out.append(k)
            dim += 1
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            n = shape[dim]
            if not -n <= k < n:
                raise IndexError(f"index: index {k} is out of range for dimension {dim} of size {n}")
            out.append(int(k))
            dim += 1
        elif _is_array_index(k):
            arr = _to_index_array(k, device)
            if arr.dtype.kind == "b":
                want = shape[dim : dim + arr.ndim]
                if tuple(arr.shape) != tuple(want):
                    raise IndexError(
                        f"index: a boolean mask of shape {tuple(arr.shape)} does not match the "
                        f"indexed dimensions {dim}..{dim + arr.ndim - 1} of shape {tuple(want)}"
                    )
                out.extend(arr.nonzero())
                dim += arr.ndim
            else:
                backend.check_index_range("index", arr, shape[dim], dim)
                out.append(arr)
                dim += 1
            advanced = True
        else:
            raise IndexError(f"index: unsupported index of type {type(k).__name__}: {k!r}")
    return tuple(out), advanced


def _index_dtype_kind(k):
    if isinstance(k, Tensor):
        return k.data.dtype.kind
    if isinstance(k, list):
        return np.asarray(k).dtype.kind
    return k.dtype.kind


class GetItem(Function):
    op_name = "index"

    @staticmethod
    def forward(ctx, a, key, advanced):
        ctx.shape, ctx.key, ctx.advanced = a.shape, key, advanced
        return a[key]

    @staticmethod
    def backward(ctx, g):
        gx = backend.xp_of(g).zeros(ctx.shape, dtype=g.dtype)
        if ctx.advanced:
            backend.scatter_add(gx, ctx.key, g)  # repeated indices accumulate
        else:
            gx[ctx.key] = g
        return gx, None, None


def getitem(input, key):
    """``input[key]`` with integers, slices, ``None``, ``...``, integer arrays/tensors/lists
    and bool masks, as in NumPy and PyTorch."""
    key, advanced = normalize_key(key, input.shape, input.device)
    return GetItem.apply(input, key, advanced)


class Gather(Function):
    @staticmethod
    def forward(ctx, a, index_key):
        ctx.shape, ctx.key = a.shape, index_key
        return a[index_key]

    @staticmethod
    def backward(ctx, g):
        gx = backend.xp_of(g).zeros(ctx.shape, dtype=g.dtype)
        backend.scatter_add(gx, ctx.key, g)
        return gx, None


def gather(input, dim, index):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0`` (and likewise for other dims):
    pick along ``dim`` at the positions in ``index``, which has as many dimensions as ``input``
    and no larger sizes in the others."""
    if not isinstance(index, Tensor) or index.data.dtype != backend.int64:
        raise TypeError("gather: index must be an int64 Tensor")
    d = normalize_dim("gather", dim, input.ndim)
    if index.ndim != input.ndim:
        raise ValueError(f"gather: index has {index.ndim} dimensions but input has {input.ndim} (shapes {index.shape} and {input.shape})")
    for i, (m, n) in enumerate(zip(index.shape, input.shape)):
        if i != d and m > n:
            raise ValueError(f"gather: index shape {index.shape} is larger than input shape {input.shape} in dimension {i}")
    idx = index.data
    if backend.device_of(idx) != input.device:
        raise RuntimeError(f"gather: index is on {index.device} but input is on {input.device}")
    backend.check_index_range("gather", idx, input.shape[d], d)
    xp = backend.xp_of(idx)
    key = []
    for i in range(input.ndim):
        if i == d:
            key.append(idx)
        else:
            shape = [1] * input.ndim
            shape[i] = idx.shape[i]
            key.append(xp.arange(idx.shape[i]).reshape(shape))
    return Gather.apply(input, tuple(key))
