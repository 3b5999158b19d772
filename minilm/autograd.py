"""Reverse-mode automatic differentiation.

Three pieces live here:

``Function``
    One differentiable operation: a ``forward(ctx, *arrays)`` that computes the result from raw
    arrays (NumPy or CuPy) and a ``backward(ctx, grad)`` that turns the gradient of the loss with
    respect to the result into gradients with respect to each input. ``Function.apply`` wraps the
    arrays of its Tensor arguments, runs ``forward``, and, when gradients are wanted, records the
    call as a node of the computational graph (the result's ``grad_fn``).

the engine (``backward``)
    Walks the graph from the loss back to the leaves in reverse topological order, without
    recursion, calling each node's ``backward`` once all gradients for its output have arrived,
    and summing gradients where a tensor was used more than once. Broadcasting is undone here,
    in one place (``unbroadcast``), so that no op has to think about it.

grad mode (``no_grad``, ``enable_grad``, ``set_grad_enabled``)
    A switch that stops ``Function.apply`` from recording anything.

``gradcheck`` (in ``minilm/finite_differences.py``, re-exported here) compares a backward with central
finite differences.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.tensor import Tensor

_new = object.__new__

# ---------------------------------------------------------------------------------------------
# grad mode
# ---------------------------------------------------------------------------------------------

_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``: only then does ``Function.apply`` record the graph."""
    return _grad_enabled


class set_grad_enabled:
    """Turn graph recording on or off: as a context manager, a decorator or a plain call."""

    def __init__(self, mode: bool):
        global _grad_enabled
        self.prev = _grad_enabled
        self.mode = bool(mode)
        _grad_enabled = self.mode

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False

    def __call__(self, func):
        # Used as a decorator: the constructor already switched the mode; put it back, and switch
        # it on every call instead.
        global _grad_enabled
        _grad_enabled = self.prev
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class _GradMode:
    """Base of ``no_grad`` and ``enable_grad``: a context manager that is also a decorator."""

    mode = True

    def __enter__(self):
        global _grad_enabled
        self.prev = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False

    def __call__(self, func):
        mode_cls = type(self)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with mode_cls():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Inside ``with no_grad():`` (or a function decorated ``@no_grad()``) no graph is recorded:
    results have ``requires_grad=False`` and hold no references to their inputs. Use it for
    evaluation and for updating parameters."""

    mode = False


class enable_grad(_GradMode):
    """Switch recording back on inside a ``no_grad`` block."""

    mode = True


# ---------------------------------------------------------------------------------------------
# Function
# ---------------------------------------------------------------------------------------------


class Function:
    """A differentiable operation, written as two static methods on raw arrays.

    Subclass it and write::

        class Mul(Function):
            @staticmethod
            def forward(ctx, a, b):          # a, b: numpy/cupy arrays (or Python numbers)
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, grad):         # grad: d loss / d output, shaped like the output
                a, b = ctx.saved_tensors
                return grad * b, grad * a    # one entry per forward argument (None: no gradient)

        y = Mul.apply(x1, x2)                # x1, x2: Tensors or numbers

    ``backward`` may return a gradient shaped like the *broadcast* result; the engine sums it
    back to each input's shape. It must keep each input's dtype. ``ctx.needs_input_grad[i]``
    says whether input ``i`` wants a gradient, so expensive ones can be skipped. Extra keyword
    arguments of ``apply`` go to ``forward`` and get no gradient.

    The instance is both the ``ctx`` and the graph node: ``inputs`` holds the arguments of the
    call, ``saved_tensors`` what forward saved. After a backward without ``retain_graph`` both are
    set to None, which frees the intermediate arrays.
    """

    __slots__ = ("inputs", "saved_tensors", "needs_input_grad", "__dict__")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    def save_for_backward(self, *arrays) -> None:
        """Keep what backward will need (and nothing more: it stays in memory until backward)."""
        self.saved_tensors = arrays

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and return a Tensor; record the call in the
        graph if gradients are enabled and any Tensor argument requires grad."""
        # This is the hottest function of the library: it runs once per op, so it is written for
        # speed (one pass over the arguments, no helper calls on the common path).
        arrays = []
        needs = []
        first = None
        for a in args:
            if isinstance(a, Tensor):
                d = a.data
                if first is None:
                    first = d
                elif type(d) is not type(first) or d.dtype is not first.dtype:
                    _check_operands(_op_name(cls), args)
                arrays.append(d)
                needs.append(a._requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        if first is None:
            raise TypeError(
                f"{_op_name(cls)}: expected a Tensor argument, got "
                + ", ".join(type(a).__name__ for a in args)
                + "; make one with minilm.tensor(...)"
            )
        ctx = _new(cls)
        record = _grad_enabled and True in needs
        ctx.needs_input_grad = needs
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except ValueError as e:
            raise _explain(cls, arrays, kwargs, e) from None
        if isinstance(out, np.generic):
            out = np.asarray(out)
        t = _new(Tensor)
        t.data = out
        t.grad = None
        t._retain_grad = False
        if record:
            ctx.inputs = args
            t.grad_fn = ctx
            t._requires_grad = True
        else:
            t.grad_fn = None
            t._requires_grad = False
        return t

    @classmethod
    def explain_failure(cls, arrays, kwargs, error):
        """Override to turn a ValueError raised inside ``forward`` into a message that names the
        offending shapes. Return None to keep the original message."""
        return None


def _op_name(cls) -> str:
    return getattr(cls, "op_name", cls.__name__.lower())


def _explain(cls, arrays, kwargs, error):
    msg = cls.explain_failure(arrays, kwargs, error)
    if msg is None:
        return error
    return ValueError(f"{_op_name(cls)}: {msg}")


def _check_operands(op: str, args) -> None:
    """All Tensor arguments on one device, and all float ones of one dtype (slow path of apply)."""
    arrays = [a.data for a in args if isinstance(a, Tensor)]
    floats = [d for d in arrays if d.dtype.kind == "f"]
    for d in arrays[1:]:
        _check_compatible(op, arrays[0], d)
    for d in floats[1:]:
        _check_compatible(op, floats[0], d)


def _check_compatible(op: str, x, y) -> None:
    """Raise if two operand arrays live on different devices or have different float dtypes."""
    dx, dy = backend.device_of(x), backend.device_of(y)
    if dx != dy:
        raise RuntimeError(
            f"{op}: expected all tensors on the same device, got {dx} and {dy}; "
            f"move one with .to('{dx}') or .to('{dy}')"
        )
    if x.dtype != y.dtype and x.dtype.kind == "f" and y.dtype.kind == "f":
        raise TypeError(
            f"{op}: mixed float dtypes {x.dtype} and {y.dtype}; minilm never promotes "
            f"silently: convert one of them, e.g. with .to(minilm.{x.dtype}) or .to(minilm.{y.dtype})"
        )


# ---------------------------------------------------------------------------------------------
# the backward engine
# ---------------------------------------------------------------------------------------------

_FREED = (
    "backward through a graph that was already freed: a previous .backward() released the "
    "intermediate values this one needs. Pass retain_graph=True to that earlier backward if you "
    "need to go through the graph twice, or recompute the forward pass. If a tensor carried over "
    "from the previous iteration (a recurrent state, a running average) still points into the old "
    "graph, cut it with .detach() when you carry it over: that is truncated backpropagation."
)


def topological_order(root: Tensor) -> list:
    """Tensors of the graph behind ``root`` that have a ``grad_fn``, root first, every tensor
    before all the tensors it was computed from. Iterative depth-first search: a chain of
    100,000 ops needs no recursion."""
    post = []
    visited = set()  # the grad_fn nodes already expanded
    stack = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:  # everything t was computed from is already in `post`
            post.append(t)
            continue
        fn = t.grad_fn
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((t, True))
        inputs = fn.inputs
        if inputs is None:
            raise RuntimeError(_FREED)
        for x in inputs:
            if isinstance(x, Tensor) and x.grad_fn is not None and x.grad_fn not in visited:
                stack.append((x, False))
    post.reverse()
    return post


def unbroadcast(grad, shape: tuple, fn=None):
    """Sum ``grad`` down to ``shape``: the backward of broadcasting.

    Broadcasting copies an input along new leading dimensions and along dimensions of size 1;
    each copy contributed to the loss, so the gradient of the input is the SUM of the gradients
    of its copies: sum over the leading dimensions that were added, and over the dimensions
    where the input had size 1 and the result did not (keeping them, with size 1)."""
    original = tuple(grad.shape)
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    if extra >= 0:
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        if axes:
            grad = grad.sum(axis=axes, keepdims=True)
    if grad.shape != tuple(shape):  # also when grad has fewer dimensions than the input
        who = f"{fn.name()}.backward" if fn is not None else "backward"
        raise RuntimeError(
            f"{who} returned a gradient of shape {original} for an input of shape "
            f"{tuple(shape)}, and the two are not related by broadcasting"
        )
    return grad


def shaped(a, shape):
    """``a.reshape(shape)``, but ``a`` itself when it already has that shape. A backward should
    return its fresh arrays as they are: the engine copies a view before making it a leaf's
    ``.grad`` (it cannot tell a view of a private array from a view of a shared one), and NumPy's
    ``reshape`` returns a view even when the shape does not change."""
    return a if a.shape == shape else a.reshape(shape)


def _accumulate(t: Tensor, g) -> None:
    """Add ``g`` into ``t.grad`` (out of place: the old array is never modified)."""
    if t.grad is None:
        t.grad = Tensor._wrap(g)
    else:
        t.grad.data = t.grad.data + g


def backward(root: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Compute the gradient of ``root`` with respect to every leaf that requires grad and add it
    to the leaf's ``.grad`` (see ``Tensor.backward``)."""
    g = _root_gradient(root, gradient)
    if root.grad_fn is None:  # a leaf: its gradient with respect to itself
        _accumulate(root, g if gradient is None else g.copy())
        return

    order = topological_order(root)
    grads = {root.grad_fn: g}  # gradients that have arrived, by node, not yet passed on
    handed = set()  # ids of the arrays that became a leaf's .grad in this call
    for t in order:
        fn = t.grad_fn
        g = grads.pop(fn, None)
        inputs = fn.inputs
        if g is not None:
            if inputs is None:
                raise RuntimeError(_FREED)
            if t._retain_grad:
                _accumulate(t, g.copy())
            in_grads = fn.backward(fn, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(inputs):
                raise RuntimeError(
                    f"{fn.name()}.backward returned {len(in_grads)} gradient(s) for {len(inputs)} "
                    "input(s) of forward; return one per input (None where there is none)"
                )
            for x, gx in zip(inputs, in_grads):
                if gx is None or not isinstance(x, Tensor) or not x._requires_grad:
                    continue
                xd = x.data
                if gx.shape != xd.shape:
                    gx = unbroadcast(gx, xd.shape, fn)
                elif not xd.ndim and isinstance(gx, np.generic):
                    gx = np.asarray(gx)  # NumPy turns 0-d results into scalars; keep arrays
                if gx.dtype is not xd.dtype and gx.dtype != xd.dtype:
                    raise TypeError(
                        f"{fn.name()}.backward returned a {gx.dtype} gradient for a {xd.dtype} "
                        "input; a gradient must keep its input's dtype"
                    )
                if x.grad_fn is None:
                    # A leaf's .grad must own its memory, so that an in-place update of one .grad
                    # never changes another: copy a gradient that was passed straight through
                    # (Add hands its incoming one to both inputs), a view, or one already handed out.
                    if gx is g or not gx.flags.owndata or id(gx) in handed:
                        gx = gx.copy()
                    handed.add(id(gx))
                    _accumulate(x, gx)
                else:
                    node = x.grad_fn
                    prev = grads.get(node)
                    grads[node] = gx if prev is None else prev + gx
        if not retain_graph:
            fn.inputs = fn.saved_tensors = None


def _root_gradient(root: Tensor, gradient):
    """The gradient that starts backward: 1 for a scalar, else the one given (checked)."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn, so there is nothing "
            "to differentiate. Create the inputs with requires_grad=True (and outside no_grad())."
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for a scalar output, but this "
                f"tensor has shape {root.shape}; reduce it first (e.g. .sum()) or pass "
                f"gradient= a tensor of shape {root.shape}"
            )
        return backend.xp_of(root.data).ones_like(root.data)
    g = gradient.data if isinstance(gradient, Tensor) else gradient
    if tuple(g.shape) != root.shape:
        raise RuntimeError(f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape {root.shape}")
    if g.dtype != root.data.dtype:
        raise TypeError(f"backward: gradient has dtype {g.dtype} but the tensor has dtype {root.dtype}")
    if backend.device_of(g) != backend.device_of(root.data):
        raise RuntimeError(f"backward: gradient is on {backend.device_of(g)} but the tensor is on {root.device}")
    return g


from minilm.finite_differences import GradcheckError, gradcheck  # noqa: E402,F401  (re-exported)
