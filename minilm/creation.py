"""Making tensors: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``randn``, ``rand``,
``randint`` and their ``*_like`` versions, with PyTorch's signatures.

Every function takes ``dtype=``, ``device=`` and ``requires_grad=``. Floating-point data gets the
default dtype (float32, see ``minilm.set_default_dtype``) unless it is already a float64 array;
integers become int64. Random numbers come from the generator of the target device, seeded by
``minilm.manual_seed``.
"""

from __future__ import annotations

import numpy as np

from minilm import backend
from minilm.tensor import Tensor


def as_array(data, dtype=None, device=None, copy=True):
    """Turn ``data`` (a Tensor, NumPy/CuPy array, number or nested list) into an array of a
    supported dtype on the requested device."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, as an array would
        data = np.asarray(data)
    if isinstance(data, np.ndarray) or backend.is_cuda_array(data):
        arr = data
        target = backend.canonical_dtype(arr.dtype if dtype is None else dtype)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor(): cannot build a tensor from this data: {e}") from None
        if arr.dtype == object:
            raise TypeError(
                f"tensor(): cannot build a tensor from {type(data).__name__} data that holds "
                "Tensors or ragged lists; use minilm.stack() for a list of tensors"
            )
        if dtype is not None:
            target = backend.canonical_dtype(dtype)
        elif arr.dtype.kind == "f":  # Python floats: the default dtype, as in PyTorch
            target = backend.get_default_dtype()
        else:
            target = backend.canonical_dtype(arr.dtype)
        copy = False  # np.asarray of a list already made a new array
    dev = backend.device_of(arr) if device is None else backend.device(device)
    if backend.device_of(arr) != dev:
        arr = backend.to_device(arr, dev)
        copy = False
    if arr.dtype != target:
        return arr.astype(target)
    return arr.copy() if copy else arr


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a COPY of ``data`` (a number, a nested list, a NumPy or CuPy array)."""
    t = Tensor._wrap(as_array(data, dtype, device, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ValueError(f"a size must be a tuple of non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _finish(arr, requires_grad) -> Tensor:
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else backend.canonical_dtype(dtype)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value``. Without a dtype, the dtype follows
    the value: bool, int64 for an integer, the default float dtype otherwise."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = backend.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = backend.int64
    dev = backend.device("cpu" if device is None else device)
    xp = backend.xp_for(dev)
    with backend.on_device(dev):
        arr = xp.full(_size((size,)), fill_value, dtype=_dtype(dtype))
    return _finish(arr, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_size(size), 0, dtype=_dtype(dtype), device=device, requires_grad=requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(_size(size), 1, dtype=_dtype(dtype), device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``arange(end)`` or ``arange(start, end, step)``: int64 when all three are integers."""
    if end is None:
        start, end = 0, start
    if dtype is None and not all(isinstance(v, (int, np.integer)) for v in (start, end, step)):
        dtype = backend.get_default_dtype()
    elif dtype is None:
        dtype = backend.int64
    dev = backend.device("cpu" if device is None else device)
    xp = backend.xp_for(dev)
    with backend.on_device(dev):
        arr = xp.arange(start, end, step, dtype=backend.canonical_dtype(dtype))
    return _finish(arr, requires_grad)


def _float_dtype(name, dtype):
    d = _dtype(dtype)
    if d not in backend.FLOAT_DTYPES:
        raise TypeError(f"{name}: random floats need float32 or float64, got {d}")
    return d


def randn(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1)."""
    dev = backend.device("cpu" if device is None else device)
    arr = backend.random_normal(dev, _size(size), _float_dtype("randn", dtype))
    return _finish(arr, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    dev = backend.device("cpu" if device is None else device)
    arr = backend.random_uniform(dev, _size(size), _float_dtype("rand", dtype))
    return _finish(arr, requires_grad)


def randint(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high)."""
    args = list(args)
    if size is None:
        if not args:
            raise TypeError("randint(): missing size")
        size = args.pop()
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint(): use randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise ValueError(f"randint(): high ({high}) must be greater than low ({low})")
    dev = backend.device("cpu" if device is None else device)
    arr = backend.random_integers(dev, int(low), int(high), _size((size,)))
    if dtype is not None:
        arr = arr.astype(backend.canonical_dtype(dtype))
    return _finish(arr, requires_grad)


def _like(input, dtype, device):
    return (input.dtype if dtype is None else dtype), (input.device if device is None else device)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None) -> Tensor:
    """``randint_like(input, high)`` or ``randint_like(input, low, high)``."""
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=dtype, device=device)
