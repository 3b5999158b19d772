"""MultiheadAttention, TransformerEncoderLayer, TransformerEncoder and the positional encodings,
without PyTorch: float64 gradient checks of whole modules (parameters and float masks included),
a twin of multi-head attention composed from primitive ops, what each mask promises, dropout and
eval(), independent copies in a stack, parameter names and initialisation, and the errors.
(Agreement with PyTorch itself is in test_transformer_torch.py.)"""

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minilm
from helpers import array, leaf, to_numpy
from minilm import nn
from minilm.autograd import gradcheck
from minilm.nn.positional import sinusoidal_position_encoding
from minilm.nn.transformer import generate_square_subsequent_mask


def _rng(seed):
    return np.random.default_rng(seed)


def _mha(device, E=6, H=2, **kw):
    return nn.MultiheadAttention(E, H, **kw).double().to(device)


def _bool(device, values):
    return minilm.tensor(np.asarray(values, dtype=bool), device=device)


def _padding_mask(rng, N, S):
    """A random key_padding_mask (N, S) that leaves key 0 of every sequence unpadded (so that no
    query, causal or not, loses all its keys)."""
    m = rng.random((N, S)) < 0.4
    m[:, 0] = False
    return m


# ---------------------------------------------------------------------------------------------
# a twin from primitives: the definition of multi-head attention, head by head
# ---------------------------------------------------------------------------------------------


def _composed_mha(mha, q_in, k_in, v_in, allowed=None):
    """Batch-first multi-head attention written from the definition with primitive ops, one head at
    a time: ``softmax(Q_h K_h^T / sqrt(d) + mask) V_h``, heads concatenated, then ``out_proj``.
    ``allowed`` (N, L, S) bool or None."""
    E, H = mha.embed_dim, mha.num_heads
    d = E // H
    w, b = mha.in_proj_weight, mha.in_proj_bias
    Q = q_in @ w[:E].T + b[:E]
    K = k_in @ w[E : 2 * E].T + b[E : 2 * E]
    V = v_in @ w[2 * E :].T + b[2 * E :]
    heads = []
    for h in range(H):
        cols = slice(h * d, (h + 1) * d)
        scores = Q[..., cols] @ K[..., cols].transpose(-1, -2) / math.sqrt(d)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        heads.append(scores.softmax(-1) @ V[..., cols])
    return minilm.cat(heads, dim=-1) @ mha.out_proj.weight.T + mha.out_proj.bias


@pytest.mark.parametrize("kind", ["self", "cross", "key_is_value"])
def test_mha_equals_the_composed_definition(device, kind):
    """Values and every gradient: the packed projection, the head split and the merge are the
    head-by-head definition (the three ways of projecting: one product, two, or three)."""
    N, L, S, E = 2, 4, 5 if kind != "self" else 4, 6
    mha = _mha(device, E, 3, batch_first=True)
    rng = _rng(1)
    x = leaf(device, (N, L, E), seed=2)
    k = x if kind == "self" else leaf(device, (N, S, E), seed=3)
    v = k if kind != "cross" else leaf(device, (N, S, E), seed=4)
    pad = _padding_mask(rng, N, S)
    allowed = np.broadcast_to(~pad[:, None, :], (N, L, S))
    inputs = [t for t in {id(t): t for t in (x, k, v)}.values()]
    w = minilm.Tensor(array(device, (N, L, E), seed=5))
    results = []
    for run in ("module", "composed"):
        for t in inputs + list(mha.parameters()):
            t.grad = None
        if run == "module":
            out, _ = mha(x, k, v, key_padding_mask=_bool(device, pad), need_weights=False)
        else:
            out = _composed_mha(mha, x, k, v, _bool(device, allowed))
        (out * w).sum().backward()
        results.append([to_numpy(out.detach())] + [to_numpy(t.grad) for t in inputs + list(mha.parameters())])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# float64 gradient checks of whole modules, parameters included
# ---------------------------------------------------------------------------------------------


@st.composite
def mha_cases(draw):
    return dict(
        N=draw(st.integers(1, 2)),
        L=draw(st.integers(1, 4)),
        S=draw(st.integers(1, 4)),
        H=draw(st.sampled_from([1, 2])),
        d=draw(st.integers(1, 3)),
        batch_first=draw(st.booleans()),
        self_attention=draw(st.booleans()),
        mask=draw(st.sampled_from(["none", "padding", "bool", "float", "float3d", "causal", "padding+float"])),
        need_weights=draw(st.booleans()),
        seed=draw(st.integers(0, 100)),
    )


@given(case=mha_cases())
@settings(max_examples=12)
def test_mha_gradcheck(device, case):
    """The input(s), every parameter and a float mask, against finite differences."""
    c = case
    N, H, E = c["N"], c["H"], c["H"] * c["d"]
    L = c["L"]
    S = L if c["self_attention"] else c["S"]
    rng = _rng(c["seed"])
    minilm.manual_seed(c["seed"])
    mha = _mha(device, E, H, batch_first=c["batch_first"])
    layout = (lambda n, t: (n, t, E)) if c["batch_first"] else (lambda n, t: (t, n, E))
    q = leaf(device, layout(N, L), seed=c["seed"])
    leaves = [q]
    if not c["self_attention"]:
        leaves += [leaf(device, layout(N, S), seed=c["seed"] + 1), leaf(device, layout(N, S), seed=c["seed"] + 2)]
    kw = {}
    if "padding" in c["mask"]:
        kw["key_padding_mask"] = _bool(device, _padding_mask(rng, N, S))
    if c["mask"] == "bool":
        m = rng.random((L, S)) < 0.5
        m[:, 0] = False
        kw["attn_mask"] = _bool(device, m)
    if c["mask"] in ("float", "padding+float"):
        kw["attn_mask"] = leaf(device, (L, S), seed=c["seed"] + 3)
        leaves.append(kw["attn_mask"])
    if c["mask"] == "float3d":
        kw["attn_mask"] = leaf(device, (N * H, L, S), seed=c["seed"] + 3)
        leaves.append(kw["attn_mask"])
    if c["mask"] == "causal":
        kw["is_causal"] = True
    params = list(mha.parameters())

    def fn(*ts):
        q, k, v = (ts[0],) * 3 if c["self_attention"] else ts[:3]
        if "attn_mask" in kw and kw["attn_mask"].dtype.kind == "f":
            kw["attn_mask"] = ts[len(leaves) - 1]
        return mha(q, k, v, need_weights=c["need_weights"], **kw)[0]

    assert gradcheck(fn, leaves + params)


@st.composite
def layer_cases(draw):
    return dict(
        N=draw(st.integers(1, 2)),
        L=draw(st.integers(1, 4)),
        H=draw(st.sampled_from([1, 2])),
        d=draw(st.integers(1, 2)),
        F=draw(st.integers(1, 5)),
        batch_first=draw(st.booleans()),
        masks=draw(st.sampled_from(["none", "padding", "padding+causal", "padding+float"])),
        seed=draw(st.integers(0, 100)),
    )


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@given(case=layer_cases())
@settings(max_examples=4)
def test_encoder_layer_gradcheck(device, norm_first, case):
    """A whole layer in training mode WITH dropout: the function is made deterministic by seeding
    the generator at each call, so the same dropout masks are drawn every time and the backward of
    every dropout is checked as well. Input, every parameter and a float mask."""
    c = case
    N, L, E = c["N"], c["L"], c["H"] * c["d"]
    minilm.manual_seed(c["seed"])
    layer = nn.TransformerEncoderLayer(
        E, c["H"], c["F"], dropout=0.2, activation="gelu", norm_first=norm_first, batch_first=c["batch_first"]
    )
    layer.double().to(device)
    x = leaf(device, (N, L, E) if c["batch_first"] else (L, N, E), seed=c["seed"])
    leaves = [x]
    kw = {}
    if "padding" in c["masks"]:
        kw["src_key_padding_mask"] = _bool(device, _padding_mask(_rng(c["seed"]), N, L))
    if "causal" in c["masks"]:
        kw["is_causal"] = True
    if "float" in c["masks"]:
        kw["src_mask"] = leaf(device, (L, L), seed=c["seed"] + 1)
        leaves.append(kw["src_mask"])

    def fn(x, *rest):
        minilm.manual_seed(7)
        if "src_mask" in kw:
            kw["src_mask"] = rest[0]
        return layer(x, **kw)

    assert gradcheck(fn, leaves + list(layer.parameters()))


def test_encoder_stack_with_final_norm_gradcheck(device):
    """Two relu layers (independent parameters) and the final LayerNorm, batch first, padded."""
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(4)).double().to(device)
    x = leaf(device, (2, 3, 4), seed=3)
    pad = _bool(device, [[False, False, True], [False, False, False]])
    assert gradcheck(lambda x, *p: encoder(x, src_key_padding_mask=pad), [x, *encoder.parameters()])


# ---------------------------------------------------------------------------------------------
# what the masks promise
# ---------------------------------------------------------------------------------------------


def test_padding_keys_get_zero_weight_and_do_not_matter(device):
    """Padded keys get weight 0, every row of weights sums to 1, and whatever the padded
    positions hold changes nothing for the real queries."""
    N, L, E = 3, 5, 6
    mha = _mha(device, E, 2, batch_first=True)
    pad = np.zeros((N, L), dtype=bool)
    pad[0, 3:] = pad[2, 1:] = True
    x = array(device, (N, L, E), seed=1)
    x2 = x.copy()
    x2[pad] = 100.0
    results = []
    for xs in (x, x2):
        t = minilm.Tensor(xs)
        results.append(mha(t, t, t, key_padding_mask=_bool(device, pad), average_attn_weights=False))
    (out, w), (out2, _) = results
    w = to_numpy(w)
    assert w.shape == (N, 2, L, L)
    assert np.all(w[np.broadcast_to(pad[:, None, None, :], w.shape)] == 0)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    real = ~to_numpy(_bool(device, pad))
    np.testing.assert_allclose(to_numpy(out.detach())[real], to_numpy(out2.detach())[real], rtol=1e-12, atol=1e-12)


def test_causal_mask_hides_the_future(device):
    """With is_causal=True, weights above the diagonal are 0 and changing a later position leaves
    the earlier outputs of a whole layer exactly as they were; the same as the -inf float mask of
    generate_square_subsequent_mask and as the bool attn_mask (True above the diagonal)."""
    L, N, E = 5, 2, 4
    mha = _mha(device, E, 2)
    x = array(device, (L, N, E), seed=1)
    t = minilm.Tensor(x)
    _, w = mha(t, t, t, is_causal=True)
    assert np.all(np.triu(to_numpy(w)[0], k=1) == 0)
    layer = nn.TransformerEncoderLayer(E, 2, 8, dropout=0.0).double().to(device)
    base = to_numpy(layer(t, is_causal=True).detach())
    x2 = x.copy()
    x2[3:] += 1.0
    changed = to_numpy(layer(minilm.Tensor(x2), is_causal=True).detach())
    np.testing.assert_array_equal(base[:3], changed[:3])
    assert not np.allclose(base[3:], changed[3:])
    float_mask = generate_square_subsequent_mask(L, device=device, dtype=minilm.float64)
    bool_mask = _bool(device, np.triu(np.ones((L, L), dtype=bool), k=1))
    for mask in (float_mask, bool_mask):
        np.testing.assert_allclose(to_numpy(layer(t, src_mask=mask).detach()), base, rtol=1e-12, atol=1e-12)


def test_bool_and_float_masks_are_the_same_rule(device):
    """A bool mask (True = not allowed) acts as the float mask with -inf at its True entries, for
    attn_mask and key_padding_mask and any mix of the two; two float masks add."""
    N, L, E, H = 2, 4, 6, 3
    mha = _mha(device, E, H, batch_first=True)
    rng = _rng(3)
    x = minilm.Tensor(array(device, (N, L, E), seed=1))
    pad = _padding_mask(rng, N, L)
    am = rng.random((L, L)) < 0.3
    am[:, 0] = False

    def as_float(m):
        return minilm.tensor(np.where(m, -np.inf, 0.0), device=device)

    def run(attn, kpm):
        return to_numpy(mha(x, x, x, attn_mask=attn, key_padding_mask=kpm)[0].detach())

    ref = run(_bool(device, am), _bool(device, pad))
    for attn, kpm in [
        (as_float(am), _bool(device, pad)),
        (_bool(device, am), as_float(pad)),
        (as_float(am), as_float(pad)),
    ]:
        np.testing.assert_allclose(run(attn, kpm), ref, rtol=1e-12, atol=1e-12)
    # additive float masks: a constant added to a whole row changes nothing (softmax is shift-invariant)
    fm = array(device, (L, L), seed=4)
    shifted = fm + array(device, (L, 1), seed=5)
    np.testing.assert_allclose(run(minilm.Tensor(fm), None), run(minilm.Tensor(shifted), None), rtol=1e-10, atol=1e-12)


def test_per_head_attn_mask_and_weights(device):
    """A 3-D attn_mask (N*H, L, S) masks each (sequence, head) pair on its own; per-head weights
    (N, H, L, S) show it, and the averaged weights are their mean over heads."""
    N, L, E, H = 2, 3, 4, 2
    mha = _mha(device, E, H, batch_first=True)
    x = minilm.Tensor(array(device, (N, L, E), seed=1))
    m = np.zeros((N * H, L, L), dtype=bool)
    m[1, :, 2] = True  # sequence 0, head 1: key 2 hidden
    m[2, :, 1] = True  # sequence 1, head 0: key 1 hidden
    mask = _bool(device, m)
    _, per_head = mha(x, x, x, attn_mask=mask, average_attn_weights=False)
    _, averaged = mha(x, x, x, attn_mask=mask)
    per_head, averaged = to_numpy(per_head), to_numpy(averaged)
    assert per_head.shape == (N, H, L, L) and averaged.shape == (N, L, L)
    hidden = m.reshape(N, H, L, L)
    assert np.all(per_head[hidden] == 0) and np.all(per_head[~hidden] > 0)
    np.testing.assert_allclose(averaged, per_head.mean(axis=1), rtol=1e-12)


def test_fully_masked_query_gives_bias_not_nan(device):
    """A query that may attend to nothing gets attention output 0, so the layer outputs just
    out_proj.bias there, and all gradients stay finite."""
    mha = _mha(device, 4, 2, batch_first=True)
    x = leaf(device, (1, 3, 4), seed=1)
    m = np.zeros((3, 3), dtype=bool)
    m[1] = True  # query 1 sees nothing
    out, w = mha(x, x, x, attn_mask=_bool(device, m))
    out.sum().backward()
    np.testing.assert_allclose(to_numpy(out.detach())[0, 1], to_numpy(mha.out_proj.bias.detach()), atol=1e-15)
    assert np.all(to_numpy(w)[0, 1] == 0)
    assert all(np.isfinite(to_numpy(p.grad)).all() for p in [x, *mha.parameters()])


def test_unbatched_and_batch_first_agree_with_the_batched_layout(device):
    """(L, E) input is a batch of one; batch_first=True on (N, L, E) is batch_first=False on the
    transposed (L, N, E), with the same weights."""
    E, H = 6, 2
    a = _mha(device, E, H)
    b = _mha(device, E, H, batch_first=True)
    b.load_state_dict(a.state_dict())
    x = array(device, (4, 3, E), seed=1)  # (L, N, E)
    out_a, w_a = a(*(minilm.Tensor(x),) * 3)
    xt = minilm.Tensor(np.ascontiguousarray(x.transpose(1, 0, 2)))
    out_b, w_b = b(xt, xt, xt)
    np.testing.assert_allclose(to_numpy(out_b.detach()).transpose(1, 0, 2), to_numpy(out_a.detach()), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(w_b), to_numpy(w_a), rtol=1e-12)
    one = minilm.Tensor(x[:, 1])
    out_1, w_1 = a(one, one, one, key_padding_mask=_bool(device, [False, False, True, False]))
    out_n, w_n = a(*(minilm.Tensor(x[:, 1:2]),) * 3, key_padding_mask=_bool(device, [[False, False, True, False]]))
    assert out_1.shape == (4, E) and w_1.shape == (4, 4)
    np.testing.assert_allclose(to_numpy(out_1.detach()), to_numpy(out_n.detach())[:, 0], rtol=1e-12)
    np.testing.assert_allclose(to_numpy(w_1), to_numpy(w_n)[0], rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# dropout, eval(), copies, parameters
# ---------------------------------------------------------------------------------------------


def test_eval_turns_dropout_off(device):
    """In training, two calls with dropout differ; in eval() they agree with each other and with
    the same layer built with dropout=0."""
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True).double().to(device)
    twin = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).double().to(device)
    twin.load_state_dict(layer.state_dict())
    x = minilm.Tensor(array(device, (2, 5, 8), seed=1))
    assert not np.allclose(to_numpy(layer(x).detach()), to_numpy(layer(x).detach()))
    layer.eval()
    assert not layer.self_attn.training and not layer.dropout1.training
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(layer(x)))
    np.testing.assert_allclose(to_numpy(layer(x)), to_numpy(twin(x).detach()), rtol=1e-12)


def test_attention_dropout_is_reproducible_and_acts_on_the_probabilities(device):
    """MHA's own dropout: the same seed gives the same output; the weights it returns are the
    probabilities before dropout (rows still sum to 1)."""
    mha = _mha(device, 4, 2, dropout=0.5, batch_first=True)
    x = minilm.Tensor(array(device, (2, 6, 4), seed=1))
    outs = []
    for _ in range(2):
        minilm.manual_seed(11)
        out, w = mha(x, x, x)
        outs.append(to_numpy(out.detach()))
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_allclose(to_numpy(w).sum(-1), 1.0, rtol=1e-12)
    mha.eval()
    assert not np.allclose(to_numpy(mha(x, x, x)[0]), outs[0])


def test_encoder_layers_are_independent_copies(device):
    """Each layer of the stack is a deep copy of the template: equal values at the start, no shared
    Parameter, and a change to one leaves the others and the template alone; copy.deepcopy of the
    whole stack is independent too."""
    template = nn.TransformerEncoderLayer(4, 2, 8).to(device)
    enc = nn.TransformerEncoder(template, 3)
    assert len(enc.layers) == 3 and all(layer is not template for layer in enc.layers)
    ids = [id(p) for p in enc.parameters()]
    assert len(ids) == len(set(ids)) == 3 * len(list(template.parameters()))
    for layer in enc.layers:
        for a, b in zip(layer.parameters(), template.parameters(), strict=True):
            np.testing.assert_array_equal(to_numpy(a), to_numpy(b))
    with minilm.no_grad():
        enc.layers[1].linear1.weight.fill_(3.0)
    assert not np.any(to_numpy(enc.layers[0].linear1.weight) == 3.0)
    assert not np.any(to_numpy(template.linear1.weight) == 3.0)
    clone = copy.deepcopy(enc)
    with minilm.no_grad():
        clone.layers[0].self_attn.in_proj_weight.fill_(5.0)
    assert not np.any(to_numpy(enc.layers[0].self_attn.in_proj_weight) == 5.0)
    x = minilm.Tensor(array(device, (3, 2, 4), seed=1, dtype=np.float32))
    enc.eval()
    clone2 = copy.deepcopy(enc)
    np.testing.assert_array_equal(to_numpy(enc(x)), to_numpy(clone2(x)))


def test_parameter_names_shapes_and_initialisation():
    """PyTorch's names and shapes; in_proj_weight ~ xavier_uniform (bound sqrt(6/(E + 3E))), the
    attention biases zero; bias=False removes every bias."""
    E, F = 32, 48
    layer = nn.TransformerEncoderLayer(E, 4, F)
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert shapes == {
        "self_attn.in_proj_weight": (3 * E, E),
        "self_attn.in_proj_bias": (3 * E,),
        "self_attn.out_proj.weight": (E, E),
        "self_attn.out_proj.bias": (E,),
        "linear1.weight": (F, E),
        "linear1.bias": (F,),
        "linear2.weight": (E, F),
        "linear2.bias": (E,),
        "norm1.weight": (E,),
        "norm1.bias": (E,),
        "norm2.weight": (E,),
        "norm2.bias": (E,),
    }
    w = to_numpy(layer.self_attn.in_proj_weight)
    bound = math.sqrt(6 / (E + 3 * E))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert not np.any(to_numpy(layer.self_attn.in_proj_bias)) and not np.any(to_numpy(layer.self_attn.out_proj.bias))
    assert layer.self_attn.head_dim == E // 4 and layer.self_attn.batch_first is False
    assert layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5 and layer.norm_first is False
    no_bias = nn.TransformerEncoderLayer(E, 4, F, bias=False)
    assert not [k for k in no_bias.state_dict() if k.endswith("bias")]
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(E))
    assert {k for k in enc.state_dict()} == {f"layers.{i}.{k}" for i in range(2) for k in shapes} | {
        "norm.weight",
        "norm.bias",
    }


def test_activation_string_or_callable(device):
    """'gelu', the nn.GELU module and a plain function give the same layer."""
    x = minilm.Tensor(array(device, (3, 2, 4), seed=1))
    outs = []
    for act in ("gelu", nn.GELU(), lambda t: nn.functional.gelu(t)):
        minilm.manual_seed(0)
        layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, activation=act).double().to(device)
        outs.append(to_numpy(layer(x).detach()))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
    np.testing.assert_allclose(outs[2], outs[0], rtol=1e-12)
    minilm.manual_seed(0)
    relu = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0).double().to(device)
    assert not np.allclose(to_numpy(relu(x).detach()), outs[0])


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=3"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(NotImplementedError, match="kdim=4"):
        nn.MultiheadAttention(6, 2, kdim=4)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(6, 2, add_bias_kv=True)
    with pytest.raises(NotImplementedError, match="add_zero_attn"):
        nn.MultiheadAttention(6, 2, add_zero_attn=True)
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu'"):
        nn.TransformerEncoderLayer(6, 2, activation="tanh")
    mha = nn.MultiheadAttention(6, 2, batch_first=True)
    x = minilm.randn(2, 3, 6)
    with pytest.raises(ValueError, match="last dimension of query .* is 5, but the module was built with embed_dim=6"):
        mha(minilm.randn(2, 3, 5), x, x)
    with pytest.raises(ValueError, match="different batch sizes"):
        mha(x, minilm.randn(1, 3, 6), minilm.randn(1, 3, 6))
    with pytest.raises(ValueError, match="key .* and value .* must have the same shape"):
        mha(x, x, minilm.randn(2, 4, 6))
    with pytest.raises(ValueError, match="query must be 3-D"):
        mha(minilm.randn(6), minilm.randn(6), minilm.randn(6))
    with pytest.raises(ValueError, match=r"key_padding_mask has shape \(3, 2\), expected \(2, 3\)"):
        mha(x, x, x, key_padding_mask=minilm.zeros(3, 2).bool())
    with pytest.raises(ValueError, match=r"attn_mask has shape \(3, 4\), expected \(3, 3\) or \(4, 3, 3\)"):
        mha(x, x, x, attn_mask=minilm.zeros(3, 4).bool())
    with pytest.raises(TypeError, match="attn_mask must be bool .* or float .*, got int64"):
        mha(x, x, x, attn_mask=minilm.zeros(3, 3, dtype=minilm.int64))
    with pytest.raises(TypeError, match="float attn_mask is float64 but the query is float32"):
        mha(x, x, x, attn_mask=minilm.zeros(3, 3, dtype=minilm.float64))
    enc = nn.SinusoidalPositionalEncoding(6, max_len=4)
    with pytest.raises(ValueError, match="5 positions but the module was built with max_len=4"):
        enc(minilm.randn(2, 5, 6))
    with pytest.raises(ValueError, match="d_model=6"):
        nn.LearnedPositionalEmbedding(8, 6)(minilm.randn(2, 5, 7))


# ---------------------------------------------------------------------------------------------
# positional encodings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d_model", [1, 6, 7])
def test_sinusoidal_encoding_is_the_formula(d_model):
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d)), element by
    element (odd d_model: the last column is a sine)."""
    pe = sinusoidal_position_encoding(20, d_model, minilm.float64)
    assert pe.shape == (20, d_model) and pe.dtype == np.float64
    for pos in range(20):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)
            assert pe[pos, j] == pytest.approx(math.sin(angle) if j % 2 == 0 else math.cos(angle), abs=1e-12)
    assert sinusoidal_position_encoding(3, 4).dtype == np.float32


def test_sinusoidal_shift_is_a_rotation():
    """PE[pos + k] is PE[pos] with each (sin, cos) pair turned by the angle k * w_i: the same
    rotation for every pos, so relative offsets are a linear map of the encoding."""
    d, k = 8, 3
    pe = sinusoidal_position_encoding(30, d, minilm.float64)
    w = 10000.0 ** (-np.arange(0, d, 2) / d)
    c, s = np.cos(k * w), np.sin(k * w)
    sin, cos = pe[:-k, 0::2], pe[:-k, 1::2]
    np.testing.assert_allclose(pe[k:, 0::2], sin * c + cos * s, atol=1e-12)
    np.testing.assert_allclose(pe[k:, 1::2], cos * c - sin * s, atol=1e-12)


@pytest.mark.parametrize("batch_first", [True, False])
def test_sinusoidal_module_adds_the_table(device, batch_first):
    """x + PE[:L] broadcast over the batch in either layout; ``pe`` is a buffer that moves with
    to() and is not saved."""
    enc = nn.SinusoidalPositionalEncoding(6, max_len=10, batch_first=batch_first).to(device).double()
    assert "pe" not in enc.state_dict() and [n for n, _ in enc.named_buffers()] == ["pe"]
    assert enc.pe.dtype == np.float64 and enc.pe.device == device
    x = array(device, (2, 4, 6) if batch_first else (4, 2, 6), seed=1)
    out = to_numpy(enc(minilm.Tensor(x)))
    pe = sinusoidal_position_encoding(4, 6, minilm.float64)
    expected = to_numpy(x) + (pe[None] if batch_first else pe[:, None])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_learned_positional_embedding_gradcheck_and_gradient(device):
    """x + weight[:L]: gradcheck, and rows beyond L get zero gradient, rows below L the batch sum
    of the upstream gradient."""
    emb = nn.LearnedPositionalEmbedding(6, 3).double().to(device)
    assert emb.weight.shape == (6, 3) and 0 < to_numpy(emb.weight).std() < 0.05
    x = leaf(device, (2, 4, 3), seed=1)
    assert gradcheck(lambda x, w: emb(x), [x, emb.weight])
    emb.weight.grad = None
    g = array(device, (2, 4, 3), seed=2)
    emb(x).backward(minilm.Tensor(g))
    grad = to_numpy(emb.weight.grad)
    np.testing.assert_allclose(grad[:4], to_numpy(g).sum(0), rtol=1e-12)
    assert not grad[4:].any()
