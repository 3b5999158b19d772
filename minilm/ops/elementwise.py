"""Elementwise operations: arithmetic, the usual nonlinearities, maximum/minimum/clamp, where,
comparisons, and dtype/device copies.

Each differentiable op is a ``Function`` whose ``backward`` is the derivative of its formula,
multiplied by the incoming gradient ``g`` (the chain rule). Broadcasting needs no thought here:
a backward may return a gradient with the broadcast shape and the engine sums it back to each
input's shape (``minilm.autograd.unbroadcast``).

``y = f(x)``, elementwise, so ``dL/dx = g * f'(x)``:

=========  ==================  ===============================
op          forward             backward (``g`` = dL/dy)
=========  ==================  ===============================
add         a + b               g, g
sub         a - b               g, -g
mul         a * b               g*b, g*a
div         a / b               g/b, -g*a/b^2 = -(g/b)*y
pow         a^b                 g*b*a^(b-1), g*y*ln(a)
neg         -a                  -g
exp         e^a                 g*y
log         ln a                g/a
sqrt        sqrt(a)             g/(2y)
abs         |a|                 g*sign(a)
tanh        tanh a              g*(1-y^2)
sigmoid     1/(1+e^-a)          g*y*(1-y)
relu        max(a, 0)           g*[a>0]
=========  ==================  ===============================
"""

from __future__ import annotations

import math
import operator

import numpy as np

from minilm import backend
from minilm.autograd import Function, _check_compatible
from minilm.tensor import Tensor

# ---------------------------------------------------------------------------------------------
# operand preparation: numbers, arrays and integer tensors meet float tensors
# ---------------------------------------------------------------------------------------------


def _cast(t: Tensor, dtype) -> Tensor:
    return Tensor._wrap(t.data.astype(dtype))


def _as_tensor(x):
    from minilm.creation import as_array

    return Tensor._wrap(as_array(x, copy=False))


def binary_operands(a, b):
    """Bring the two operands of a binary op to a common dtype, the way PyTorch does but without
    ever promoting one float dtype to another (that is an error, raised by Function.apply):

    - a Python/NumPy number stays a number; a float number with an integer or bool tensor makes
      the tensor the default float dtype (``int_tensor * 0.5`` is float32, as in PyTorch);
    - an integer or bool tensor with a float tensor is cast to the float tensor's dtype;
    - a NumPy/CuPy array becomes a tensor without gradient.
    """
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            da, db = a.data.dtype, b.data.dtype
            if da is db:
                return a, b
            fa, fb = da.kind == "f", db.kind == "f"
            if fa and not fb:
                return a, _cast(b, da)
            if fb and not fa:
                return _cast(a, db), b
            if not fa and not fb:
                return _cast(a, backend.int64), _cast(b, backend.int64)
            return a, b  # two float dtypes: Function.apply names the mismatch
        b = _number(b)
        if isinstance(b, Tensor):
            return binary_operands(a, b)
        if isinstance(b, float) and a.data.dtype.kind != "f":
            a = _cast(a, backend.get_default_dtype())
        return a, b
    if isinstance(b, Tensor):
        b, a = binary_operands(b, a)
        return a, b
    raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")


def _number(x):
    """A Python number stays as it is (NumPy then keeps the tensor's dtype); a NumPy scalar
    becomes a Python number; an array becomes a Tensor."""
    if isinstance(x, np.generic):  # first: np.float64 is also a Python float, but not a weak one
        return x.item()
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, np.ndarray) or backend.is_cuda_array(x):
        return _as_tensor(x)
    raise TypeError(f"unsupported operand of type {type(x).__name__}; use a Tensor or a Python number")


def _float_operands(a, b):
    """Like binary_operands, then make sure the result is floating point (true division)."""
    a, b = binary_operands(a, b)
    d = backend.get_default_dtype()
    if isinstance(a, Tensor) and a.data.dtype.kind != "f":
        a = _cast(a, d)
    if isinstance(b, Tensor) and b.data.dtype.kind != "f":
        b = _cast(b, d)
    return a, b


def _xp2(a, b):
    """The array module of whichever operand is an array."""
    return backend.xp_of(b if isinstance(a, (bool, int, float)) else a)


def _broadcast_message(arrays):
    shapes = [tuple(np.shape(x)) for x in arrays]
    shapes = [s for s, x in zip(shapes, arrays) if not isinstance(x, (int, float, bool))]
    if len(shapes) < 2:
        return None
    for d in range(1, max(len(s) for s in shapes) + 1):
        sizes = {s[-d] for s in shapes if len(s) >= d} - {1}
        if len(sizes) > 1:
            return (
                f"shapes {' and '.join(str(s) for s in shapes)} cannot be broadcast together: "
                f"dimension {-d} has sizes {' and '.join(str(n) for n in sorted(sizes))} (aligned "
                "from the right, each pair of sizes must be equal or one of them 1)"
            )
    return None


class BroadcastingFunction(Function):
    """A Function whose inputs broadcast against each other; a shape mismatch names the shapes."""

    @classmethod
    def explain_failure(cls, arrays, kwargs, error):
        return _broadcast_message(arrays)


# ---------------------------------------------------------------------------------------------
# arithmetic
# ---------------------------------------------------------------------------------------------


class Add(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


class Div(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save_for_backward(b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        b, y = ctx.saved_tensors
        ga = g / b
        return (ga if ctx.needs_input_grad[0] else None), (-ga * y if ctx.needs_input_grad[1] else None)


class Pow(BroadcastingFunction):
    op_name = "pow"

    @staticmethod
    def forward(ctx, a, b):
        y = a**b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = g * b * a ** (b - 1) if not (isinstance(b, (int, float)) and b == 0) else g * 0
        if need_b:
            if isinstance(a, (int, float)):
                gb = g * y * math.log(a)
            else:
                xp = backend.xp_of(g)
                # d/db a^b = a^b ln a; PyTorch defines it as 0 where a == 0 and b >= 0.
                with np.errstate(divide="ignore", invalid="ignore"):
                    gb = xp.where((a == 0) & (b >= 0), 0, g * y * xp.log(a))
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


def add(input, other):
    """``input + other``, broadcasting."""
    a, b = binary_operands(input, other)
    return Add.apply(a, b)


def sub(input, other):
    """``input - other``, broadcasting."""
    a, b = binary_operands(input, other)
    return Sub.apply(a, b)


def mul(input, other):
    """``input * other``, broadcasting."""
    a, b = binary_operands(input, other)
    return Mul.apply(a, b)


def div(input, other):
    """``input / other`` (true division: the result is always floating point)."""
    a, b = _float_operands(input, other)
    return Div.apply(a, b)


def pow(input, exponent):
    """``input ** exponent``; either may be a tensor or a number."""
    a, b = binary_operands(input, exponent)
    return Pow.apply(a, b)


def neg(input):
    return Neg.apply(input)


# ---------------------------------------------------------------------------------------------
# unary functions
# ---------------------------------------------------------------------------------------------


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        y = backend.xp_of(a).exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a).log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        y = backend.xp_of(a).sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y + y)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return backend.xp_of(a).abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * backend.xp_of(a).sign(a)


class Tanh(Function):
    @staticmethod
    def forward(ctx, a):
        y = backend.xp_of(a).tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - g * y * y  # g * (1 - y^2), without a Python-number operand (slower in NumPy)


def sigmoid_array(a):
    """The logistic sigmoid of an array (NumPy or CuPy). ``1 / (1 + e^-a)`` overflows ``e^-a`` for
    very negative ``a``; ``e^(-log(1 + e^-a))`` never does. Kernels with a sigmoid in their backward
    (softplus, word2vec's negative sampling) use this too."""
    xp = backend.xp_of(a)
    return xp.exp(-xp.logaddexp(0, -a))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        y = sigmoid_array(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        return gy - gy * y  # g * y * (1 - y)


class Softplus(Function):
    """softplus(x) = log(1 + e^x), computed as ``logaddexp(0, x)`` (never overflows).
    Its derivative is the sigmoid: d/dx log(1 + e^x) = e^x / (1 + e^x) = sigma(x), which is 1/2 at
    x = 0. (Writing softplus as ``relu(x) + log(1 + e^-|x|)`` and differentiating the pieces would
    give 0 there, because relu and abs have slope 0 at 0 in any library: a wrong gradient exactly
    where logits start.)"""

    op_name = "softplus"

    @staticmethod
    def forward(ctx, a):
        xp = backend.xp_of(a)
        ctx.save_for_backward(a)
        return xp.logaddexp(0, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * sigmoid_array(a)


class Relu(Function):
    op_name = "relu"

    @staticmethod
    def forward(ctx, a):
        y = backend.xp_of(a).maximum(a, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y > 0)


class LeakyRelu(Function):
    op_name = "leaky_relu"

    @staticmethod
    def forward(ctx, a, negative_slope):
        ctx.save_for_backward(a)
        ctx.negative_slope = negative_slope
        return backend.xp_of(a).where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return backend.xp_of(g).where(a > 0, g, g * ctx.negative_slope), None


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def sqrt(input):
    return Sqrt.apply(input)


def abs(input):
    return Abs.apply(input)


def tanh(input):
    return Tanh.apply(input)


def sigmoid(input):
    return Sigmoid.apply(input)


def softplus(input):
    """log(1 + exp(input)), with derivative sigmoid(input)."""
    return Softplus.apply(input)


def relu(input):
    return Relu.apply(input)


def leaky_relu(input, negative_slope=0.01):
    return LeakyRelu.apply(input, float(negative_slope))


# ---------------------------------------------------------------------------------------------
# maximum, minimum, clamp, where
# ---------------------------------------------------------------------------------------------


class Maximum(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _xp2(a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _pick_larger(g, a, b), _pick_larger(g, b, a)


class Minimum(BroadcastingFunction):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _xp2(a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _pick_larger(g, b, a), _pick_larger(g, a, b)


def _pick_larger(g, x, y):
    """The gradient that reaches ``x`` in ``maximum(x, y)``: all of it where x is larger, none
    where it is smaller, and half of it at a tie (as PyTorch does)."""
    xp = backend.xp_of(g)
    return xp.where(x > y, g, xp.where(x == y, g * 0.5, 0))


class Clamp(Function):
    @staticmethod
    def forward(ctx, a, min, max):
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        return backend.xp_of(a).clip(a, min, max)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        inside = True
        if lo is not None:
            inside = a >= lo
        if hi is not None:
            inside = inside & (a <= hi)
        return g * inside, None, None


class Where(BroadcastingFunction):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return backend.xp_of(condition).where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        xp = backend.xp_of(g)
        need_a, need_b = ctx.needs_input_grad[1:]
        return None, (xp.where(cond, g, 0) if need_a else None), (xp.where(cond, 0, g) if need_b else None)


def maximum(input, other):
    """Elementwise larger of the two (a tie sends half the gradient to each side)."""
    return Maximum.apply(*binary_operands(input, other))


def minimum(input, other):
    """Elementwise smaller of the two (a tie sends half the gradient to each side)."""
    return Minimum.apply(*binary_operands(input, other))


def clamp(input, min=None, max=None):
    """Limit values to ``[min, max]``; the gradient passes where ``min <= x <= max``."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    for v in (min, max):
        if v is not None and not isinstance(v, (int, float)):
            raise TypeError(f"clamp: min and max must be numbers, got {type(v).__name__}; use maximum()/minimum() for tensors")
    return Clamp.apply(input, min, max)


def _check_mask(op, mask):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: the condition/mask must be a bool Tensor, got {type(mask).__name__}")
    if mask.data.dtype != backend.bool_:
        raise TypeError(f"{op}: the condition/mask must have dtype bool, got {mask.dtype} (compare first, e.g. mask = x > 0)")


def where(condition, input, other):
    """``input`` where ``condition`` is True, ``other`` elsewhere (all three broadcast)."""
    _check_mask("where", condition)
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        from minilm.creation import tensor

        input = tensor(input, device=condition.device)
    return Where.apply(condition, *binary_operands(input, other))


def masked_fill(input, mask, value):
    """``input`` with ``value`` put where ``mask`` is True (mask broadcasts to input)."""
    _check_mask("masked_fill", mask)
    if isinstance(value, Tensor):
        if value.data.size != 1:
            raise ValueError(f"masked_fill: value must be a number or a one-element tensor, got shape {value.shape}")
        if value.data.ndim:
            value = value.reshape(())
    elif isinstance(value, float) and input.data.dtype.kind != "f":
        raise TypeError(f"masked_fill: cannot fill a {input.dtype} tensor with the float {value}")
    return Where.apply(mask, value, input)


# ---------------------------------------------------------------------------------------------
# copies: clone, dtype and device conversion
# ---------------------------------------------------------------------------------------------


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class ToCopy(Function):
    """Copy to another device and/or float dtype; the gradient goes back the same way."""

    op_name = "to"

    @staticmethod
    def forward(ctx, a, device, dtype):
        ctx.source = (backend.device_of(a), a.dtype)
        out = backend.to_device(a, device)
        return out.astype(dtype) if out.dtype != dtype else (out.copy() if out is a else out)

    @staticmethod
    def backward(ctx, g):
        dev, dtype = ctx.source
        g = backend.to_device(g, dev)
        return (g.astype(dtype) if g.dtype != dtype else g), None, None


def clone(input):
    return Clone.apply(input)


def to_copy(t: Tensor, device=None, dtype=None) -> Tensor:
    dev = t.device if device is None else backend.device(device)
    dt = t.data.dtype if dtype is None else backend.canonical_dtype(dtype)
    if dev == t.device and dt == t.data.dtype:
        return t
    if dt.kind != "f":  # integers and bools carry no gradient
        return Tensor._wrap(backend.to_device(t.data, dev).astype(dt))
    return ToCopy.apply(t, dev, dt)


# ---------------------------------------------------------------------------------------------
# comparisons and logic: no gradient
# ---------------------------------------------------------------------------------------------


def _compare(op, name, a, b):
    a, b = binary_operands(a, b)
    x = a.data if isinstance(a, Tensor) else a
    y = b.data if isinstance(b, Tensor) else b
    if isinstance(a, Tensor) and isinstance(b, Tensor) and type(x) is not type(y):
        _check_compatible(name, x, y)
    try:
        return Tensor._wrap(backend.xp_of(x if isinstance(a, Tensor) else y).asarray(op(x, y)))
    except ValueError as e:
        msg = _broadcast_message([x, y])
        raise ValueError(f"{name}: {msg}" if msg else str(e)) from None


def eq(input, other):
    return _compare(operator.eq, "eq", input, other)


def ne(input, other):
    return _compare(operator.ne, "ne", input, other)


def lt(input, other):
    return _compare(operator.lt, "lt", input, other)


def le(input, other):
    return _compare(operator.le, "le", input, other)


def gt(input, other):
    return _compare(operator.gt, "gt", input, other)


def ge(input, other):
    return _compare(operator.ge, "ge", input, other)


def _check_logical(name, *ts):
    for t in ts:
        if isinstance(t, Tensor) and t.data.dtype.kind not in "biu":
            raise TypeError(f"{name}: needs bool (or integer) tensors, got {t.dtype}")


def logical_not(input):
    _check_logical("logical_not (~)", input)
    return Tensor._wrap(~input.data)


def logical_and(input, other):
    _check_logical("logical_and (&)", input, other)
    return _compare(operator.and_, "logical_and", input, other)


def logical_or(input, other):
    _check_logical("logical_or (|)", input, other)
    return _compare(operator.or_, "logical_or", input, other)
