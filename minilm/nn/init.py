"""Weight initialisation, as ``torch.nn.init``: each function fills a tensor IN PLACE (outside
the graph) and returns it.

The scale of the initial weights decides whether signals keep their size through a deep stack.
For ``y = W x`` with independent zero-mean weights of variance ``s^2`` and ``fan_in`` inputs,
``Var(y) = fan_in * s^2 * Var(x)``: keeping the variance needs ``s^2 = 1 / fan_in`` (times a gain
that makes up for what the activation removes, 2 for ReLU). That is the whole idea behind:

==========================  ======================================================
``xavier_uniform_/normal_``  variance ``gain^2 * 2 / (fan_in + fan_out)``  (Glorot & Bengio 2010)
``kaiming_uniform_/normal_`` variance ``gain^2 / fan``                      (He et al. 2015)
==========================  ======================================================

A uniform distribution ``U(-b, b)`` has variance ``b^2 / 3``, hence the ``sqrt(3)`` below.
PyTorch's default for ``nn.Linear`` is ``kaiming_uniform_(w, a=sqrt(5))``, which works out to
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and the same bound for the bias.
"""

from __future__ import annotations

import math

from minilm import backend
from minilm.tensor import Tensor


def _fill(tensor: Tensor, array) -> Tensor:
    tensor.data = array.astype(tensor.data.dtype, copy=False)
    return tensor


def _check(name: str, tensor) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{name}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"init.{name}: expected a float tensor, got {tensor.data.dtype}")


def _uniform(tensor, low, high):
    u = backend.random_uniform(tensor.device, tensor.shape, tensor.data.dtype)
    return u * (high - low) + low


def _normal(tensor, mean, std):
    n = backend.random_normal(tensor.device, tensor.shape, tensor.data.dtype)
    return n * std + mean


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor by which an activation shrinks the standard deviation, undone by the init:
    1 for linear/sigmoid-free layers, 5/3 for tanh, sqrt(2) for relu, sqrt(2/(1+a^2)) for
    leaky_relu with slope a (default 0.01)."""
    linear = {"linear", "conv1d", "conv2d", "conv3d", "sigmoid", "identity"}
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        a = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + a**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple:
    """fan_in = inputs per output unit, fan_out = outputs per input unit, for a weight of shape
    (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with U(a, b)."""
    _check("uniform_", tensor)
    return _fill(tensor, _uniform(tensor, a, b))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with N(mean, std^2)."""
    _check("normal_", tensor)
    return _fill(tensor, _normal(tensor, mean, std))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """Fill with N(mean, std^2) restricted to [a, b] (values outside are drawn again), the
    initialiser of BERT's weights (std 0.02)."""
    _check("trunc_normal_", tensor)
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    out = _normal(tensor, mean, std)
    bad = (out < a) | (out > b)
    for _ in range(1000):
        n_bad = int(bad.sum())
        if n_bad == 0:
            break
        redraw = backend.random_normal(tensor.device, (n_bad,), tensor.data.dtype) * std + mean
        out[bad] = redraw
        bad = (out < a) | (out > b)
    else:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too far from N({mean}, {std}^2) to sample from")
    return _fill(tensor, out)


def constant_(tensor, val: float):
    _check("constant_", tensor)
    return _fill(tensor, backend.xp_of(tensor.data).full(tensor.shape, val, dtype=tensor.data.dtype))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0):
    """U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))`` (variance 2/(fan_in+fan_out))."""
    _check("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, _uniform(tensor, -bound, bound))


def xavier_normal_(tensor, gain: float = 1.0):
    """N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    _check("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return _fill(tensor, _normal(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out))))


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """U(-b, b) with ``b = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``."""
    _check("kaiming_uniform_", tensor)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return _fill(tensor, _uniform(tensor, -bound, bound))


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """N(0, std^2) with ``std = gain / sqrt(fan)``."""
    _check("kaiming_normal_", tensor)
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return _fill(tensor, _normal(tensor, 0.0, std))
