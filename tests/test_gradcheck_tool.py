"""gradcheck itself: it passes correct backwards and catches wrong ones, naming what is wrong."""

import re

import numpy as np
import pytest

import minilm
from helpers import leaf
from minilm.autograd import Function, gradcheck
from minilm.autograd import GradcheckError


class SquareMissingFactor(Function):
    """d/dx x^2 = 2x, but this backward forgets the 2."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * a


class ForgetsSecondInput(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * 2 + b

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


class WrongOnOneElement(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 3

    @staticmethod
    def backward(ctx, g):
        out = g * 3
        out.reshape(-1)[0] += 1
        return out


def test_passes_a_correct_backward(device):
    x = leaf(device, (3, 4), 0)
    assert gradcheck(lambda x: (x * x).sum(dim=1), (x,)) is True
    assert gradcheck(lambda x: (x * x).sum(dim=1), x) is True  # a single tensor is fine too


def test_names_input_element_and_both_values(device):
    x = leaf(device, (2, 3), 1)
    with pytest.raises(GradcheckError) as e:
        gradcheck(SquareMissingFactor.apply, (x,))
    msg = str(e.value)
    assert "input 0 (shape (2, 3)) at element (0, 0)" in msg
    analytic, numeric = (float(v) for v in re.search(r"analytic \(backward\) (\S+)\s+vs\s+numeric \(finite differences\) (\S+)", msg).groups())
    assert numeric == pytest.approx(2 * analytic, rel=1e-3)
    assert "6 of 6 checked elements" in msg
    assert "analytic/numeric is 0.5 throughout" in msg


def test_points_at_a_missing_gradient(device):
    a = leaf(device, (3,), 2)
    b = leaf(device, (3,), 3)
    with pytest.raises(GradcheckError, match="input 1 .*\n.*\n.*\n.*\n.*analytic gradient is 0"):
        gradcheck(ForgetsSecondInput.apply, (a, b))


def test_catches_a_single_wrong_element(device):
    x = leaf(device, (4, 5), 4)
    with pytest.raises(GradcheckError, match=re.escape("at element (0, 0)")) as e:
        gradcheck(WrongOnOneElement.apply, (x,))
    assert "1 of 20 checked elements" in str(e.value)


def test_samples_checks_only_some_elements(device):
    x = leaf(device, (30, 30), 5)
    calls = []

    def f(x):
        calls.append(1)
        return x.tanh()

    assert gradcheck(f, (x,), samples=7)
    assert len(calls) == 1 + 2 * 7  # one analytic pass, two evaluations per sampled element


def test_needs_float64_and_something_to_check(device):
    with pytest.raises(TypeError, match="input 0 is float32; finite differences need float64"):
        gradcheck(lambda x: x * 2, (minilm.ones(2, device=device, requires_grad=True),))
    with pytest.raises(ValueError, match="none of the inputs requires grad"):
        gradcheck(lambda x: x * 2, (minilm.ones(2, dtype=minilm.float64, device=device),))


def test_leaves_inputs_and_their_grads_as_they_were(device):
    x = leaf(device, (3,), 6)
    before = x.tolist()
    x.grad = minilm.tensor([7.0, 7.0, 7.0], dtype=minilm.float64, device=device)
    gradcheck(lambda x: x.exp(), (x,))
    assert x.tolist() == before
    assert x.grad.tolist() == [7.0, 7.0, 7.0]


def test_handles_several_outputs_and_integer_outputs(device):
    x = leaf(device, (3, 4), 7)
    assert gradcheck(lambda x: x.max(dim=1), (x,))  # (values, indices): indices are ignored
    assert gradcheck(lambda x: (x.exp(), x * 2), (x,))


def test_tolerances_matter(device):
    # a backward that is off by 1e-4 relative passes a loose check and fails a tight one
    class Slightly(Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2.0002

    x = leaf(device, (5,), 8, domain="positive")
    assert gradcheck(Slightly.apply, (x,), rtol=1e-3)
    with pytest.raises(GradcheckError):
        gradcheck(Slightly.apply, (x,), rtol=1e-6, atol=1e-8)


def test_numeric_values_are_central_differences(device):
    # for a cubic, the central difference error is eps^2: the check passes with a tight rtol
    x = leaf(device, (4,), 9)
    assert gradcheck(lambda x: x**3, (x,), rtol=1e-7, atol=1e-8)
    assert np.isfinite(x.tolist()).all()
