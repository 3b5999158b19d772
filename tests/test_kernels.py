"""The explicit kernels (minilm/kernels/): float64 gradient checks on random shapes, agreement
with twins composed from primitive ops (kept here), PyTorch agreement lives in
test_kernels_torch.py, and on a GPU the CuPy kernels are compared with the NumPy ones."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import minilm
import minilm.nn.functional as F
from helpers import array, leaf, to_numpy
from minilm.autograd import gradcheck

seeds = st.integers(0, 2**31 - 1)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5)

# ---------------------------------------------------------------------------------------------
# the composed twins: the same math written with primitive ops only
# ---------------------------------------------------------------------------------------------


def softmax_composed(x, dim):
    e = (x - x.max(dim=dim, keepdim=True).values.detach()).exp()
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax_composed(x, dim):
    return x - x.logsumexp(dim=dim, keepdim=True)


def cross_entropy_composed(x, t, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    C = x.shape[-1]
    logp = log_softmax_composed(x, -1).reshape(-1, C)
    tt = t.reshape(-1)
    counted = tt != ignore_index
    safe = minilm.where(counted, tt, 0)
    picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    loss = -(1 - label_smoothing) * picked - label_smoothing * logp.mean(dim=1)
    loss = minilm.where(counted, loss, 0.0)
    if reduction == "none":
        return loss.reshape(t.shape)
    if reduction == "sum":
        return loss.sum()
    n = int(counted.sum().item())
    return loss.sum() / n if n else loss.sum() * 0


def layer_norm_composed(x, k, w, b, eps=1e-5):
    dims = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, correction=0)
    y = (x - mu) / (var + eps).sqrt()
    return y * w + b


def embedding_composed(ids, w):
    return w[ids]


def gelu_composed(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)).tanh())
    return 0.5 * x * (1 + minilm.erf(x / math.sqrt(2)))


def linear_composed(x, w, b):
    y = x @ w.T
    return y + b if b is not None else y


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


@st.composite
def shape_and_dim(draw):
    shape = draw(shapes)
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@st.composite
def ce_case(draw):
    """logits (N, C) or (N, T, C), targets with some ignored rows, options."""
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 6))
    lead = (n,) if draw(st.booleans()) else (n, draw(st.integers(1, 4)))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, size=lead)
    t[rng.random(lead) < draw(st.sampled_from([0.0, 0.3, 1.0]))] = -100
    return lead + (c,), t, seed, draw(st.sampled_from(["mean", "sum", "none"])), draw(st.sampled_from([0.0, 0.1, 0.5]))


def assert_close(a, b, tol=1e-10):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=tol, atol=tol)


def grads_of(fn, *inputs):
    """Values and input gradients of ``sum(fn(*inputs) * W)`` for a fixed random W."""
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    w = minilm.Tensor(array(out.device.type, out.shape, seed=99))
    (out * w).sum().backward()
    return out.detach(), [x.grad for x in inputs]


def assert_twins_agree(fused, composed, *inputs, tol=1e-10):
    y1, g1 = grads_of(fused, *inputs)
    y2, g2 = grads_of(composed, *inputs)
    assert_close(y1, y2, tol)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b, tol)


# ---------------------------------------------------------------------------------------------
# softmax / log_softmax
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@given(sd=shape_and_dim(), seed=seeds, transposed=st.booleans())
def test_softmax_gradcheck_and_twin(device, log, sd, seed, transposed):
    shape, dim = sd
    x = leaf(device, shape, seed, transposed=transposed)
    fused = (lambda x: F.log_softmax(x, dim)) if log else (lambda x: F.softmax(x, dim))
    composed = (lambda x: log_softmax_composed(x, dim)) if log else (lambda x: softmax_composed(x, dim))
    assert gradcheck(fused, (x,))
    assert_twins_agree(fused, composed, x)


def test_softmax_is_stable_for_huge_logits(device):
    x = minilm.tensor([[1e4, 0.0, -1e4], [1e30, 1e30, -1e30]], device=device)
    p = F.softmax(x, dim=-1)
    lp = F.log_softmax(x, dim=-1)
    assert np.isfinite(to_numpy(p)).all() and np.isfinite(to_numpy(lp)).all()
    np.testing.assert_allclose(to_numpy(p), [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_allclose(to_numpy(lp)[0], [0.0, -1e4, -2e4], rtol=1e-6)


def test_softmax_rows_sum_to_one_over_any_dim(device):
    x = minilm.Tensor(array(device, (3, 4, 5), dtype=np.float32) * 30)
    for dim in range(-3, 3):
        s = F.softmax(x, dim=dim).sum(dim=dim)
        np.testing.assert_allclose(to_numpy(s), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# cross_entropy / nll_loss
# ---------------------------------------------------------------------------------------------


@given(case=ce_case(), transposed=st.booleans())
def test_cross_entropy_gradcheck_and_twin(device, case, transposed):
    shape, t, seed, reduction, ls = case
    x = leaf(device, shape, seed, transposed=transposed)
    target = minilm.tensor(t, device=device)

    def fused(x):
        return F.cross_entropy(x, target, reduction=reduction, label_smoothing=ls)

    def composed(x):
        return cross_entropy_composed(x, target, reduction=reduction, label_smoothing=ls)

    assert gradcheck(fused, (x,))
    assert_twins_agree(fused, composed, x)


@given(case=ce_case())
def test_nll_loss_gradcheck_and_twin(device, case):
    shape, t, seed, reduction, _ = case
    x = leaf(device, shape, seed)
    target = minilm.tensor(t, device=device)

    def fused(x):
        return F.nll_loss(F.log_softmax(x, -1), target, reduction=reduction)

    def composed(x):
        return cross_entropy_composed(x, target, reduction=reduction)

    assert gradcheck(fused, (x,))
    assert_twins_agree(fused, composed, x)


def test_cross_entropy_ignored_rows_get_zero_gradient_and_are_not_counted(device):
    x = leaf(device, (4, 3), seed=1)
    t = minilm.tensor([2, -100, 0, -100], device=device)
    loss = F.cross_entropy(x, t)
    loss.backward()
    g = to_numpy(x.grad)
    assert (g[[1, 3]] == 0).all() and (g[[0, 2]] != 0).all()
    kept = F.cross_entropy(minilm.Tensor(x.data[[0, 2]]), minilm.tensor([2, 0], device=device))
    assert abs(loss.item() - kept.item()) < 1e-12  # the mean is over the 2 counted rows, not 4


def test_cross_entropy_with_every_row_ignored_is_a_defined_zero(device):
    import warnings

    x = leaf(device, (3, 5), seed=2)
    t = minilm.tensor([-100, -100, -100], device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning (0/0) either
        loss = F.cross_entropy(x, t)
        loss.backward()
    assert loss.item() == 0.0
    assert (to_numpy(x.grad) == 0).all()


def test_cross_entropy_gradient_is_softmax_minus_one_hot(device):
    x = leaf(device, (5, 4), seed=3)
    t = np.array([0, 3, 1, 1, 2])
    F.cross_entropy(x, minilm.tensor(t, device=device), reduction="sum").backward()
    p = to_numpy(F.softmax(x.detach(), -1))
    np.testing.assert_allclose(to_numpy(x.grad), p - np.eye(4)[t], atol=1e-14)


def test_cross_entropy_stable_for_huge_logits(device):
    x = minilm.tensor([[1e4, 0.0], [0.0, -1e4]], device=device, requires_grad=True)
    loss = F.cross_entropy(x, minilm.tensor([1, 1], device=device), reduction="none")
    np.testing.assert_allclose(to_numpy(loss), [1e4, 1e4], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(to_numpy(x.grad)).all()


def test_cross_entropy_sequence_targets(device):
    """(N, T, C) logits with (N, T) targets equal the flattened (N*T, C) case."""
    x = leaf(device, (2, 3, 5), seed=4)
    t = minilm.tensor([[0, 4, -100], [1, 1, 2]], device=device)
    a = F.cross_entropy(x, t)
    b = F.cross_entropy(x.reshape(6, 5), t.reshape(6))
    assert abs(a.item() - b.item()) < 1e-14


@pytest.mark.parametrize(
    "target, match",
    [
        ([0, 5], "target 5 is out of range for 5 classes"),
        ([-1, 0], "target -1 is out of range"),
    ],
)
def test_cross_entropy_target_out_of_range(device, target, match):
    x = leaf(device, (2, 5), seed=0)
    with pytest.raises(IndexError, match=match):
        F.cross_entropy(x, minilm.tensor(target, device=device))


def test_cross_entropy_bad_input(device):
    x = leaf(device, (2, 5), seed=0)
    with pytest.raises(ValueError, match=r"input \(2, 5\) and target \(3,\) do not match"):
        F.cross_entropy(x, minilm.tensor([0, 1, 2], device=device))
    with pytest.raises(TypeError, match="class indices"):
        F.cross_entropy(x, minilm.tensor([0.0, 1.0], device=device))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, minilm.tensor([0, 1], device=device), reduction="avg")


# ---------------------------------------------------------------------------------------------
# layer_norm
# ---------------------------------------------------------------------------------------------


@st.composite
def ln_case(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    k = draw(st.integers(1, len(shape)))
    return shape, k, draw(seeds), draw(st.booleans())


@given(case=ln_case(), transposed=st.booleans())
def test_layer_norm_gradcheck_and_twin(device, case, transposed):
    shape, k, seed, affine = case
    x = leaf(device, shape, seed, transposed=transposed)
    ns = shape[len(shape) - k :]
    if affine:
        w, b = leaf(device, ns, seed + 1), leaf(device, ns, seed + 2)
        inputs = (x, w, b)
        assert gradcheck(lambda x, w, b: F.layer_norm(x, ns, w, b), inputs)
        assert_twins_agree(
            lambda x, w, b: F.layer_norm(x, ns, w, b), lambda x, w, b: layer_norm_composed(x, k, w, b), *inputs
        )
    else:
        assert gradcheck(lambda x: F.layer_norm(x, ns), (x,))
        assert_twins_agree(lambda x: F.layer_norm(x, ns), lambda x: layer_norm_composed(x, k, 1.0, 0.0), x)


def test_layer_norm_output_statistics(device):
    x = minilm.Tensor(array(device, (6, 32), seed=5, dtype=np.float32) * 7 + 3)
    y = to_numpy(F.layer_norm(x, (32,)))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-3)


def test_layer_norm_shape_errors(device):
    x = leaf(device, (2, 3, 4), seed=0)
    with pytest.raises(ValueError, match=r"normalized_shape \(3,\) must equal the last 1 dimension"):
        F.layer_norm(x, (3,))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected normalized_shape \(4,\)"):
        F.layer_norm(x, (4,), leaf(device, (3,)))


# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------


@given(
    v=st.integers(1, 6),
    d=st.integers(1, 4),
    ids_shape=array_shapes(min_dims=1, max_dims=2, max_side=6),
    seed=seeds,
    pad=st.booleans(),
)
def test_embedding_gradcheck_and_twin(device, v, d, ids_shape, seed, pad):
    w = leaf(device, (v, d), seed)
    ids = minilm.tensor(np.random.default_rng(seed).integers(0, v, size=ids_shape), device=device)
    assert gradcheck(lambda w: F.embedding(ids, w), (w,))
    assert_twins_agree(lambda w: F.embedding(ids, w), lambda w: embedding_composed(ids, w), w)
    if pad:  # the same gradient, except that the padding row gets none
        y_pad, (g_pad,) = grads_of(lambda w: F.embedding(ids, w, padding_idx=0), w)
        y, (g,) = grads_of(lambda w: F.embedding(ids, w), w)
        expected = to_numpy(g).copy()
        expected[0] = 0
        assert_close(y_pad, y)
        np.testing.assert_array_equal(to_numpy(g_pad), expected)


def test_embedding_repeated_ids_accumulate(device):
    w = leaf(device, (4, 2), seed=0)
    ids = minilm.tensor([1, 1, 1, 3], device=device)
    F.embedding(ids, w).sum().backward()
    np.testing.assert_array_equal(to_numpy(w.grad), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_many_positions_take_the_sorted_path(device):
    """More positions than 4x the table rows uses sort + reduceat on NumPy; it must equal add.at."""
    w = leaf(device, (5, 3), seed=0)
    ids = minilm.tensor(np.random.default_rng(0).integers(0, 5, size=(8, 9)), device=device)
    assert_twins_agree(lambda w: F.embedding(ids, w), lambda w: embedding_composed(ids, w), w)


def test_embedding_padding_row_gets_no_gradient(device):
    w = leaf(device, (4, 2), seed=0)
    F.embedding(minilm.tensor([0, 2, 0], device=device), w, padding_idx=0).sum().backward()
    g = to_numpy(w.grad)
    assert (g[0] == 0).all() and (g[2] == 1).all()


@pytest.mark.parametrize("bad", [7, -1, 100])
def test_embedding_id_out_of_range_names_id_and_size(device, bad):
    w = leaf(device, (7, 2), seed=0)
    with pytest.raises(IndexError, match=rf"id {bad} is outside the table of 7 embeddings"):
        F.embedding(minilm.tensor([[0, bad]], device=device), w)


def test_embedding_float_ids_rejected(device):
    with pytest.raises(TypeError, match="integer ids"):
        F.embedding(minilm.tensor([0.0], device=device), leaf(device, (3, 2)))


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------


@given(shape=shapes, seed=seeds, p=st.sampled_from([0.0, 0.2, 0.5, 0.9, 1.0]))
def test_dropout_gradcheck(device, shape, seed, p):
    x = leaf(device, shape, seed)

    def fn(x):
        minilm.manual_seed(seed)  # the same mask at every evaluation
        return F.dropout(x, p)

    assert gradcheck(fn, (x,))


def test_dropout_reuses_its_mask_in_backward_and_scales(device):
    x = minilm.Tensor(array(device, (200, 50), dtype=np.float32) + 5, requires_grad=True)
    y = F.dropout(x, 0.3)
    y.sum().backward()
    yv, gv, xv = to_numpy(y), to_numpy(x.grad), to_numpy(x)
    kept = yv != 0
    np.testing.assert_allclose(yv[kept], xv[kept] / 0.7, rtol=1e-6)
    np.testing.assert_allclose(gv, kept / 0.7, rtol=1e-6)  # gradient 1/(1-p) exactly where kept
    assert abs(kept.mean() - 0.7) < 0.02


def test_dropout_twin_with_the_same_random_numbers(device):
    x = leaf(device, (6, 7), seed=1)

    def fused(x):
        minilm.manual_seed(3)
        return F.dropout(x, 0.4)

    def composed(x):
        minilm.manual_seed(3)
        keep = minilm.rand(*x.shape, dtype=x.dtype, device=x.device) >= 0.4
        return x * keep / 0.6

    assert_twins_agree(fused, composed, x)


def test_dropout_identity_in_eval_and_bad_p(device):
    x = leaf(device, (3, 4))
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="between 0 and 1, got 1.5"):
        F.dropout(x, 1.5)


# ---------------------------------------------------------------------------------------------
# gelu, erf, linear
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@given(shape=shapes, seed=seeds, transposed=st.booleans())
def test_gelu_gradcheck_and_twin(device, approximate, shape, seed, transposed):
    x = leaf(device, shape, seed, transposed=transposed)
    x = minilm.Tensor(x.data * 3, requires_grad=True)  # reach the tails too
    assert gradcheck(lambda x: F.gelu(x, approximate), (x,))
    assert_twins_agree(lambda x: F.gelu(x, approximate), lambda x: gelu_composed(x, approximate), x)


def test_float32_gelu_on_many_blocks_matches_float64_and_handles_the_tails():
    """The float32 GELU works in blocks of 2^17 numbers with a polynomial inside |x| < 2 sqrt 2 and the
    erfc tail outside; its backward reads Phi(x) = y / x off the output. On three blocks' worth of
    numbers, large |x|, zeros, tiny values, +-inf and nan included, forward and backward must agree with
    the float64 kernel (the exact series) to float32 accuracy, and the specials must come out as there."""
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.standard_normal(200_000) * 3,
            rng.uniform(-40, 40, 150_000),
            [0.0, -0.0, 1e-30, -1e-30, 2.828, -2.829, 1e30, -1e30, np.inf, -np.inf, np.nan],
        ]
    )
    g = rng.standard_normal(x.shape)
    results = {}
    for dtype in (minilm.float64, minilm.float32):
        t = minilm.tensor(x, dtype=dtype, requires_grad=True)
        y = F.gelu(t)
        y.backward(minilm.tensor(g, dtype=dtype))
        assert y.dtype == dtype and t.grad.dtype == dtype
        results[dtype] = (y.detach().numpy().astype(np.float64), t.grad.numpy().astype(np.float64))
    (y64, g64), (y32, g32) = results[minilm.float64], results[minilm.float32]
    finite = np.isfinite(x) & (np.abs(x) < 1e6)
    np.testing.assert_allclose(y32[finite], y64[finite], rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(g32[finite], g64[finite], rtol=1e-5, atol=1e-5 * np.abs(g[finite]).max())
    tail = dict(zip(x[-7:].tolist(), y32[-7:].tolist(), strict=True))  # 1e30, -1e30, inf, -inf, nan (in order)
    assert tail[1e30] == np.float32(1e30) and tail[-1e30] == 0.0 and tail[np.inf] == np.inf
    assert np.isnan(y32[-1])  # nan in, nan out


def test_erf_matches_math_erf_everywhere():
    xs = np.linspace(-8, 8, 20001)
    ref = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(minilm.erf(minilm.tensor(xs)).numpy(), ref, rtol=0, atol=2e-15)
    np.testing.assert_allclose(minilm.erf(minilm.tensor(xs, dtype=minilm.float32)).numpy(), ref, rtol=0, atol=1e-6)


@given(shape=shapes, seed=seeds)
def test_erf_gradcheck(device, shape, seed):
    assert gradcheck(minilm.erf, (leaf(device, shape, seed),))


@given(
    lead=array_shapes(min_dims=0, max_dims=2, max_side=4),
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 5),
    seed=seeds,
    bias=st.booleans(),
    transposed=st.booleans(),
)
def test_linear_gradcheck_and_twin(device, lead, n_in, n_out, seed, bias, transposed):
    x = leaf(device, lead + (n_in,), seed, transposed=transposed)
    w = leaf(device, (n_out, n_in), seed + 1)
    b = leaf(device, (n_out,), seed + 2) if bias else None
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda x, w, b=None: F.linear(x, w, b), inputs)
    assert_twins_agree(lambda x, w, b=None: F.linear(x, w, b), lambda x, w, b=None: linear_composed(x, w, b), *inputs)


def test_linear_shape_error(device):
    with pytest.raises(ValueError, match=r"input of shape \(2, 3\) has 3 features .* expects in_features=4"):
        F.linear(leaf(device, (2, 3)), leaf(device, (5, 4)))


# ---------------------------------------------------------------------------------------------
# float32 keeps float32
# ---------------------------------------------------------------------------------------------


def test_kernels_keep_float32(device):
    x = minilm.randn(3, 4, device=device, requires_grad=True)
    w = minilm.ones(4, device=device, requires_grad=True)
    outs = [
        F.softmax(x, -1),
        F.log_softmax(x, 0),
        F.layer_norm(x, (4,), w, w),
        F.gelu(x),
        F.gelu(x, "tanh"),
        F.dropout(x, 0.5),
        F.linear(x, minilm.randn(2, 4, device=device)),
        F.cross_entropy(x, minilm.tensor([0, 1, 3], device=device)),
    ]
    for y in outs:
        assert y.dtype == minilm.float32
        y.sum().backward()
        assert x.grad.dtype == minilm.float32


def test_tensor_methods_reach_the_kernels():
    x = minilm.randn(2, 3)
    np.testing.assert_array_equal(x.softmax(-1).numpy(), F.softmax(x, dim=-1).numpy())
    np.testing.assert_array_equal(x.log_softmax(0).numpy(), F.log_softmax(x, dim=0).numpy())
    np.testing.assert_array_equal(x.erf().numpy(), minilm.erf(x).numpy())


def test_cross_entropy_names_pytorchs_class_layout(device):
    x = leaf(device, (2, 6, 4), seed=0)
    with pytest.raises(ValueError, match=r"PyTorch's \(N, C, \.\.\.\) layout.*input.transpose\(1, 2\)"):
        F.cross_entropy(x, minilm.zeros(2, 4, dtype=minilm.int64, device=device))


def test_functional_keyword_names_are_pytorchs():
    x = minilm.randn(2, 3)
    assert F.softmax(input=x, dim=-1).shape == (2, 3)
    assert F.log_softmax(input=x, dim=0).shape == (2, 3)
