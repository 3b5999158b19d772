"""Optimizers: SGD, Adam and AdamW against PyTorch and against hand-computed steps; dtype and
device discipline; parameter groups; state_dict round trips; the errors of a wrong set-up."""

import numpy as np
import pytest
from helpers import to_numpy

import minilm
import minilm.optim

SHAPES = [(3, 4), (5,), ()]
STEPS = 20


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def initial_values(shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def gradient_sequence(shapes=SHAPES, steps=STEPS, seed=1):
    """One list of gradients per step; parameter 1 gets no gradient at steps 4 and 11 (skipped)."""
    rng = np.random.default_rng(seed)
    seq = [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]
    for step in (4, 11):
        if step < steps:
            seq[step][1] = None
    return seq


def minilm_params(values, device="cpu", dtype=minilm.float64):
    return [minilm.tensor(v, dtype=dtype, device=device, requires_grad=True) for v in values]


def run_minilm(opt, params, grads, device="cpu"):
    """Take one step per entry of ``grads``, setting ``.grad`` directly (no model needed)."""
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else minilm.tensor(g, dtype=p.dtype, device=device)
        opt.step()


def run_torch(torch, opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        opt.step()


def groups(params, split):
    """Two parameter groups when ``split``: the first parameter alone with its own lr."""
    return [{"params": params[:1], "lr": 0.01}, {"params": params[1:]}] if split else params


AGREEMENT = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.2}),
    "sgd_maximize": ("SGD", {"lr": 0.1, "maximize": True}),
    "sgd_all": ("SGD", {"lr": 0.05, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.05, "maximize": True}),
    "sgd_nesterov_all": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    "adam": ("Adam", {"lr": 0.05}),
    "adam_betas_eps": ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-3}),
    "adam_weight_decay": ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    "adam_amsgrad": ("Adam", {"lr": 0.05, "amsgrad": True}),
    "adam_maximize": ("Adam", {"lr": 0.05, "maximize": True}),
    "adam_all": ("Adam", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    "adam_decoupled": ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    "adamw": ("AdamW", {"lr": 0.05}),
    "adamw_weight_decay": ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    "adamw_all": ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
}


# ---------------------------------------------------------------------------------------------
# agreement with PyTorch
# ---------------------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("split", [False, True], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("case", sorted(AGREEMENT))
def test_agrees_with_torch(torch, case, split):
    name, kwargs = AGREEMENT[case]
    values, grads = initial_values(), gradient_sequence()
    ours = minilm_params(values)
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    run_minilm(getattr(minilm.optim, name)(groups(ours, split), **kwargs), ours, grads)
    run_torch(torch, getattr(torch.optim, name)(groups(theirs, split), **kwargs), theirs, grads)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(p), q.detach().numpy(), rtol=1e-12, atol=1e-12)
        assert p.dtype == minilm.float64


@pytest.mark.torch
@pytest.mark.parametrize("case", ["sgd_momentum", "adam_all", "adamw"])
def test_loads_a_torch_state_dict(torch, case):
    """PyTorch's state dict, its tensors turned into NumPy arrays, continues training in minilm."""
    name, kwargs = AGREEMENT[case]
    values, grads = initial_values(), gradient_sequence()
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    torch_opt = getattr(torch.optim, name)(theirs, **kwargs)
    run_torch(torch, torch_opt, theirs, grads[:8])
    sd = torch_opt.state_dict()
    sd = {
        "state": {
            k: {n: v.numpy() if hasattr(v, "numpy") else v for n, v in s.items()} for k, s in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }
    ours = minilm_params([q.detach().numpy() for q in theirs])
    opt = getattr(minilm.optim, name)(ours, **kwargs)
    opt.load_state_dict(sd)
    run_minilm(opt, ours, grads[8:])
    run_torch(torch, torch_opt, theirs, grads[8:])
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(p), q.detach().numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# hand-computed steps (no PyTorch needed)
# ---------------------------------------------------------------------------------------------


def two_steps(opt_cls, grads=(2.0, -1.0), **kwargs):
    """A 1-element float64 parameter starting at 1.0, after each of two steps."""
    p = minilm.tensor([1.0], dtype=minilm.float64, requires_grad=True)
    opt = opt_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = minilm.tensor([g], dtype=minilm.float64)
        opt.step()
        out.append(p.item())
    return out


def test_sgd_by_hand():
    # p - lr * g: 1 - 0.1*2 = 0.8, then 0.8 + 0.1 = 0.9
    assert two_steps(minilm.optim.SGD, lr=0.1) == pytest.approx([0.8, 0.9], abs=1e-15)


def test_sgd_weight_decay_by_hand():
    # d = g + 0.5 p: 2 + 0.5 = 2.5 -> p = 0.75; then -1 + 0.375 = -0.625 -> p = 0.8125
    assert two_steps(minilm.optim.SGD, lr=0.1, weight_decay=0.5) == pytest.approx([0.75, 0.8125], abs=1e-15)


def test_sgd_momentum_by_hand():
    # first step: b = g = 2 (no dampening yet) -> p = 0.8
    # second: b = 0.9*2 + (1 - 0.5)*(-1) = 1.3 -> p = 0.8 - 0.13 = 0.67
    out = two_steps(minilm.optim.SGD, lr=0.1, momentum=0.9, dampening=0.5)
    assert out == pytest.approx([0.8, 0.67], abs=1e-15)


def test_sgd_nesterov_by_hand():
    # b = 2, d = 2 + 0.5*2 = 3 -> p = 0.7; b = 0.5*2 + 1 = 2, d = 1 + 0.5*2 = 2 -> p = 0.5
    out = two_steps(minilm.optim.SGD, grads=(2.0, 1.0), lr=0.1, momentum=0.5, nesterov=True)
    assert out == pytest.approx([0.7, 0.5], abs=1e-15)


def test_sgd_maximize_by_hand():
    assert two_steps(minilm.optim.SGD, lr=0.1, maximize=True) == pytest.approx([1.2, 1.1], abs=1e-15)


def test_adam_by_hand():
    # step 1: m = 0.1*2 = 0.2, v = 0.001*4 = 0.004; m_hat = 0.2/0.1 = 2, v_hat = 0.004/0.001 = 4
    #         p = 1 - 0.1 * 2 / (2 + 1e-8)
    p1 = 1 - 0.1 * 2 / (2 + 1e-8)
    # step 2: m = 0.9*0.2 + 0.1*(-1) = 0.08, v = 0.999*0.004 + 0.001*1 = 0.004996
    #         m_hat = 0.08/0.19 = 0.42105263157894735, v_hat = 0.004996/0.001999 = 2.4992496248124062
    p2 = p1 - 0.1 * 0.42105263157894735 / (2.4992496248124062**0.5 + 1e-8)
    assert two_steps(minilm.optim.Adam, lr=0.1) == pytest.approx([p1, p2], abs=1e-14)
    assert p2 == pytest.approx(0.9 - 0.1 * 0.266332, abs=1e-6)  # m_hat / sqrt(v_hat) = 0.26633...


def test_adam_weight_decay_by_hand():
    # L2 in the gradient: g1 = 2 + 0.5*1 = 2.5, and Adam's first step moves by lr * sign = 0.1
    assert two_steps(minilm.optim.Adam, grads=(2.0,), lr=0.1, weight_decay=0.5) == pytest.approx(
        [1 - 0.1 * 2.5 / (2.5 + 1e-8)], abs=1e-15
    )


def test_adamw_by_hand():
    # decoupled: p = 1 * (1 - 0.1*0.1) - 0.1 * 2/(2 + 1e-8) = 0.99 - 0.1
    out = two_steps(minilm.optim.AdamW, grads=(2.0,), lr=0.1, weight_decay=0.1)
    assert out == pytest.approx([0.99 - 0.1 * 2 / (2 + 1e-8)], abs=1e-15)


def test_amsgrad_uses_the_largest_second_moment():
    # a big gradient, then small ones: v shrinks but max_exp_avg_sq keeps the largest value
    p = minilm.tensor([0.0], dtype=minilm.float64, requires_grad=True)
    opt = minilm.optim.Adam([p], lr=0.1, betas=(0.5, 0.5), amsgrad=True)
    for g in (10.0, 0.1, 0.1):
        p.grad = minilm.tensor([g], dtype=minilm.float64)
        opt.step()
    state = opt.state[p]
    assert state["max_exp_avg_sq"].item() == pytest.approx(50.0)  # (1 - 0.5) * 10^2 after step 1
    assert state["exp_avg_sq"].item() == pytest.approx(12.5 + 0.5 * 0.01 + 0.25 * 0.01)
    assert state["step"] == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: minilm.optim.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: minilm.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: minilm.optim.Adam(ps, lr=0.05),
        lambda ps: minilm.optim.AdamW(ps, lr=0.05, weight_decay=0.0),
        lambda ps: minilm.optim.Adam(ps, lr=0.05, amsgrad=True),
    ],
    ids=["sgd_momentum", "sgd_nesterov", "adam", "adamw", "amsgrad"],
)
def test_minimizes_a_quadratic(make, device):
    """f(x) = sum a * (x - c)^2 through autograd: the optimizer finds c."""
    a = minilm.tensor([1.0, 3.0, 0.5, 2.0], device=device)
    c = minilm.tensor([1.0, -2.0, 0.5, 3.0], device=device)
    x = minilm.zeros(4, device=device, requires_grad=True)
    opt = make([x])
    for _ in range(600):
        opt.zero_grad()
        loss = (a * (x - c) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(to_numpy(x), to_numpy(c), atol=1e-2)
    assert x.dtype == minilm.float32


# ---------------------------------------------------------------------------------------------
# dtype, device, memory
# ---------------------------------------------------------------------------------------------

FLOAT32_CASES = {
    "sgd": lambda ps: minilm.optim.SGD(ps, lr=np.float64(0.1), momentum=np.float64(0.9), weight_decay=np.float64(0.1)),
    "sgd_nesterov": lambda ps: minilm.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, maximize=True),
    "adam": lambda ps: minilm.optim.Adam(ps, lr=np.float64(0.1), betas=(np.float64(0.9), np.float64(0.99))),
    "adam_amsgrad": lambda ps: minilm.optim.Adam(ps, lr=0.1, weight_decay=np.float64(0.1), amsgrad=True),
    "adamw": lambda ps: minilm.optim.AdamW(ps, lr=np.float64(0.1), weight_decay=np.float64(0.1)),
}


@pytest.mark.parametrize("case", sorted(FLOAT32_CASES))
def test_float32_stays_float32_on_its_device(case, device):
    """NumPy float64 scalars as options (np.float64 would promote a float32 array in NumPy 2) leave
    parameters and state float32, on the parameter's device."""
    params = minilm_params(initial_values(), device=device, dtype=minilm.float32)
    opt = FLOAT32_CASES[case](params)
    run_minilm(opt, params, gradient_sequence(steps=3), device=device)
    for p in params:
        assert p.dtype == minilm.float32 and p.device == minilm.device(device)
        for key, value in opt.state[p].items():
            if key != "step":
                assert value.dtype == minilm.float32, key
                assert value.device == p.device, key
                assert value.shape == p.shape, key
                assert not value.requires_grad


@pytest.mark.parametrize("case", ["sgd_all", "adam_all", "adamw"])
def test_parameter_gets_a_new_array_and_keeps_its_identity(case):
    """A step replaces p.data (the tensor object stays the same): a detached copy taken before the
    step, or an array a graph saved, keeps the old values; the gradient is not modified."""
    name, kwargs = AGREEMENT[case]
    params = minilm_params(initial_values())
    opt = getattr(minilm.optim, name)(params, **kwargs)
    before = [p.detach() for p in params]
    old = [p.data.copy() for p in params]
    grads = [minilm.tensor(g) for g in gradient_sequence(steps=1)[0]]
    for p, g in zip(params, grads):
        p.grad = g
    grad_values = [g.data.copy() for g in grads]
    opt.step()
    for p, b, o, g, gv in zip(params, before, old, grads, grad_values):
        np.testing.assert_array_equal(b.data, o)
        assert not np.array_equal(p.data, o)
        assert p.grad is g
        np.testing.assert_array_equal(g.data, gv)
    assert opt.param_groups[0]["params"][0] is params[0]


def test_skips_parameters_without_grad():
    a, b = minilm_params(initial_values()[:2])
    opt = minilm.optim.Adam([a, b], lr=0.1)
    a.grad = minilm.ones_like(a)
    b_before = b.data.copy()
    opt.step()
    np.testing.assert_array_equal(b.data, b_before)
    assert b not in opt.state and opt.state[a]["step"] == 1


# ---------------------------------------------------------------------------------------------
# groups, zero_grad, closure
# ---------------------------------------------------------------------------------------------


def test_param_groups_take_defaults_and_overrides():
    a, b, c = minilm_params(initial_values())
    opt = minilm.optim.SGD([{"params": [a], "lr": 0.5}, {"params": b, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    assert opt.param_groups[1]["params"] == [b]
    opt.add_param_group({"params": [c], "weight_decay": 0.01})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["weight_decay"] == 0.01
    a.grad = minilm.ones_like(a)
    before = a.data.copy()
    opt.step()
    np.testing.assert_allclose(a.data, before - 0.5)


def test_zero_grad():
    a, b = minilm_params(initial_values()[:2])
    opt = minilm.optim.SGD([a, b])
    a.grad, b.grad = minilm.ones_like(a), minilm.ones_like(b)
    opt.zero_grad(set_to_none=False)
    assert a.grad.shape == a.shape and not a.grad.data.any() and not b.grad.data.any()
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_step_calls_the_closure_with_grad_on():
    x = minilm.tensor([3.0], requires_grad=True)
    opt = minilm.optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with minilm.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    assert x.item() == pytest.approx(3.0 - 0.25 * 6.0)


def test_repr_lists_the_groups():
    text = repr(minilm.optim.Adam(minilm_params(initial_values()), lr=0.01))
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.01" in text


# ---------------------------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------------------------

RESUME_CASES = ["sgd_all", "sgd_nesterov", "adam_all", "adam_betas_eps", "adamw_all"]


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resume_from_state_dict_equals_uninterrupted(case, device):
    name, kwargs = AGREEMENT[case]
    cls = getattr(minilm.optim, name)
    grads = gradient_sequence()
    params = minilm_params(initial_values(), device=device)
    opt = cls(groups(params, True), **kwargs)
    run_minilm(opt, params, grads[:10], device=device)
    sd = opt.state_dict()

    resumed = [minilm.tensor(p.data, requires_grad=True) for p in params]
    opt2 = cls(groups(resumed, True), lr=123.0)  # options come back from the state dict
    opt2.load_state_dict(sd)
    run_minilm(opt, params, grads[10:], device=device)
    run_minilm(opt2, resumed, grads[10:], device=device)
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))
        assert q.device == minilm.device(device)
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
    for key, value in opt.state[params[0]].items():
        if key == "step":
            assert opt2.state[resumed[0]][key] == value
        else:
            np.testing.assert_array_equal(to_numpy(opt2.state[resumed[0]][key]), to_numpy(value))
            assert opt2.state[resumed[0]][key].device == minilm.device(device)


def test_state_dict_layout_and_snapshot():
    a, b, c = minilm_params(initial_values())
    opt = minilm.optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    for p in (a, c):  # b gets no gradient, so no state
        p.grad = minilm.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sorted(sd["state"]) == [0, 2]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["state"][0]["step"] == 1
    assert isinstance(sd["state"][0]["exp_avg"], minilm.Tensor)
    saved = sd["state"][0]["exp_avg"].data.copy()
    opt.step()  # the state dict is a snapshot: later steps leave it alone
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].data, saved)
    assert sd["state"][0]["step"] == 1 and opt.state[a]["step"] == 2


def test_load_state_dict_from_plain_arrays():
    """What a file gives back: NumPy arrays, string keys, lists for tuples, 0-d arrays for numbers;
    arrays of another dtype are cast to the parameter's."""
    params = minilm_params(initial_values(), dtype=minilm.float32)
    opt = minilm.optim.Adam(params, lr=0.1, amsgrad=True)
    run_minilm(opt, params, gradient_sequence(steps=3))
    sd = opt.state_dict()
    plain = {
        "state": {
            str(k): {n: np.asarray(v if n == "step" else v.data.astype(np.float64)) for n, v in s.items()}
            for k, s in sd["state"].items()
        },
        "param_groups": [
            {k: list(v) if isinstance(v, tuple) else np.asarray(v) if k == "lr" else v for k, v in g.items()}
            for g in sd["param_groups"]
        ],
    }
    opt2 = minilm.optim.Adam(params, lr=0.5)
    opt2.load_state_dict(plain)
    group = opt2.param_groups[0]
    assert group["betas"] == (0.9, 0.999) and isinstance(group["betas"], tuple)
    assert type(group["lr"]) is float and group["lr"] == 0.1
    assert group["params"][0] is params[0]
    state = opt2.state[params[0]]
    assert state["step"] == 3 and type(state["step"]) is int
    assert state["exp_avg"].dtype == minilm.float32
    np.testing.assert_allclose(state["max_exp_avg_sq"].data, opt.state[params[0]]["max_exp_avg_sq"].data)


def test_load_state_dict_errors_name_what_differs():
    params = minilm_params(initial_values())
    opt = minilm.optim.Adam(groups(params, True))
    run_minilm(opt, params, gradient_sequence(steps=2))
    sd = opt.state_dict()

    with pytest.raises(ValueError, match=r"2 parameter group\(s\), but this optimizer has 1"):
        minilm.optim.Adam(params).load_state_dict(sd)
    fewer = minilm_params(initial_values())[:2]
    with pytest.raises(ValueError, match=r"parameter group 1 has 2 parameter\(s\) in the state dict, but 1"):
        minilm.optim.Adam(groups(fewer, True)).load_state_dict(sd)

    other = minilm_params(initial_values(shapes=[(3, 4), (6,), ()]))
    target = minilm.optim.Adam(groups(other, True), lr=0.5)
    with pytest.raises(
        ValueError,
        match=r"'exp_avg' of parameter 1 \(group 1, position 0\) has shape \(5,\), but "
        r"the parameter has shape \(6,\)",
    ):
        target.load_state_dict(sd)
    assert not target.state and target.param_groups[1]["lr"] == 0.5  # nothing changed

    with pytest.raises(ValueError, match="no 'state' entry"):
        opt.load_state_dict({"param_groups": sd["param_groups"]})
    bad = {"state": {7: sd["state"][0]}, "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="state for parameter 7"):
        opt.load_state_dict(bad)


# ---------------------------------------------------------------------------------------------
# construction errors
# ---------------------------------------------------------------------------------------------


def test_empty_or_wrong_parameters():
    with pytest.raises(ValueError, match="empty parameter list"):
        minilm.optim.SGD([])
    with pytest.raises(TypeError, match="single Tensor"):
        minilm.optim.Adam(minilm.zeros(3, requires_grad=True))
    with pytest.raises(ValueError, match=r"parameter 0 of group 0 \(shape \(3,\)\) does not require grad"):
        minilm.optim.SGD([minilm.zeros(3)])
    x = minilm.zeros(3, requires_grad=True)
    with pytest.raises(ValueError, match="is not a leaf"):
        minilm.optim.SGD([x * 2])
    with pytest.raises(TypeError, match="not a Tensor"):
        minilm.optim.SGD([np.zeros(3)])
    with pytest.raises(TypeError, match="not a set"):
        minilm.optim.SGD([{"params": {x}}])
    with pytest.raises(ValueError, match="parameter group 1 has no parameters"):
        minilm.optim.SGD([{"params": [x]}, {"params": []}])


def test_a_parameter_in_two_places():
    x, y = minilm_params(initial_values()[:2])
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(3, 4\)\) is already parameter 0 of group 0"):
        minilm.optim.Adam([{"params": [x, y]}, {"params": [x]}])
    with pytest.raises(ValueError, match="parameters 0 and 2 are the same tensor"):
        minilm.optim.Adam([x, y, x])
    opt = minilm.optim.Adam([x])
    with pytest.raises(ValueError, match="already parameter 0 of group 0"):
        opt.add_param_group({"params": [x]})


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: minilm.optim.SGD(ps, lr=-0.1), r"lr=-0.1 is negative"),
        (lambda ps: minilm.optim.SGD(ps, momentum=-0.5), r"momentum=-0.5 is negative"),
        (lambda ps: minilm.optim.SGD(ps, weight_decay=-1), r"weight_decay=-1 is negative"),
        (lambda ps: minilm.optim.SGD(ps, nesterov=True), r"nesterov=True needs momentum > 0 .* momentum=0 "),
        (lambda ps: minilm.optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), r"dampening=0.1"),
        (lambda ps: minilm.optim.Adam(ps, lr=-1e-3), r"lr=-0.001 is negative"),
        (lambda ps: minilm.optim.Adam(ps, eps=-1e-8), r"eps=-1e-08 is negative"),
        (lambda ps: minilm.optim.Adam(ps, betas=(1.0, 0.999)), r"betas\[0\]=1.0 is outside \[0, 1\)"),
        (lambda ps: minilm.optim.AdamW(ps, betas=(0.9, -0.1)), r"betas\[1\]=-0.1 is outside \[0, 1\)"),
        (lambda ps: minilm.optim.AdamW(ps, weight_decay=-0.01), r"weight_decay=-0.01 is negative"),
        (
            lambda ps: minilm.optim.Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": -2}]),
            r"parameter group 1\): lr=-2 is negative",
        ),
    ],
)
def test_bad_hyperparameters(make, message):
    with pytest.raises(ValueError, match=message):
        make(minilm_params(initial_values()))


def test_gradient_must_match_its_parameter():
    x = minilm.zeros(3, requires_grad=True)
    opt = minilm.optim.SGD([x], lr=0.1)
    x.grad = minilm.zeros(4)
    with pytest.raises(ValueError, match=r"parameter of shape \(3,\) has a gradient of shape \(4,\)"):
        opt.step()
    x.grad = minilm.zeros(3, dtype=minilm.float64)
    with pytest.raises(TypeError, match="float32 parameter .* has a float64 gradient"):
        opt.step()


def test_checkpoint_through_minilm_save(tmp_path, device):
    """Optimizer and scheduler state survive minilm.save / minilm.load and resume exactly."""
    save, load = getattr(minilm, "save", None), getattr(minilm, "load", None)
    if save is None or load is None:
        pytest.skip("minilm.save / minilm.load are not available")
    from minilm.optim import lr_scheduler

    grads = gradient_sequence()
    params = minilm_params(initial_values(), device=device, dtype=minilm.float32)
    opt = minilm.optim.AdamW(groups(params, True), lr=0.05, amsgrad=True)
    scheduler = lr_scheduler.get_cosine_schedule_with_warmup(opt, 3, 20)
    for step_grads in grads[:8]:
        run_minilm(opt, params, [step_grads], device=device)
        scheduler.step()
    save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "ckpt.npz")

    resumed = [minilm.tensor(p.data, requires_grad=True) for p in params]
    opt2 = minilm.optim.AdamW(groups(resumed, True))
    scheduler2 = lr_scheduler.get_cosine_schedule_with_warmup(opt2, 1, 2)
    checkpoint = load(tmp_path / "ckpt.npz")
    opt2.load_state_dict(checkpoint["optimizer"])
    scheduler2.load_state_dict(checkpoint["scheduler"])
    for o, s, ps in ((opt, scheduler, params), (opt2, scheduler2, resumed)):
        for step_grads in grads[8:]:
            run_minilm(o, ps, [step_grads], device=device)
            s.step()
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(to_numpy(p), to_numpy(q))
        assert q.dtype == minilm.float32
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()


def test_trains_a_module():
    """With minilm.nn: model.parameters() (a generator of Parameters) goes straight in."""
    nn = minilm.nn
    if not hasattr(nn, "Linear"):
        pytest.skip("minilm.nn.Linear is not available")
    from minilm.nn.utils import clip_grad_norm_

    model = nn.Linear(3, 1)
    x = minilm.randn(64, 3)
    y = x @ minilm.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    opt = minilm.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 1e-3 * first
    assert model.weight.dtype == minilm.float32
