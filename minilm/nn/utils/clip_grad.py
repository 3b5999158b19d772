"""Gradient clipping: keep one bad batch from throwing the parameters far away.

Recurrent networks especially can produce exploding gradients: backpropagation through time
multiplies by the same matrix at every step, and a gradient can grow by orders of magnitude.
Two remedies, applied between ``loss.backward()`` and ``optimizer.step()``:

``clip_grad_norm_``   treat all gradients as ONE long vector; if its norm exceeds ``max_norm``,
                      scale every gradient by the same factor ``max_norm / norm``. The direction
                      of the update is kept, only its length is capped.
``clip_grad_value_``  clamp every coordinate to ``[-clip_value, clip_value]`` (changes direction).

Both replace each ``p.grad``'s array with a new one, never writing into the old array.
"""

from __future__ import annotations

import math

import numpy as np

from minilm import backend
from minilm.tensor import Tensor


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale the gradients of ``parameters`` (a Tensor or an iterable of them) so that their total
    norm is at most ``max_norm``, and return that total norm (before clipping) as a 0-d Tensor.

    The total norm is the ``norm_type``-norm of all gradients joined into one vector, which is the
    norm of the vector of the per-parameter norms (``norm_type=inf``: the largest magnitude). The
    scale is ``min(1, max_norm / (total_norm + 1e-6))``; the 1e-6 guards against division by zero
    and makes a norm equal to ``max_norm`` come out a hair below it. Parameters without a gradient
    are left out. A NaN or infinite norm raises RuntimeError when ``error_if_nonfinite=True``;
    otherwise the gradients are scaled by it anyway (and become NaN), as in PyTorch."""
    norm_type = float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm={max_norm} is negative")
    if not (norm_type > 0):
        raise ValueError(f"clip_grad_norm_: norm_type={norm_type} is not supported; use a p > 0 or inf")
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return Tensor._wrap(np.zeros((), dtype=backend.get_default_dtype()))
    total = total_norm([g.data for g in grads], norm_type)
    if error_if_nonfinite and not bool(backend.xp_of(total).isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}, so they "
            "cannot be clipped; look for the cause (a too-large learning rate, log(0), a division by 0), or "
            "pass error_if_nonfinite=False to scale by it anyway"
        )
    scale = max_norm / (total + 1e-6)
    if bool(scale < 1.0) or not bool(backend.xp_of(total).isfinite(total)):
        for g in grads:
            g.data = _as_array(g.data * scale.astype(g.data.dtype))
    return Tensor._wrap(total)


def total_norm(arrays: list, norm_type: float):
    """The ``norm_type``-norm of all ``arrays`` taken as one vector, as a 0-d array on the device of
    the first one: the norm of the per-array norms (no array is copied or joined)."""
    dev = backend.device_of(arrays[0])
    norms = [backend.to_device(vector_norm(a, norm_type), dev) for a in arrays]
    dtype = np.result_type(*[n.dtype for n in norms])
    xp = backend.xp_of(norms[0])
    return vector_norm(xp.stack([n.astype(dtype) for n in norms]), norm_type)


def vector_norm(a, norm_type: float):
    """``||a||_p = (sum |a_i|^p)^(1/p)`` over all elements, as a 0-d array of ``a``'s dtype;
    ``p = inf`` gives ``max |a_i|`` (0 for an empty array)."""
    xp = backend.xp_of(a)
    if a.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if math.isinf(norm_type):
        result = xp.abs(a).max()
    elif norm_type == 1.0:
        result = xp.abs(a).sum()
    elif norm_type == 2.0:
        result = xp.sqrt((a * a).sum())
    else:
        result = (xp.abs(a) ** norm_type).sum() ** (1.0 / norm_type)
    return xp.asarray(result, dtype=a.dtype)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient coordinate of ``parameters`` (a Tensor or an iterable of them) to
    ``[-clip_value, clip_value]``. Parameters without a gradient are skipped."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value={clip_value} is negative")
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            g = p.grad.data
            p.grad.data = _as_array(backend.xp_of(g).clip(g, -clip_value, clip_value))


def _as_array(x):
    """NumPy returns an operation on a 0-d array as a scalar; make it a 0-d array again."""
    return np.asarray(x) if isinstance(x, np.generic) else x


def _as_list(parameters) -> list:
    """One Tensor, or any iterable of them (a generator such as ``model.parameters()`` too)."""
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)
