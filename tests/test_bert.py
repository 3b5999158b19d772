"""BERT (minilm.models.bert) and its Hugging Face checkpoints (minilm.models.hf_bert): shapes, the tied
decoder, MLM logits only at the labelled positions, the losses, padding, gradients, learning, and
loading/saving checkpoints, including broken ones and (with torch + transformers) real HF models."""

import json
import os
import warnings

import numpy as np
import pytest

import minilm
from minilm.autograd import gradcheck
from minilm.data import Vocab, WordPieceTokenizer
from minilm.models.bert import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    labelled_positions,
)
from minilm.models.hf_bert import (
    PretrainedLoadError,
    from_pretrained,
    save_pretrained,
    state_dict_from_hf,
    state_dict_to_hf,
)
from minilm.nn import functional as F
from minilm.nn.parameter import Parameter
from minilm.safetensors import write_safetensors
from helpers import to_numpy

V, H, LAYERS, HEADS, FF, POS = 40, 16, 2, 4, 32, 24


def config(**kw) -> BertConfig:
    sizes = dict(
        vocab_size=V,
        hidden_size=H,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FF,
        max_position_embeddings=POS,
    )
    sizes.update(kw)
    return BertConfig(**sizes)


def tiny(cls=BertForPreTraining, device="cpu", dtype=minilm.float64, dropout=0.0, std=0.2, **kw):
    """A small BERT with dropout off (by default) and weights larger than BERT's 0.02, so that the
    attention is far from uniform and every part of the model matters for the outputs."""
    minilm.manual_seed(0)
    cfg = config(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, initializer_range=std)
    return cls(cfg, device=device, dtype=dtype, **kw)


def ids(N=3, L=7, seed=0, low=5):
    return np.random.default_rng(seed).integers(low, V, (N, L))


def mlm_labels(input_ids, seed=1, p=0.3):
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(input_ids.shape) < p, input_ids, -100)
    labels[0, 1] = input_ids[0, 1]  # at least one labelled position
    return labels


def log_softmax_np(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


def test_output_shapes(device):
    x = ids(3, 7)
    out = tiny(BertModel, device).eval()(x)
    assert out.last_hidden_state.shape == (3, 7, H) and out.pooler_output.shape == (3, H)
    assert tiny(BertModel, device, add_pooling_layer=False)(x).pooler_output is None
    pt = tiny(BertForPreTraining, device)(x)
    assert pt.mlm_logits.shape == (3, 7, V) and pt.nsp_logits.shape == (3, 2) and pt.mlm_positions is None
    assert pt.loss is None and pt.mlm_loss is None and pt.nsp_loss is None
    assert tiny(BertForSequenceClassification, device, num_labels=5)(x).logits.shape == (3, 5)


def test_inputs_are_checked():
    m = tiny(BertModel)
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        m(np.arange(5))
    with pytest.raises(ValueError, match="max_position_embeddings"):
        m(ids(1, POS + 1))
    with pytest.raises(ValueError, match="attention_mask"):
        m(ids(2, 4), attention_mask=np.full((2, 4), 2))
    with pytest.raises(ValueError, match="shape"):
        m(ids(2, 4), token_type_ids=np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(IndexError, match=str(V)):
        m(np.array([[1, V]]))


def test_decoder_is_the_word_embedding_and_its_gradient_is_the_sum_of_both_uses():
    m = tiny()
    word = m.bert.embeddings.word_embeddings.weight
    assert m.cls.predictions.decoder.weight is word
    assert sum(p is word for p in m.parameters()) == 1  # the optimizer sees it once
    x, labels = ids(), mlm_labels(ids())
    m(x, labels=labels, next_sentence_label=[0, 1, 1]).loss.backward()
    tied_grad = to_numpy(word.grad).copy()

    # the same model with the decoder a separate (equal) Parameter: the two gradients must add up
    untied = tiny()
    untied.cls.predictions.decoder.weight = Parameter(minilm.tensor(to_numpy(word).copy()))
    untied(x, labels=labels, next_sentence_label=[0, 1, 1]).loss.backward()
    g_embed = to_numpy(untied.bert.embeddings.word_embeddings.weight.grad)
    g_decode = to_numpy(untied.cls.predictions.decoder.weight.grad)
    assert np.abs(g_embed).max() > 0 and np.abs(g_decode).max() > 0
    np.testing.assert_allclose(tied_grad, g_embed + g_decode, rtol=1e-10, atol=1e-13)


def test_mlm_logits_at_labelled_positions_equal_the_full_logits_there(device):
    m = tiny(device=device).eval()
    x = ids(3, 7)
    labels = mlm_labels(x)
    full = m(x)
    sparse = m(x, labels=labels)
    positions = np.flatnonzero(labels.reshape(-1) != -100)
    np.testing.assert_array_equal(to_numpy(sparse.mlm_positions), positions)
    assert sparse.mlm_logits.shape == (len(positions), V)
    np.testing.assert_allclose(
        to_numpy(sparse.mlm_logits), to_numpy(full.mlm_logits).reshape(-1, V)[positions], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(to_numpy(sparse.nsp_logits), to_numpy(full.nsp_logits), atol=1e-12)


def test_the_fast_mlm_loss_has_the_gradient_of_the_full_computation():
    x = ids(2, 6)
    labels = mlm_labels(x, p=0.4)
    fast = tiny()
    fast(x, labels=labels).loss.backward()
    slow = tiny()
    logits = slow(x).mlm_logits  # every position, (N, L, V)
    F.cross_entropy(logits, minilm.tensor(labels)).backward()  # ignore_index=-100 skips the rest
    for (name, p), q in zip(fast.named_parameters(), slow.parameters(), strict=True):
        if name.startswith("cls.seq_relationship") or name.startswith("bert.pooler"):
            continue  # only NSP uses them
        np.testing.assert_allclose(to_numpy(p.grad), to_numpy(q.grad), rtol=1e-9, atol=1e-12, err_msg=name)


def test_labelled_positions_are_flat_indices():
    labels = minilm.tensor([[-100, 3, -100], [7, -100, 2]])
    np.testing.assert_array_equal(to_numpy(labelled_positions(labels)), [1, 3, 5])


def test_a_batch_without_masked_tokens_gives_no_mlm_rows_and_no_mlm_gradient():
    m = tiny()
    x = ids()
    out = m(x, labels=np.full(x.shape, -100), next_sentence_label=[0, 1, 0])
    assert out.mlm_logits.shape == (0, V) and out.mlm_positions.shape == (0,)
    assert out.mlm_loss.item() == 0.0
    out.loss.backward()
    assert np.all(to_numpy(m.cls.predictions.bias.grad) == 0)
    assert np.abs(to_numpy(m.cls.seq_relationship.weight.grad)).max() > 0


def test_losses_are_the_mean_cross_entropies():
    m = tiny().eval()
    x = ids(3, 7)
    labels, nsp = mlm_labels(x), np.array([0, 1, 1])
    out = m(x, labels=labels, next_sentence_label=nsp)
    logp = log_softmax_np(to_numpy(m(x).mlm_logits))
    rows = labels != -100
    expected_mlm = -logp[rows, labels[rows]].mean()
    expected_nsp = -log_softmax_np(to_numpy(out.nsp_logits))[np.arange(3), nsp].mean()
    assert out.mlm_loss.item() == pytest.approx(expected_mlm, rel=1e-10)
    assert out.nsp_loss.item() == pytest.approx(expected_nsp, rel=1e-10)
    assert out.loss.item() == pytest.approx(expected_mlm + expected_nsp, rel=1e-10)
    only_mlm = m(x, labels=labels)
    assert only_mlm.nsp_loss is None and only_mlm.loss.item() == pytest.approx(expected_mlm, rel=1e-10)
    only_nsp = m(x, next_sentence_label=nsp)
    assert only_nsp.mlm_loss is None and only_nsp.loss.item() == pytest.approx(expected_nsp, rel=1e-10)


def test_classification_losses():
    x = ids(4, 5)
    clf = tiny(BertForSequenceClassification, num_labels=3).eval()
    y = np.array([0, 2, 1, 2])
    out = clf(x, labels=y)
    expected = -log_softmax_np(to_numpy(out.logits))[np.arange(4), y].mean()
    assert out.loss.item() == pytest.approx(expected, rel=1e-10)
    reg = tiny(BertForSequenceClassification, num_labels=1).eval()
    target = np.array([0.5, -1.0, 2.0, 0.0])
    out = reg(x, labels=target)
    assert out.logits.shape == (4, 1)
    assert out.loss.item() == pytest.approx(((to_numpy(out.logits)[:, 0] - target) ** 2).mean(), rel=1e-10)


def test_padding_does_not_change_the_real_tokens(device):
    m = tiny(BertModel, device).eval()
    a, b = ids(1, 6, seed=3)[0], ids(1, 4, seed=4)[0]
    alone_a = m(a[None]).last_hidden_state
    alone_b = m(b[None], token_type_ids=[[0, 0, 1, 1]])
    # one batch: b padded to 9 with junk ids (the mask must hide them), a padded to 9 too
    L = 9
    batch = np.random.default_rng(5).integers(0, V, (2, L))
    batch[0, :6], batch[1, :4] = a, b
    mask = np.zeros((2, L), dtype=np.int64)
    mask[0, :6], mask[1, :4] = 1, 1
    types = np.zeros((2, L), dtype=np.int64)
    types[1, 2:4] = 1
    out = m(batch, attention_mask=mask, token_type_ids=types)
    h = to_numpy(out.last_hidden_state)
    as_float = m(batch, attention_mask=mask.astype(np.float32), token_type_ids=types).last_hidden_state
    np.testing.assert_array_equal(to_numpy(as_float), h)  # Hugging Face users pass float masks too
    np.testing.assert_allclose(h[0, :6], to_numpy(alone_a)[0], atol=1e-11)
    np.testing.assert_allclose(h[1, :4], to_numpy(alone_b.last_hidden_state)[0], atol=1e-11)
    np.testing.assert_allclose(to_numpy(out.pooler_output)[1], to_numpy(alone_b.pooler_output)[0], atol=1e-11)
    # without the mask the padding does change them (so the test above can fail)
    unmasked = to_numpy(m(batch, token_type_ids=types).last_hidden_state)
    assert np.abs(unmasked[1, :4] - h[1, :4]).max() > 1e-3


def test_eval_is_deterministic_and_training_uses_dropout():
    m = tiny(dropout=0.1)
    x = ids()
    m.eval()
    first, second = m(x).mlm_logits, m(x).mlm_logits
    np.testing.assert_array_equal(to_numpy(first), to_numpy(second))
    m.train()
    a, b = to_numpy(m(x).mlm_logits), to_numpy(m(x).mlm_logits)
    assert np.abs(a - b).max() > 1e-6


def test_dropouts_are_berts():
    cfg = config(hidden_dropout_prob=0.25, attention_probs_dropout_prob=0.125)
    m = BertModel(cfg)
    for layer in m.encoder.layers:
        assert layer.self_attn.dropout == 0.125
        assert layer.dropout1.p == layer.dropout2.p == 0.25
        assert layer.dropout.p == 0.0  # BERT has no dropout between the activation and linear2
    assert m.embeddings.dropout.p == 0.25


def test_initialisation_is_berts():
    m = BertForPreTraining(config(hidden_size=64, num_attention_heads=4, vocab_size=500, initializer_range=0.05))
    word = to_numpy(m.bert.embeddings.word_embeddings.weight)
    assert np.all(word[0] == 0)  # the padding row
    assert np.std(word[1:]) == pytest.approx(0.05, rel=0.05)
    qkv = to_numpy(m.bert.encoder.layers[0].self_attn.in_proj_weight)
    assert np.std(qkv) == pytest.approx(0.05, rel=0.05)
    for name, p in m.named_parameters():
        if name.endswith("bias"):
            assert np.all(to_numpy(p) == 0), name
        if "LayerNorm" in name or "norm" in name:
            assert np.all(to_numpy(p) == (1 if name.endswith("weight") else 0)), name


# ---------------------------------------------------------------------------------------------
# the config
# ---------------------------------------------------------------------------------------------


def test_config_round_trips_through_json(tmp_path):
    cfg = config(hidden_act="relu", layer_norm_eps=1e-6, pad_token_id=3)
    assert BertConfig.from_dict(cfg.to_dict()) == cfg
    cfg.save(tmp_path / "bert.json")
    assert BertConfig.load(tmp_path / "bert.json") == cfg
    assert json.loads((tmp_path / "bert.json").read_text())["hidden_act"] == "relu"


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="hidden_sise"):
        BertConfig.from_dict({"hidden_sise": 8})
    with pytest.raises(ValueError, match="not divisible"):
        BertConfig(hidden_size=10, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(hidden_act="swish")
    with pytest.raises(ValueError, match="hidden_dropout_prob"):
        BertConfig(hidden_dropout_prob=1.5)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BertConfig.load(tmp_path / "bad.json")


# ---------------------------------------------------------------------------------------------
# gradients and learning
# ---------------------------------------------------------------------------------------------


def test_gradcheck_of_a_tiny_bert():
    minilm.manual_seed(0)
    cfg = BertConfig(
        vocab_size=11,
        hidden_size=8,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=12,
        max_position_embeddings=8,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.3,
    )
    m = BertForPreTraining(cfg, dtype=minilm.float64)
    x = np.array([[2, 5, 7, 3, 6, 0], [2, 9, 4, 8, 3, 0]])
    mask = np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]])
    types = np.array([[0, 0, 0, 1, 1, 0], [0, 0, 1, 1, 0, 0]])
    labels = np.array([[-100, 5, -100, -100, 6, -100], [-100, -100, 4, 8, -100, -100]])
    layer = m.bert.encoder.layers[0]
    params = [
        m.bert.embeddings.word_embeddings.weight,
        m.bert.embeddings.position_embeddings.weight,
        layer.self_attn.in_proj_weight,
        layer.linear1.weight,
        layer.norm1.weight,
        m.bert.pooler.dense.weight,
        m.cls.predictions.transform.dense.weight,
        m.cls.predictions.bias,
    ]

    def loss(*_):
        return m(x, attention_mask=mask, token_type_ids=types, labels=labels, next_sentence_label=[0, 1]).loss

    assert gradcheck(loss, params, samples=12)


def test_a_tiny_bert_overfits_one_batch():
    m = tiny(dtype=minilm.float32, std=0.02)
    x = ids(4, 8, seed=7)
    labels = mlm_labels(x, p=0.4)
    nsp = [0, 1, 0, 1]
    opt = minilm.optim.AdamW(m.parameters(), lr=5e-3, weight_decay=0.0)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = m(x, labels=labels, next_sentence_label=nsp).loss
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 3.0  # about log(V) + log(2) at the start
    assert losses[-1] < losses[0] / 8, losses[::20]


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------


def tokenizer():
    words = [f"w{i}" for i in range(V - 5)]
    return WordPieceTokenizer(Vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))


@pytest.mark.parametrize("kind", ["base", "pretraining", "classification"])
def test_save_pretrained_then_from_pretrained_gives_the_same_model(tmp_path, kind):
    cls = {"base": BertModel, "pretraining": BertForPreTraining, "classification": BertForSequenceClassification}
    extra = {"num_labels": 3} if kind == "classification" else {}
    m = tiny(cls[kind], **extra).eval()
    tok = tokenizer()
    save_pretrained(m, tok, tmp_path / "ckpt")
    assert sorted(os.listdir(tmp_path / "ckpt")) == [
        "config.json",
        "model.safetensors",
        "tokenizer_config.json",
        "vocab.txt",
    ]
    loaded, tok2 = from_pretrained(tmp_path / "ckpt", model=kind, dtype=minilm.float64, **extra)
    assert type(loaded) is type(m) and not loaded.training
    assert tok2.vocab.tokens == tok.vocab.tokens and tok2.lowercase == tok.lowercase
    x, mask = ids(2, 5), np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    a, b = m(x, attention_mask=mask), loaded(x, attention_mask=mask)
    for field in ("last_hidden_state", "pooler_output", "mlm_logits", "nsp_logits", "logits"):
        if hasattr(a, field):
            np.testing.assert_array_equal(to_numpy(getattr(a, field)), to_numpy(getattr(b, field)), err_msg=field)
    if kind == "pretraining":
        assert loaded.cls.predictions.decoder.weight is loaded.bert.embeddings.word_embeddings.weight


def hf_tensors(cfg: BertConfig, prefix="", pooler=True, seed=0) -> dict:
    """Random weights under Hugging Face's names (spelled out here, independently of hf_bert)."""
    rng = np.random.default_rng(seed)
    h, ff = cfg.hidden_size, cfg.intermediate_size
    shapes = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, h),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for i in range(cfg.num_hidden_layers):
        layer = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            shapes[layer + name + ".weight"], shapes[layer + name + ".bias"] = (h, h), (h,)
        shapes[layer + "intermediate.dense.weight"], shapes[layer + "intermediate.dense.bias"] = (ff, h), (ff,)
        shapes[layer + "output.dense.weight"], shapes[layer + "output.dense.bias"] = (h, ff), (h,)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[layer + name + ".weight"], shapes[layer + name + ".bias"] = (h,), (h,)
    if pooler:
        shapes["pooler.dense.weight"], shapes["pooler.dense.bias"] = (h, h), (h,)
    out = {prefix + k: rng.normal(0, 0.2, s).astype(np.float32) for k, s in shapes.items()}
    out[prefix + "embeddings.position_ids"] = np.arange(cfg.max_position_embeddings, dtype=np.int64)[None]
    return out


def hf_config_json(cfg: BertConfig, **changes) -> dict:
    d = cfg.to_dict()
    d.update(
        model_type="bert",
        architectures=["BertModel"],
        position_embedding_type="absolute",
        transformers_version="4.8.2",
        use_cache=True,
    )
    d.update(changes)
    return d


def write_checkpoint(directory, cfg, tensors, config_changes=None, vocab=True):
    os.makedirs(directory, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(hf_config_json(cfg, **(config_changes or {}))))
    write_safetensors(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    if vocab:
        tokenizer().save_vocab_file(directory / "vocab.txt")
    return directory


@pytest.mark.parametrize("prefix", ["", "bert."])
def test_a_hugging_face_checkpoint_lands_in_the_right_places(tmp_path, prefix):
    cfg = config()
    t = hf_tensors(cfg, prefix)
    m, tok = from_pretrained(write_checkpoint(tmp_path / "hf", cfg, t), dtype=minilm.float64)
    assert isinstance(m, BertModel) and tok.vocab_size == V
    p = prefix + "encoder.layer.1."
    layer = m.bert.encoder.layers[1] if hasattr(m, "bert") else m.encoder.layers[1]
    qkv = to_numpy(layer.self_attn.in_proj_weight)
    np.testing.assert_array_equal(qkv[:H], t[p + "attention.self.query.weight"])
    np.testing.assert_array_equal(qkv[H : 2 * H], t[p + "attention.self.key.weight"])
    np.testing.assert_array_equal(qkv[2 * H :], t[p + "attention.self.value.weight"])
    np.testing.assert_array_equal(to_numpy(layer.self_attn.in_proj_bias)[H : 2 * H], t[p + "attention.self.key.bias"])
    pairs = {
        "self_attn.out_proj.weight": "attention.output.dense.weight",
        "norm1.bias": "attention.output.LayerNorm.bias",
        "linear1.weight": "intermediate.dense.weight",
        "linear2.bias": "output.dense.bias",
        "norm2.weight": "output.LayerNorm.weight",
    }
    own = m.state_dict()
    for ours, theirs in pairs.items():
        np.testing.assert_array_equal(to_numpy(own["encoder.layers.1." + ours]), t[p + theirs])
    np.testing.assert_array_equal(to_numpy(m.pooler.dense.bias), t[prefix + "pooler.dense.bias"])
    # and back: state_dict_to_hf gives Hugging Face's names and values again
    back = state_dict_to_hf(m)
    assert set(back) == {k[len(prefix) :] for k in t if not k.endswith("position_ids")}
    for k, v in back.items():
        np.testing.assert_array_equal(to_numpy(v), t[prefix + k])


def test_a_checkpoint_without_pooler_gives_a_base_model_without_one(tmp_path):
    cfg = config()
    m, _ = from_pretrained(write_checkpoint(tmp_path / "hf", cfg, hf_tensors(cfg, pooler=False)))
    assert m.pooler is None
    assert m.embeddings.word_embeddings.weight.dtype == minilm.float32


def test_a_classifier_from_a_base_checkpoint_keeps_a_fresh_head_and_says_so(tmp_path):
    cfg = config()
    t = hf_tensors(cfg)
    with pytest.warns(UserWarning, match="classifier.weight"):
        m, _ = from_pretrained(write_checkpoint(tmp_path / "hf", cfg, t), model="classification", num_labels=4)
    assert m.classifier.weight.shape == (4, H)
    np.testing.assert_array_equal(to_numpy(m.bert.pooler.dense.weight), t["pooler.dense.weight"])


def test_a_pretraining_checkpoint_loads_into_the_base_model_without_its_heads(tmp_path):
    m = tiny(BertForPreTraining).eval()
    save_pretrained(m, tokenizer(), tmp_path / "pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is freshly initialised
        base, _ = from_pretrained(tmp_path / "pt", model="base", dtype=minilm.float64)
    x = ids(2, 5)
    np.testing.assert_array_equal(to_numpy(base(x).last_hidden_state), to_numpy(m.bert(x).last_hidden_state))


def broken(tmp_path, name, **kw):
    cfg = config()
    return cfg, write_checkpoint(tmp_path / name, cfg, hf_tensors(cfg), **kw)


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "vocab.txt"])
def test_a_missing_file_is_named(tmp_path, missing):
    _, d = broken(tmp_path, "ckpt")
    os.remove(d / missing)
    with pytest.raises(PretrainedLoadError, match=missing.replace(".", r"\.")):
        from_pretrained(d)


def test_pickled_weights_are_refused_with_a_hint(tmp_path):
    _, d = broken(tmp_path, "ckpt")
    os.remove(d / "model.safetensors")
    (d / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(PretrainedLoadError, match="pickle"):
        from_pretrained(d)


def test_a_missing_key_is_named(tmp_path):
    cfg = config()
    t = hf_tensors(cfg)
    del t["encoder.layer.1.attention.self.value.bias"]
    with pytest.raises(PretrainedLoadError, match=r"encoder\.layer\.1\.attention\.self\.value\.bias"):
        from_pretrained(write_checkpoint(tmp_path / "c", cfg, t))


def test_a_wrong_shape_is_named(tmp_path):
    cfg = config()
    t = hf_tensors(cfg)
    t["encoder.layer.0.intermediate.dense.weight"] = np.zeros((FF + 1, H), np.float32)
    with pytest.raises(PretrainedLoadError, match=r"intermediate\.dense\.weight.*\(33, 16\).*\(32, 16\)"):
        from_pretrained(write_checkpoint(tmp_path / "c", cfg, t))


def test_an_extra_key_is_named(tmp_path):
    cfg = config()
    t = hf_tensors(cfg)
    t["encoder.layer.0.attention.self.rotary.weight"] = np.zeros((2,), np.float32)
    with pytest.raises(PretrainedLoadError, match=r"rotary"):
        from_pretrained(write_checkpoint(tmp_path / "c", cfg, t))


def test_a_partial_head_is_an_error(tmp_path):
    cfg = config()
    t = hf_tensors(cfg)
    del t["pooler.dense.bias"]
    with pytest.raises(PretrainedLoadError, match=r"pooler\.dense\.bias"):
        from_pretrained(write_checkpoint(tmp_path / "c", cfg, t))


@pytest.mark.parametrize(
    "change, named",
    [
        ({"hidden_act": "gelu_new"}, "gelu_new"),
        ({"position_embedding_type": "relative_key"}, "relative_key"),
        ({"is_decoder": True}, "is_decoder"),
        ({"model_type": "roberta"}, "roberta"),
        ({"hidden_size": 15}, "not divisible"),
    ],
)
def test_an_unsupported_config_value_is_named(tmp_path, change, named):
    _, d = broken(tmp_path, "c", config_changes=change)
    with pytest.raises(PretrainedLoadError, match=named):
        from_pretrained(d)


def test_unknown_config_settings_warn(tmp_path):
    _, d = broken(tmp_path, "c", config_changes={"frobnicate": 3})
    with pytest.warns(UserWarning, match="frobnicate"):
        from_pretrained(d)


def test_an_untied_decoder_is_refused(tmp_path):
    m = tiny(BertForPreTraining)
    t = {k: to_numpy(v) for k, v in state_dict_to_hf(m).items()}
    t["cls.predictions.decoder.weight"] = t["bert.embeddings.word_embeddings.weight"] + 1
    with pytest.raises(PretrainedLoadError, match="untied"):
        state_dict_from_hf(t, tiny(BertForPreTraining))
    t["cls.predictions.decoder.weight"] = t["bert.embeddings.word_embeddings.weight"].copy()  # tied: fine
    state = state_dict_from_hf(t, tiny(BertForPreTraining))
    np.testing.assert_array_equal(to_numpy(state["cls.predictions.bias"]), t["cls.predictions.bias"])


def test_tokenizer_settings_come_from_tokenizer_config(tmp_path):
    _, d = broken(tmp_path, "c")
    (d / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "strip_accents": None}))
    _, tok = from_pretrained(d)
    assert tok.lowercase is False
    (d / "tokenizer_config.json").write_text(json.dumps({"mask_token": "<mask>"}))
    with pytest.raises(PretrainedLoadError, match="<mask>"):
        from_pretrained(d)


# ---------------------------------------------------------------------------------------------
# agreement with Hugging Face transformers (skipped without torch and transformers)
# ---------------------------------------------------------------------------------------------


def _transformers():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    return torch, transformers


def _hf_config(transformers, **kw):
    return transformers.BertConfig(
        vocab_size=V,
        hidden_size=H,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=FF,
        max_position_embeddings=POS,
        initializer_range=0.2,
        **kw,
    )


def _save_hf(model, tokenizer_, directory):
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer_.save_vocab_file(os.path.join(directory, "vocab.txt"))
    return directory


@pytest.mark.torch
def test_a_transformers_bert_for_pretraining_gives_the_same_outputs(tmp_path):
    torch, transformers = _transformers()
    torch.manual_seed(0)
    hf = transformers.BertForPreTraining(_hf_config(transformers)).double().eval()
    with torch.no_grad():  # make the MLM bias and LayerNorms non-trivial, so a mix-up would show
        for name, p in hf.named_parameters():
            if "bias" in name or "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    d = _save_hf(hf, tokenizer(), str(tmp_path / "hf"))
    m, _ = from_pretrained(d, model="pretraining", dtype=minilm.float64)
    x, types = ids(2, 7), np.random.default_rng(2).integers(0, 2, (2, 7))
    mask = np.ones((2, 7), dtype=np.int64)
    mask[1, 5:] = 0
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(x), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types))
    ours = m(x, attention_mask=mask, token_type_ids=types)
    np.testing.assert_allclose(to_numpy(ours.mlm_logits)[0], theirs.prediction_logits.numpy()[0], atol=1e-10)
    np.testing.assert_allclose(to_numpy(ours.mlm_logits)[1, :5], theirs.prediction_logits.numpy()[1, :5], atol=1e-10)
    np.testing.assert_allclose(to_numpy(ours.nsp_logits), theirs.seq_relationship_logits.numpy(), atol=1e-10)
    labels = mlm_labels(x)
    with torch.no_grad():
        hf_loss = hf(
            input_ids=torch.tensor(x),
            token_type_ids=torch.tensor(types),
            labels=torch.tensor(labels),
            next_sentence_label=torch.tensor([1, 0]),
        ).loss
    ours = m(x, token_type_ids=types, labels=labels, next_sentence_label=[1, 0])
    assert ours.loss.item() == pytest.approx(hf_loss.item(), rel=1e-10)


@pytest.mark.torch
def test_a_transformers_bert_model_and_classifier_give_the_same_outputs(tmp_path):
    torch, transformers = _transformers()
    torch.manual_seed(1)
    hf = transformers.BertModel(_hf_config(transformers)).eval()  # float32, keys without "bert."
    m, _ = from_pretrained(_save_hf(hf, tokenizer(), str(tmp_path / "base")))
    x = ids(3, 6)
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(x))
    ours = m(x)
    np.testing.assert_allclose(to_numpy(ours.last_hidden_state), theirs.last_hidden_state.numpy(), atol=2e-5)
    np.testing.assert_allclose(to_numpy(ours.pooler_output), theirs.pooler_output.numpy(), atol=2e-5)

    clf = transformers.BertForSequenceClassification(_hf_config(transformers, num_labels=3)).eval()
    m, _ = from_pretrained(_save_hf(clf, tokenizer(), str(tmp_path / "clf")), model="classification", num_labels=3)
    with torch.no_grad():
        theirs = clf(input_ids=torch.tensor(x)).logits.numpy()
    np.testing.assert_allclose(to_numpy(m(x).logits), theirs, atol=2e-5)


@pytest.mark.torch
def test_transformers_loads_what_save_pretrained_writes(tmp_path):
    torch, transformers = _transformers()
    m = tiny(BertForPreTraining, dtype=minilm.float32).eval()
    save_pretrained(m, tokenizer(), tmp_path / "ours")
    hf = transformers.BertForPreTraining.from_pretrained(str(tmp_path / "ours")).eval()
    x = ids(2, 6)
    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(x))
    ours = m(x)
    np.testing.assert_allclose(to_numpy(ours.mlm_logits), theirs.prediction_logits.numpy(), atol=2e-5)
    np.testing.assert_allclose(to_numpy(ours.nsp_logits), theirs.seq_relationship_logits.numpy(), atol=2e-5)
    # and the tokenizer files are Hugging Face's too
    hf_tok = transformers.BertTokenizer.from_pretrained(str(tmp_path / "ours"))
    assert hf_tok("w3 w12")["input_ids"] == tokenizer().encode("w3 w12", add_special_tokens=True)
