"""Word vectors and the questions one asks them: nearest neighbours, similarity, analogies.

``WordVectors(vocab, vectors)`` pairs a ``Vocab`` with a (len(vocab), D) array, row ``i`` the vector
of token ``i``: what ``train_word2vec`` returns, and what any other table of word vectors (the
input embeddings of a trained language model, say) can be wrapped in::

    wv.vector("soup")                      # the row, a copy
    wv.similarity("soup", "pie")           # cosine, in [-1, 1]
    wv.most_similar("soup", topn=5)        # [(word, cosine), ...], best first
    wv.analogy("cook", "kitchen", "teacher")   # cook : kitchen :: teacher : ?  (3CosAdd)
    wv.save("vectors.npz"); WordVectors.load("vectors.npz")

All questions are about the *direction* of the vectors (the cosine ``a . b / (|a| |b|)``): a word's
vector grows with how often it was updated, which says more about its frequency than about its
meaning. The special tokens (``[PAD]``, ``[UNK]``...) are never returned as answers.
"""

from __future__ import annotations

import difflib

import numpy as np

from minilm.data import SPECIAL_TOKENS, Vocab
from minilm.io import load as load_checkpoint
from minilm.io import save as save_checkpoint

__all__ = ["WordVectors"]

_FORMAT = "minilm.word_vectors"
_VERSION = 1


class WordVectors:
    """Trained word vectors and the questions one asks them.

    ``WordVectors(vocab, vectors)``: ``vectors`` is a (len(vocab), D) array, row ``i`` for token ``i``.
    ``vector(word)``, ``similarity(a, b)``, ``most_similar(word_or_vector, topn, exclude)``,
    ``analogy(a, b, c, topn)``, ``save(path)`` / ``WordVectors.load(path)``. Similarity is the cosine
    ``a . b / (|a| |b|)``; the special tokens ([PAD], [UNK]...) are never returned as neighbours.
    """

    def __init__(self, vocab: Vocab, vectors, loss_history=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(vocab) or vectors.dtype.kind != "f":
            raise ValueError(
                f"WordVectors: vectors must be a float array of shape (len(vocab), D) = ({len(vocab)}, D), "
                f"got {vectors.dtype} {vectors.shape}"
            )
        self.vocab = vocab
        self.vectors = vectors
        self.loss_history = list(loss_history or [])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self._unit = vectors / np.maximum(norms, np.finfo(vectors.dtype).tiny)
        self._tokens = vocab.tokens
        self._searchable = np.array([t not in SPECIAL_TOKENS for t in self._tokens], dtype=bool)

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word) -> bool:
        return word in self.vocab

    def __repr__(self) -> str:
        return f"WordVectors({len(self.vocab)} words, dim {self.vectors.shape[1]})"

    def index(self, word: str) -> int:
        """The row of ``word``; a word not in the vocabulary is a KeyError that suggests near spellings."""
        if word in self.vocab:
            return self.vocab[word]
        close = difflib.get_close_matches(str(word).lower(), self._tokens, n=3)
        hint = f"; did you mean {', '.join(repr(w) for w in close)}?" if close else ""
        raise KeyError(f"{word!r} is not in the vocabulary of {len(self.vocab)} words{hint}")

    def vector(self, word: str) -> np.ndarray:
        """A copy of ``word``'s vector."""
        return self.vectors[self.index(word)].copy()

    def similarity(self, a: str, b: str) -> float:
        """The cosine of the angle between the vectors of ``a`` and ``b``, in [-1, 1]."""
        return float(self._unit[self.index(a)] @ self._unit[self.index(b)])

    def most_similar(self, word_or_vector, topn: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``topn`` words whose vectors have the largest cosine with ``word_or_vector``, best
        first, as ``(word, cosine)``. Given a word, the word itself is left out; given a vector,
        nothing is, except the words in ``exclude``."""
        skip = set(exclude)
        if isinstance(word_or_vector, str):
            skip.add(word_or_vector)
            query = self._unit[self.index(word_or_vector)]
        else:
            query = np.asarray(word_or_vector, dtype=self.vectors.dtype).reshape(-1)
            if query.shape != (self.vectors.shape[1],):
                want = self.vectors.shape[1]
                raise ValueError(
                    f"most_similar: the vector must have {want} entries (the dimension), got {query.shape}"
                )
            query = query / max(float(np.linalg.norm(query)), np.finfo(query.dtype).tiny)
        return self._nearest(query, topn, [self.index(w) for w in skip])

    def _nearest(self, unit_query, topn: int, skip_ids) -> list[tuple[str, float]]:
        scores = (self._unit @ unit_query).astype(np.float64)
        scores[~self._searchable] = -np.inf
        scores[list(skip_ids)] = -np.inf
        topn = min(int(topn), int(np.isfinite(scores).sum()))
        if topn <= 0:
            return []
        best = np.argpartition(-scores, topn - 1)[:topn]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._tokens[i], float(scores[i])) for i in best]

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """Answer "``a`` is to ``b`` as ``c`` is to ?" by 3CosAdd: the ``topn`` words ``x`` nearest
        to ``b - a + c`` (of unit vectors), which is to say the words that maximise
        ``cos(x, b) - cos(x, a) + cos(x, c)``. The three query words are never answers (else ``b``
        or ``c`` would usually win). Returns ``[(word, cosine of x with b - a + c), ...]``."""
        ia, ib, ic = self.index(a), self.index(b), self.index(c)
        target = self._unit[ib] - self._unit[ia] + self._unit[ic]
        target = target / max(float(np.linalg.norm(target)), np.finfo(target.dtype).tiny)
        return self._nearest(target, topn, [ia, ib, ic])

    def save(self, path) -> None:
        """Write vectors, vocabulary and loss history to one ``.npz`` file (``minilm.save``: arrays
        plus JSON, no pickle, written to a temporary file and renamed)."""
        save_checkpoint(
            {
                "format": _FORMAT,
                "version": _VERSION,
                "tokens": self.vocab.tokens,
                "unk_token": self.vocab.unk_token,
                "vectors": self.vectors,
                "loss_history": [float(x) for x in self.loss_history],
            },
            path,
        )

    @classmethod
    def load(cls, path) -> WordVectors:
        """Read a file written by ``save``."""
        data = load_checkpoint(path)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f'{path}: not a word-vectors file (it has no "format": "{_FORMAT}")')
        if data.get("version") != _VERSION:
            raise ValueError(f"{path}: word-vectors file version {data.get('version')!r}, this minilm reads {_VERSION}")
        vocab = Vocab(data["tokens"], unk_token=data["unk_token"])
        return cls(vocab, data["vectors"], loss_history=data["loss_history"])
