"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ against PyTorch and by hand."""

import math

import numpy as np
import pytest
from helpers import to_numpy

import minilm
from minilm.nn.utils import clip_grad_norm_, clip_grad_value_

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def gradients(shapes=SHAPES, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in shapes]


def with_grads(grads, device="cpu", dtype=minilm.float64):
    """Parameters (values irrelevant) whose ``.grad`` is set to ``grads``."""
    params = []
    for g in grads:
        p = minilm.zeros(*np.shape(g), dtype=dtype, device=device, requires_grad=True)
        p.grad = minilm.tensor(g, dtype=dtype, device=device)
        params.append(p)
    return params


def torch_with_grads(torch, grads):
    params = []
    for g in grads:
        p = torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(g)
        params.append(p)
    return params


@pytest.mark.torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 2.0, 1e3])
def test_clip_grad_norm_agrees_with_torch(torch, norm_type, max_norm):
    grads = gradients()
    ours, theirs = with_grads(grads), torch_with_grads(torch, grads)
    norm = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(norm, minilm.Tensor) and norm.shape == () and norm.dtype == minilm.float64
    assert norm.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(p.grad), q.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.torch
def test_clip_grad_value_agrees_with_torch(torch):
    grads = gradients()
    ours, theirs = with_grads(grads), torch_with_grads(torch, grads)
    assert clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(to_numpy(p.grad), q.grad.numpy())


def test_clip_grad_norm_by_hand(device):
    # grads (3, 4) and (0,): total 2-norm 5; to max_norm 1 every grad is scaled by 1/(5 + 1e-6)
    a, b = with_grads([[3.0, 4.0], [0.0]], device=device, dtype=minilm.float32)
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == pytest.approx(5.0) and norm.dtype == minilm.float32 and norm.device == a.device
    np.testing.assert_allclose(to_numpy(a.grad), [0.6, 0.8], rtol=1e-5)
    assert a.grad.dtype == minilm.float32 and a.grad.device == a.device
    assert math.sqrt(float((to_numpy(a.grad) ** 2).sum())) <= 1.0
    # the inf-norm is the largest magnitude; the 1-norm the sum of magnitudes
    c, d = with_grads([[-6.0, 1.0], [2.0]], device=device)
    assert clip_grad_norm_([c, d], 100.0, norm_type="inf").item() == 6.0
    assert clip_grad_norm_([c, d], 3.0, norm_type=1).item() == 9.0
    np.testing.assert_allclose(to_numpy(c.grad), [-2.0, 1.0 / 3.0], rtol=1e-6)


def test_no_clipping_under_the_maximum(device):
    grads = gradients(scale=0.01)
    params = with_grads(grads, device=device)
    arrays = [p.grad.data for p in params]
    norm = clip_grad_norm_(params, max_norm=1.0)
    expected = math.sqrt(sum(float((g**2).sum()) for g in grads))
    assert norm.item() == pytest.approx(expected, rel=1e-12) and expected < 1.0
    for p, g, arr in zip(params, grads, arrays):
        np.testing.assert_array_equal(to_numpy(p.grad), g)
        assert p.grad.data is arr  # untouched, not even copied


def test_clipping_gives_new_arrays(device):
    params = with_grads(gradients(), device=device)
    old = [p.grad.data for p in params]
    copies = [to_numpy(p.grad).copy() for p in params]
    clip_grad_norm_(params, 0.1)
    for p, arr, copy in zip(params, old, copies):
        np.testing.assert_array_equal(to_numpy(arr), copy)  # the old arrays keep their values
        assert not np.array_equal(to_numpy(p.grad), copy)


def test_inputs_single_tensor_generator_and_missing_grads(device):
    (a,) = with_grads([[3.0, 4.0]], device=device)
    assert clip_grad_norm_(a, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(to_numpy(a.grad), [0.6, 0.8], rtol=1e-5)
    b = minilm.zeros(2, requires_grad=True, device=device)  # no .grad: left out
    (c,) = with_grads([[0.0, 10.0]], device=device)
    assert clip_grad_norm_((p for p in [b, c]), 1.0).item() == pytest.approx(10.0)
    assert b.grad is None
    empty = clip_grad_norm_([b], 1.0)
    assert empty.item() == 0.0 and empty.shape == ()
    clip_grad_value_(iter([b, c]), 0.5)
    assert b.grad is None and to_numpy(c.grad).tolist() == [0.0, 0.5]


def test_clip_grad_value_by_hand(device):
    a, s = with_grads([[-3.0, 0.2, 7.0], 0.9], device=device, dtype=minilm.float32)
    clip_grad_value_([a, s], 0.5)
    assert to_numpy(a.grad).tolist() == pytest.approx([-0.5, 0.2, 0.5])
    assert s.grad.shape == () and s.grad.item() == 0.5
    assert a.grad.dtype == minilm.float32 and a.grad.device == a.device


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_nonfinite_norm(bad):
    a, b = with_grads([[1.0, bad], [2.0]])
    with pytest.raises(RuntimeError, match=f"total norm of order 2.0 of the gradients is {bad}"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(b.grad.data, [2.0])  # nothing was scaled
    with np.errstate(invalid="ignore"):  # inf * 0
        norm = clip_grad_norm_([a, b], 1.0)  # without the check: scaled anyway, as in PyTorch
    assert not math.isfinite(norm.item())
    assert np.isnan(a.grad.data[1])
    assert np.isnan(b.grad.data).all() if math.isnan(bad) else b.grad.data.tolist() == [0.0]


def test_errors():
    (a,) = with_grads([[1.0]])
    with pytest.raises(ValueError, match="max_norm=-1 is negative"):
        clip_grad_norm_(a, -1)
    with pytest.raises(ValueError, match="norm_type=0.0 is not supported"):
        clip_grad_norm_(a, 1.0, norm_type=0)
    with pytest.raises(ValueError, match="clip_value=-0.5 is negative"):
        clip_grad_value_(a, -0.5)
