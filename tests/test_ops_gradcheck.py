"""Level 1: every differentiable op passes a float64 finite-difference gradient check on random
shapes (hypothesis), including broadcasting and non-contiguous (transposed) inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import minilm
import minilm.nn.functional as F
from helpers import leaf, to_numpy
from minilm.autograd import gradcheck

shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
shapes_1d_up = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**31 - 1)

# ---------------------------------------------------------------------------------------------
# elementwise
# ---------------------------------------------------------------------------------------------

UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), "positive"),
    "sqrt": (lambda x: x.sqrt(), "positive"),
    "abs": (lambda x: x.abs(), "nonzero"),
    "tanh": (lambda x: x.tanh(), None),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "softplus": (lambda x: F.softplus(x * 3), None),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.0, threshold=1.0), "nonzero"),
    "logsigmoid": (lambda x: F.logsigmoid(x * 3), None),
    "relu": (lambda x: x.relu(), "nonzero"),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), "nonzero"),
    "pow_int": (lambda x: x**3, None),
    "pow_float": (lambda x: x**1.5, "positive"),
    "pow_zero": (lambda x: x**0, None),
    "rpow": (lambda x: 2.0**x, None),
    "radd": (lambda x: 1.5 + x, None),
    "rsub": (lambda x: 2 - x, None),
    "rmul": (lambda x: 3 * x, None),
    "rdiv": (lambda x: 1 / x, "nonzero"),
    "div_scalar": (lambda x: x / 4.0, None),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), None),
    "clamp_min": (lambda x: x.clamp(min=0.1), None),
    "clamp_max": (lambda x: x.clamp(max=-0.2), None),
    "maximum_scalar": (lambda x: minilm.maximum(x, 0.3), None),
    "clone": (lambda x: x.clone(), None),
    "masked_fill": (lambda x: x.masked_fill(x.detach() > 0.2, -1.0), None),
    "where_scalar": (lambda x: minilm.where(x.detach() > 0, x, 0.5), None),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds, transposed=st.booleans())
def test_unary(device, name, shape, seed, transposed):
    fn, domain = UNARY[name]
    x = leaf(device, shape, seed, transposed=transposed, domain=domain)
    assert gradcheck(fn, (x,))


BINARY = {
    "add": (lambda a, b: a + b, None, None),
    "sub": (lambda a, b: a - b, None, None),
    "mul": (lambda a, b: a * b, None, None),
    "div": (lambda a, b: a / b, None, "nonzero"),
    "pow": (lambda a, b: a**b, "positive", None),
    "maximum": (lambda a, b: minilm.maximum(a, b), None, None),
    "minimum": (lambda a, b: minilm.minimum(a, b), None, None),
    "where": (lambda a, b: minilm.where((a * b).detach() > 0, a, b), None, None),
    "chain": (lambda a, b: ((a * b).tanh() + a.exp() / (1 + b * b)).sigmoid(), None, None),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=pairs, seed=seeds, transposed=st.booleans())
def test_binary_broadcasting(device, name, shapes, seed, transposed):
    fn, dom_a, dom_b = BINARY[name]
    sa, sb = shapes.input_shapes
    a = leaf(device, sa, seed, transposed=transposed, domain=dom_a)
    b = leaf(device, sb, seed + 1, domain=dom_b)
    assert gradcheck(fn, (a, b))


@given(shapes=pairs, seed=seeds)
def test_binary_with_one_input_not_requiring_grad(device, shapes, seed):
    sa, sb = shapes.input_shapes
    a = leaf(device, sa, seed)
    b = leaf(device, sb, seed + 1, requires_grad=False)
    assert gradcheck(lambda a: a * b + b, (a,))
    assert b.grad is None


# ---------------------------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------------------------


@st.composite
def shape_and_dim(draw, min_dims=1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, dim


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum(dim=d, keepdim=k),
    "mean": lambda x, d, k: x.mean(dim=d, keepdim=k),
    "var": lambda x, d, k: x.var(dim=d, keepdim=k),
    "var_biased": lambda x, d, k: x.var(dim=d, keepdim=k, correction=0),
    "std": lambda x, d, k: x.std(dim=d, keepdim=k),
    "max_dim": lambda x, d, k: x.max(dim=d, keepdim=k).values,
    "min_dim": lambda x, d, k: x.min(dim=d, keepdim=k).values,
    "logsumexp": lambda x, d, k: x.logsumexp(dim=d, keepdim=k),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(sd=shape_and_dim(), seed=seeds, keepdim=st.booleans(), transposed=st.booleans())
def test_reduction_over_dim(device, name, sd, seed, keepdim, transposed):
    shape, dim = sd
    if name in ("var", "std") and shape[dim] < 2:
        shape = shape[:dim] + (2,) + shape[dim + 1 :] if dim >= 0 else shape[: len(shape) + dim] + (2,) + shape[len(shape) + dim + 1 :]
    x = leaf(device, shape, seed, transposed=transposed)
    assert gradcheck(lambda x: REDUCTIONS[name](x, dim, keepdim), (x,))


@given(shape=shapes, seed=seeds)
def test_full_reductions(device, shape, seed):
    x = leaf(device, shape, seed)
    assert gradcheck(lambda x: x.sum(), (x,))
    assert gradcheck(lambda x: x.mean(), (x,))
    assert gradcheck(lambda x: x.max(), (x,))
    assert gradcheck(lambda x: x.min(), (x,))


@given(shape=shapes_1d_up, seed=seeds)
def test_reduction_over_several_dims(device, shape, seed):
    x = leaf(device, shape, seed)
    dims = tuple(range(0, len(shape), 2))
    assert gradcheck(lambda x: x.sum(dim=dims), (x,))
    assert gradcheck(lambda x: x.mean(dim=dims, keepdim=True), (x,))
    assert gradcheck(lambda x: x.logsumexp(dim=dims), (x,))


def test_max_with_ties_shares_the_gradient(device):
    x = minilm.tensor([1.0, 3.0, 3.0, 2.0], dtype=minilm.float64, device=device, requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.tolist(), [0, 0.5, 0.5, 0])


# ---------------------------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["mm", "batched", "broadcast", "vec_left", "vec_right", "dot", "batched_vec"]))
    batch = draw(array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=3))
    if kind == "mm":
        return (n, k), (k, m)
    if kind == "batched":
        return batch + (n, k), batch + (k, m)
    if kind == "broadcast":  # a batch of matrices times one matrix, or with size-1 batch dims
        left = tuple(1 if i % 2 else s for i, s in enumerate(batch))
        return left + (n, k), batch + (k, m)
    if kind == "vec_left":
        return (k,), batch + (k, m)
    if kind == "vec_right":
        return batch + (n, k), (k,)
    if kind == "batched_vec":
        return (k,), (k, m)
    return (k,), (k,)


@given(shapes=matmul_shapes(), seed=seeds, transposed=st.booleans())
def test_matmul(device, shapes, seed, transposed):
    sa, sb = shapes
    a = leaf(device, sa, seed, transposed=transposed)
    b = leaf(device, sb, seed + 1, transposed=transposed)
    assert gradcheck(lambda a, b: a @ b, (a, b))


# ---------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------


@given(shape=shapes_1d_up, seed=seeds, transposed=st.booleans(), data=st.data())
def test_shape_ops(device, shape, seed, transposed, data):
    x = leaf(device, shape, seed, transposed=transposed)
    nd = len(shape)
    d0 = data.draw(st.integers(-nd, nd - 1))
    d1 = data.draw(st.integers(-nd, nd - 1))
    perm = data.draw(st.permutations(range(nd)))
    assert gradcheck(lambda x: x.reshape(-1) * 2, (x,))
    assert gradcheck(lambda x: x.view(*shape[::-1]), (x,))
    assert gradcheck(lambda x: x.transpose(d0, d1), (x,))
    assert gradcheck(lambda x: x.permute(*perm), (x,))
    assert gradcheck(lambda x: x.unsqueeze(d0).squeeze(), (x,))
    assert gradcheck(lambda x: x.flatten(), (x,))
    assert gradcheck(lambda x: x.T, (x,))


@given(shape=shapes, seed=seeds, data=st.data())
def test_expand(device, shape, seed, data):
    # make some sizes 1 so that they can be expanded
    ones = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    small = tuple(1 if o else s for o, s in zip(ones, shape))
    x = leaf(device, small, seed)
    target = (2,) + shape
    assert gradcheck(lambda x: x.expand(*target), (x,))
    assert gradcheck(lambda x: x.expand(3, *([-1] * len(small))), (x,))  # -1 keeps a size


@given(sd=shape_and_dim(), seed=seeds, n=st.integers(1, 3))
def test_cat_and_stack(device, sd, seed, n):
    shape, dim = sd
    xs = []
    for i in range(n):
        s = list(shape)
        s[dim] = 1 + (seed + i) % 3
        xs.append(leaf(device, tuple(s), seed + i))
    assert gradcheck(lambda *xs: minilm.cat(xs, dim=dim), tuple(xs))
    same = [leaf(device, shape, seed + 10 + i) for i in range(n)]
    assert gradcheck(lambda *xs: minilm.stack(xs, dim=dim), tuple(same))


@given(sd=shape_and_dim(), seed=seeds, size=st.integers(1, 4))
def test_split_and_chunk(device, sd, seed, size):
    shape, dim = sd
    x = leaf(device, shape, seed)
    assert gradcheck(lambda x: x.split(size, dim=dim), (x,))
    assert gradcheck(lambda x: x.chunk(size, dim=dim), (x,))
    n = shape[dim]
    sections = [n // 2, n - n // 2]
    assert gradcheck(lambda x: x.split(sections, dim=dim)[1] * 3, (x,))


@given(shape=shapes_1d_up, seed=seeds, data=st.data())
def test_pad(device, shape, seed, data):
    x = leaf(device, shape, seed)
    k = data.draw(st.integers(1, len(shape)))
    amounts = []
    for d in range(k):
        size = shape[len(shape) - 1 - d]
        lo = data.draw(st.integers(-(size // 2), 2))
        hi = data.draw(st.integers(-(size - size // 2 - 1), 2)) if size > 1 else data.draw(st.integers(0, 2))
        amounts += [lo, hi]
    value = data.draw(st.floats(-2, 2))
    assert gradcheck(lambda x: F.pad(x, tuple(amounts), value=value), (x,))


# ---------------------------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------------------------


@st.composite
def basic_keys(draw, shape):
    key = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.integers(-n, n))
            stop = draw(st.integers(-n, n))
            step = draw(st.sampled_from([1, 2, -1]))
            key.append(slice(start, stop, step))
        elif kind == "none":
            key.append(None)
            key.append(slice(None))
        else:
            key.append(slice(None))
    if draw(st.booleans()) and len(key) > 1:
        key = [Ellipsis] + key[-1:]
    return tuple(key)


@given(shape=shapes_1d_up, seed=seeds, data=st.data(), transposed=st.booleans())
def test_getitem_basic(device, shape, seed, data, transposed):
    x = leaf(device, shape, seed, transposed=transposed)
    key = data.draw(basic_keys(shape))
    assert gradcheck(lambda x: x[key], (x,))


@given(shape=shapes_1d_up, seed=seeds, data=st.data())
def test_getitem_integer_arrays_with_repeats(device, shape, seed, data):
    x = leaf(device, shape, seed)
    n = shape[0]
    idx = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    assert gradcheck(lambda x: x[minilm.tensor(idx, device=device)], (x,))
    assert gradcheck(lambda x: x[idx], (x,))
    if len(shape) >= 2:
        m = shape[1]
        cols = data.draw(st.lists(st.integers(0, m - 1), min_size=len(idx), max_size=len(idx)))
        assert gradcheck(lambda x: x[idx, cols], (x,))
    last = minilm.tensor([shape[-1] - 1] * 3, device=device)
    assert gradcheck(lambda x: x[..., last], (x,))


@given(shape=shapes_1d_up, seed=seeds)
def test_getitem_boolean_mask(device, shape, seed):
    x = leaf(device, shape, seed)
    mask = x.detach() > 0
    assert gradcheck(lambda x: x[mask], (x,))
    row_mask = minilm.tensor([i % 2 == 0 for i in range(shape[0])], device=device)
    assert gradcheck(lambda x: x[row_mask] * 2, (x,))


def test_repeated_indices_accumulate(device):
    x = minilm.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@given(sd=shape_and_dim(min_dims=2), seed=seeds, data=st.data())
def test_gather(device, sd, seed, data):
    shape, dim = sd
    x = leaf(device, shape, seed)
    idx_shape = tuple(data.draw(st.integers(1, s)) if i != dim % len(shape) else data.draw(st.integers(1, 5)) for i, s in enumerate(shape))
    rng = np.random.default_rng(seed)
    idx = minilm.tensor(rng.integers(0, shape[dim], size=idx_shape), device=device)
    assert gradcheck(lambda x: x.gather(dim, idx), (x,))


# ---------------------------------------------------------------------------------------------
# dtype and device copies
# ---------------------------------------------------------------------------------------------


def test_to_dtype_round_trip_is_differentiable(device):
    # A float32 detour is too coarse for finite differences, so check the values directly.
    x = leaf(device, (3, 4), 1)
    y = x.float()
    assert y.dtype == minilm.float32 and not y.is_leaf
    (y * y).sum().backward()
    assert x.grad.dtype == minilm.float64
    np.testing.assert_allclose(to_numpy(x.grad), 2 * to_numpy(x).astype(np.float32), rtol=1e-6)
    assert gradcheck(lambda x: x.to(minilm.float64) * 3, (x,))  # no change: .to returns x itself
