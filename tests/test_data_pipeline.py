"""The road from raw text to a model's input, end to end: dataset -> tokenizer -> DataLoader -> Embedding."""

import numpy as np
import pytest

import minilm
from minilm import nn
from minilm.data import (
    ByteLevelBPETokenizer,
    DataLoader,
    LMWindows,
    Tokenizer,
    WordPieceTokenizer,
    datasets,
)


@pytest.fixture(scope="module")
def reviews():
    return datasets.load("bundled-reviews", "train").texts[:300], datasets.load("bundled-reviews", "train").labels[:300]


def test_reviews_become_padded_batches_a_model_can_eat(reviews, tmp_path):
    texts, labels = reviews
    tok = WordPieceTokenizer().train(texts, vocab_size=400)
    tok.save(tmp_path / "tok.json")
    tok = Tokenizer.load(tmp_path / "tok.json")
    items = []
    for text, label in zip(texts, labels, strict=True):
        ids, segments = tok.encode_pair(text, "so there .")
        items.append({"input_ids": ids, "token_type_ids": segments, "label": label})
    loader = DataLoader(items, batch_size=32, shuffle=True, seed=1, bucket_size=4, pad_id=tok.pad_id)
    embed = nn.Embedding(tok.vocab_size, 8, padding_idx=tok.pad_id)
    seen = []
    for batch in loader:
        ids, mask, types = batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
        assert ids.shape == mask.shape == types.shape and ids.dtype == minilm.int64
        ids_np, mask_np = ids.numpy(), mask.numpy()
        assert (ids_np[:, 0] == tok.cls_id).all()
        # padding is exactly where the mask is 0, and each row ends with [SEP] before its padding
        assert ((ids_np == tok.pad_id) == (mask_np == 0)).all()
        last = mask_np.sum(axis=1) - 1
        assert (ids_np[np.arange(len(ids_np)), last] == tok.sep_id).all()
        out = embed(ids)
        assert out.shape == (*ids.shape, 8)
        assert np.all(out.detach().numpy()[mask_np == 0] == 0)  # padding_idx rows are zero
        seen.extend(batch["label"].numpy().tolist())
    assert sorted(seen) == sorted(labels)


def test_a_document_stream_becomes_lm_windows():
    lines = datasets.load("bundled", "validation")
    tok = ByteLevelBPETokenizer().train(lines, vocab_size=600)
    stream = [i for line in lines for i in tok.encode(line + "\n")]
    windows = LMWindows(stream, batch_size=4, bptt=35)
    rows = [[] for _ in range(4)]
    for x, y in windows:
        assert x.shape == y.shape and x.shape[0] == 4
        assert (x.numpy()[:, 1:] == y.numpy()[:, :-1]).all()
        for r in range(4):
            rows[r] += x.numpy()[r].tolist()
    for r in range(4):
        rows[r].append(int(y.numpy()[r, -1]))  # the last target closes each row
    # the rows, one after another, are the stream (without the tail batchify drops) ...
    n = len(stream) // 4
    assert sum(rows, []) == stream[: 4 * n]
    assert len(windows) == -(-(n - 1) // 35)
    # ... and decode back to the text
    text = "".join(line + "\n" for line in lines)
    assert text.startswith(tok.decode(sum(rows, [])))
