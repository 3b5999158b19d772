"""The Tensor: an n-dimensional array (NumPy on the CPU, CuPy on a GPU) that remembers how it was
computed, so that gradients can flow back through it.

A Tensor holds:

``data``           the array itself (``numpy.ndarray`` or ``cupy.ndarray``)
``requires_grad``  whether gradients should be computed for it
``grad_fn``        the ``Function`` node that produced it (None for a leaf: a tensor the user made)
``grad``           after ``backward()``, the gradient of the loss with respect to it (leaves, and
                   tensors that asked for it with ``retain_grad()``)

Every operator and method here is a thin wrapper: the arithmetic and its derivative live in
``minilm/ops``. Names, arguments and semantics follow PyTorch.
"""

from __future__ import annotations

import numpy as np

from minilm import backend

_new = object.__new__


class Tensor:
    __slots__ = ("data", "grad", "_requires_grad", "grad_fn", "_retain_grad", "__weakref__")

    # NumPy must not treat a Tensor as an array: `np.float32(2) * t` then calls Tensor.__rmul__.
    __array_ufunc__ = None

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        """``Tensor(data)`` wraps an existing NumPy/CuPy array without copying it; other data
        (lists, numbers) is converted as ``minilm.tensor`` does. Prefer ``minilm.tensor``."""
        from minilm.creation import as_array

        self.data = as_array(data, dtype, device, copy=False)
        self.grad = None
        self.grad_fn = None
        self._retain_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(data, grad_fn=None):
        """Fast constructor used by the ops: ``data`` is already an array of a supported dtype."""
        t = _new(Tensor)
        t.data = data
        t.grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._retain_grad = False
        return t

    # -----------------------------------------------------------------------------------------
    # autograd attributes
    # -----------------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark this leaf as needing a gradient (in place; returns self)."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_: this tensor was computed by an op (it has a grad_fn); only leaf "
                "tensors can be switched off. Use .detach() to get a tensor cut off from the graph."
            )
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, but this one "
                f"is {self.data.dtype}; convert it first, e.g. with .float()"
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self) -> bool:
        """A leaf was made by the user, not computed by an op; backward fills in its ``.grad``."""
        return self.grad_fn is None

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad, so it will never get one")
        if self.grad_fn is not None:
            self._retain_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retain_grad

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad and ADD it to ``leaf.grad``.

        ``gradient`` is d(loss)/d(self); it may be omitted when self is a scalar (it is then 1).
        The graph is freed afterwards unless ``retain_graph=True``. Gradients accumulate across
        calls, as in PyTorch: reset them (``x.grad = None``) between steps."""
        autograd.backward(self, gradient, retain_graph)

    def detach(self) -> "Tensor":
        """The same data (shared, not copied), cut off from the graph."""
        return Tensor._wrap(self.data)

    def detach_(self) -> "Tensor":
        self.grad_fn = None
        self._requires_grad = False
        return self

    # -----------------------------------------------------------------------------------------
    # metadata
    # -----------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> backend.Device:
        return backend.device_of(self.data)

    @property
    def is_cuda(self) -> bool:
        return backend.is_cuda_array(self.data)

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the transpose of a matrix)."""
        return shape_ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (a batch of transposed matrices)."""
        return shape_ops.transpose(self, -2, -1)

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """Iterate over the first dimension (each item stays in the graph)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    # -----------------------------------------------------------------------------------------
    # conversion
    # -----------------------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared with the tensor, not copied)."""
        if self._requires_grad:
            raise RuntimeError(
                "numpy(): this tensor requires grad; call .detach().numpy() to get its values "
                "without the graph"
            )
        if self.is_cuda:
            raise TypeError("numpy(): this tensor is on the GPU; call .cpu().numpy() to copy it to the CPU first")
        return self.data

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): a tensor with {self.data.size} elements (shape {self.shape}) cannot be "
                "converted to a Python number; index one element (t[0].item()) or reduce first "
                "(t.sum().item())"
            )
        return self.data.item()

    def tolist(self):
        return backend.to_device(self.data, backend.CPU).tolist()

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``, or keywords
        ``device=`` / ``dtype=``. Returns self when nothing changes; otherwise a copy that stays in
        the graph (gradients flow back, converted to the original device and dtype)."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to(): unexpected keyword argument(s) {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, (str, backend.Device)):
                device = a
            else:
                dtype = a
        return elementwise.to_copy(self, device, dtype)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, device=None) -> "Tensor":
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    def float(self) -> "Tensor":
        return self.to(backend.float32)

    def double(self) -> "Tensor":
        return self.to(backend.float64)

    def long(self) -> "Tensor":
        return self.to(backend.int64)

    def bool(self) -> "Tensor":
        return self.to(backend.bool_)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph."""
        return elementwise.clone(self)

    def contiguous(self) -> "Tensor":
        return self if self.data.flags.c_contiguous else self.clone()

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.item())

    def __repr__(self):
        data = backend.to_device(self.data, backend.CPU)
        body = np.array2string(data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if data.dtype not in (backend.get_default_dtype(), backend.int64, backend.bool_) or (
            data.size == 0 and data.dtype != backend.get_default_dtype()
        ):
            extras.append(f"dtype=minilm.{data.dtype}")
        if self.is_cuda:
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __hash__ = object.__hash__

    # -----------------------------------------------------------------------------------------
    # arithmetic (minilm/ops/elementwise.py)
    # -----------------------------------------------------------------------------------------

    def __add__(self, other):
        return elementwise.add(self, other)

    def __radd__(self, other):
        return elementwise.add(other, self)

    def __sub__(self, other):
        return elementwise.sub(self, other)

    def __rsub__(self, other):
        return elementwise.sub(other, self)

    def __mul__(self, other):
        return elementwise.mul(self, other)

    def __rmul__(self, other):
        return elementwise.mul(other, self)

    def __truediv__(self, other):
        return elementwise.div(self, other)

    def __rtruediv__(self, other):
        return elementwise.div(other, self)

    def __pow__(self, other):
        return elementwise.pow(self, other)

    def __rpow__(self, other):
        return elementwise.pow(other, self)

    def __neg__(self):
        return elementwise.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return elementwise.abs(self)

    # In-place arithmetic, for tensors outside the graph: `w -= lr * w.grad` inside no_grad().
    def __iadd__(self, other):
        return self._inplace("+=", elementwise.add, other)

    def __isub__(self, other):
        return self._inplace("-=", elementwise.sub, other)

    def __imul__(self, other):
        return self._inplace("*=", elementwise.mul, other)

    def __itruediv__(self, other):
        return self._inplace("/=", elementwise.div, other)

    def zero_(self) -> "Tensor":
        """Set every element to 0 (in place, as ``*= 0``)."""
        return self.fill_(0)

    def fill_(self, value) -> "Tensor":
        """Set every element to ``value`` (in place)."""
        self._check_inplace("fill_", value)
        out = backend.xp_of(self.data).empty_like(self.data)
        out[...] = value
        self.data = out
        return self

    def _check_inplace(self, op, other) -> None:
        if autograd.is_grad_enabled() and (
            self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)
        ):
            raise RuntimeError(
                f"{op}: in-place operations are not recorded in the graph, so they cannot be used on "
                "a tensor that requires grad, or with one, while gradients are on. To update "
                "parameters, do it inside `with minilm.no_grad():` (e.g. w -= lr * w.grad); to "
                "compute, write it out of place (y = y + x)."
            )

    def _inplace(self, op, fn, other) -> "Tensor":
        """``self op= other``: computes ``fn(self, other)`` and makes it self's data, keeping
        self's shape and dtype. The result is a NEW array, so arrays that earlier ops saved for
        backward keep their values; the tensor object stays the same (an optimizer holding it
        sees the update)."""
        self._check_inplace(op, other)
        with autograd.no_grad():
            result = fn(self, other)
        if result.shape != self.shape:
            raise ValueError(f"{op}: the result has shape {result.shape} but the tensor has shape {self.shape}; an in-place op cannot change the shape")
        if result.data.dtype != self.data.dtype:
            raise TypeError(f"{op}: the result is {result.dtype} but the tensor is {self.dtype}; an in-place op cannot change the dtype")
        self.data = result.data
        return self

    def __matmul__(self, other):
        return matmul_ops.matmul(self, other)

    def __rmatmul__(self, other):
        return matmul_ops.matmul(other, self)

    # comparisons and logic: results are bool tensors without a graph
    def __eq__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented  # Python then compares identities: `t == None` is False
        return elementwise.eq(self, other)

    def __ne__(self, other):
        if other is None or isinstance(other, str):
            return NotImplemented
        return elementwise.ne(self, other)

    def __lt__(self, other):
        return elementwise.lt(self, other)

    def __le__(self, other):
        return elementwise.le(self, other)

    def __gt__(self, other):
        return elementwise.gt(self, other)

    def __ge__(self, other):
        return elementwise.ge(self, other)

    def __invert__(self):
        return elementwise.logical_not(self)

    def __and__(self, other):
        return elementwise.logical_and(self, other)

    def __or__(self, other):
        return elementwise.logical_or(self, other)

    def add(self, other):
        return elementwise.add(self, other)

    def sub(self, other):
        return elementwise.sub(self, other)

    def mul(self, other):
        return elementwise.mul(self, other)

    def div(self, other):
        return elementwise.div(self, other)

    def pow(self, exponent):
        return elementwise.pow(self, exponent)

    def neg(self):
        return elementwise.neg(self)

    def exp(self):
        return elementwise.exp(self)

    def log(self):
        return elementwise.log(self)

    def sqrt(self):
        return elementwise.sqrt(self)

    def abs(self):
        return elementwise.abs(self)

    def tanh(self):
        return elementwise.tanh(self)

    def sigmoid(self):
        return elementwise.sigmoid(self)

    def relu(self):
        return elementwise.relu(self)

    def erf(self):
        return special.erf(self)

    def softmax(self, dim):
        from minilm.kernels.softmax import softmax  # kernels sit above tensor: import on use

        return softmax(self, dim)

    def log_softmax(self, dim):
        from minilm.kernels.softmax import log_softmax

        return log_softmax(self, dim)

    def maximum(self, other):
        return elementwise.maximum(self, other)

    def minimum(self, other):
        return elementwise.minimum(self, other)

    def clamp(self, min=None, max=None):
        return elementwise.clamp(self, min, max)

    clip = clamp

    def where(self, condition, other):
        return elementwise.where(condition, self, other)

    def masked_fill(self, mask, value):
        return elementwise.masked_fill(self, mask, value)

    def eq(self, other):
        return elementwise.eq(self, other)

    def ne(self, other):
        return elementwise.ne(self, other)

    def lt(self, other):
        return elementwise.lt(self, other)

    def le(self, other):
        return elementwise.le(self, other)

    def gt(self, other):
        return elementwise.gt(self, other)

    def ge(self, other):
        return elementwise.ge(self, other)

    # -----------------------------------------------------------------------------------------
    # reductions (minilm/ops/reductions.py)
    # -----------------------------------------------------------------------------------------

    def sum(self, dim=None, keepdim=False):
        return reductions.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return reductions.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return reductions.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return reductions.std(self, dim, unbiased, keepdim, correction=correction)

    def max(self, dim=None, keepdim=False):
        return reductions.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return reductions.min(self, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return reductions.logsumexp(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return reductions.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return reductions.argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return reductions.any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return reductions.all(self, dim, keepdim)

    # -----------------------------------------------------------------------------------------
    # shapes and indexing (minilm/ops/shape.py, minilm/ops/indexing.py)
    # -----------------------------------------------------------------------------------------

    def matmul(self, other):
        return matmul_ops.matmul(self, other)

    def reshape(self, *shape):
        return shape_ops.reshape(self, *shape)

    def view(self, *shape):
        return shape_ops.view(self, *shape)

    def transpose(self, dim0, dim1):
        return shape_ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return shape_ops.permute(self, *dims)

    def unsqueeze(self, dim):
        return shape_ops.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return shape_ops.squeeze(self, dim)

    def expand(self, *sizes):
        return shape_ops.expand(self, *sizes)

    def expand_as(self, other):
        return shape_ops.expand(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return shape_ops.flatten(self, start_dim, end_dim)

    def split(self, split_size_or_sections, dim=0):
        return shape_ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return shape_ops.chunk(self, chunks, dim)

    def gather(self, dim, index):
        return indexing.gather(self, dim, index)

    def __getitem__(self, key):
        return indexing.getitem(self, key)

    def __setitem__(self, key, value):
        raise TypeError(
            "minilm tensors do not support item assignment, which would change values that the "
            "graph may still need; build the result with where(), masked_fill(), cat() or pad(), "
            "or write into .data under no_grad() if no gradient should flow"
        )


# The ops import Tensor from this module, so they are bound only now that the class exists.
from minilm import autograd  # noqa: E402
from minilm.ops import elementwise, indexing, reductions, special  # noqa: E402
from minilm.ops import matmul as matmul_ops  # noqa: E402
from minilm.ops import shape as shape_ops  # noqa: E402
