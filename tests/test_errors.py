"""Every error a learner can run into names the values involved and says what to do."""

import re

import numpy as np
import pytest

import minilm
import minilm.nn.functional as F
from minilm import backend
from minilm.autograd import Function, _check_compatible


def test_broadcast_mismatch_names_both_shapes(device):
    a = minilm.zeros(2, 3, device=device)
    b = minilm.zeros(4, device=device)
    for op in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: a / b, lambda: minilm.maximum(a, b)):
        with pytest.raises(ValueError, match=re.escape("shapes (2, 3) and (4,) cannot be broadcast")) as e:
            op()
        assert "dimension -1 has sizes 3 and 4" in str(e.value)


def test_comparison_shape_mismatch(device):
    with pytest.raises(ValueError, match=re.escape("gt: shapes (2, 3) and (2,)")):
        minilm.zeros(2, 3, device=device) > minilm.zeros(2, device=device)


def test_matmul_shape_errors(device):
    a = minilm.zeros(32, 64, device=device)
    with pytest.raises(ValueError, match=re.escape("matmul: shapes (32, 64) and (32, 64) do not align: 64 != 32")):
        a @ a
    with pytest.raises(ValueError, match=re.escape("matmul: batch dimensions (2,) and (3,)")):
        minilm.zeros(2, 3, 4, device=device) @ minilm.zeros(3, 4, 5, device=device)
    with pytest.raises(ValueError, match="at least one dimension"):
        minilm.tensor(1.0, device=device) @ minilm.zeros(3, device=device)


def test_shape_op_errors(device):
    x = minilm.zeros(2, 3, device=device)
    with pytest.raises(ValueError, match=re.escape("reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into (4, 2) (8 elements)")):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=re.escape("cat: tensor 1 has shape (3, 3) but tensor 0 has shape (2, 3)")):
        minilm.cat([x, minilm.zeros(3, 3, device=device)], dim=1)
    with pytest.raises(ValueError, match=re.escape("stack: tensor 1 has shape (2, 4)")):
        minilm.stack([x, minilm.zeros(2, 4, device=device)])
    with pytest.raises(ValueError, match=re.escape("expand: cannot expand shape (2, 3) to (2, 4)")):
        x.expand(2, 4)
    with pytest.raises(IndexError, match=re.escape("transpose: dim 2 is out of range for a tensor with 2 dimension(s) (use -2 to 1)")):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        x.permute(0, 0)
    with pytest.raises(IndexError, match="sum: dim 5 is out of range"):
        x.sum(dim=5)
    with pytest.raises(ValueError, match=re.escape("split: sections [1, 1] sum to 2, but dim 1 has size 3")):
        x.split([1, 1], dim=1)
    with pytest.raises(ValueError, match="pad: expected an even number"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(NotImplementedError, match="mode='constant'"):
        F.pad(x, (1, 1), mode="reflect")


def test_mixed_float_dtypes_are_an_error(device):
    a = minilm.zeros(3, device=device)
    b = minilm.zeros(3, dtype=minilm.float64, device=device)
    for op in (lambda: a + b, lambda: a * b, lambda: a @ b, lambda: minilm.cat([a, b]), lambda: minilm.where(a > 0, a, b)):
        with pytest.raises(TypeError, match="mixed float dtypes float32 and float64"):
            op()


class FakeCudaArray:
    """Looks like a CuPy array to backend.device_of, so the device check can be tested on any machine."""

    __module__ = "cupy._core.core"

    def __init__(self):
        self.dtype = np.dtype("float32")
        self.device = type("Dev", (), {"id": 0})()


def test_mixed_devices_message_names_both():
    with pytest.raises(RuntimeError, match=re.escape("add: expected all tensors on the same device, got cpu and cuda:0")):
        _check_compatible("add", np.zeros(3, np.float32), FakeCudaArray())


@pytest.mark.gpu
@pytest.mark.skipif(not minilm.cuda.is_available(), reason="CuPy finds no GPU")
def test_mixed_devices_are_an_error_on_a_gpu_machine():
    a = minilm.zeros(3)
    b = minilm.zeros(3, device="cuda")
    with pytest.raises(RuntimeError, match="same device, got cpu and cuda:0"):
        a + b
    with pytest.raises(RuntimeError, match="same device"):
        minilm.cat([a, b])


def test_cuda_without_a_gpu_says_how_to_get_one():
    if minilm.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="a CUDA device was asked for, but"):
        minilm.zeros(3, device="cuda")
    with pytest.raises(RuntimeError, match="cuda12"):
        minilm.zeros(3).cuda()


def test_unknown_device_and_dtype():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        minilm.zeros(2, device="gpu")
    with pytest.raises(TypeError, match="unknown dtype"):
        minilm.zeros(2, dtype="half-precision")


def test_backward_through_a_freed_graph(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()


def test_backward_on_a_non_scalar_without_gradient(device):
    y = minilm.ones(3, 4, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=re.escape("only for a scalar output, but this tensor has shape (3, 4)")):
        y.backward()


def test_backward_with_a_gradient_of_the_wrong_shape_or_dtype(device):
    y = minilm.ones(3, device=device, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=re.escape("gradient has shape (2,) but the tensor has shape (3,)")):
        y.backward(minilm.ones(2, device=device))
    with pytest.raises(TypeError, match="gradient has dtype float64 but the tensor has dtype float32"):
        y.backward(minilm.ones(3, dtype=minilm.float64, device=device))


def test_backward_on_a_tensor_without_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        minilm.ones(1, device=device).sum().backward()


def test_item_on_several_elements(device):
    with pytest.raises(ValueError, match=re.escape("a tensor with 6 elements (shape (2, 3)) cannot be converted")):
        minilm.zeros(2, 3, device=device).item()


def test_requires_grad_on_integers(device):
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, but this one is int64"):
        minilm.tensor([1, 2], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (minilm.ones(1, device=device, requires_grad=True) * 2).requires_grad_(False)


def test_index_out_of_range_names_index_and_size(device):
    x = minilm.zeros(3, 4, device=device)
    with pytest.raises(IndexError, match="index 5 is out of range for dimension 0 of size 3"):
        x[5]
    with pytest.raises(IndexError, match="index 7 is out of range for dimension 1 of size 4"):
        x[:, minilm.tensor([0, 7], device=device)]
    with pytest.raises(IndexError, match="index -4 is out of range for dimension 0 of size 3"):
        x[[0, -4]]
    with pytest.raises(IndexError, match=re.escape("boolean mask of shape (2,) does not match")):
        x[minilm.tensor([True, False], device=device)]
    with pytest.raises(IndexError, match="must be integer or bool, got float32"):
        x[minilm.tensor([0.0], device=device)]
    with pytest.raises(IndexError, match="gather: index 3 is out of range"):
        x.gather(0, minilm.tensor([[3]], device=device))


def test_item_assignment_explains_the_alternatives(device):
    x = minilm.zeros(3, device=device)
    with pytest.raises(TypeError, match="do not support item assignment.*masked_fill"):
        x[0] = 1.0


def test_numpy_on_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match=re.escape(".detach().numpy()")):
        minilm.zeros(2, requires_grad=True).numpy()


def test_masks_must_be_bool(device):
    x = minilm.zeros(3, device=device)
    with pytest.raises(TypeError, match="must have dtype bool, got float32"):
        minilm.where(x, x, x)
    with pytest.raises(TypeError, match="must have dtype bool"):
        x.masked_fill(minilm.tensor([1, 0, 1], device=device), 0.0)


def test_ops_need_a_tensor():
    with pytest.raises(TypeError, match="exp: expected a Tensor argument, got ndarray"):
        minilm.exp(np.zeros(2))


class WrongCount(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g


class WrongShape(Function):
    @staticmethod
    def forward(ctx, a):
        return a.sum()

    @staticmethod
    def backward(ctx, g):
        return backend.xp_of(g).ones((7,))


class WrongDtype(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return (g * 2).astype(np.float64)


def test_a_broken_backward_is_named(device):
    x = minilm.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape("WrongCount.backward returned 1 gradient(s) for 2 input(s)")):
        WrongCount.apply(x, x).sum().backward()
    with pytest.raises(RuntimeError, match=re.escape("WrongShape.backward returned a gradient of shape (7,) for an input of shape (3,)")):
        WrongShape.apply(x).backward()
    with pytest.raises(TypeError, match="WrongDtype.backward returned a float64 gradient for a float32 input"):
        WrongDtype.apply(x).sum().backward()


class ReturnsFewerDims(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g.reshape(-1)


def test_a_gradient_with_fewer_dimensions_is_named(device):
    for shape in ((1, 3), (3, 1)):
        x = minilm.ones(*shape, device=device, requires_grad=True)
        with pytest.raises(RuntimeError, match=re.escape(f"returned a gradient of shape (3,) for an input of shape {shape}")):
            ReturnsFewerDims.apply(x).sum().backward()
