"""The backward engine: order, accumulation, retained and freed graphs, grad mode, Functions."""

import gc
import weakref

import numpy as np
import pytest

import minilm
from helpers import leaf, to_numpy
from minilm.autograd import Function, topological_order


def test_scalar_example_matches_hand_derivative(device):
    # f(x, y) = x*y + exp(x)  ->  df/dx = y + exp(x), df/dy = x
    x = minilm.tensor(0.5, dtype=minilm.float64, device=device, requires_grad=True)
    y = minilm.tensor(-1.5, dtype=minilm.float64, device=device, requires_grad=True)
    (x * y + x.exp()).backward()
    assert x.grad.item() == pytest.approx(-1.5 + np.exp(0.5))
    assert y.grad.item() == pytest.approx(0.5)


def test_tensor_used_twice_gets_both_contributions(device):
    x = minilm.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    (x * x + x).sum().backward()  # d/dx (x^2 + x) = 2x + 1
    assert x.grad.tolist() == [3.0, -3.0, 7.0]


def test_diamond_graph_order(device):
    # a feeds b and c; c also depends on b: c must send its gradient to b before b runs
    a = minilm.tensor(2.0, dtype=minilm.float64, device=device, requires_grad=True)
    b = a * 3
    c = b * b + a
    out = c + b
    order = topological_order(out)
    position = {id(t): i for i, t in enumerate(order)}
    assert position[id(out)] < position[id(c)] < position[id(b)]
    out.backward()
    # out = 9a^2 + a + 3a  ->  18a + 4
    assert a.grad.item() == pytest.approx(18 * 2 + 4)


def test_gradients_accumulate_across_backward_calls(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_leaf_grads_never_share_memory(device):
    # Add passes its incoming gradient to both inputs; the two .grad arrays must be distinct
    a = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = minilm.tensor([3.0, 4.0], device=device, requires_grad=True)
    (a + b).backward(minilm.ones(2, device=device))
    assert a.grad.data is not b.grad.data
    a.grad.data *= 10
    assert b.grad.tolist() == [1.0, 1.0]


def test_user_gradient_is_not_aliased(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    g = minilm.tensor([5.0, 6.0], device=device)
    x.reshape(2).backward(g)
    x.grad.data[0] = 100.0
    assert g.tolist() == [5.0, 6.0]


def test_non_leaf_grads_are_kept_only_after_retain_grad(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    h = x * 2
    k = h * 3
    h.retain_grad()
    assert h.retains_grad and not k.retains_grad
    k.sum().backward()
    assert h.grad.tolist() == [3.0, 3.0]
    assert k.grad is None
    assert x.grad.tolist() == [6.0, 6.0]


def test_is_leaf_and_grad_fn(device):
    x = minilm.tensor([1.0], device=device, requires_grad=True)
    c = minilm.tensor([1.0], device=device)
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and type(y.grad_fn).__name__ == "Mul"
    assert (c * 2).grad_fn is None and not (c * 2).requires_grad
    assert y.grad_fn.inputs[0] is x


def test_graph_is_freed_after_backward(device):
    x = minilm.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    h = x.exp()
    ref = weakref.ref(h)
    loss = (h * 2).sum()
    del h
    gc.collect()
    assert ref() is not None, "before backward the graph keeps the intermediate alive"
    loss.backward()
    gc.collect()
    assert ref() is None, "backward without retain_graph must release the intermediates"


def test_retain_graph_keeps_it_and_allows_a_second_backward(device):
    x = minilm.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    h = x.exp()
    ref = weakref.ref(h)
    loss = (h * 2).sum()
    del h
    loss.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None
    loss.backward()
    np.testing.assert_allclose(to_numpy(x.grad), 4 * np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


def test_long_chain_backprops_without_recursion_error(device):
    x = minilm.tensor([1.0], dtype=minilm.float64, device=device, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_no_grad_records_nothing(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    with minilm.no_grad():
        y = x * 2
        assert not minilm.is_grad_enabled()
        with minilm.enable_grad():
            z = x * 2
    assert minilm.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_and_enable_grad_as_decorators(device):
    x = minilm.tensor([1.0], device=device, requires_grad=True)

    @minilm.no_grad()
    def f(t):
        return t * 2

    @minilm.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with minilm.no_grad():
        assert g(x).requires_grad
    assert minilm.is_grad_enabled()


def test_set_grad_enabled(device):
    x = minilm.tensor([1.0], device=device, requires_grad=True)
    with minilm.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @minilm.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert minilm.is_grad_enabled()
    assert not f(x).requires_grad


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minilm.no_grad():
            1 / 0
    assert minilm.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 2
    assert y.detach().data is y.data


def test_backward_on_a_leaf(device):
    x = minilm.tensor(3.0, device=device, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_backward_with_gradient_for_non_scalar(device):
    x = minilm.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    y = x * x
    y.backward(minilm.tensor([[1.0, 0.0], [0.0, 2.0]], device=device))
    assert x.grad.tolist() == [[2.0, 0.0], [0.0, 16.0]]


def test_grad_keeps_parameter_dtype(device):
    for dtype in (minilm.float32, minilm.float64):
        x = minilm.randn(3, 4, dtype=dtype, device=device, requires_grad=True)
        ((x * 2.5).tanh() @ minilm.ones(4, 2, dtype=dtype, device=device)).sum().backward()
        assert x.grad.dtype == dtype


def test_integer_tensor_operand_gets_no_grad_and_no_promotion(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    i = minilm.tensor([3, 4], device=device)
    y = x * i
    assert y.dtype == minilm.float32
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 4.0]


class Cube(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a**3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 3 * a * a * g


def test_custom_function(device):
    x = leaf(device, (2, 3), 4)
    assert minilm.autograd.gradcheck(Cube.apply, (x,))
    y = Cube.apply(x)
    assert isinstance(y.grad_fn, Cube) and y.grad_fn.inputs == (x,)


class SkipsWork(Function):
    calls = []

    @staticmethod
    def forward(ctx, a, b):
        return a * b

    @staticmethod
    def backward(ctx, g):
        SkipsWork.calls.append(tuple(ctx.needs_input_grad))
        return g, None


def test_needs_input_grad(device):
    x = minilm.tensor([1.0], device=device, requires_grad=True)
    c = minilm.tensor([2.0], device=device)
    SkipsWork.apply(x, c).sum().backward()
    assert SkipsWork.calls[-1] == (True, False)


def test_function_with_python_number_argument(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    (2.0 - x).sum().backward()  # Sub.apply(2.0, x): the number gets no gradient
    assert x.grad.tolist() == [-1.0, -1.0]


def test_in_place_update_inside_no_grad(device):
    w = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    (w * w).sum().backward()
    same = w
    with minilm.no_grad():
        w -= 0.25 * w.grad
        w *= 2
    assert w is same and w.is_leaf and w.requires_grad
    assert w.tolist() == [1.0, 2.0]  # (1 - 0.5) * 2, (2 - 1) * 2
    w.grad.zero_()
    assert w.grad.tolist() == [0.0, 0.0]


def test_in_place_ops_do_not_change_what_backward_saved(device):
    x = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    c = minilm.tensor([3.0, 4.0], device=device)
    y = (x * c).sum()
    c += 10  # allowed: c needs no grad; the graph keeps the old values
    y.backward()
    assert x.grad.tolist() == [3.0, 4.0]
    assert c.tolist() == [13.0, 14.0]


def test_in_place_ops_on_the_graph_are_an_error(device):
    w = minilm.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"-=: in-place operations are not recorded.*no_grad"):
        w -= 1.0
    c = minilm.zeros(2, device=device)
    with pytest.raises(RuntimeError, match="in-place"):
        c += w
    with pytest.raises(ValueError, match=r"\+=: the result has shape \(2, 2\) but the tensor has shape \(2,\)"):
        c += minilm.ones(2, 2, device=device)
    i = minilm.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match="the result is float32 but the tensor is int64"):
        i /= 2
