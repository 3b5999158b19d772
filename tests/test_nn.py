"""minilm.nn: Module bookkeeping, containers, state dicts, layers and their PyTorch-default
initialisation."""

import math

import numpy as np
import pytest

import minilm
import minilm.nn as nn
from helpers import to_numpy


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.norm = nn.LayerNorm(4)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("steps", minilm.zeros(1))
        self.register_buffer("scratch", minilm.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc2(self.drop(self.norm(self.fc1(x)).relu()))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.out = nn.Linear(3, 5, bias=False)
        self.out.weight = self.emb.weight


# ---------------------------------------------------------------------------------------------
# bookkeeping
# ---------------------------------------------------------------------------------------------


def test_parameters_in_registration_order_with_pytorch_names():
    m = Block()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "norm.weight", "norm.bias", "fc2.weight"]
    assert [tuple(p.shape) for p in m.parameters()] == [(4, 3), (4,), (4,), (4,), (2, 4)]
    assert [n for n, _ in m.named_children()] == ["fc1", "norm", "drop", "fc2"]
    assert [type(x).__name__ for x in m.modules()] == ["Block", "Linear", "LayerNorm", "Dropout", "Linear"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())


def test_tied_weights_are_listed_once_but_saved_under_both_names():
    m = Tied()
    assert [n for n, _ in m.named_parameters()] == ["emb.weight"]
    assert list(m.state_dict()) == ["emb.weight", "out.weight"]
    x = minilm.tensor([[1, 2]])
    m.out(m.emb(x)).sum().backward()
    assert m.emb.weight.grad is m.out.weight.grad  # one parameter, one gradient


def test_state_dict_has_persistent_buffers_and_detached_values():
    m = Block()
    sd = m.state_dict()
    assert "steps" in sd and "scratch" not in sd
    assert all(not v.requires_grad for v in sd.values())
    assert sd["fc1.weight"].data is m.fc1.weight.data  # shares the data, as PyTorch


def test_load_state_dict_round_trip_from_numpy_and_tensors():
    a, b = Block(), Block()
    a.load_state_dict({k: v.numpy() * 0 + i for i, (k, v) in enumerate(a.state_dict().items())})
    b.load_state_dict(a.state_dict())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
        assert va.data is not vb.data  # loading copies
    assert b.fc1.weight.dtype == minilm.float32


def test_load_state_dict_converts_float64_arrays_to_the_parameter_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    assert m.weight.dtype == minilm.float32
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.eye(2))


def test_load_state_dict_errors_name_every_problem_and_change_nothing():
    m = Block()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: v.numpy() for k, v in m.state_dict().items()}
    del sd["fc2.weight"]
    sd["fc3.weight"] = np.zeros(3)
    sd["fc1.weight"] = np.zeros((3, 4))
    sd["norm.bias"] = np.zeros(4) + 7  # valid, but must not be applied either
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "Missing key(s): 'fc2.weight'" in msg
    assert "Unexpected key(s): 'fc3.weight'" in msg
    assert "size mismatch for 'fc1.weight': the checkpoint has shape (3, 4), this model has shape (4, 3)" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict_reports_keys():
    m = nn.Linear(2, 3)
    result = m.load_state_dict({"weight": np.ones((3, 2)), "extra": np.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(m.weight.detach().numpy(), np.ones((3, 2)))


def test_train_eval_reach_every_submodule_and_switch_dropout():
    m = Block()
    x = minilm.randn(50, 3)
    m.eval()
    assert not any(mod.training for mod in m.modules())
    np.testing.assert_array_equal(m(x).detach().numpy(), m(x).detach().numpy())  # deterministic in eval
    m.train()
    assert all(mod.training for mod in m.modules())
    assert not np.array_equal(m(x).detach().numpy(), m(x).detach().numpy())


def test_to_dtype_keeps_the_same_parameter_objects():
    m = Block()
    params = list(m.parameters())
    m.to(minilm.float64)
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == minilm.float64 for p in m.parameters())
    assert m.steps.dtype == minilm.float64
    y = m(minilm.randn(2, 3, dtype=minilm.float64))
    assert y.dtype == minilm.float64


def test_zero_grad_and_apply():
    m = Block()
    m(minilm.randn(2, 3)).sum().backward()
    assert m.fc1.weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m(minilm.randn(2, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert all((p.grad.numpy() == 0).all() for p in m.parameters())
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "LayerNorm", "Dropout", "Linear", "Block"]


def test_repr_is_pytorch_like():
    m = nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh"), nn.Embedding(10, 4, padding_idx=0))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): GELU(approximate='tanh')\n"
        "  (2): Embedding(10, 4, padding_idx=0)\n"
        ")"
    )


def test_assigning_before_init_and_wrong_types_are_clear_errors():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Forgot()
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="wrap it in nn.Parameter"):
        m.weight = minilm.zeros(2, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        m.wieght  # noqa: B018


# ---------------------------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------------------------


def test_sequential_modulelist_moduledict():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and len(seq[:2]) == 2
    assert seq(minilm.randn(4, 2)).shape == (4, 1)
    with pytest.raises(IndexError, match="index 3 is out of range for 3 module"):
        seq[3]
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 5))
    assert [n for n, _ in ml.named_parameters()][-2:] == ["3.weight", "3.bias"]
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.Tanh()})
    assert list(md) == ["a", "b"] and "a" in md and [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    with pytest.raises(KeyError, match="no key 'c'"):
        md["c"]


# ---------------------------------------------------------------------------------------------
# layers and initialisation
# ---------------------------------------------------------------------------------------------


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.var() - bound**2 / 3) < 0.03 * bound**2 / 3  # U(-a, a) has variance a^2/3
    assert abs(w.mean()) < 0.01 * bound


def test_embedding_init_and_padding_row():
    m = nn.Embedding(1000, 64, padding_idx=3)
    w = m.weight.detach().numpy()
    assert (w[3] == 0).all()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.std() - 1) < 0.02 and abs(rest.mean()) < 0.02


def test_layernorm_init_and_options():
    m = nn.LayerNorm((2, 3))
    assert (m.weight.detach().numpy() == 1).all() and (m.bias.detach().numpy() == 0).all()
    assert [n for n, _ in nn.LayerNorm(4, elementwise_affine=False).named_parameters()] == []
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]


@pytest.mark.parametrize(
    "fn, expected_std",
    [
        (lambda w: nn.init.xavier_uniform_(w), math.sqrt(2 / (200 + 300))),
        (lambda w: nn.init.xavier_normal_(w, gain=2.0), 2 * math.sqrt(2 / (200 + 300))),
        (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2 / 200)),
        (lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 300)),
        (lambda w: nn.init.normal_(w, 0.0, 0.02), 0.02),
        (lambda w: nn.init.uniform_(w, -1, 1), math.sqrt(1 / 3)),
    ],
)
def test_init_functions_give_the_variance_they_promise(fn, expected_std):
    w = nn.Parameter(minilm.zeros(300, 200))  # fan_in 200, fan_out 300
    assert fn(w) is w
    assert w.dtype == minilm.float32
    assert abs(w.detach().numpy().std() - expected_std) < 0.02 * expected_std


def test_trunc_normal_stays_in_bounds_and_constants():
    w = nn.Parameter(minilm.zeros(100, 100))
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert np.abs(w.detach().numpy()).max() <= 0.5 and w.detach().numpy().std() > 0.2
    nn.init.ones_(w)
    assert (w.detach().numpy() == 1).all()
    nn.init.zeros_(w)
    assert (w.detach().numpy() == 0).all()


def test_init_needs_two_dimensions_for_fans():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(minilm.zeros(3)))


def test_layers_keep_dtype_and_device(device):
    m = nn.Sequential(
        nn.Linear(3, 4, device=device, dtype=minilm.float64),
        nn.GELU(),
        nn.LayerNorm(4, device=device, dtype=minilm.float64),
    )
    y = m(minilm.randn(2, 3, device=device, dtype=minilm.float64))
    assert y.dtype == minilm.float64 and y.device == minilm.device(device)
    emb = nn.Embedding(5, 2, device=device)
    assert emb(minilm.tensor([1, 4], device=device)).shape == (2, 2)


def test_loss_modules_call_the_functions():
    x = minilm.randn(4, 3)
    t = minilm.tensor([0, 2, 1, -100])
    assert (
        nn.CrossEntropyLoss(label_smoothing=0.1)(x, t).item()
        == nn.functional.cross_entropy(x, t, label_smoothing=0.1).item()
    )
    assert nn.MSELoss(reduction="sum")(x, x * 0).item() == pytest.approx(float((x.numpy() ** 2).sum()), rel=1e-6)


def test_mlp_learns_xor():
    minilm.manual_seed(1)
    x = minilm.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = minilm.tensor([0, 1, 1, 0])
    m = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    for _ in range(300):
        loss = nn.functional.cross_entropy(m(x), t)
        m.zero_grad()
        loss.backward()
        with minilm.no_grad():
            for p in m.parameters():
                p -= 0.5 * p.grad
    assert loss.item() < 0.05
    assert (to_numpy(m(x).argmax(dim=1)) == [0, 1, 1, 0]).all()
