"""Level 2: minilm's layers load PyTorch's state dicts unchanged and then compute the same outputs
and the same parameter gradients (skipped without torch)."""

import numpy as np
import pytest

import minilm
import minilm.nn as nn

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


def _pair(build):
    torch.manual_seed(0)
    theirs = build(torch.nn).double()
    ours = build(nn).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


BUILDS = {
    "linear": (lambda N: N.Linear(5, 3), lambda L, rng: L.tensor(rng.standard_normal((2, 4, 5)))),
    "mlp_gelu_layernorm": (
        lambda N: N.Sequential(N.Linear(5, 8), N.GELU(), N.LayerNorm(8), N.Linear(8, 2), N.Tanh(), N.Sigmoid()),
        lambda L, rng: L.tensor(rng.standard_normal((6, 5))),
    ),
    "embedding_padding": (
        lambda N: N.Embedding(7, 4, padding_idx=2),
        lambda L, rng: L.tensor([[1, 2, 3], [2, 6, 6]]),
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_module_matches_torch_after_loading_its_state_dict(name):
    build, make_input = BUILDS[name]
    ours, theirs = _pair(build)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    xo, xt = make_input(minilm, rng), make_input(torch, np.random.default_rng(0))
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(yt.shape)
    (yo * minilm.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for (n, po), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(po.grad.numpy(), pt.grad.numpy(), rtol=1e-12, atol=1e-12, err_msg=n)


def test_default_init_bounds_match_torch():
    """Same distributions (different random streams): compare ranges and moments on big layers."""
    torch.manual_seed(0)
    tl, ml = torch.nn.Linear(256, 512), nn.Linear(256, 512)
    for a, b in [(tl.weight, ml.weight), (tl.bias, ml.bias)]:
        a, b = a.detach().numpy(), b.detach().numpy()
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.002
        assert abs(a.std() - b.std()) < 0.12 * a.std()  # 512 bias values: a few % sampling noise each
    te, me = torch.nn.Embedding(500, 64), nn.Embedding(500, 64)
    assert abs(te.weight.detach().numpy().std() - me.weight.detach().numpy().std()) < 0.02


def test_init_gain_and_fans_match_torch():
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", 0.2), ("sigmoid", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    w = torch.empty(7, 3, 2, 2)
    assert nn.init._calculate_fan_in_and_fan_out(minilm.zeros(7, 3, 2, 2)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(w)
