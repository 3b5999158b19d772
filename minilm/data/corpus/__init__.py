"""The bundled corpus: English-like text generated from a small grammar, the same for every seed.

minilm ships no third-party text. Instead this package writes its own, deterministically, in
under a second: documents about twelve topics for language modelling and pretraining, and short
reviews with a sentiment label for fine-tuning. Everything is made from the word lists in
``topics.py`` (about 1,500 distinct words in the default corpus) by the rules in ``grammar.py``,
``discourse.py`` and ``sentiment.py``, so a learner can read exactly what structure there is to
learn::

    from minilm.data import corpus
    docs = corpus.documents(n=2000, seed=0)       # list[Document]
    docs[0].topic, docs[0].sentences[:2]          # 'school', ['Lena was a student.', 'Lena wanted a bottle.']
    reviews = corpus.reviews(n=6000, seed=0)      # {'train': Split, 'validation': Split, 'test': Split}
    reviews["train"].texts[0], reviews["train"].labels[0]
    lines = corpus.sentences(n=10000, seed=0)     # list[str], the documents' sentences in order

API:

- ``documents(n=2000, seed=0, min_sentences=5, max_sentences=15, topics=None) -> list[Document]``;
  a ``Document`` has ``.topic`` (str), ``.sentences`` (list[str]) and ``.text`` (one string).
  Document ``i`` depends only on ``seed`` and ``i``, so a smaller ``n`` gives a prefix.
- ``sentences(n=10000, seed=0) -> list[str]``: the sentences of ``documents(seed=seed)``, in order,
  cut at ``n``.
- ``reviews(n=6000, seed=0, fractions=(0.8, 0.1, 0.1)) -> dict[str, Split]``: ``Split`` has
  ``.texts`` (list[str]) and ``.labels`` (list[int], 1 positive, 0 negative); all texts distinct.
- ``review_list(n, seed) -> list[Review]``: the same reviews before splitting (``.text``,
  ``.label``, ``.domain``).
- ``describe(docs=None, reviews=None) -> dict``: counts for a quick look.
- ``TOPICS``, ``DOMAINS``: the topic and review-domain names.

Same arguments, same output, byte for byte, on any machine: all randomness comes from
``random.Random`` seeded with a string made of the seed and the item's index.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from minilm.data.corpus import discourse, lexicon
from minilm.data.corpus.sentiment import DOMAINS, Review, Split, review_list, reviews
from minilm.data.tokenizers.word import WordTokenizer

__all__ = [
    "DOMAINS",
    "TOPICS",
    "Document",
    "Review",
    "Split",
    "describe",
    "documents",
    "generate_documents",
    "review_list",
    "reviews",
    "sentences",
    "words",
]

#: The topics a document can be about.
TOPICS = lexicon.get().topics


@dataclass
class Document:
    """A generated document: its topic and its sentences, in order."""

    topic: str
    sentences: list[str]

    @property
    def text(self) -> str:
        """All sentences in one string, separated by spaces."""
        return " ".join(self.sentences)


def _check_arguments(topics, min_sentences: int, max_sentences: int) -> tuple:
    topics = tuple(topics) if topics is not None else TOPICS
    unknown = set(topics) - set(TOPICS)
    if unknown or not topics:
        raise ValueError(f"unknown topics {sorted(unknown) or '(none given)'}; the topics are {list(TOPICS)}")
    if not 1 <= min_sentences <= max_sentences:
        raise ValueError(f"need 1 <= min_sentences <= max_sentences, got {min_sentences} and {max_sentences}")
    return topics


def _document(seed: int, index: int, topics: tuple, min_sentences: int, max_sentences: int):
    """Document ``index``: its topic and its ``Sentence`` records."""
    rng = random.Random(f"minilm-corpus:document:{seed}:{index}")
    topic = topics[int(rng.random() * len(topics))]
    length = min_sentences + int(rng.random() * (max_sentences - min_sentences + 1))
    return topic, discourse.generate(topic, rng, length)[:length]


def generate_documents(n: int = 2000, seed: int = 0, min_sentences: int = 5, max_sentences: int = 15,
                       topics=None) -> list[tuple]:
    """Like ``documents`` but keeps each sentence's record (tokens and clauses, see ``grammar``):
    a list of ``(topic, [Sentence, ...])``."""
    topics = _check_arguments(topics, min_sentences, max_sentences)
    return [_document(seed, i, topics, min_sentences, max_sentences) for i in range(n)]


def documents(n: int = 2000, seed: int = 0, min_sentences: int = 5, max_sentences: int = 15,
              topics=None) -> list[Document]:
    """``n`` documents of ``min_sentences`` to ``max_sentences`` sentences each, topics drawn
    uniformly from ``topics`` (default: all of ``TOPICS``)."""
    topics = _check_arguments(topics, min_sentences, max_sentences)
    out = []
    for i in range(n):
        topic, parsed = _document(seed, i, topics, min_sentences, max_sentences)
        out.append(Document(topic, [s.text for s in parsed]))
    return out


def sentences(n: int = 10000, seed: int = 0) -> list[str]:
    """``n`` sentences: those of ``documents(seed=seed)`` one after another, as many documents as needed."""
    out, i = [], 0
    while len(out) < n:
        _, parsed = _document(seed, i, TOPICS, 5, 15)
        out.extend(s.text for s in parsed)
        i += 1
    return out[:n]


def words(texts) -> list[str]:
    """All lowercased word and punctuation tokens of ``texts``, as ``WordTokenizer`` splits them."""
    tokenizer = WordTokenizer(lowercase=True)
    return [t for text in texts for t in tokenizer.tokenize(text)]


def describe(docs=None, reviews=None) -> dict:
    """Counts that summarize a corpus: documents, sentences, tokens, distinct words, labels."""
    info = {}
    if docs is not None:
        sents = [s for d in docs for s in d.sentences]
        tokens = words(sents)
        info["documents"] = len(docs)
        info["sentences"] = len(sents)
        info["tokens"] = len(tokens)
        info["word_types"] = len(set(tokens))
        info["topics"] = dict(sorted(Counter(d.topic for d in docs).items()))
        info["most_common"] = Counter(tokens).most_common(10)
    if reviews is not None:
        for name, split in reviews.items():
            info[f"reviews_{name}"] = len(split)
            info[f"positive_{name}"] = round(sum(split.labels) / max(len(split), 1), 3)
    return info
