"""Shape operations: reshape/view, permute/transpose, (un)squeeze, flatten, expand, cat, stack,
split, chunk and pad.

None of these does arithmetic; each moves values around, so each backward moves the gradient
back the same way: a reshape's gradient is reshaped back, a permutation's is permuted by the
inverse permutation, a concatenation's is cut into pieces, a pad's is cropped. ``expand`` shows
the engine at work: its backward returns the gradient as it is, with the expanded shape, and the
engine's ``unbroadcast`` sums it back over the copies.
"""

from __future__ import annotations

import math

from minilm import backend
from minilm.autograd import Function
from minilm.tensor import Tensor


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """A dimension index in ``[-ndim, ndim)`` as a non-negative one, or a clear IndexError."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an integer, got {dim!r}")
    if not -ndim <= dim < ndim:
        lo, hi = -max(ndim, 1), max(ndim, 1) - 1
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimension(s) (use {lo} to {hi})")
    return dim % ndim if ndim else 0


def _shape_args(shape) -> tuple:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


# ---------------------------------------------------------------------------------------------
# reshape and friends
# ---------------------------------------------------------------------------------------------


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


def _infer_shape(op, old_shape, shape) -> tuple:
    n = math.prod(old_shape)
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be -1, got {shape}")
    if any(s < -1 for s in shape):
        raise ValueError(f"{op}: invalid shape {shape}")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if known == 0 or n % known:
            raise ValueError(f"{op}: cannot reshape a tensor of shape {old_shape} ({n} elements) into {shape}")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ValueError(
            f"{op}: cannot reshape a tensor of shape {old_shape} ({n} elements) into {shape} ({known} elements)"
        )
    return shape


def _reshape(op, input, shape):
    _tensor(op, input)
    shape = _infer_shape(op, input.shape, _shape_args(shape))
    return input if shape == input.shape else Reshape.apply(input, shape)


def reshape(input, *shape):
    """The same elements in a new shape (one size may be -1: inferred)."""
    return _reshape("reshape", input, shape)


def view(input, *shape):
    """As ``reshape`` (NumPy decides whether a copy is needed; minilm has no strides of its own)."""
    return _reshape("view", input, shape)


def unsqueeze(input, dim):
    """Insert a dimension of size 1 at ``dim`` (``-1`` appends)."""
    _tensor("unsqueeze", input)
    d = normalize_dim("unsqueeze", dim, input.ndim + 1)
    shape = input.shape[:d] + (1,) + input.shape[d:]
    return Reshape.apply(input, shape)


def squeeze(input, dim=None):
    """Remove dimensions of size 1 (only ``dim`` if given; a no-op if its size is not 1)."""
    _tensor("squeeze", input)
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        dims = {normalize_dim("squeeze", d, input.ndim) for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1))
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one."""
    _tensor("flatten", input)
    if input.ndim == 0:
        return Reshape.apply(input, (1,))
    s = normalize_dim("flatten", start_dim, input.ndim)
    e = normalize_dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = input.shape[:s] + (math.prod(input.shape[s : e + 1]),) + input.shape[e + 1 :]
    return input if shape == input.shape else Reshape.apply(input, shape)


# ---------------------------------------------------------------------------------------------
# permute, transpose
# ---------------------------------------------------------------------------------------------


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.transpose(inverse), None


def permute(input, *dims):
    """Reorder the dimensions: result dimension ``i`` is input dimension ``dims[i]``."""
    _tensor("permute", input)
    dims = _shape_args(dims)
    norm = tuple(normalize_dim("permute", d, input.ndim) for d in dims)
    if sorted(norm) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {input.ndim} dimensions {tuple(range(input.ndim))}")
    return Permute.apply(input, norm)


def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    _tensor("transpose", input)
    d0 = normalize_dim("transpose", dim0, input.ndim)
    d1 = normalize_dim("transpose", dim1, input.ndim)
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


# ---------------------------------------------------------------------------------------------
# expand
# ---------------------------------------------------------------------------------------------


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return backend.xp_of(a).broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None  # the engine sums g back over the expanded dimensions (unbroadcast)


def expand(input, *sizes):
    """A view with dimensions of size 1 repeated to ``sizes`` (-1 keeps a size); new dimensions
    may be added in front. Nothing is copied."""
    _tensor("expand", input)
    sizes = _shape_args(sizes)
    if len(sizes) < input.ndim:
        raise ValueError(f"expand: the {len(sizes)} sizes {sizes} are fewer than the tensor's {input.ndim} dimensions (shape {input.shape})")
    lead = len(sizes) - input.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = input.shape[i - lead] if i >= lead else None
        if s == -1:
            if old is None:
                raise ValueError(f"expand: -1 is not allowed for the new leading dimension {i} in {sizes}")
            s = old
        elif old is not None and old != 1 and old != s:
            raise ValueError(
                f"expand: cannot expand shape {input.shape} to {sizes}: dimension {i} has size {old}, "
                f"which is not 1 and not {s}"
            )
        shape.append(s)
    shape = tuple(shape)
    return input if shape == input.shape else Expand.apply(input, shape)


# ---------------------------------------------------------------------------------------------
# cat, stack, split, chunk
# ---------------------------------------------------------------------------------------------


def _same_dtype(tensors):
    """Integer tensors joined with float ones become float; two float dtypes are an error
    (raised by Function.apply)."""
    floats = [t.data.dtype for t in tensors if t.data.dtype.kind == "f"]
    target = floats[0] if floats else None
    if target is None:
        kinds = {t.data.dtype for t in tensors}
        target = kinds.pop() if len(kinds) == 1 else backend.int64
    return [t if t.data.dtype == target or t.data.dtype.kind == "f" else Tensor._wrap(t.data.astype(target)) for t in tensors]


def _tensor_list(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, not a Tensor")
    return _same_dtype(list(tensors))


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return backend.xp_of(arrays[0]).concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        lead = (slice(None),) * ctx.dim
        for n in ctx.sizes:
            grads.append(g[lead + (slice(start, start + n),)])
            start += n
        return tuple(grads)


def cat(tensors, dim=0):
    """Join tensors along an existing dimension; all other sizes must match."""
    tensors = _tensor_list("cat", tensors)
    ref = tensors[0]
    d = normalize_dim("cat", dim, ref.ndim)
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape} but tensor 0 has shape {ref.shape}; all sizes "
                f"except along dim {dim} must match"
            )
    return Cat.apply(*tensors, dim=d)


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return backend.xp_of(arrays[0]).stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return tuple(g[lead + (i,)] for i in range(g.shape[ctx.dim]))


def stack(tensors, dim=0):
    """Join tensors of the same shape along a new dimension ``dim``."""
    tensors = _tensor_list("stack", tensors)
    ref = tensors[0]
    d = normalize_dim("stack", dim, ref.ndim + 1)
    for i, t in enumerate(tensors):
        if t.shape != ref.shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {ref.shape}; all must be equal")
    return Stack.apply(*tensors, dim=d)


def split(input, split_size_or_sections, dim=0):
    """Cut along ``dim`` into pieces of ``split_size`` (the last may be smaller) or of the sizes
    in a list. Each piece is a slice of ``input`` and gets its gradient back by slicing."""
    _tensor("split", input)
    from minilm.ops.indexing import getitem

    d = normalize_dim("split", dim, input.ndim)
    n = input.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has size {n}")
    lead = (slice(None),) * d
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(input, lead + (slice(start, start + s),)))
        start += s
    return tuple(pieces)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of size ``ceil(n / chunks)`` (fewer if n is small), as PyTorch."""
    _tensor("chunk", input)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[normalize_dim("chunk", dim, input.ndim)]
    return split(input, max(1, -(-n // chunks)), dim)


# ---------------------------------------------------------------------------------------------
# pad
# ---------------------------------------------------------------------------------------------


class Pad(Function):
    """Constant padding. Negative amounts crop, as in PyTorch: forward pads by the positive
    amounts, then slices off the negative ones; backward undoes both in reverse order."""

    @staticmethod
    def forward(ctx, a, widths, value):
        xp = backend.xp_of(a)
        grow = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        y = xp.pad(a, grow, mode="constant", constant_values=value) if any(l or h for l, h in grow) else a
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, y.shape))
        ctx.grown_shape, ctx.grow, ctx.crop = y.shape, grow, crop
        ctx.in_shape = a.shape
        return y[crop]

    @staticmethod
    def backward(ctx, g):
        xp = backend.xp_of(g)
        if any(s.start or s.stop != n for s, n in zip(ctx.crop, ctx.grown_shape)):
            full = xp.zeros(ctx.grown_shape, dtype=g.dtype)
            full[ctx.crop] = g
            g = full
        inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(ctx.grow, ctx.in_shape))
        return g[inner], None, None


def pad(input, pad, mode="constant", value=0.0):
    """``torch.nn.functional.pad``: ``pad = (left, right)`` pads the last dimension,
    ``(left, right, top, bottom)`` the last two, and so on from the last dimension backwards."""
    _tensor("pad", input)
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is implemented, got mode={mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(
            f"pad: expected an even number of amounts, at most 2 per dimension ({2 * input.ndim} for "
            f"shape {input.shape}), got {pad}"
        )
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for d, ((lo, hi), n) in enumerate(zip(widths, input.shape)):
        if n + lo + hi < 0:
            raise ValueError(f"pad: padding {(lo, hi)} makes dimension {d} of size {n} negative")
    return Pad.apply(input, widths, value)
