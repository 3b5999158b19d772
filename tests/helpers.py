"""Helpers for the tests: random leaves on a device, including non-contiguous ones."""

import numpy as np

import minilm
from minilm import backend


def array(device, shape, seed=0, dtype=np.float64, transposed=False, domain=None):
    """A random array on ``device``. ``transposed=True`` returns a non-contiguous view (all axes
    reversed). ``domain``: None (standard normal), "positive" (>= 0.5) or "nonzero" (|x| >= 0.5)."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    base_shape = shape[::-1] if transposed else shape
    a = np.asarray(rng.standard_normal(base_shape))
    if domain == "positive":
        a = np.abs(a) + 0.5
    elif domain == "nonzero":
        a = np.sign(a + 1e-12) * (np.abs(a) + 0.5)
    a = backend.to_device(a.astype(dtype), backend.device(device))
    return a.transpose() if transposed else a


def leaf(device, shape, seed=0, dtype=np.float64, transposed=False, domain=None, requires_grad=True):
    """A leaf Tensor wrapping :func:`array` without copying (so a transposed view stays one)."""
    return minilm.Tensor(array(device, shape, seed, dtype, transposed, domain), requires_grad=requires_grad)


def to_numpy(x):
    """The values of a minilm Tensor or array as a NumPy array."""
    if isinstance(x, minilm.Tensor):
        x = x.data
    return backend.to_device(x, backend.CPU)


def F(L):
    """``L.nn.functional`` of either library (``minilm`` or ``torch``), for agreement cases
    written once for both."""
    return L.nn.functional


def idx(L, values):
    """An integer index tensor of either library."""
    return L.tensor(values)
