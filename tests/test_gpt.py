"""The GPT of chapter 09 (minilm/models/gpt.py): its config, the causal mask, the shifted loss, tied
weights, gradients, memorising a sequence, and generation (greedy, seeded sampling, top-k, top-p, eos)."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minilm
from minilm.autograd import gradcheck
from minilm.models.gpt import CausalLMOutput, GPTConfig, GPTLMHeadModel, causal_lm_loss
from minilm.models.sampling import top_k_filter
from minilm.optim import Adam
from helpers import to_numpy

V = 11


def tiny(
    vocab_size=V, n_positions=16, n_embd=8, n_layer=2, n_head=2, dropout=0.0, scale=None, device="cpu", dtype=None
):
    """A small model; ``scale`` redraws the token embeddings (and so the tied output layer) N(0, scale),
    which makes the next-token distributions peaked instead of almost uniform."""
    minilm.manual_seed(0)
    config = GPTConfig(vocab_size, n_positions, n_embd, n_layer, n_head, dropout=dropout)
    model = GPTLMHeadModel(config, device=device, dtype=dtype)
    if scale is not None:
        rng = np.random.default_rng(1)
        w = model.wte.weight
        w.data = minilm.tensor(rng.normal(0, scale, w.shape), device=device, dtype=w.dtype).data
    return model


def random_ids(shape, vocab_size=V, seed=0):
    return np.random.default_rng(seed).integers(0, vocab_size, shape)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# -- config -------------------------------------------------------------------------------------


def test_config_round_trips_through_a_dict_and_a_json_file(tmp_path):
    config = GPTConfig(vocab_size=50, n_positions=32, n_embd=24, n_layer=3, n_head=4, n_inner=40, dropout=0.2)
    assert GPTConfig.from_dict(config.to_dict()) == config
    path = tmp_path / "config.json"
    config.save(path)
    assert json.loads(path.read_text())["n_inner"] == 40
    assert GPTConfig.load(path) == config
    assert GPTConfig.load(path) != GPTConfig(vocab_size=50)
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # no temporary file left behind


def test_config_defaults_and_inner_size():
    c = GPTConfig(vocab_size=7)
    assert (c.n_positions, c.n_embd, c.n_layer, c.n_head, c.n_inner) == (256, 128, 2, 2, None)
    assert c.inner_size == 4 * 128
    assert GPTConfig(vocab_size=7, n_inner=10).inner_size == 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 0}, "vocab_size must be an integer >= 1, got 0"),
        ({"vocab_size": 10, "n_embd": 10, "n_head": 3}, "n_embd=10 must be divisible by n_head=3"),
        ({"vocab_size": 10, "dropout": 1.0}, "dropout must be a number in \\[0, 1\\), got 1.0"),
        ({"vocab_size": 10, "n_layer": 2.0}, "n_layer must be an integer"),
        ({"vocab_size": 10, "pad_token_id": 10}, "pad_token_id=10 is outside the vocabulary \\(ids 0..9\\)"),
        ({"vocab_size": 10, "layer_norm_eps": 0}, "layer_norm_eps must be a finite number > 0"),
    ],
)
def test_bad_config_values_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**kwargs)


def test_from_dict_and_load_refuse_unknown_keys_and_broken_files(tmp_path):
    with pytest.raises(ValueError, match="unknown keys \\['n_heads'\\]"):
        GPTConfig.from_dict({"vocab_size": 5, "n_heads": 2})
    with pytest.raises(ValueError, match="'vocab_size' is missing"):
        GPTConfig.from_dict({"n_embd": 8})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json' is not valid JSON"):
        GPTConfig.load(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        GPTConfig.load(tmp_path / "missing.json")


# -- structure ----------------------------------------------------------------------------------


def test_lm_head_is_tied_to_the_token_embedding_and_counted_once():
    m = tiny(n_embd=8, n_layer=2)
    assert m.lm_head.weight is m.wte.weight
    assert m.lm_head.bias is None
    E, inner, P, L = 8, 32, 16, 2
    block = (3 * E * E + 3 * E) + (E * E + E) + (E * inner + inner) + (inner * E + E) + 2 * (2 * E)
    expected = V * E + P * E + L * block + 2 * E  # wte (shared with lm_head), wpe, blocks, ln_f
    assert sum(p.numel() for p in m.parameters()) == expected
    sd = m.state_dict()
    assert "lm_head.weight" in sd and "wte.weight" in sd  # both names, as PyTorch
    # the tie survives a load_state_dict, and a loaded model computes the same logits
    other = tiny()
    other.wte.weight.data = other.wte.weight.data * 3
    other.load_state_dict(sd)
    assert other.lm_head.weight is other.wte.weight
    ids = random_ids((2, 5))
    np.testing.assert_array_equal(to_numpy(other(ids).logits), to_numpy(m(ids).logits))


def test_blocks_are_pre_norm_gelu_batch_first():
    m = tiny()
    assert len(m.h) == 2 and m.h[0] is not m.h[1]
    assert m.h[0].norm_first and m.h[0].self_attn.batch_first
    assert m.h[0].linear1.out_features == 4 * 8


def test_initialisation_follows_gpt2():
    config = GPTConfig(vocab_size=300, n_positions=64, n_embd=32, n_layer=4, n_head=2, initializer_range=0.05)
    minilm.manual_seed(3)
    m = GPTLMHeadModel(config)
    std = lambda p: float(to_numpy(p).std())  # noqa: E731
    assert std(m.wte.weight) == pytest.approx(0.05, rel=0.1)
    assert std(m.h[0].self_attn.in_proj_weight) == pytest.approx(0.05, rel=0.1)
    residual = 0.05 / math.sqrt(2 * 4)
    assert std(m.h[1].linear2.weight) == pytest.approx(residual, rel=0.1)
    assert std(m.h[1].self_attn.out_proj.weight) == pytest.approx(residual, rel=0.15)
    assert not to_numpy(m.h[0].linear1.bias).any() and not to_numpy(m.h[0].self_attn.in_proj_bias).any()
    np.testing.assert_array_equal(to_numpy(m.ln_f.weight), 1)


# -- causality and the loss ---------------------------------------------------------------------


@pytest.mark.parametrize("t", [0, 3, 8])
def test_logits_up_to_t_do_not_depend_on_later_tokens(device, t):
    m = tiny(device=device, dtype=minilm.float64)
    ids = random_ids((2, 10))
    changed = ids.copy()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + random_ids((2, 9 - t), V - 1, seed=1)) % V
    assert (changed[:, t + 1 :] != ids[:, t + 1 :]).all()
    a, b = to_numpy(m(ids).logits), to_numpy(m(changed).logits)
    assert a.shape == (2, 10, V)
    np.testing.assert_allclose(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=1e-12)
    assert np.abs(a[:, t + 1 :] - b[:, t + 1 :]).max() > 1e-6  # and later positions do see them


def test_loss_is_the_cross_entropy_of_each_next_label(device):
    m = tiny(device=device, dtype=minilm.float64)
    ids = random_ids((3, 7))
    labels = ids.copy()
    labels[0, 4] = labels[2, 1] = labels[1, 6] = -100
    out = m(ids, labels=labels)
    assert isinstance(out, CausalLMOutput)
    logp = log_softmax(to_numpy(out.logits))
    # position t predicts labels[t + 1]; written out, without any shifting helper
    terms = [-logp[n, t, labels[n, t + 1]] for n in range(3) for t in range(6) if labels[n, t + 1] != -100]
    assert len(terms) == 3 * 6 - 3
    assert out.loss.item() == pytest.approx(np.mean(terms), rel=1e-12)
    # the same through F.cross_entropy on the shifted tensors
    ce = minilm.nn.functional.cross_entropy(
        out.logits[:, :-1].reshape(-1, V), minilm.tensor(labels[:, 1:].reshape(-1), device=device)
    )
    assert out.loss.item() == pytest.approx(ce.item(), rel=1e-12)
    # the first label is never predicted: changing it changes nothing
    other = labels.copy()
    other[:, 0] = (other[:, 0] + 1) % V
    assert m(ids, labels=other).loss.item() == out.loss.item()
    assert m(ids).loss is None


def test_padding_keys_are_ignored_with_an_attention_mask():
    m = tiny(dtype=minilm.float64)
    ids = random_ids((2, 6))
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])  # row 0 is padded on the left
    other = ids.copy()
    other[0, :2] = (other[0, :2] + 3) % V  # different padding ids
    a, b = to_numpy(m(ids, attention_mask=mask).logits), to_numpy(m(other, attention_mask=mask).logits)
    np.testing.assert_allclose(a[0, 2:], b[0, 2:], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a[1], b[1])
    assert np.isfinite(a).all()
    # without the mask the real tokens do look at the padding
    assert np.abs(to_numpy(m(ids).logits)[0, 2:] - to_numpy(m(other).logits)[0, 2:]).max() > 1e-6


def test_causal_lm_loss_needs_two_positions_and_matching_labels():
    logits = minilm.randn(2, 1, V)
    with pytest.raises(ValueError, match="no next token to predict"):
        causal_lm_loss(logits, np.zeros((2, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="must have the shape of input_ids"):
        causal_lm_loss(minilm.randn(2, 3, V), np.zeros((2, 4), dtype=np.int64))


@pytest.mark.torch
def test_agrees_with_hugging_face_gpt2_given_the_same_weights():
    """minilm's GPT is GPT-2 (with exact gelu): Hugging Face's GPT2LMHeadModel, given the same
    weights, computes the same logits and the same shifted loss. GPT-2 stores its projections as
    ``Conv1D`` (in, out), the transpose of a Linear's weight."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    m = tiny(dtype=minilm.float64)
    rng = np.random.default_rng(3)
    for p in m.parameters():  # every weight non-trivial, LayerNorm ones included
        p.data = rng.normal(0, 0.5, p.shape)
    c = m.config
    hf_config = transformers.GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.n_positions, n_embd=c.n_embd, n_layer=c.n_layer, n_head=c.n_head,
        activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        layer_norm_epsilon=c.layer_norm_eps, bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    hf = transformers.GPT2LMHeadModel(hf_config).double().eval()
    sd = {k: to_numpy(v) for k, v in m.state_dict().items()}
    state = {"transformer.wte.weight": sd["wte.weight"], "transformer.wpe.weight": sd["wpe.weight"]}
    state |= {"transformer.ln_f.weight": sd["ln_f.weight"], "transformer.ln_f.bias": sd["ln_f.bias"]}
    state["lm_head.weight"] = sd["lm_head.weight"]
    for i in range(c.n_layer):
        ours, theirs = f"h.{i}.", f"transformer.h.{i}."
        for a, b, transpose in [
            ("norm1", "ln_1", False), ("norm2", "ln_2", False), ("linear1", "mlp.c_fc", True),
            ("linear2", "mlp.c_proj", True), ("self_attn.out_proj", "attn.c_proj", True),
        ]:  # fmt: skip
            state[theirs + b + ".weight"] = sd[ours + a + ".weight"].T if transpose else sd[ours + a + ".weight"]
            state[theirs + b + ".bias"] = sd[ours + a + ".bias"]
        state[theirs + "attn.c_attn.weight"] = sd[ours + "self_attn.in_proj_weight"].T
        state[theirs + "attn.c_attn.bias"] = sd[ours + "self_attn.in_proj_bias"]
    hf.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=True)
    ids = random_ids((2, 9))
    labels = ids.copy()
    labels[0, 3] = -100
    ours = m(ids, labels=labels)
    with torch.no_grad():
        theirs = hf(torch.from_numpy(ids), labels=torch.from_numpy(labels))
    np.testing.assert_allclose(to_numpy(ours.logits), theirs.logits.numpy(), rtol=1e-9, atol=1e-9)
    assert ours.loss.item() == pytest.approx(theirs.loss.item(), rel=1e-6)  # HF computes its loss in float32


# -- gradients ----------------------------------------------------------------------------------


def test_gradcheck_of_the_loss_with_respect_to_parameters():
    m = tiny(n_embd=4, n_layer=2, n_positions=8, dtype=minilm.float64, scale=0.5)
    ids = random_ids((2, 5))
    labels = ids.copy()
    labels[1, 2] = -100
    params = [m.wte.weight, m.wpe.weight, m.h[0].self_attn.in_proj_weight, m.h[1].linear2.bias, m.ln_f.weight]
    assert all(p.dtype == minilm.float64 for p in params)
    # wte is used twice (input lookup and tied output layer): its gradient must be the sum of both
    assert gradcheck(lambda *ps: m(ids, labels=labels).loss, params, samples=12)


def test_tied_gradient_is_the_sum_of_both_uses():
    m = tiny(dtype=minilm.float64, scale=0.5)
    ids = random_ids((2, 5))
    m(ids, labels=ids).loss.backward()
    both = to_numpy(m.wte.weight.grad)
    unused = sorted(set(range(V)) - set(ids.ravel().tolist()))
    assert unused  # a token never read still gets a gradient, through the output layer
    assert np.abs(both[unused]).max() > 0


# -- learning and generating --------------------------------------------------------------------


def test_a_tiny_gpt_memorises_a_sequence_and_greedy_generation_reproduces_it():
    seq = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3])  # repeats: the context decides
    m = tiny(n_positions=16, n_embd=32, n_layer=2, n_head=2)
    opt = Adam(m.parameters(), lr=1e-2)
    ids = seq[None]
    first = None
    for _ in range(150):
        loss = m(ids, labels=ids).loss
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > math.log(V) - 0.5  # it started near uniform
    assert loss.item() < 0.05
    out = m.generate(seq[:3], max_new_tokens=13, do_sample=False)
    np.testing.assert_array_equal(out, seq)
    assert m.training  # generate restored the training mode


def test_greedy_generate_takes_the_argmax_step_by_step(device):
    m = tiny(scale=1.0, device=device, dtype=minilm.float64)
    prompt = random_ids((2, 3))
    out = m.generate(prompt, max_new_tokens=5, do_sample=False)
    assert out.shape == (2, 8) and out.dtype == np.int64
    np.testing.assert_array_equal(out[:, :3], prompt)
    logits = to_numpy(m(out).logits)  # causal: logits at t are those generate saw at step t
    np.testing.assert_array_equal(out[:, 3:], logits[:, 2:-1].argmax(-1))
    one = m.generate(prompt[1], max_new_tokens=5, do_sample=False)
    assert one.shape == (8,)
    np.testing.assert_array_equal(one, out[1])


def test_generate_runs_in_eval_mode_and_restores_the_mode():
    m = tiny(dropout=0.5, scale=1.0)
    prompt = random_ids((1, 4))
    out = m.generate(prompt, max_new_tokens=4, do_sample=False)
    assert m.training
    m.eval()
    np.testing.assert_array_equal(out[:, 4:], to_numpy(m(out).logits)[:, 3:-1].argmax(-1))  # no dropout
    m.generate(prompt, max_new_tokens=1)
    assert not m.training


def test_sampling_is_reproducible_with_a_seed_and_with_manual_seed():
    m = tiny(scale=0.3)
    prompt = random_ids((4, 2))
    a = m.generate(prompt, 8, temperature=1.5, seed=7)
    np.testing.assert_array_equal(a, m.generate(prompt, 8, temperature=1.5, seed=7))
    assert (a != m.generate(prompt, 8, temperature=1.5, seed=8)).any()
    minilm.manual_seed(5)
    b = m.generate(prompt, 8)
    minilm.manual_seed(5)
    np.testing.assert_array_equal(b, m.generate(prompt, 8))


def _step_logits(model, out, prompt_len):
    """The logits (N, new, V) each step of generate chose from, recomputed in one causal pass."""
    return to_numpy(model(out).logits)[:, prompt_len - 1 : -1]


@settings(max_examples=8)
@given(k=st.integers(1, 4), temperature=st.sampled_from([0.7, 1.0, 3.0]), seed=st.integers(0, 2**31))
def test_sampling_never_leaves_the_top_k(k, temperature, seed):
    m = tiny(scale=1.0, dtype=minilm.float64)
    prompt = random_ids((6, 2), seed=seed % 1000)
    out = m.generate(prompt, 6, temperature=temperature, top_k=k, seed=seed)
    logits = _step_logits(m, out, 2)
    allowed = np.isfinite(top_k_filter(logits, k))
    chosen = np.take_along_axis(allowed, out[:, 2:, None], axis=-1)
    assert chosen.all()


@settings(max_examples=8)
@given(p=st.floats(0.05, 0.95), temperature=st.sampled_from([0.5, 1.0, 2.0]), seed=st.integers(0, 2**31))
def test_sampling_never_leaves_the_nucleus(p, temperature, seed):
    m = tiny(scale=1.0, dtype=minilm.float64)
    prompt = random_ids((6, 2), seed=seed % 1000)
    out = m.generate(prompt, 6, temperature=temperature, top_p=p, seed=seed)
    logits = _step_logits(m, out, 2) / temperature
    probs = np.exp(log_softmax(logits))
    chosen = np.take_along_axis(probs, out[:, 2:, None], axis=-1)
    # a token is in the nucleus when the tokens more likely than it hold less than p
    ahead = np.where(probs > chosen, probs, 0).sum(-1)
    assert (ahead < p + 1e-9).all()


def test_generation_stops_at_eos_and_pads_rows_that_ended():
    m = tiny(scale=1.0, dtype=minilm.float64)
    prompt = random_ids((2, 3), seed=4)
    free = m.generate(prompt, 6, do_sample=False)
    eos = int(free[0, 3])  # row 0's first new token
    out = m.generate(prompt, 6, do_sample=False, eos_token_id=eos)
    hits = np.flatnonzero(free[1, 3:] == eos)
    if len(hits):  # both rows end: generation stops when row 1 produces eos
        assert out.shape[1] == 3 + hits[0] + 1
    else:
        assert out.shape[1] == 9
    np.testing.assert_array_equal(out[1], free[1, : out.shape[1]])
    assert out[0, 3] == eos and (out[0, 4:] == m.config.pad_token_id).all()
    single = m.generate(prompt[0], 6, do_sample=False, eos_token_id=eos)
    np.testing.assert_array_equal(single, free[0, :4])  # one row: stops right after eos


def test_generation_past_n_positions_slides_the_window():
    m = tiny(n_positions=6, dtype=minilm.float64)
    rng = np.random.default_rng(2)
    for p in m.parameters():  # large random weights: every token of the context sways the choice
        p.data = rng.normal(0, 1.0, p.shape)
    out = m.generate(random_ids((8, 5)), max_new_tokens=6, do_sample=False)
    assert out.shape == (8, 11)
    shorter_window_differs = False
    for t in range(6, 11):  # the token at t was chosen from the 6 tokens before it
        np.testing.assert_array_equal(out[:, t], to_numpy(m(out[:, t - 6 : t]).logits)[:, -1].argmax(-1))
        shorter_window_differs |= (out[:, t] != to_numpy(m(out[:, t - 5 : t]).logits)[:, -1].argmax(-1)).any()
    assert shorter_window_differs  # so the check above can tell a window of 6 from one of 5


# -- errors -------------------------------------------------------------------------------------


def test_ids_outside_the_vocabulary_and_bad_shapes_are_named():
    m = tiny()
    with pytest.raises(ValueError, match="token id 11 at position \\(1, 2\\) is outside the vocabulary of size 11"):
        m(np.array([[0, 1, 2], [3, 4, 11]]))
    with pytest.raises(ValueError, match="token id -1"):
        m(np.array([[0, -1]]))
    with pytest.raises(ValueError, match="must be \\(N, T\\) token ids.*one sequence: ids\\[None\\]"):
        m(np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integer token ids, got dtype float"):
        m(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="17 tokens but the model reads at most n_positions=16"):
        m(random_ids((1, 17)))
    with pytest.raises(ValueError, match="attention_mask \\(2, 3\\) must have the shape of input_ids \\(2, 4\\)"):
        m(random_ids((2, 4)), attention_mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="only 1 \\(token\\) and 0"):
        m(random_ids((1, 4)), attention_mask=np.array([[1, 2, 1, 1]]))
    with pytest.raises(IndexError, match="target 11 is out of range for 11 classes"):
        m(random_ids((1, 4)), labels=np.array([[0, 1, 2, 11]]))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_ids": random_ids((1, 17))}, ValueError, "prompt has 17 tokens.*n_positions=16.*ids\\[..., -16:\\]"),
        ({"input_ids": [[]]}, ValueError, "the prompt is empty"),
        ({"input_ids": [[1, 12]]}, ValueError, "token id 12 .* outside the vocabulary of size 11"),
        ({"temperature": -1.0}, ValueError, "temperature must be a finite number >= 0.*-1.0"),
        ({"temperature": float("nan")}, ValueError, "temperature.*nan"),
        ({"top_p": 0.0}, ValueError, "top_p must be in \\(0, 1\\].*got 0.0"),
        ({"top_p": 1.2}, ValueError, "top_p must be in \\(0, 1\\].*got 1.2"),
        ({"top_k": 0}, ValueError, "top_k must be from 1 to the vocabulary size 11, got 0"),
        ({"top_k": 12}, ValueError, "top_k must be from 1 to the vocabulary size 11, got 12"),
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens must be an integer >= 0, got -1"),
        ({"eos_token_id": 11}, ValueError, "eos_token_id=11 is outside the vocabulary of size 11"),
    ],
)
def test_bad_generate_arguments_are_named(kwargs, error, message):
    m = tiny()
    args = {"input_ids": [[1, 2]], "max_new_tokens": 3, **kwargs}
    with pytest.raises(error, match=message):
        m.generate(**args)
    assert m.training  # the error came before anything changed
