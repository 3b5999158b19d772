"""The attention kernel (minilm/kernels/attention.py): float64 gradient checks on random shapes and
masks, agreement with a twin composed from primitive ops (kept here) and with PyTorch's
``scaled_dot_product_attention``, what masks, fully masked rows and dropout promise, and the errors.
The fused CuPy kernels are compared with the NumPy path in test_kernels_gpu.py (on a GPU) and
test_cuda_sources_on_cpu.py (compiled for the CPU)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minilm
import minilm.nn.functional as F
from helpers import array, leaf, to_numpy
from minilm.autograd import gradcheck
from minilm.kernels import attention as attention_kernel
from minilm.kernels.attention import attention_with_weights

seeds = st.integers(0, 2**31 - 1)

# ---------------------------------------------------------------------------------------------
# the composed twin: the same math written with primitive ops
# ---------------------------------------------------------------------------------------------


def attention_composed(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """``(out, weights)`` of scaled dot-product attention from matmul, where, exp and sum. A row
    with every key masked gets weights 0 (the max is replaced by 0 there, and the sum 0 by 1)."""
    L, S = q.shape[-2], k.shape[-2]
    c = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * c
    if is_causal:
        attn_mask = minilm.tensor(np.tri(L, S, dtype=bool), device=q.device)
    if attn_mask is not None and attn_mask.dtype == minilm.bool:
        s = minilm.where(attn_mask, s, float("-inf"))
    elif attn_mask is not None:
        s = s + attn_mask
    mx = s.max(dim=-1, keepdim=True).values.detach()
    mx = minilm.where(mx == float("-inf"), 0.0, mx)
    e = (s - mx).exp()
    z = e.sum(dim=-1, keepdim=True)
    p = e / minilm.where(z == 0, 1.0, z)
    return p @ v, p


def sdpa_composed(q, k, v, attn_mask=None, is_causal=False, scale=None):
    return attention_composed(q, k, v, attn_mask, is_causal, scale)[0]


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------

MASK_KINDS = [
    "none",
    "causal",
    "bool_LS",
    "bool_B1LS",
    "bool_BHLS",
    "bool_B11S",
    "float_LS",
    "float_B1LS",
    "float_BHLS",
]


def mask_shape(kind, B, H, L, S):
    return {"LS": (L, S), "B1LS": (B, 1, L, S), "BHLS": (B, H, L, S), "B11S": (B, 1, 1, S)}[kind.split("_")[1]]


def make_mask(device, kind, B, H, L, S, seed, dtype=np.float64):
    """None, a boolean mask (about 40% masked, so small rows are often fully masked) or a float
    mask that requires grad (normal numbers, about 20% of them -inf)."""
    if kind in ("none", "causal"):
        return None
    shape = mask_shape(kind, B, H, L, S)
    rng = np.random.default_rng(seed + 1)
    if kind.startswith("bool"):
        return minilm.tensor(rng.random(shape) < 0.6, device=device)
    m = rng.standard_normal(shape)
    m[rng.random(shape) < 0.2] = -np.inf
    return minilm.tensor(m.astype(dtype), device=device, requires_grad=True)


@st.composite
def attention_case(draw):
    """Random sizes (batch, heads 1-3; L, S 1-6; E, Ev 1-5), a mask kind, keys and values shared
    across heads or not, a non-contiguous query or not, the default scale or another."""
    B, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    L, S = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    E, Ev = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return dict(
        sizes=(B, H, L, S, E, Ev),
        mask=draw(st.sampled_from(MASK_KINDS)),
        kv_heads=draw(st.sampled_from([H, 1])),
        transposed=draw(st.booleans()),
        scale=draw(st.sampled_from([None, 0.7])),
        seed=draw(seeds),
    )


def make_inputs(device, case, dtype=np.float64):
    B, H, L, S, E, Ev = case["sizes"]
    seed = case["seed"]
    q = leaf(device, (B, H, L, E), seed, dtype=dtype, transposed=case["transposed"])
    k = leaf(device, (B, case["kv_heads"], S, E), seed + 1, dtype=dtype)
    v = leaf(device, (B, case["kv_heads"], S, Ev), seed + 2, dtype=dtype)
    mask = make_mask(device, case["mask"], B, H, L, S, seed, dtype)
    return q, k, v, mask


def assert_close(a, b, tol=1e-10):
    np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=tol, atol=tol)


def values_and_grads(fn, *inputs, seed=99):
    """Output and input gradients of ``sum(fn(*inputs) * W)`` for a fixed random W."""
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    w = minilm.tensor(array("cpu", out.shape, seed=seed).astype(out.dtype), device=out.device)
    (out * w).sum().backward()
    return out.detach(), [x.grad for x in inputs]


# ---------------------------------------------------------------------------------------------
# gradient checks and the composed twin
# ---------------------------------------------------------------------------------------------


@given(case=attention_case())
def test_gradcheck_and_twin_on_random_shapes_and_masks(device, case):
    q, k, v, mask = make_inputs(device, case)
    causal = case["mask"] == "causal"
    inputs = (q, k, v) if mask is None or not mask.requires_grad else (q, k, v, mask)

    def fused(q, k, v, m=mask):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=causal, scale=case["scale"])

    def composed(q, k, v, m=mask):
        return sdpa_composed(q, k, v, attn_mask=m, is_causal=causal, scale=case["scale"])

    assert gradcheck(fused, inputs)
    y1, g1 = values_and_grads(fused, *inputs)
    y2, g2 = values_and_grads(composed, *inputs)
    assert_close(y1, y2)
    for a, b in zip(g1, g2, strict=True):
        assert_close(a, b)
    assert np.isfinite(to_numpy(y1)).all()


@settings(max_examples=25)
@given(case=attention_case(), p=st.sampled_from([0.2, 0.5]))
def test_gradcheck_with_dropout(device, case, p):
    """Reseeding inside the function draws the same dropout mask at every evaluation, so finite
    differences see one fixed function: the backward must reuse the forward's mask."""
    q, k, v, mask = make_inputs(device, case)
    inputs = (q, k, v) if mask is None or not mask.requires_grad else (q, k, v, mask)

    def fused(q, k, v, m=mask):
        minilm.manual_seed(case["seed"])
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p, is_causal=case["mask"] == "causal")

    assert gradcheck(fused, inputs)


def test_softmax_without_the_shift_equals_the_classic_one():
    """The NumPy fast path (no row maximum) and the classic softmax give the same probabilities,
    and the fast path declines where it would be wrong: scores too large for exp, a row whose
    every exp underflows, a fully masked row."""
    rng = np.random.default_rng(0)
    s = rng.standard_normal((2, 3, 4, 5)) * 5
    allowed = rng.random((2, 1, 4, 5)) < 0.7
    allowed[..., 0] = True
    mask = attention_kernel.additive_mask(allowed, np.float64)
    classic, _ = attention_kernel.masked_softmax_(s.copy(), mask)
    fast = attention_kernel.softmax_unshifted_(s.copy(), mask)
    np.testing.assert_allclose(fast, classic, rtol=1e-13, atol=1e-15)
    assert attention_kernel.softmax_unshifted_(s * 100, None) is None  # exp(+500) is past the check
    assert attention_kernel.softmax_unshifted_(s - 1000, None) is None  # every exp of a row underflows
    allowed[1, 0, 2] = False
    mask = attention_kernel.additive_mask(allowed, np.float64)
    assert attention_kernel.softmax_unshifted_(s.copy(), mask) is None
    classic, _ = attention_kernel.masked_softmax_(s.copy(), mask)
    assert (classic[1, :, 2] == 0).all() and np.isfinite(classic).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_large_and_very_negative_scores_stay_exact(device, dtype):
    """Scores of a hundred or more (past the unshifted path's limit) and a row where every key
    gets -500 added (each exp underflows unless the row maximum is subtracted): the kernel gives
    the float64 twin's answer on the same (rounded) inputs; the -500 row is the same as without
    it, since a constant added to a whole row cancels in the softmax."""
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 3, 4)) * 10, rng.standard_normal((2, 5, 4)) * 10, rng.standard_normal((2, 5, 3))
    m = np.zeros((3, 5))
    m[1] = -500
    ours = [minilm.tensor(a.astype(dtype), device=device) for a in (q, k, v, m)]
    twin = [minilm.tensor(a.astype(dtype).astype(np.float64)) for a in (q, k, v, m)]
    out, weights = attention_with_weights(*ours[:3], attn_mask=ours[3])
    ref_out, ref_w = attention_composed(*twin[:3], attn_mask=twin[3])
    assert to_numpy(ref_w).max() > 0.99  # the scores are so large that some rows are almost one-hot
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(to_numpy(weights), to_numpy(ref_w), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_numpy(out), to_numpy(ref_out), rtol=tol, atol=tol)
    _, unmasked = attention_with_weights(*ours[:3])
    np.testing.assert_allclose(to_numpy(weights)[:, 1], to_numpy(unmasked)[:, 1], rtol=tol, atol=tol)
    assert out.dtype == dtype


def test_unbatched_and_three_dimensional_inputs(device):
    for lead in [(), (4,)]:
        q, k, v = (leaf(device, lead + s, seed=i) for i, s in enumerate([(3, 5), (6, 5), (6, 2)]))
        y1, g1 = values_and_grads(F.scaled_dot_product_attention, q, k, v)
        y2, g2 = values_and_grads(sdpa_composed, q, k, v)
        assert y1.shape == lead + (3, 2)
        assert_close(y1, y2)
        for a, b in zip(g1, g2, strict=True):
            assert_close(a, b)


# ---------------------------------------------------------------------------------------------
# masks
# ---------------------------------------------------------------------------------------------


def test_fully_masked_rows_give_zero_output_and_zero_gradient(device):
    """Query 1 may attend to no key: its output row and its query gradient are 0 (not nan), and it
    contributes nothing to the key and value gradients: those equal the gradients of attention
    with that query removed."""
    B, H, L, S, E = 2, 2, 4, 5, 3
    q, k, v = leaf(device, (B, H, L, E), 1), leaf(device, (B, H, S, E), 2), leaf(device, (B, H, S, E), 3)
    allowed = np.random.default_rng(0).random((L, S)) < 0.7
    allowed[:, 0] = True
    allowed[1] = False
    mask = minilm.tensor(allowed, device=device)
    out, grads = values_and_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask), q, k, v)
    out, (dq, dk, dv) = to_numpy(out), [to_numpy(g) for g in grads]
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in (dq, dk, dv))
    assert (out[:, :, 1] == 0).all() and (dq[:, :, 1] == 0).all()
    assert (dq[:, :, [0, 2, 3]] != 0).any()

    keep = [0, 2, 3]
    w = array("cpu", (B, H, L, E), seed=99)  # the weights values_and_grads used
    for t in (k, v):
        t.grad = None
    q_rest = minilm.tensor(to_numpy(q)[:, :, keep], device=device)
    rest = F.scaled_dot_product_attention(q_rest, k, v, attn_mask=minilm.tensor(allowed[keep], device=device))
    (rest * minilm.tensor(w[:, :, keep], device=device)).sum().backward()
    assert_close(dk, k.grad)
    assert_close(dv, v.grad)


def test_causal_mask_is_the_lower_triangle_from_the_top_left(device):
    """``is_causal``: query i sees keys 0..i, also when L != S (PyTorch's alignment): the same as
    the boolean mask tril(ones(L, S)), and the first query puts all its weight on key 0."""
    for L, S in [(4, 4), (3, 5), (5, 3)]:
        q, k, v = (leaf(device, s, seed=i) for i, s in enumerate([(2, L, 4), (2, S, 4), (2, S, 3)]))
        out, w = attention_with_weights(q, k, v, is_causal=True)
        tril = minilm.tensor(np.tri(L, S, dtype=bool), device=device)
        out2, w2 = attention_with_weights(q, k, v, attn_mask=tril)
        assert_close(out, out2, 0)
        w = to_numpy(w)
        np.testing.assert_array_equal(w[..., 0, :], np.eye(1, S)[[0, 0]])
        assert (w[..., np.triu_indices(L, 1, S)[0], np.triu_indices(L, 1, S)[1]] == 0).all()


def test_float_mask_gradient_is_summed_to_the_mask_shape(device):
    """A float mask (L, S) broadcast over batch and heads gets the sum of the score gradients of all
    its copies: the same as a (B, H, L, S) mask filled with its copies, summed over (B, H)."""
    B, H, L, S, E = 2, 3, 4, 5, 2
    q, k, v = leaf(device, (B, H, L, E), 1), leaf(device, (B, H, S, E), 2), leaf(device, (B, H, S, E), 3)
    small = leaf(device, (L, S), 4)
    full = minilm.tensor(np.broadcast_to(to_numpy(small), (B, H, L, S)).copy(), device=device, requires_grad=True)
    _, (g_small,) = values_and_grads(lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), small)
    _, (g_full,) = values_and_grads(lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), full)
    assert g_small.shape == (L, S)
    assert_close(g_small, to_numpy(g_full).sum(axis=(0, 1)))


def test_a_boolean_mask_is_the_float_mask_of_zeros_and_minus_infinity(device):
    q, k, v = (leaf(device, s, seed=i) for i, s in enumerate([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)]))
    allowed = np.random.default_rng(3).random((2, 1, 4, 6)) < 0.5
    as_float = np.where(allowed, 0.0, -np.inf)
    a = F.scaled_dot_product_attention(q, k, v, attn_mask=minilm.tensor(allowed, device=device))
    b = F.scaled_dot_product_attention(q, k, v, attn_mask=minilm.tensor(as_float, device=device))
    assert_close(a, b, 0)


# ---------------------------------------------------------------------------------------------
# attention_with_weights
# ---------------------------------------------------------------------------------------------


def test_attention_with_weights_returns_the_probabilities_before_dropout(device):
    q, k, v = (leaf(device, s, seed=i) for i, s in enumerate([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2)]))
    allowed = np.random.default_rng(3).random((2, 1, 1, 6)) < 0.6
    allowed[..., 0] = True
    mask = minilm.tensor(allowed, device=device)
    out, weights = attention_with_weights(q, k, v, attn_mask=mask)
    assert weights.shape == (2, 3, 4, 6) and not weights.requires_grad and out.requires_grad
    w = to_numpy(weights)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    assert (w[np.broadcast_to(~allowed, w.shape)] == 0).all()
    assert_close(weights, attention_composed(q, k, v, attn_mask=mask)[1])
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), 0)

    minilm.manual_seed(1)
    dropped, weights_d = attention_with_weights(q, k, v, attn_mask=mask, dropout_p=0.5)
    assert_close(weights_d, weights, 0)  # the weights are those before dropout...
    assert not np.allclose(to_numpy(dropped), to_numpy(out))  # ...the output is not


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------


def _dropped_probabilities(device, p, seed, S=40):
    """With V the identity the output IS the dropped probabilities ``Pd``; returns (Pd, P, q, v)."""
    q, k = leaf(device, (3, 30, 8), 1), leaf(device, (3, S, 8), 2)
    v = minilm.tensor(np.broadcast_to(np.eye(S), (3, S, S)).copy(), device=device, requires_grad=True)
    minilm.manual_seed(seed)
    out, weights = attention_with_weights(q, k, v, dropout_p=p)
    return out, weights, q, v


def test_dropout_is_reproducible_under_manual_seed(device):
    a = to_numpy(_dropped_probabilities(device, 0.3, seed=4)[0])
    b = to_numpy(_dropped_probabilities(device, 0.3, seed=4)[0])
    c = to_numpy(_dropped_probabilities(device, 0.3, seed=5)[0])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_zeroes_with_probability_p_and_keeps_the_expectation(device):
    p = 0.3
    out, weights, _, v = _dropped_probabilities(device, p, seed=0)
    Pd, P = to_numpy(out), to_numpy(weights)
    dropped = Pd == 0
    assert abs(dropped.mean() - p) < 0.025  # 3600 draws: within about 3 standard errors
    np.testing.assert_allclose(Pd[~dropped], P[~dropped] / (1 - p), rtol=1e-12)
    # E[Pd] = P: the average over many draws approaches the probabilities without dropout
    mean = np.mean([to_numpy(_dropped_probabilities(device, p, seed=s)[0]) for s in range(1, 41)], axis=0)
    assert abs((mean - P).mean()) < 1e-3  # without the 1/(1-p) it would be -p/40 = -7.5e-3
    # backward reuses the forward's mask: with O = Pd V, dV = Pd^T W
    w = array("cpu", out.shape, seed=7)
    (out * minilm.tensor(w, device=device)).sum().backward()
    np.testing.assert_allclose(to_numpy(v.grad), np.swapaxes(Pd, -1, -2) @ w, rtol=1e-10, atol=1e-12)


def test_dropout_zero_is_no_dropout_and_draws_nothing(device):
    q, k, v = (leaf(device, s, seed=i) for i, s in enumerate([(2, 4, 3), (2, 5, 3), (2, 5, 2)]))
    minilm.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0)
    after = to_numpy(minilm.rand(3, device=device))
    minilm.manual_seed(0)
    b = F.scaled_dot_product_attention(q, k, v)
    assert_close(a, b, 0)
    np.testing.assert_array_equal(to_numpy(minilm.rand(3, device=device)), after)


def test_dropout_one_drops_everything(device):
    q, k, v = (leaf(device, s, seed=i) for i, s in enumerate([(2, 4, 3), (2, 5, 3), (2, 5, 2)]))
    out, grads = values_and_grads(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=1.0), q, k, v)
    assert (to_numpy(out) == 0).all()
    for g in grads:
        assert (to_numpy(g) == 0).all()


# ---------------------------------------------------------------------------------------------
# dtypes and errors
# ---------------------------------------------------------------------------------------------


def test_float32_stays_float32(device):
    shapes = [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2), (4, 6)]
    inputs64 = [leaf(device, s, seed=i) for i, s in enumerate(shapes)]
    inputs32 = [leaf(device, s, seed=i, dtype=np.float32) for i, s in enumerate(shapes)]
    minilm.manual_seed(2)
    y32, g32 = values_and_grads(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), *inputs32)
    y64, g64 = values_and_grads(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), *inputs64)
    assert y32.dtype == minilm.float32 and all(g.dtype == minilm.float32 for g in g32)
    np.testing.assert_allclose(to_numpy(y32), to_numpy(y64), rtol=1e-4, atol=1e-5)
    for a, b in zip(g32, g64, strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-4, atol=1e-5)
    minilm.manual_seed(2)
    out, weights = attention_with_weights(*inputs32[:3], is_causal=True, dropout_p=0.2)
    assert out.dtype == minilm.float32 and weights.dtype == minilm.float32


def _qkv(q=(2, 4, 3), k=(2, 5, 3), v=(2, 5, 2), dtypes=(np.float64,) * 3):
    return [minilm.tensor(np.ones(s, dtype=d)) for s, d in zip((q, k, v), dtypes, strict=True)]


@pytest.mark.parametrize(
    "make, kwargs, error, match",
    [
        (lambda: _qkv(k=(2, 5, 4)), {}, ValueError, r"query \(2, 4, 3\) and key \(2, 5, 4\) .* 3 != 4"),
        (lambda: _qkv(v=(2, 6, 2)), {}, ValueError, r"key \(2, 5, 3\) and value \(2, 6, 2\) .* 5 != 6"),
        (lambda: _qkv(k=(3, 5, 3), v=(3, 5, 2)), {}, ValueError, "leading dimensions .* do not broadcast"),
        (lambda: _qkv(dtypes=(np.float32, np.float64, np.float64)), {}, TypeError, "one dtype, got float32, float64"),
        (lambda: _qkv(), {"attn_mask": np.ones((4, 5), np.int64)}, TypeError, "boolean .* or float .* got int64"),
        (lambda: _qkv(), {"attn_mask": np.ones((4, 5), np.float32)}, TypeError, "query's dtype float64, got float32"),
        (
            lambda: _qkv(),
            {"attn_mask": np.ones((5, 4), bool)},
            ValueError,
            r"attn_mask of shape \(5, 4\) .* \(2, 4, 5\)",
        ),
        (lambda: _qkv(), {"attn_mask": np.ones((3, 4, 5), bool)}, ValueError, "does not broadcast"),
        (lambda: _qkv(), {"attn_mask": np.ones((4, 5), bool), "is_causal": True}, ValueError, "not both"),
        (lambda: _qkv(), {"dropout_p": 1.5}, ValueError, "dropout_p must be between 0 and 1, got 1.5"),
        (lambda: [np.ones((4, 3))] + _qkv()[1:], {}, TypeError, "query must be a Tensor, got ndarray"),
        (lambda: _qkv(q=(3,), k=(5, 3)), {}, ValueError, r"query must have at least 2 dimensions .* \(3,\)"),
        (lambda: [minilm.tensor(np.ones((4, 3), np.int64))] + _qkv()[1:], {}, TypeError, "float tensor, got int64"),
    ],
    ids=[
        "E",
        "S",
        "batch",
        "dtype",
        "mask_dtype",
        "mask_float_dtype",
        "mask_shape",
        "mask_more_dims",
        "causal_and_mask",
        "dropout_p",
        "not_tensor",
        "ndim",
        "int_query",
    ],
)
def test_errors_name_the_problem(make, kwargs, error, match):
    q, k, v = make()
    if isinstance(kwargs.get("attn_mask"), np.ndarray):
        kwargs = dict(kwargs, attn_mask=minilm.tensor(kwargs["attn_mask"]))
    with pytest.raises(error, match=match):
        F.scaled_dot_product_attention(q, k, v, **kwargs)


# ---------------------------------------------------------------------------------------------
# PyTorch agreement
# ---------------------------------------------------------------------------------------------

TORCH_CASES = {
    "no_mask": dict(mask=None),
    "bool_padding": dict(mask="bool_B11S"),
    "bool_full_with_fully_masked_rows": dict(mask="bool_BHLS", fully_masked=True),
    "float_LS": dict(mask="float_LS"),
    "float_B1LS_scale": dict(mask="float_B1LS", scale=0.3),
    "causal": dict(causal=True),
    "causal_L_not_S": dict(causal=True, S=7),
}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_agrees_with_torch(name, dtype):
    torch = pytest.importorskip("torch")
    case = TORCH_CASES[name]
    B, H, L, S, E, Ev = 2, 3, 5, case.get("S", 6), 4, 3
    rng = np.random.default_rng(11)
    # the query is a transposed view (batch, heads, L, E) of a (batch, L, heads, E) array, as a
    # multi-head layer makes it
    q = rng.standard_normal((B, L, H, E)).transpose(0, 2, 1, 3)
    k, v = rng.standard_normal((B, H, S, E)), rng.standard_normal((B, H, S, Ev))
    arrays = [q, k, v]
    mask = None
    if case.get("mask"):
        kind = case["mask"]
        shape = mask_shape(kind, B, H, L, S)
        if kind.startswith("bool"):
            mask = rng.random(shape) < 0.6
            mask[..., 0] = True
            if case.get("fully_masked"):
                mask[0, 1, 2] = mask[1, 0, 0] = False  # two queries that may attend to nothing
        else:
            mask = rng.standard_normal(shape)
            arrays.append(mask)
    W = rng.standard_normal((B, H, L, Ev))
    kwargs = dict(is_causal=case.get("causal", False), scale=case.get("scale"))

    def run(L_, tensors):
        m = tensors[3] if len(tensors) > 3 else (None if mask is None else L_.tensor(mask))
        out = L_.nn.functional.scaled_dot_product_attention(*tensors[:3], attn_mask=m, **kwargs)
        (out * L_.tensor(W.astype(dtype))).sum().backward()
        return out

    ours = [minilm.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    y1, y2 = run(minilm, ours), run(torch, theirs)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(to_numpy(y1.detach()), y2.detach().numpy(), rtol=tol, atol=tol)
    for a, b in zip(ours, theirs, strict=True):
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(to_numpy(a.grad), b.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.torch
def test_dropout_follows_torch_semantics():
    """Different random streams, the same rule: with V the identity the output is the dropped
    probabilities, zero with probability p and P / (1 - p) elsewhere, in both libraries."""
    torch = pytest.importorskip("torch")
    p, S = 0.25, 50
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 200, 8)), rng.standard_normal((2, S, 8)), np.eye(S)
    for L_ in (minilm, torch):
        qq, kk, vv = L_.tensor(q), L_.tensor(k), L_.tensor(v)
        dropped = L_.nn.functional.scaled_dot_product_attention(qq, kk, vv, dropout_p=p)
        P = L_.nn.functional.scaled_dot_product_attention(qq, kk, vv)
        dropped, P = (t.numpy() if L_ is torch else to_numpy(t) for t in (dropped, P))
        kept = dropped != 0
        assert abs(1 - kept.mean() - p) < 0.01  # 20000 draws: within about 3 standard errors
        np.testing.assert_allclose(dropped[kept], P[kept] / (1 - p), rtol=1e-10)
