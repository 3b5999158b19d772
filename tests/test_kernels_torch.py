"""Level 2: the explicit kernels agree with PyTorch, forward and gradients, in float64 and float32
(skipped when torch is not installed). The same lambda runs in both libraries."""

import numpy as np
import pytest

import minilm
from helpers import F, array, to_numpy
from helpers import idx as ids

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


T2 = [[0, 4, -100], [2, 2, 1]]

CASES = {
    "softmax": (lambda L, x: F(L).softmax(x, dim=1), [(3, 4, 5)]),
    "log_softmax": (lambda L, x: F(L).log_softmax(x * 50, dim=-1), [(3, 4, 5)]),
    "cross_entropy_mean": (lambda L, x: F(L).cross_entropy(x, ids(L, [0, 4, -100, 1])), [(4, 5)]),
    "cross_entropy_sum_smooth": (
        lambda L, x: F(L).cross_entropy(x, ids(L, [0, 4, 3, 1]), reduction="sum", label_smoothing=0.2),
        [(4, 5)],
    ),
    "cross_entropy_none_ignore": (
        lambda L, x: F(L).cross_entropy(x, ids(L, [7, 4, 3, 1]), ignore_index=7, reduction="none"),
        [(4, 5)],
    ),
    "cross_entropy_smooth_ignore": (
        lambda L, x: F(L).cross_entropy(x, ids(L, [0, -100, 3, -100]), label_smoothing=0.3),
        [(4, 5)],
    ),
    # minilm keeps classes last for (N, T, C); PyTorch wants (N, C, T): the case says so explicitly
    "cross_entropy_sequence": (
        lambda L, x: F(L).cross_entropy(x if L is minilm else x.transpose(1, 2), ids(L, T2)),
        [(2, 3, 5)],
    ),
    "nll_loss": (lambda L, x: F(L).nll_loss(F(L).log_softmax(x, -1), ids(L, [1, 0, -100])), [(3, 4)]),
    "layer_norm": (lambda L, x, w, b: F(L).layer_norm(x, (6,), w, b), [(2, 3, 6), (6,), (6,)]),
    "layer_norm_2d_shape": (lambda L, x, w, b: F(L).layer_norm(x, (3, 6), w, b, eps=1e-3), [(2, 3, 6), (3, 6), (3, 6)]),
    "layer_norm_no_affine": (lambda L, x: F(L).layer_norm(x, (6,)), [(4, 6)]),
    "embedding": (lambda L, w: F(L).embedding(ids(L, [[1, 2, 1], [0, 3, 3]]), w), [(5, 4)]),
    "embedding_padding": (lambda L, w: F(L).embedding(ids(L, [[1, 2, 1], [0, 3, 3]]), w, padding_idx=1), [(5, 4)]),
    "gelu": (lambda L, x: F(L).gelu(x * 3), [(5, 7)]),
    "gelu_tanh": (lambda L, x: F(L).gelu(x * 3, approximate="tanh"), [(5, 7)]),
    "erf": (lambda L, x: L.erf(x * 2), [(5, 7)]),
    "linear": (lambda L, x, w, b: F(L).linear(x, w, b), [(2, 3, 4), (5, 4), (5,)]),
    "linear_no_bias": (lambda L, x, w: F(L).linear(x, w), [(4,), (5, 4)]),
    "mse_loss": (lambda L, x, y: F(L).mse_loss(x, y) + F(L).mse_loss(x, y, reduction="sum"), [(3, 4), (3, 4)]),
    "bce_with_logits": (lambda L, x, y: F(L).binary_cross_entropy_with_logits(x * 20, y.sigmoid()), [(3, 4), (3, 4)]),
    "softplus": (lambda L, x: F(L).softplus(x * 10) + F(L).softplus(x * 10, beta=2.0, threshold=5.0), [(5, 7)]),
    "logsigmoid": (lambda L, x: F(L).logsigmoid(x * 10), [(5, 7)]),
    "bce_with_logits_pos_weight": (
        lambda L, x, y: F(L).binary_cross_entropy_with_logits(
            x, y.sigmoid(), pos_weight=L.tensor(2.0, dtype=x.dtype), reduction="sum"
        ),
        [(3, 4), (3, 4)],
    ),
}


def _run(L, fn, arrays, dtype):
    if L is minilm:
        xs = [minilm.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    else:
        xs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(L, *xs)
    w = array("cpu", tuple(out.shape), seed=7).astype(dtype)
    (out * (L.tensor(w))).sum().backward()
    grads = [x.grad for x in xs]
    return out.detach().numpy(), [None if g is None else (g.numpy() if L is torch else to_numpy(g)) for g in grads]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_agrees_with_torch(name, dtype):
    fn, shapes = CASES[name]
    arrays = [array("cpu", s, seed=i) for i, s in enumerate(shapes)]
    y1, g1 = _run(minilm, fn, arrays, dtype)
    y2, g2 = _run(torch, fn, arrays, dtype)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(y1, y2, rtol=tol, atol=tol)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_bce_with_logits_gradient_at_zero_logits_matches_torch():
    """Logits that are exactly 0 (a zero-initialised head): d loss / dx = sigmoid(0) - y = 1/2 - y."""
    y = np.array([0.0, 1.0, 0.5, 0.25])
    grads = []
    for L in (minilm, torch):
        x = L.zeros(4, dtype=L.float64, requires_grad=True)
        F(L).binary_cross_entropy_with_logits(x, L.tensor(y), reduction="sum").backward()
        grads.append(to_numpy(x.grad) if L is minilm else x.grad.numpy())
    np.testing.assert_allclose(grads[0], 0.5 - y, atol=1e-15)
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-15)


def test_dropout_statistics_match_torch_semantics():
    """Different random streams, the same rule: zeros with probability p, the rest scaled by 1/(1-p)."""
    x = np.ones((400, 400), dtype=np.float32)
    ours = minilm.nn.functional.dropout(minilm.tensor(x), 0.25).numpy()
    theirs = torch.nn.functional.dropout(torch.tensor(x), 0.25).numpy()
    for y in (ours, theirs):
        np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
        assert abs((y == 0).mean() - 0.25) < 0.01


def test_functional_signatures_follow_pytorch():
    """Every parameter of minilm's function is PyTorch's, in PyTorch's order (a prefix of it)."""
    import inspect

    ours = minilm.nn.functional
    for name in ours.__all__:
        try:
            theirs = list(inspect.signature(getattr(torch.nn.functional, name)).parameters)
        except ValueError:  # a C builtin without a signature (gelu)
            continue
        mine = list(inspect.signature(getattr(ours, name)).parameters)
        assert mine == theirs[: len(mine)], f"{name}: {mine} vs PyTorch's {theirs}"
