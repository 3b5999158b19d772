"""Pretraining and fine-tuning examples: NSP pairs, MLM chunks, labelled texts, and their road through a DataLoader."""

import math
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS, Vocab, WordPieceTokenizer, corpus
from minilm.data.collate import IGNORE_INDEX
from minilm.data.loader import DataLoader
from minilm.data.masking import MLMCollator
from minilm.data.pretraining import (
    classification_examples,
    make_mlm_examples,
    make_nsp_examples,
    truncate_pair,
)

# ---------------------------------------------------------------------------------------------
# synthetic documents whose every token says where it comes from
# ---------------------------------------------------------------------------------------------

WORD = re.compile(r"d(\d+)s(\d+)w(\d+)")


def synthetic(lengths):
    """Documents from ``lengths[d][s]`` (words in sentence s of document d): word w of that sentence is
    the token ``d{d}s{s}w{w}``, so any token id tells its document, sentence and place. Returns the
    documents (lists of sentence strings) and a tokenizer that knows every word."""
    docs = [[" ".join(f"d{d}s{s}w{w}" for w in range(n)) for s, n in enumerate(doc)] for d, doc in enumerate(lengths)]
    words = [w for doc in docs for s in doc for w in s.split()]
    return docs, WordPieceTokenizer(Vocab(list(SPECIAL_TOKENS) + words))


def where(tok, ids):
    """(document, sentence, word) of each token id."""
    return [tuple(int(g) for g in WORD.fullmatch(tok.id_to_token(i)).groups()) for i in ids]


def flat_position(lengths, d, s, w):
    """The place of word w of sentence s in document d's token stream."""
    return sum(lengths[d][:s]) + w


def split_pair(tok, example):
    """A and B of ``[CLS] A [SEP] B [SEP]``, after checking that layout and the segment ids."""
    ids, types = example["input_ids"], example["token_type_ids"]
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id
    seps = [i for i, t in enumerate(ids) if t == tok.sep_id]
    assert len(seps) == 2, "exactly two [SEP]: after A and after B"
    a, b = ids[1 : seps[0]], ids[seps[0] + 1 : -1]
    assert len(a) >= 1 and len(b) >= 1
    assert types == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return a, b


def check_run(tok, lengths, ids):
    """``ids`` are consecutive tokens of ONE document; return (document, first flat position, last flat position)."""
    places = where(tok, ids)
    docs = {d for d, _, _ in places}
    assert len(docs) == 1, f"a segment mixes documents {docs}"
    d = docs.pop()
    flat = [flat_position(lengths, *p) for p in places]
    assert flat == list(range(flat[0], flat[0] + len(flat))), "a segment must be consecutive text"
    return d, places[0], places[-1]


doc_lengths = st.lists(st.lists(st.integers(1, 12), min_size=1, max_size=8), min_size=2, max_size=8)


# ---------------------------------------------------------------------------------------------
# make_nsp_examples
# ---------------------------------------------------------------------------------------------


@given(doc_lengths, st.integers(5, 40), st.integers(0, 2**31), st.sampled_from([0.0, 0.5, 1.0]))
def test_nsp_pairs_are_laid_out_and_labelled_truthfully(lengths, max_length, seed, p):
    assume(any(len(doc) >= 2 for doc in lengths))
    docs, tok = synthetic(lengths)
    examples = make_nsp_examples(docs, tok, max_length=max_length, seed=seed, nsp_probability=p)
    assert examples
    for ex in examples:
        assert set(ex) == {"input_ids", "token_type_ids", "next_sentence_label"}
        assert len(ex["input_ids"]) <= max_length
        a, b = split_pair(tok, ex)
        doc_a, _, (_, s_end, w_end) = check_run(tok, lengths, a)
        doc_b, (_, s_start, w_start), _ = check_run(tok, lengths, b)
        # A ends where a sentence ends, B starts where a sentence starts (truncation cuts A's start, B's end)
        assert w_end == lengths[doc_a][s_end] - 1 and w_start == 0
        if ex["next_sentence_label"] == 0:  # IsNext: B is the text right after A
            assert doc_b == doc_a and s_start == s_end + 1
        else:  # NotNext: B comes from another document
            assert ex["next_sentence_label"] == 1 and doc_b != doc_a
    if p in (0.0, 1.0):
        assert {ex["next_sentence_label"] for ex in examples} == {int(p)}


@given(doc_lengths, st.integers(0, 2**31))
def test_without_truncation_a_document_becomes_one_pair_holding_all_of_it(lengths, seed):
    assume(any(len(doc) >= 2 for doc in lengths))
    docs, tok = synthetic(lengths)
    longest = max(sum(doc) for doc in lengths)
    examples = make_nsp_examples(docs, tok, max_length=longest + 3, seed=seed, nsp_probability=0.0)
    whole = [d for d, doc in enumerate(lengths) if len(doc) >= 2]
    assert len(examples) == len(whole)
    for d, ex in zip(whole, examples, strict=True):
        a, b = split_pair(tok, ex)
        assert [p[0] for p in where(tok, a + b)] == [d] * sum(lengths[d])
        assert check_run(tok, lengths, a + b)[1] == (d, 0, 0)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_nsp_label_rate_is_nsp_probability(p):
    rng = np.random.default_rng(0)
    lengths = [rng.integers(2, 9, size=rng.integers(4, 12)).tolist() for _ in range(600)]
    docs, tok = synthetic(lengths)
    labels = np.array([ex["next_sentence_label"] for ex in make_nsp_examples(docs, tok, 24, seed=1, nsp_probability=p)])
    n = len(labels)
    assert n > 1000
    assert abs(labels.sum() - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_nsp_examples_are_seeded():
    rng = np.random.default_rng(2)
    lengths = [rng.integers(2, 9, size=6).tolist() for _ in range(20)]
    docs, tok = synthetic(lengths)
    first = make_nsp_examples(docs, tok, 32, seed=3)
    assert first == make_nsp_examples(docs, tok, 32, seed=3)
    assert first != make_nsp_examples(docs, tok, 32, seed=4)


def test_corpus_documents_become_nsp_pairs(corpus_tok, corpus_docs):
    examples = make_nsp_examples(corpus_docs, corpus_tok, max_length=48, seed=0)
    # Document objects and lists of sentence strings give the same examples
    assert examples == make_nsp_examples([d.sentences for d in corpus_docs], corpus_tok, max_length=48, seed=0)
    labels = np.array([ex["next_sentence_label"] for ex in examples])
    n = len(labels)
    assert abs(labels.sum() - n / 2) <= 5 * math.sqrt(n / 4)
    for ex in examples:
        assert len(ex["input_ids"]) <= 48
        split_pair(corpus_tok, ex)
    # the pairs are well filled: truncation trims only what overshoots
    assert np.mean([len(ex["input_ids"]) for ex in examples]) > 0.75 * 48


@given(st.integers(1, 30), st.integers(1, 30), st.integers(2, 40))
def test_truncate_pair_trims_the_longer_side_far_from_the_seam(la, lb, max_tokens):
    a, b = list(range(la)), list(range(100, 100 + lb))
    ta, tb = truncate_pair(a, b, max_tokens)
    assert len(ta) + len(tb) == min(la + lb, max_tokens)
    assert ta == a[la - len(ta) :] and tb == b[: len(tb)]  # A keeps its end, B its start
    assert len(ta) >= 1 and len(tb) >= 1
    if la + lb > max_tokens:  # trimmed pairs are balanced unless one side was short to begin with
        assert abs(len(ta) - len(tb)) <= 1 or min(len(ta), len(tb)) == min(la, lb)


def test_nsp_errors_are_clear():
    docs, tok = synthetic([[3, 4], [2, 2]])
    with pytest.raises(ValueError, match=r"too small for \[CLS\] a \[SEP\] b \[SEP\]"):
        make_nsp_examples(docs, tok, max_length=4)
    with pytest.raises(ValueError, match="at least 2 documents"):
        make_nsp_examples(docs[:1], tok)
    with pytest.raises(ValueError, match="at least 2 documents"):
        make_nsp_examples([docs[0], ["", ""]], tok)
    with pytest.raises(ValueError, match="no document has two sentences"):
        make_nsp_examples([docs[0][:1], docs[1][:1]], tok)
    with pytest.raises(TypeError, match="document 1 is one string"):
        make_nsp_examples([docs[0], " ".join(docs[1])], tok)
    with pytest.raises(ValueError, match="nsp_probability"):
        make_nsp_examples(docs, tok, nsp_probability=1.5)


# ---------------------------------------------------------------------------------------------
# make_mlm_examples and classification_examples
# ---------------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.integers(3, 20))
def test_mlm_examples_chunk_each_text_into_nearly_equal_pieces(lengths, max_length):
    docs, tok = synthetic([lengths])
    texts = [*docs[0], ""]
    examples = make_mlm_examples(texts, tok, max_length=max_length)
    budget = max_length - 2
    at = 0
    for text in texts:
        ids = tok.encode(text)
        n_chunks = -(-len(ids) // budget)
        mine = examples[at : at + n_chunks]
        at += n_chunks
        for ex in mine:
            row = ex["input_ids"]
            assert row[0] == tok.cls_id and row[-1] == tok.sep_id and len(row) <= max_length
            assert ex["token_type_ids"] == [0] * len(row)
        pieces = [ex["input_ids"][1:-1] for ex in mine]
        assert sum(pieces, []) == ids
        if pieces:
            assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
    assert at == len(examples)


def test_classification_examples(corpus_tok):
    reviews = corpus.reviews(60, seed=0)["train"]
    examples = classification_examples(reviews.texts, reviews.labels, corpus_tok, max_length=12)
    assert [ex["label"] for ex in examples] == list(reviews.labels)
    for text, ex in zip(reviews.texts, examples, strict=True):
        ids = corpus_tok.encode(text)
        assert ex["input_ids"] == [corpus_tok.cls_id, *ids[:10], corpus_tok.sep_id]
        assert ex["token_type_ids"] == [0] * len(ex["input_ids"])
    assert any(len(corpus_tok.encode(t)) > 10 for t in reviews.texts), "some text must be truncated"
    with pytest.raises(ValueError, match="got 3 texts but 2 labels"):
        classification_examples(["a", "b", "c"], [0, 1], corpus_tok)
    with pytest.raises(TypeError, match="label 1 is 'pos'"):
        classification_examples(["a", "b"], [0, "pos"], corpus_tok)
    with pytest.raises(TypeError, match="one string"):
        make_mlm_examples("a text", corpus_tok)
    with pytest.raises(ValueError, match=r"too small for \[CLS\] text \[SEP\]"):
        make_mlm_examples(["a text"], corpus_tok, max_length=2)


# ---------------------------------------------------------------------------------------------
# end to end: examples -> DataLoader + MLMCollator -> batches
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_docs():
    return corpus.documents(120, seed=0)


@pytest.fixture(scope="module")
def corpus_tok(corpus_docs):
    return WordPieceTokenizer().train([s for d in corpus_docs for s in d.sentences], vocab_size=600)


def test_nsp_examples_through_a_dataloader_with_the_mlm_collator(corpus_tok, corpus_docs):
    tok = corpus_tok
    examples = make_nsp_examples(corpus_docs, tok, max_length=40, seed=0)
    loader = DataLoader(examples, batch_size=16, shuffle=True, bucket_size=4, collate_fn=MLMCollator(tok, seed=1))
    nsp_labels, real_tokens, chosen, ordinary = [], 0, 0, 0
    for batch in loader:
        b = {k: v.numpy() for k, v in batch.items()}
        assert set(b) == {"input_ids", "token_type_ids", "attention_mask", "labels", "next_sentence_label"}
        n, width = b["input_ids"].shape
        assert width <= 40 and b["next_sentence_label"].shape == (n,)
        real = b["attention_mask"] == 1
        lab = b["labels"]
        assert (lab[~real] == IGNORE_INDEX).all() and (b["token_type_ids"][~real] == 0).all()
        # the layout survives masking: [CLS] first, segment ids 0 then 1, [SEP]s never masked
        assert (b["input_ids"][:, 0] == tok.cls_id).all() and (lab[:, 0] == IGNORE_INDEX).all()
        assert (np.diff(b["token_type_ids"] * real, axis=1)[real[:, 1:]] >= 0).all()
        assert (lab[lab != IGNORE_INDEX] != tok.sep_id).all()
        nsp_labels += b["next_sentence_label"].tolist()
        real_tokens += int(real.sum())
        chosen += int((lab != IGNORE_INDEX).sum())
        ordinary += int(real.sum()) - 3 * n
    assert sorted(nsp_labels) == sorted(ex["next_sentence_label"] for ex in examples)
    assert real_tokens == sum(len(ex["input_ids"]) for ex in examples)
    assert abs(chosen - 0.15 * ordinary) <= 5 * math.sqrt(ordinary * 0.15 * 0.85)


def test_mlm_and_classification_examples_through_dataloaders(corpus_tok, corpus_docs):
    tok = corpus_tok
    examples = make_mlm_examples([d.text for d in corpus_docs[:30]], tok, max_length=32)
    batch = next(iter(DataLoader(examples, batch_size=8, collate_fn=MLMCollator(tok, pad_to_multiple_of=8))))
    assert batch["input_ids"].shape == batch["labels"].shape == (8, 32)
    assert (batch["labels"].numpy() != IGNORE_INDEX).any()
    reviews = corpus.reviews(40, seed=1)["train"]
    items = classification_examples(reviews.texts, reviews.labels, tok, max_length=24)
    batch = next(iter(DataLoader(items, batch_size=5, pad_id=tok.pad_id)))
    assert batch["label"].tolist() == list(reviews.labels[:5])
    assert batch["input_ids"].shape[1] <= 24
