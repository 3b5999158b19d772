"""MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against PyTorch: a PyTorch
module's state_dict loads into the minilm module unchanged, and outputs, attention weights and
every gradient (inputs, parameters, float masks) agree in float64, for both layouts, every kind of
mask, averaged and per-head weights, relu/gelu, post-norm and pre-norm, and a final norm."""

import warnings

import numpy as np
import pytest

import minilm
from helpers import to_numpy
from minilm import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = dict(rtol=1e-9, atol=1e-11)


def _rng(seed):
    return np.random.default_rng(seed)


def _load(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def _pair(a, requires_grad=True):
    """The same values as a torch tensor and a minilm tensor (both leaves)."""
    t = torch.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
    m = minilm.tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
    return t, m


def _compare_grads(pairs):
    for name, (t, m) in pairs.items():
        assert m.grad is not None, f"{name}: minilm computed no gradient"
        np.testing.assert_allclose(to_numpy(m.grad), t.grad.numpy(), **TOL, err_msg=name)


def _compare_parameter_grads(ours, theirs):
    theirs_by_name = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(to_numpy(p.grad), theirs_by_name[name].grad.numpy(), **TOL, err_msg=name)


# ---------------------------------------------------------------------------------------------
# MultiheadAttention
# ---------------------------------------------------------------------------------------------

MASKS = ["none", "padding", "padding_float", "bool2d", "float2d", "bool3d", "float3d", "padding+float2d", "causal"]


def _masks(kind, rng, N, H, L, S):
    """(torch kwargs, minilm kwargs, float masks that should get a gradient) for one mask kind.
    Key 0 always stays visible, so no query loses all its keys (PyTorch gives nan there)."""
    pad = rng.random((N, S)) < 0.4
    pad[:, 0] = False
    blocked = rng.random((N * H, L, S)) < 0.4
    blocked[..., 0] = False
    kt, km, grads = {}, {}, {}
    if kind.startswith("padding"):
        if kind == "padding_float":
            kt["key_padding_mask"], km["key_padding_mask"] = _pair(
                np.where(pad, -np.inf, rng.standard_normal(pad.shape)), False
            )
        else:
            kt["key_padding_mask"], km["key_padding_mask"] = _pair(pad, False)
    if kind == "bool2d":
        kt["attn_mask"], km["attn_mask"] = _pair(blocked[0], False)
    if kind == "bool3d":
        kt["attn_mask"], km["attn_mask"] = _pair(blocked, False)
    if kind.endswith("float2d") or kind == "float3d":
        shape = (L, S) if kind.endswith("2d") else (N * H, L, S)
        kt["attn_mask"], km["attn_mask"] = grads["attn_mask"] = _pair(rng.standard_normal(shape))
    if kind == "causal":
        kt["attn_mask"] = torch.triu(torch.ones(L, S, dtype=torch.bool), diagonal=1)
        kt["is_causal"] = km["is_causal"] = True
    return kt, km, grads


@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("weights", ["averaged", "per_head", "none"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq_first", "batch_first"])
def test_mha_matches_pytorch(batch_first, weights, mask):
    N, L, E, H = 3, 4, 6, 2
    rng = _rng(len(mask) + 10 * batch_first)
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=batch_first).double()
    ours = _load(nn.MultiheadAttention(E, H, batch_first=batch_first).double(), theirs)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    xt, xm = _pair(x)
    kt, km, float_masks = _masks(mask, rng, N, H, L, L)
    need = weights != "none"
    average = weights == "averaged"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about mixing bool and float masks
        out_t, w_t = theirs(xt, xt, xt, need_weights=need, average_attn_weights=average, **kt)
    out_m, w_m = ours(xm, xm, xm, need_weights=need, average_attn_weights=average, **km)
    np.testing.assert_allclose(to_numpy(out_m.detach()), out_t.detach().numpy(), **TOL)
    if need:
        assert w_m.shape == tuple(w_t.shape)
        np.testing.assert_allclose(to_numpy(w_m), w_t.detach().numpy(), **TOL)
    else:
        assert w_m is None and w_t is None
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_m.backward(minilm.tensor(g))
    _compare_grads({"x": (xt, xm), **float_masks})
    _compare_parameter_grads(ours, theirs)


@pytest.mark.parametrize("kind", ["cross", "key_is_value", "unbatched"])
def test_mha_cross_attention_and_unbatched_match_pytorch(kind):
    """Query of length L attending to keys/values of length S (one projection per input, or one
    for key and value together), and unbatched (L, E) inputs."""
    N, L, S, E, H = 2, 3, 5, 8, 4
    rng = _rng(3)
    torch.manual_seed(1)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    ours = _load(nn.MultiheadAttention(E, H, batch_first=True).double(), theirs)
    lead = () if kind == "unbatched" else (N,)
    qt, qm = _pair(rng.standard_normal(lead + (L, E)))
    kt_, km_ = _pair(rng.standard_normal(lead + (S, E)))
    vt, vm = (kt_, km_) if kind == "key_is_value" else _pair(rng.standard_normal(lead + (S, E)))
    pad = np.zeros(lead + (S,), dtype=bool)
    pad[..., -2:] = True
    pt, pm = _pair(pad, False)
    out_t, w_t = theirs(qt, kt_, vt, key_padding_mask=pt)
    out_m, w_m = ours(qm, km_, vm, key_padding_mask=pm)
    np.testing.assert_allclose(to_numpy(out_m.detach()), out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(to_numpy(w_m), w_t.detach().numpy(), **TOL)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_m.backward(minilm.tensor(g))
    inputs = {"query": (qt, qm), "key": (kt_, km_)}
    if kind != "key_is_value":
        inputs["value"] = (vt, vm)
    _compare_grads(inputs)
    _compare_parameter_grads(ours, theirs)


def test_mha_without_bias_matches_pytorch():
    torch.manual_seed(2)
    theirs = torch.nn.MultiheadAttention(4, 2, bias=False).double()
    ours = _load(nn.MultiheadAttention(4, 2, bias=False).double(), theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["in_proj_weight", "out_proj.weight"]
    xt, xm = _pair(_rng(4).standard_normal((3, 2, 4)))
    out_t, _ = theirs(xt, xt, xt)
    out_m, _ = ours(xm, xm, xm)
    np.testing.assert_allclose(to_numpy(out_m.detach()), out_t.detach().numpy(), **TOL)


def test_initialisation_has_pytorchs_distribution():
    """Same parameter names and shapes as PyTorch; in_proj_weight has the spread of PyTorch's (both
    xavier_uniform), and the same biases (zero)."""
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(64, 4)
    ours = nn.MultiheadAttention(64, 4)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    for name in ("in_proj_weight", "out_proj.weight"):
        a, b = to_numpy(ours.state_dict()[name]), theirs.state_dict()[name].numpy()
        assert abs(a.std() - b.std()) < 0.05 * b.std(), name
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.05 * np.abs(b).max(), name
    for name in ("in_proj_bias", "out_proj.bias"):
        np.testing.assert_array_equal(to_numpy(ours.state_dict()[name]), theirs.state_dict()[name].numpy())


# ---------------------------------------------------------------------------------------------
# TransformerEncoderLayer and TransformerEncoder
# ---------------------------------------------------------------------------------------------


def _layers(torch_kw, **kw):
    torch.manual_seed(3)
    theirs = torch.nn.TransformerEncoderLayer(**torch_kw, **kw).double()
    ours = _load(nn.TransformerEncoderLayer(**torch_kw, **kw).double(), theirs)
    return ours, theirs


@pytest.mark.parametrize("masks", ["none", "padding", "padding+causal", "float"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_pytorch(activation, norm_first, masks):
    N, L, E, H = 2, 5, 8, 2
    batch_first = norm_first  # both layouts covered across the cases
    ours, theirs = _layers(
        dict(d_model=E, nhead=H, dim_feedforward=12, dropout=0.0, activation=activation),
        norm_first=norm_first,
        batch_first=batch_first,
        layer_norm_eps=1e-6,
    )
    rng = _rng(5)
    xt, xm = _pair(rng.standard_normal((N, L, E) if batch_first else (L, N, E)))
    kt, km, float_masks = {}, {}, {}
    if "padding" in masks:
        pad = np.array([[False, False, False, True, True], [False] * 5])
        kt["src_key_padding_mask"], km["src_key_padding_mask"] = _pair(pad, False)
    if "causal" in masks:
        kt["src_mask"] = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
        kt["is_causal"] = km["is_causal"] = True
    if masks == "float":
        kt["src_mask"], km["src_mask"] = float_masks["src_mask"] = _pair(rng.standard_normal((L, L)))
    out_t = theirs(xt, **kt)
    out_m = ours(xm, **km)
    np.testing.assert_allclose(to_numpy(out_m.detach()), out_t.detach().numpy(), **TOL)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_m.backward(minilm.tensor(g))
    _compare_grads({"src": (xt, xm), **float_masks})
    _compare_parameter_grads(ours, theirs)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_encoder_matches_pytorch(norm_first):
    """A stack of three layers and a final LayerNorm (the template's weights copied into each layer
    by both libraries; the loaded state_dict makes them differ), with padding."""
    N, L, E, H = 2, 4, 8, 4
    torch.manual_seed(4)
    t_layer = torch.nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, activation="gelu", norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(t_layer, 3, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False)
    theirs.double()
    m_layer = nn.TransformerEncoderLayer(E, H, 16, dropout=0.0, activation="gelu", norm_first=norm_first)
    ours = _load(nn.TransformerEncoder(m_layer, 3, norm=nn.LayerNorm(E)).double(), theirs)
    rng = _rng(6)
    xt, xm = _pair(rng.standard_normal((L, N, E)))
    pad = np.array([[False, False, True, True], [False, False, False, False]])
    pt, pm = _pair(pad, False)
    out_t = theirs(xt, src_key_padding_mask=pt)
    out_m = ours(xm, src_key_padding_mask=pm)
    np.testing.assert_allclose(to_numpy(out_m.detach()), out_t.detach().numpy(), **TOL)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    out_m.backward(minilm.tensor(g))
    _compare_grads({"src": (xt, xm)})
    _compare_parameter_grads(ours, theirs)


def test_encoder_eval_matches_pytorch_on_real_positions():
    """In eval mode with dropout configured (0.1) both libraries switch it off. (PyTorch's eval
    fast path writes zeros at padded positions; minilm computes them, so only real ones compare.)"""
    N, L, E = 3, 6, 8
    torch.manual_seed(5)
    t_layer = torch.nn.TransformerEncoderLayer(E, 2, 16, batch_first=True)
    theirs = torch.nn.TransformerEncoder(t_layer, 2).double().eval()
    ours = _load(nn.TransformerEncoder(nn.TransformerEncoderLayer(E, 2, 16, batch_first=True), 2).double(), theirs)
    ours.eval()
    x = _rng(7).standard_normal((N, L, E))
    pad = np.zeros((N, L), dtype=bool)
    pad[1, 4:] = True
    with torch.no_grad():
        out_t = theirs(torch.tensor(x), src_key_padding_mask=torch.tensor(pad)).numpy()
    out_m = to_numpy(ours(minilm.tensor(x), src_key_padding_mask=minilm.tensor(pad)))
    np.testing.assert_allclose(out_m[~pad], out_t[~pad], **TOL)
