"""Examples for pretraining and fine-tuning BERT: sentence pairs (NSP), text chunks (MLM), labelled texts.

BERT was pretrained on two games played on the same inputs:

- **masked language modelling** (MLM): guess hidden tokens (the masking itself happens per batch,
  in ``minilm.data.masking``; this module only makes the token sequences);
- **next sentence prediction** (NSP): given two pieces of text A and B, say whether B is the text
  that really follows A in its document (``next_sentence_label`` 0, "IsNext") or a piece of some
  other document (1, "NotNext"); the two labels in equal shares. (These are Hugging Face's label
  values.)

An NSP example is laid out as BERT reads it, with segment ids telling the two parts apart::

    tokens           [CLS] the cook baked a pie . [SEP] it was sweet . [SEP]
    token_type_ids     0    0   0    0   0  0  0   0     1   1    1  1   1
                     \\___________ A ______________/     \\_______ B _______/

The functions return plain lists of dicts of Python ints; a ``DataLoader`` with an
``MLMCollator`` turns them into padded, masked batches::

    docs = corpus.documents(2000)                                   # or lists of sentence strings
    examples = make_nsp_examples(docs, tok, max_length=64, seed=0)
    loader = DataLoader(examples, batch_size=32, shuffle=True, collate_fn=MLMCollator(tok))

- ``make_nsp_examples(documents, tokenizer, max_length=64, seed=0, nsp_probability=0.5)``
- ``make_mlm_examples(texts, tokenizer, max_length=64)``: ``[CLS] chunk [SEP]``, one segment, no NSP
- ``classification_examples(texts, labels, tokenizer, max_length=64)``: for fine-tuning

The steps of ``make_nsp_examples`` are small functions of their own (``take_sentences``,
``random_segment``, ``truncate_pair``, ``pair_example``), to read and to rewrite one at a time.
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = [
    "classification_examples",
    "make_mlm_examples",
    "make_nsp_examples",
    "pair_example",
    "random_segment",
    "take_sentences",
    "tokenize_documents",
    "truncate_pair",
]

#: How many special tokens surround an NSP pair: [CLS] A [SEP] B [SEP].
PAIR_SPECIALS = 3


# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------


def _check_max_length(max_length, at_least: int, layout: str, what: str) -> int:
    """``max_length`` as an int, or a ValueError saying why it cannot hold ``layout``."""
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)):
        raise TypeError(f"{what}: max_length must be an integer, got {max_length!r}")
    if max_length < at_least:
        raise ValueError(
            f"{what}: max_length={max_length} is too small for {layout}: that needs at least {at_least} tokens "
            f"(the special tokens plus one token of text per part)"
        )
    return int(max_length)


def _check_texts(texts, what: str) -> list[str]:
    """``texts`` as a list of strings, or an error naming the first item that is not one."""
    if isinstance(texts, str):
        raise TypeError(f"{what}: expected a list of texts, got one string; wrap it in a list")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = " (for corpus Documents pass [d.text for d in docs])" if hasattr(t, "sentences") else ""
            raise TypeError(f"{what}: text {i} is a {type(t).__name__}, not a string{hint}")
    return texts


def _document_sentences(doc, index: int) -> list[str]:
    """The sentences of one document: a list of strings, or anything with ``.sentences``
    (a ``corpus.Document``)."""
    sentences = getattr(doc, "sentences", doc)
    if isinstance(sentences, str):
        raise TypeError(
            f"make_nsp_examples: document {index} is one string; a document must be a list of its sentences "
            "(NSP needs to know where one sentence ends and the next begins)"
        )
    sentences = list(sentences)
    for j, s in enumerate(sentences):
        if not isinstance(s, str):
            raise TypeError(
                f"make_nsp_examples: sentence {j} of document {index} is a {type(s).__name__}, not a string"
            )
    return sentences


# ---------------------------------------------------------------------------------------------
# next sentence prediction, step by step
# ---------------------------------------------------------------------------------------------


def tokenize_documents(documents, tokenizer) -> list[list[list[int]]]:
    """Token ids of every sentence of every document (``docs[d][s]`` is a list of ids); sentences
    that encode to no token at all (empty strings) are left out."""
    if isinstance(documents, str):
        raise TypeError("make_nsp_examples: expected a list of documents, got one string")
    out = []
    for d, doc in enumerate(documents):
        ids = (tokenizer.encode(s) for s in _document_sentences(doc, d))
        out.append([s for s in ids if s])
    return out


def take_sentences(sentences: list[list[int]], start: int, budget: int, at_least: int = 1) -> int:
    """How many sentences, from ``sentences[start]`` on, fill ``budget`` tokens: the fewest whose
    lengths add up to ``budget`` or more (the last one may overshoot; truncation trims it later), but
    at least ``at_least`` and never more than the document has left."""
    count, total = 0, 0
    while start + count < len(sentences) and (total < budget or count < at_least):
        total += len(sentences[start + count])
        count += 1
    return count


def random_segment(
    docs: list[list[list[int]]], sources: list[int], exclude: int, budget: int, rng: np.random.Generator
) -> list[int]:
    """A "NotNext" B: consecutive sentences of a random document other than ``exclude``.

    The document is drawn uniformly from ``sources`` (the indices of the documents that have
    sentences; at least two), drawing again whenever it is ``exclude``, A's own document. Its first
    sentence is drawn uniformly, then sentences are taken until ``budget`` tokens (at least one
    sentence). So B reads like real text, only not the text that follows A.
    """
    source = exclude
    while source == exclude:
        source = sources[int(rng.integers(len(sources)))]
    other = docs[source]
    start = int(rng.integers(len(other)))
    count = take_sentences(other, start, max(budget, 1))
    return [i for s in other[start : start + count] for i in s]


def truncate_pair(a: list[int], b: list[int], max_tokens: int) -> tuple[list[int], list[int]]:
    """Shorten A and B until ``len(a) + len(b) <= max_tokens``, one token at a time from the longer
    of the two (from B when they are equal), so neither loses everything.

    A loses tokens at its START and B at its END: the two ends where A meets B stay whole, and with
    them the clue that B follows A. (Google's BERT code cuts either end at random; Hugging Face's
    ``longest_first`` cuts the end of both.) ``max_tokens`` must be at least 2.
    """
    la, lb = len(a), len(b)
    while la + lb > max_tokens:
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return a[len(a) - la :], b[:lb]


def pair_example(a: list[int], b: list[int], tokenizer, next_sentence_label: int) -> dict:
    """One NSP example: ``[CLS] a [SEP] b [SEP]``, segment ids 0 for ``[CLS] a [SEP]`` and 1 for ``b [SEP]``."""
    return {
        "input_ids": [tokenizer.cls_id, *a, tokenizer.sep_id, *b, tokenizer.sep_id],
        "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
        "next_sentence_label": int(next_sentence_label),
    }


def make_nsp_examples(documents, tokenizer, max_length=64, seed=0, nsp_probability=0.5) -> list[dict]:
    """Sentence-pair examples for MLM + NSP: dicts ``{input_ids, token_type_ids, next_sentence_label}``.

    ``documents``: a list of documents, each a list of sentence strings (or ``corpus.Document``
    objects). Each document is walked from its first sentence:

    1. ``take_sentences``: a chunk of consecutive sentences filling the ``max_length - 3`` tokens the
       pair may hold (at least two sentences: A needs something to be followed by);
    2. A is the first ``k`` sentences of the chunk, ``k`` drawn uniformly from 1 .. len(chunk) - 1;
    3. with probability ``nsp_probability``: B is a ``random_segment`` of a DIFFERENT document, label 1
       (NotNext), and the sentences of the chunk after A are kept for the next example; otherwise B is
       the rest of the chunk, the text that really follows A, label 0 (IsNext);
    4. ``truncate_pair`` trims the pair to ``max_length - 3`` tokens (A at its start, B at its end);
       ``pair_example`` lays it out as ``[CLS] A [SEP] B [SEP]``.

    Every example is at most ``max_length`` tokens. A document of one sentence gives no example of
    its own but may lend B's to others; likewise a document's last sentence, when it is left over
    alone, starts no pair (it has no next sentence). The same ``seed`` gives the same examples.
    """
    max_length = _check_max_length(max_length, PAIR_SPECIALS + 2, "[CLS] a [SEP] b [SEP]", "make_nsp_examples")
    nsp_probability = float(nsp_probability)
    if not 0.0 <= nsp_probability <= 1.0:
        raise ValueError(
            f"make_nsp_examples: nsp_probability must be between 0 and 1 (BERT: 0.5), got {nsp_probability}"
        )
    docs = tokenize_documents(documents, tokenizer)
    sources = [d for d, sents in enumerate(docs) if sents]
    if len(sources) < 2:
        raise ValueError(
            f"make_nsp_examples: got {len(docs)} document(s), {len(sources)} with any text; NSP needs at least 2 "
            "documents, since a NotNext B must come from a different document than its A"
        )
    if not any(len(sents) >= 2 for sents in docs):
        raise ValueError(
            "make_nsp_examples: no document has two sentences, so no sentence has a next one; "
            "pass each document as the list of its sentences"
        )
    budget = max_length - PAIR_SPECIALS
    rng = np.random.default_rng(seed)
    examples = []
    for d, sents in enumerate(docs):
        start = 0
        while start < len(sents) - 1:
            count = take_sentences(sents, start, budget, at_least=2)
            k = int(rng.integers(1, count))
            a = [i for s in sents[start : start + k] for i in s]
            if rng.random() < nsp_probability:
                b, label = random_segment(docs, sources, d, budget - len(a), rng), 1
                start += k
            else:
                b, label = [i for s in sents[start + k : start + count] for i in s], 0
                start += count
            a, b = truncate_pair(a, b, budget)
            examples.append(pair_example(a, b, tokenizer, label))
    return examples


# ---------------------------------------------------------------------------------------------
# masked language modelling alone, and classification
# ---------------------------------------------------------------------------------------------


def make_mlm_examples(texts, tokenizer, max_length=64) -> list[dict]:
    """MLM examples without NSP: ``{input_ids, token_type_ids}`` with ``input_ids = [CLS] chunk [SEP]``.

    Each text is encoded and, if longer than ``max_length - 2`` tokens, cut into the fewest chunks
    that fit, of nearly equal length (so that no example is a lone leftover token). Texts are never
    glued together: pass whole documents (``d.text``) for long examples, sentences for short ones.
    Empty texts give no example. ``token_type_ids`` are all 0 (one segment).
    """
    max_length = _check_max_length(max_length, 3, "[CLS] text [SEP]", "make_mlm_examples")
    texts = _check_texts(texts, "make_mlm_examples")
    budget = max_length - 2
    examples = []
    for text in texts:
        ids = tokenizer.encode(text)
        if not ids:
            continue
        n_chunks = -(-len(ids) // budget)
        for chunk in np.array_split(np.asarray(ids, dtype=np.int64), n_chunks):
            row = [tokenizer.cls_id, *chunk.tolist(), tokenizer.sep_id]
            examples.append({"input_ids": row, "token_type_ids": [0] * len(row)})
    return examples


def classification_examples(texts, labels, tokenizer, max_length=64) -> list[dict]:
    """Fine-tuning examples ``{input_ids, token_type_ids, label}``: ``[CLS] text [SEP]`` and the class.

    A text longer than ``max_length - 2`` tokens keeps its first ``max_length - 2`` (its ``[SEP]``
    stays). ``labels`` holds one integer class per text.
    """
    max_length = _check_max_length(max_length, 3, "[CLS] text [SEP]", "classification_examples")
    texts = _check_texts(texts, "classification_examples")
    labels = list(labels)
    if len(texts) != len(labels):
        raise ValueError(
            f"classification_examples: got {len(texts)} texts but {len(labels)} labels; give one label per text"
        )
    examples = []
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        try:
            label = operator.index(label)
        except TypeError:
            raise TypeError(
                f"classification_examples: label {i} is {label!r}; a class label must be an integer (0, 1, ...)"
            ) from None
        ids = [tokenizer.cls_id, *tokenizer.encode(text)[: max_length - 2], tokenizer.sep_id]
        examples.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "label": int(label)})
    return examples
