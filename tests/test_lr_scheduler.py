"""Learning-rate schedules: LambdaLR and StepLR against PyTorch, the warmup schedules against their
closed forms, state_dict round trips and the errors of a wrong set-up."""

import math

import numpy as np
import pytest

import minilm
import minilm.optim
from minilm.optim import lr_scheduler

STEPS = 30


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def two_group_optimizer(L, lrs=(0.1, 0.02)):
    """An SGD optimizer of library ``L`` (minilm or torch) with two groups of different lr."""
    a = L.zeros(3, requires_grad=True)
    b = L.zeros(2, requires_grad=True)
    return L.optim.SGD([{"params": [a], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}], lr=1.0, momentum=0.9)


def lr_history(scheduler, steps=STEPS):
    """The groups' rates after construction and after each of ``steps`` scheduler steps."""
    history = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        history.append(scheduler.get_last_lr())
    return np.array(history)


def closed_form(factor, lrs=(0.1, 0.02), steps=STEPS):
    return np.array([[lr * factor(t) for lr in lrs] for t in range(steps + 1)])


# ---------------------------------------------------------------------------------------------
# against PyTorch
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize(
    "make",
    [
        lambda L, opt: L.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.95**t),
        lambda L, opt: L.optim.lr_scheduler.LambdaLR(opt, [lambda t: 1.0 / (t + 1), lambda t: min(1.0, t / 5)]),
        lambda L, opt: L.optim.lr_scheduler.StepLR(opt, step_size=7),
        lambda L, opt: L.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    ],
    ids=["lambda", "lambda_per_group", "step", "step_gamma"],
)
def test_agrees_with_torch(torch, make):
    ours = lr_history(make(minilm, two_group_optimizer(minilm)))
    theirs = lr_history(make(torch, two_group_optimizer(torch)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


@pytest.mark.torch
def test_initial_lr_and_base_lrs_as_torch(torch):
    for L in (minilm, torch):
        opt = two_group_optimizer(L)
        scheduler = L.optim.lr_scheduler.StepLR(opt, step_size=2)
        assert scheduler.base_lrs == [0.1, 0.02]
        assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
        assert scheduler.last_epoch == 0
        assert scheduler.get_last_lr() == [0.1, 0.02]


# ---------------------------------------------------------------------------------------------
# the warmup schedules against their formulas
# ---------------------------------------------------------------------------------------------


def linear_formula(t, warmup, total):
    if t < warmup:
        return t / warmup
    return max(0.0, (total - t) / max(1, total - warmup))


def cosine_formula(t, warmup, total, cycles=0.5, floor=0.0):
    if t < warmup:
        return t / warmup
    progress = min(1.0, (t - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(2 * math.pi * cycles * progress))


@pytest.mark.parametrize("warmup, total", [(5, 20), (0, 25), (10, 10), (3, 40)])
def test_linear_schedule_with_warmup(warmup, total):
    scheduler = lr_scheduler.get_linear_schedule_with_warmup(two_group_optimizer(minilm), warmup, total)
    assert isinstance(scheduler, lr_scheduler.LambdaLR)
    history = lr_history(scheduler)
    np.testing.assert_allclose(history, closed_form(lambda t: linear_formula(t, warmup, total)), rtol=1e-12, atol=1e-15)
    assert history[0].tolist() == ([0.0, 0.0] if warmup else [0.1, 0.02])
    if total <= STEPS:
        assert history[total].tolist() == [0.0, 0.0]


def test_linear_schedule_landmarks():
    history = lr_history(lr_scheduler.get_linear_schedule_with_warmup(two_group_optimizer(minilm), 4, 12))
    assert history[:, 0].tolist()[:6] == pytest.approx([0.0, 0.025, 0.05, 0.075, 0.1, 0.0875])
    assert history[12:, 0].tolist() == [0.0] * (STEPS - 11)


@pytest.mark.parametrize(
    "warmup, total, cycles, floor", [(5, 20, 0.5, 0.0), (0, 30, 0.5, 0.1), (4, 24, 1.0, 0.0), (6, 16, 0.5, 0.25)]
)
def test_cosine_schedule_with_warmup(warmup, total, cycles, floor):
    scheduler = lr_scheduler.get_cosine_schedule_with_warmup(
        two_group_optimizer(minilm), warmup, total, num_cycles=cycles, min_lr_ratio=floor
    )
    history = lr_history(scheduler)
    expected = closed_form(lambda t: cosine_formula(t, warmup, total, cycles, floor))
    np.testing.assert_allclose(history, expected, rtol=1e-12, atol=1e-15)


def test_cosine_schedule_landmarks():
    history = lr_history(lr_scheduler.get_cosine_schedule_with_warmup(two_group_optimizer(minilm), 10, 20))[:, 0]
    assert history[5] == pytest.approx(0.05)  # half-way through warmup
    assert history[10] == pytest.approx(0.1)  # the peak
    assert history[15] == pytest.approx(0.05)  # half-way down the half cosine
    assert history[20] == pytest.approx(0.0, abs=1e-17)
    assert history[25] == history[20]  # stays at the floor after training


def test_scheduler_sets_the_lr_the_optimizer_uses():
    x = minilm.zeros(1, dtype=minilm.float64, requires_grad=True)
    opt = minilm.optim.SGD([x], lr=0.1)
    scheduler = lr_scheduler.get_linear_schedule_with_warmup(opt, 2, 4)
    moves = []
    for _ in range(4):
        x.grad = minilm.ones(1, dtype=minilm.float64)
        before = x.item()
        opt.step()
        scheduler.step()
        moves.append(before - x.item())
    assert moves == pytest.approx([0.0, 0.05, 0.1, 0.05])


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------


def plain_data(value):
    """True when ``value`` is made of numbers, strings, None, lists and dicts only."""
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and plain_data(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain_data(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


@pytest.mark.parametrize(
    "make",
    [
        lambda opt, total: lr_scheduler.get_linear_schedule_with_warmup(opt, 3, total),
        lambda opt, total: lr_scheduler.get_cosine_schedule_with_warmup(opt, 3, total, min_lr_ratio=0.1),
        lambda opt, total: lr_scheduler.StepLR(opt, step_size=4, gamma=0.5),
        lambda opt, total: lr_scheduler.LambdaLR(opt, lambda t: 0.9**t),
    ],
    ids=["linear", "cosine", "step", "lambda_function"],
)
def test_state_dict_round_trip(make):
    """Stop after 10 steps, save optimizer and scheduler, load both into fresh ones (a warmup
    schedule built with the wrong length, which the state dict corrects), continue: the same rates."""
    opt = two_group_optimizer(minilm)
    scheduler = make(opt, 25)
    lr_history(scheduler, 10)
    sd, opt_sd = scheduler.state_dict(), opt.state_dict()
    assert plain_data(sd)
    assert "optimizer" not in sd and sd["last_epoch"] == 10

    opt2 = two_group_optimizer(minilm, lrs=(5.0, 5.0))
    scheduler2 = make(opt2, 1000)
    opt2.load_state_dict(opt_sd)
    scheduler2.load_state_dict(sd)
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()
    np.testing.assert_array_equal(lr_history(scheduler2, 20), lr_history(scheduler, 20))


def test_lambda_state_dict_leaves_functions_out():
    scheduler = lr_scheduler.LambdaLR(two_group_optimizer(minilm), [lambda t: 1.0, lambda t: 0.5])
    assert scheduler.state_dict()["lr_lambdas"] == [None, None]
    sd = lr_scheduler.get_linear_schedule_with_warmup(two_group_optimizer(minilm), 2, 8).state_dict()
    assert sd["lr_lambdas"] == [{"num_warmup_steps": 2, "num_training_steps": 8}] * 2


def test_state_dict_is_a_copy():
    scheduler = lr_scheduler.StepLR(two_group_optimizer(minilm), step_size=1)
    sd = scheduler.state_dict()
    scheduler.step()
    assert sd["last_epoch"] == 0 and sd["_last_lr"] == [0.1, 0.02]


def test_resume_with_last_epoch():
    opt = two_group_optimizer(minilm)
    lr_history(lr_scheduler.StepLR(opt, step_size=2), 5)
    resumed = lr_scheduler.StepLR(opt, step_size=2, last_epoch=5)  # the constructor takes a step, as PyTorch's
    assert resumed.last_epoch == 6 and resumed.get_last_lr() == pytest.approx([0.1 * 0.1**3, 0.02 * 0.1**3])
    with pytest.raises(KeyError, match="parameter group 0 has no 'initial_lr'"):
        lr_scheduler.StepLR(two_group_optimizer(minilm), step_size=2, last_epoch=5)


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_errors():
    opt = two_group_optimizer(minilm)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(ValueError, match=r"got 3 lr_lambdas for 2 parameter group\(s\)"):
        lr_scheduler.LambdaLR(opt, [lambda t: 1.0] * 3)
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        lr_scheduler.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="num_warmup_steps=20 and num_training_steps=10"):
        lr_scheduler.get_linear_schedule_with_warmup(opt, 20, 10)
    with pytest.raises(ValueError, match="num_warmup_steps=-1"):
        lr_scheduler.get_cosine_schedule_with_warmup(opt, -1, 10)
    with pytest.raises(ValueError, match=r"min_lr_ratio=1.5 is outside \[0, 1\]"):
        lr_scheduler.get_cosine_schedule_with_warmup(opt, 1, 10, min_lr_ratio=1.5)
