"""Level 2: minilm agrees with PyTorch, forward and gradients, on the same inputs.

Each case is written once as ``fn(L, *inputs)`` where ``L`` is either ``minilm`` or ``torch``:
the same line of code runs in both libraries, which also checks that minilm uses PyTorch's names,
signatures and defaults. Skipped when torch is not installed.
"""

import numpy as np
import pytest

import minilm
from helpers import F, array, idx, to_numpy

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


CASES = {
    # elementwise
    "add_broadcast": (lambda L, a, b: a + b, [(3, 1, 4), (5, 1)]),
    "sub_scalar": (lambda L, a: 2.5 - a, [(3, 4)]),
    "mul_broadcast": (lambda L, a, b: a * b, [(2, 3), (3,)]),
    "div": (lambda L, a, b: a / b, [(2, 3), ("nonzero", (2, 3))]),
    "pow_tensor": (lambda L, a, b: a**b, [("positive", (4,)), (4,)]),
    "pow_scalar": (lambda L, a: a**3 + 2**a, [(4,)]),
    "neg_abs": (lambda L, a: (-a).abs(), [("nonzero", (5,))]),
    "exp_log": (lambda L, a: a.exp() + a.log(), [("positive", (3, 2))]),
    "sqrt": (lambda L, a: a.sqrt(), [("positive", (3, 2))]),
    "tanh_sigmoid_relu": (lambda L, a: a.tanh() + a.sigmoid() + a.relu(), [("nonzero", (4, 3))]),
    "leaky_relu": (lambda L, a: F(L).leaky_relu(a, 0.2), [("nonzero", (6,))]),
    "maximum_minimum": (lambda L, a, b: L.maximum(a, b) * L.minimum(a, b), [(3, 4), (4,)]),
    "clamp": (lambda L, a: a.clamp(-0.3, 0.4) + a.clamp(min=0.1) + a.clamp(max=0.0), [(10,)]),
    "where": (lambda L, a, b: L.where(a > b, a, b * 2), [(3, 4), (3, 4)]),
    "masked_fill": (lambda L, a: a.masked_fill(a > 0.5, -2.0), [(3, 4)]),
    # reductions
    "sum_mean": (lambda L, a: a.sum() + a.mean(dim=1).sum() + a.sum(dim=(0, 2), keepdim=True).sum(), [(2, 3, 4)]),
    "var_std": (lambda L, a: a.var(dim=1) + a.std(dim=1) + a.var(dim=1, correction=0), [(3, 5)]),
    "var_all": (lambda L, a: a.var() + a.std(), [(3, 5)]),
    "max_min_dim": (lambda L, a: a.max(dim=1).values + a.min(dim=1, keepdim=True).values.squeeze(1), [(3, 5)]),
    "max_all": (lambda L, a: a.max() - a.min(), [(3, 5)]),
    "logsumexp": (lambda L, a: a.logsumexp(dim=-1).sum() + a.logsumexp(dim=(0, 1)), [(2, 3, 4)]),
    # matmul
    "mm": (lambda L, a, b: a @ b, [(3, 4), (4, 5)]),
    "bmm_broadcast": (lambda L, a, b: L.matmul(a, b), [(2, 1, 3, 4), (5, 4, 2)]),
    "vec_mat": (lambda L, a, b: a @ b, [(4,), (2, 4, 3)]),
    "mat_vec": (lambda L, a, b: a @ b, [(2, 3, 4), (4,)]),
    "dot": (lambda L, a, b: a @ b, [(4,), (4,)]),
    # shapes
    "reshape_view": (lambda L, a: a.reshape(4, -1).view(2, 2, 3) * 2, [(3, 4)]),
    "transpose_permute": (lambda L, a: a.transpose(0, 2).permute(1, 0, 2).mT, [(2, 3, 4)]),
    "squeeze_unsqueeze": (lambda L, a: a.unsqueeze(1).unsqueeze(-1).squeeze(1).squeeze(), [(3, 1, 4)]),
    "flatten": (lambda L, a: a.flatten(1) + 0 * a.flatten().sum(), [(2, 3, 4)]),
    "expand": (lambda L, a: a.expand(2, -1, 4) * 3, [(3, 1)]),
    "cat_stack": (lambda L, a, b: L.cat([a, b, a], dim=1).sum(0) + L.stack([a, a], dim=0).sum((0, 1)).sum(), [(2, 3), (2, 5)]),
    "split_chunk": (lambda L, a: sum((p * (i + 1)).sum() for i, p in enumerate(a.split(2, dim=1) + a.chunk(3, dim=0))), [(4, 5)]),
    "pad": (lambda L, a: F(L).pad(a, (1, 2, 0, 1), value=0.5) + 0, [(2, 3)]),
    "pad_negative": (lambda L, a: F(L).pad(a, (-1, 2)), [(2, 4)]),
    # indexing
    "getitem_basic": (lambda L, a: a[1:, ::2, None, -1] * 2, [(3, 4, 5)]),
    "getitem_ellipsis": (lambda L, a: a[..., 1], [(2, 3, 4)]),
    "getitem_repeated": (lambda L, a: a[idx(L, [0, 2, 0, 0])], [(3, 4)]),
    "getitem_pairs": (lambda L, a: a[idx(L, [0, 1, 1]), idx(L, [2, 2, 0])], [(3, 4)]),
    "getitem_mask": (lambda L, a: a[a > 0], [(3, 4)]),
    "gather": (lambda L, a: a.gather(1, idx(L, [[0, 0, 2], [1, 3, 3]])), [(2, 4)]),
}


def _inputs(L, specs, dtype, seed):
    out = []
    for i, spec in enumerate(specs):
        domain, shape = spec if isinstance(spec[0], str) else (None, spec)
        a = array("cpu", shape, seed + i, dtype=dtype, domain=domain)
        if L is torch:
            out.append(torch.tensor(a, requires_grad=True))
        else:
            out.append(minilm.tensor(a, requires_grad=True))
    return out


def _values(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else to_numpy(x)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_forward_and_gradients_agree_with_pytorch(name, dtype):
    fn, specs = CASES[name]
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    results = {}
    for L in (minilm, torch):
        xs = _inputs(L, specs, dtype, seed=3)
        out = fn(L, *xs)
        weight = np.random.default_rng(11).standard_normal(tuple(out.shape)).astype(dtype)
        (out * L.tensor(weight)).sum().backward()
        results[L.__name__] = (_values(out), [_values(x.grad) if x.grad is not None else None for x in xs])
    (m_out, m_grads), (t_out, t_grads) = results["minilm"], results["torch"]
    assert m_out.dtype == t_out.dtype
    np.testing.assert_allclose(m_out, t_out, **tol)
    for mg, tg in zip(m_grads, t_grads):
        assert (mg is None) == (tg is None)
        if mg is not None:
            assert mg.dtype == tg.dtype
            np.testing.assert_allclose(mg, tg, **tol)


def test_max_dim_returns_values_and_indices_like_pytorch():
    a = array("cpu", (3, 5), 1)
    m = minilm.tensor(a).max(dim=1)
    t = torch.tensor(a).max(dim=1)
    np.testing.assert_array_equal(to_numpy(m.indices), t.indices.numpy())
    np.testing.assert_allclose(to_numpy(m.values), t.values.numpy())


def test_reductions_without_dim_match_pytorch_argmax():
    a = array("cpu", (4, 6), 2)
    assert minilm.tensor(a).argmax().item() == torch.tensor(a).argmax().item()
    np.testing.assert_array_equal(to_numpy(minilm.tensor(a).argmin(dim=0)), torch.tensor(a).argmin(dim=0).numpy())


def test_maximum_tie_splits_the_gradient_like_pytorch():
    for L in (minilm, torch):
        a = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = L.tensor([1.0, 5.0, 0.0], requires_grad=True)
        L.maximum(a, b).sum().backward()
        assert a.grad.tolist() == [0.5, 0.0, 1.0] and b.grad.tolist() == [0.5, 1.0, 0.0]


def test_chunk_sizes_match_pytorch():
    for n, chunks in [(5, 3), (6, 4), (2, 5), (7, 7)]:
        m = [p.shape for p in minilm.arange(n).chunk(chunks)]
        t = [tuple(p.shape) for p in torch.arange(n).chunk(chunks)]
        assert m == t, (n, chunks)
