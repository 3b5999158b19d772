"""Tensor creation, attributes, conversion and dtype rules (PyTorch's names and semantics)."""

import subprocess
import sys

import numpy as np
import pytest

import minilm
from helpers import to_numpy


def test_tensor_infers_dtype_like_pytorch(device):
    assert minilm.tensor([1.0, 2.0], device=device).dtype == minilm.float32
    assert minilm.tensor([1, 2], device=device).dtype == minilm.int64
    assert minilm.tensor([True, False], device=device).dtype == minilm.bool
    assert minilm.tensor(np.zeros(3, np.float64), device=device).dtype == minilm.float64
    assert minilm.tensor(np.zeros(3, np.int32), device=device).dtype == minilm.int64
    assert minilm.tensor(np.float64(1.5)).dtype == minilm.float64
    assert minilm.tensor([1, 2], dtype=minilm.float64, device=device).dtype == minilm.float64


def test_unsupported_dtype_is_an_error():
    with pytest.raises(TypeError, match="float16"):
        minilm.tensor(np.zeros(2, np.float16))


def test_tensor_copies_but_Tensor_wraps():
    a = np.zeros(3, np.float32)
    t = minilm.tensor(a)
    w = minilm.Tensor(a)
    a[0] = 5
    assert t.tolist() == [0, 0, 0]
    assert w.tolist() == [5, 0, 0]


def test_set_default_dtype(device):
    minilm.set_default_dtype(minilm.float64)
    assert minilm.get_default_dtype() == minilm.float64
    assert minilm.tensor([1.0], device=device).dtype == minilm.float64
    assert minilm.randn(2, device=device).dtype == minilm.float64
    assert minilm.zeros(2, device=device).dtype == minilm.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        minilm.set_default_dtype(minilm.int64)


def test_zeros_ones_full_arange(device):
    z = minilm.zeros(2, 3, device=device)
    assert z.shape == (2, 3) and z.dtype == minilm.float32 and to_numpy(z).sum() == 0
    assert minilm.zeros((2, 3), device=device).shape == (2, 3)
    assert minilm.ones([4], dtype=minilm.int64, device=device).tolist() == [1, 1, 1, 1]
    f = minilm.full((2, 2), 7, device=device)
    assert f.dtype == minilm.int64 and f.tolist() == [[7, 7], [7, 7]]
    assert minilm.full((2,), 0.5, device=device).dtype == minilm.float32
    assert minilm.full((1,), True, device=device).dtype == minilm.bool
    assert minilm.arange(4, device=device).tolist() == [0, 1, 2, 3]
    assert minilm.arange(1, 7, 2, device=device).tolist() == [1, 3, 5]
    assert minilm.arange(0, 1, 0.25, device=device).dtype == minilm.float32
    assert minilm.zeros(2, device=device, requires_grad=True).requires_grad


def test_random_tensors(device):
    r = minilm.rand(1000, device=device)
    assert r.dtype == minilm.float32 and 0 <= r.min().item() and r.max().item() < 1
    n = minilm.randn(100, 100, dtype=minilm.float64, device=device)
    assert n.dtype == minilm.float64 and abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    i = minilm.randint(3, 7, (500,), device=device)
    assert i.dtype == minilm.int64 and set(i.tolist()) == {3, 4, 5, 6}
    assert minilm.randint(5, (2, 2), device=device).shape == (2, 2)


def test_manual_seed_makes_random_numbers_reproducible(device):
    minilm.manual_seed(123)
    a = minilm.randn(5, device=device).tolist()
    b = minilm.rand(5, device=device).tolist()
    minilm.manual_seed(123)
    assert minilm.randn(5, device=device).tolist() == a
    assert minilm.rand(5, device=device).tolist() == b
    minilm.manual_seed(124)
    assert minilm.randn(5, device=device).tolist() != a


def test_like_functions(device):
    x = minilm.randn(2, 3, dtype=minilm.float64, device=device)
    for t in (minilm.zeros_like(x), minilm.ones_like(x), minilm.full_like(x, 2.0), minilm.randn_like(x), minilm.rand_like(x)):
        assert t.shape == x.shape and t.dtype == minilm.float64 and t.device == x.device
    assert minilm.randint_like(x, 5).dtype == minilm.float64
    assert minilm.zeros_like(x, dtype=minilm.int64).dtype == minilm.int64


def test_attributes(device):
    x = minilm.randn(2, 3, 4, device=device)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and len(x) == 2
    assert x.device == device and str(x.device) == ("cpu" if device == "cpu" else "cuda:0")
    assert not x.requires_grad and x.is_leaf and x.grad is None
    assert x.requires_grad_() is x and x.requires_grad


def test_item_numpy_tolist():
    x = minilm.tensor([[1.5]])
    assert x.item() == 1.5 and isinstance(x.item(), float)
    assert minilm.tensor(3).item() == 3
    a = minilm.tensor([1.0, 2.0])
    assert isinstance(a.numpy(), np.ndarray) and a.numpy().tolist() == [1.0, 2.0]
    assert a.tolist() == [1.0, 2.0]
    assert float(minilm.tensor(2.5)) == 2.5 and int(minilm.tensor(3)) == 3


def test_to_dtype_and_device(device):
    x = minilm.tensor([1.5, -2.5], device=device)
    assert x.to(minilm.float32) is x
    assert x.to(device) is x
    assert x.double().dtype == minilm.float64
    assert x.to(dtype=minilm.float64, device=device).dtype == minilm.float64
    assert x.long().tolist() == [1, -2]
    assert x.bool().tolist() == [True, True]
    assert x.cpu().device == "cpu" and x.cpu().tolist() == [1.5, -2.5]
    assert x.to(minilm.tensor([1], dtype=minilm.float64)).dtype == minilm.float64
    assert not x.long().requires_grad


@pytest.mark.gpu
@pytest.mark.skipif(not minilm.cuda.is_available(), reason="CuPy finds no GPU")
def test_cuda_round_trip_keeps_values_and_gradient():
    x = minilm.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda()
    assert y.device == "cuda:0" and y.is_cuda and not y.is_leaf
    (y * y).sum().backward()
    assert x.grad.device == "cpu" and x.grad.tolist() == [2.0, 4.0]


def test_scalars_never_promote_float32(device):
    x = minilm.ones(3, device=device)
    for y in (x * 2.5, 2.5 * x, x + np.float64(1), x / 3, x ** 2, np.float64(2) * x, x - np.int64(1)):
        assert y.dtype == minilm.float32


def test_integer_tensors_meet_floats_like_pytorch(device):
    i = minilm.tensor([1, 2, 3], device=device)
    assert (i * 0.5).dtype == minilm.float32
    assert (i / 2).dtype == minilm.float32 and (i / 2).tolist() == [0.5, 1.0, 1.5]
    assert (i * 2).dtype == minilm.int64
    assert (i + minilm.ones(3, dtype=minilm.float64, device=device)).dtype == minilm.float64
    assert (minilm.tensor([True, False], device=device) * 1.0).dtype == minilm.float32


def test_comparisons_and_argmax_have_no_grad(device):
    x = minilm.tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], device=device, requires_grad=True)
    for m in (x > 2, x >= 2, x < 2, x <= 2, x == 5, x != 5, x > x.detach() * 0):
        assert m.dtype == minilm.bool and not m.requires_grad
    assert (x > 2).tolist() == [[False, True, True], [True, False, True]]
    assert x.argmax().item() == 5
    assert x.argmax(dim=1).tolist() == [1, 2]
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 0]]
    assert not x.argmax().requires_grad
    v, i = x.max(dim=1)
    assert v.tolist() == [5.0, 6.0] and i.tolist() == [1, 2] and v.requires_grad
    assert ((x > 2) & (x < 5)).tolist() == [[False, False, True], [True, False, False]]
    assert (~(x > 2)).tolist() == [[True, False, False], [False, True, False]]


def test_repr_shows_values_and_graph():
    x = minilm.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert "dtype=minilm.float64" in repr(minilm.tensor([1.0], dtype=minilm.float64))
    assert repr(minilm.tensor([1, 2])) == "tensor([1, 2])"


def test_forward_values_match_numpy(device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4,))
    x, y = minilm.tensor(a, device=device), minilm.tensor(b, device=device)
    np.testing.assert_allclose(to_numpy(x * y + x / (y * y + 1)), a * b + a / (b * b + 1))
    np.testing.assert_allclose(to_numpy(x.sigmoid()), 1 / (1 + np.exp(-a)))
    np.testing.assert_allclose(to_numpy(x @ y), a @ b)
    np.testing.assert_allclose(to_numpy(x.var(dim=1)), a.var(axis=1, ddof=1))
    np.testing.assert_allclose(to_numpy(x.logsumexp(dim=0)), np.log(np.exp(a).sum(0)))
    np.testing.assert_allclose(to_numpy(minilm.nn.functional.pad(x, (1, 0))), np.pad(a, ((0, 0), (1, 0))))


def test_logsumexp_and_sigmoid_are_stable(device):
    x = minilm.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], dtype=minilm.float64, device=device)
    np.testing.assert_allclose(to_numpy(x.logsumexp(dim=1)), [1000 + np.log(2), -1000 + np.log(2)])
    s = minilm.tensor([-1000.0, 0.0, 1000.0], device=device).sigmoid()
    assert s.tolist() == [0.0, 0.5, 1.0]
    inf_row = minilm.tensor([[-np.inf, -np.inf]], device=device)
    assert inf_row.logsumexp(dim=1).tolist() == [-np.inf]


def test_import_needs_no_cupy_matplotlib_or_torch():
    code = (
        "import sys, minilm; x = minilm.randn(2, requires_grad=True); (x * x).sum().backward(); "
        "bad = [m for m in ('cupy', 'matplotlib', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_iteration_len_and_comparison_with_none(device):
    x = minilm.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    rows = list(x)
    assert len(rows) == len(x) == 2 and rows[1].tolist() == [3.0, 4.0]
    sum(r.sum() for r in rows).backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(TypeError, match="0-d"):
        iter(minilm.tensor(1.0, device=device)).__next__()
    assert (x == None) is False and (x != None) is True  # noqa: E711


def test_small_conveniences(device):
    x = minilm.tensor([[1.0, -2.0], [3.0, 0.0]], device=device, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    assert minilm.tensor([1, 2], device=device).type_as(x).dtype == minilm.float32
    t = x.detach().T
    assert not t.data.flags.c_contiguous and t.contiguous().data.flags.c_contiguous
    assert t.contiguous().tolist() == t.tolist()
    assert (x > 0).any().item() and not (x > 0).all().item()
    assert (x > 0).any(dim=1).tolist() == [True, True] and (x > -3).all(dim=0, keepdim=True).tolist() == [[True, True]]
    assert minilm.tensor([1.0], device=device).expand_as(x).shape == (2, 2)
    assert x.clip(-1, 1).tolist() == [[1.0, -1.0], [1.0, 0.0]]
