"""What the recipes train on: documents to pretrain on (bundled, a registry name or a path),
labelled splits to fine-tune on, few-label samples, and the WordPiece tokenizer."""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np

from minilm.data import WordPieceTokenizer, corpus, datasets
from minilm.data.corpus import Split
from minilm.recipes.configs import BUNDLED_REVIEWS, BUNDLED_TEXT, RecipeError

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, split after ``.``, ``!`` or ``?`` followed by a space (good enough for
    tokenized WikiText and the bundled corpus, whose sentences all end that way)."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def _splits(split: str) -> list[str]:
    return [s.strip() for s in split.split(",") if s.strip()]


def _is_path(data: str) -> bool:
    return os.sep in data or data.startswith(".") or pathlib.Path(data).exists()


def _check_name(data: str, kind: str) -> None:
    try:
        info = datasets.get_info(data)
    except (KeyError, ValueError):
        names = sorted(datasets.REGISTRY)
        raise RecipeError(f"--data {data!r} is neither a dataset name {names} nor an existing path") from None
    if info.kind != kind:
        want = "text (for pretraining)" if kind == "text" else "labelled (for classification)"
        raise RecipeError(f"--data {data!r} is a {info.kind} dataset, but this needs a {want} one")


def pretraining_documents(data: str = BUNDLED_TEXT, split: str = "train", n_documents: int = 1500, seed: int = 0):
    """Documents to pretrain on, each a list of sentences (NSP pairs sentences within a document).

    - ``"bundled"``: ``n_documents`` generated documents, plus the (unlabelled) texts of the bundled
      reviews' training split, so that pretraining has seen the kind of text fine-tuning will classify
      (their labels are never used here); any other ``split`` is held-out text of the same two kinds:
      ``n_documents // 10`` other documents and the reviews of that split;
    - a registry name (``"wikitext-2"``, ``"ptb"``): that dataset's ``split`` (several: ``"validation,test"``),
      each WikiText paragraph a document (headings dropped);
    - a local path: WikiText's files (a folder or zip with ``valid.txt``/``wiki.valid.tokens``...) or
      any plain text file, one paragraph per line.
    """
    if data == BUNDLED_TEXT:
        if split != "train":  # held out: other documents, and the reviews of the same split
            cut = max(1, n_documents // 10)
            docs = [list(d.sentences) for d in corpus.documents(n=cut, seed=seed + 1000)]
            reviews = corpus.reviews()["validation" if split in ("validation", "valid", "dev") else "test"].texts
            return docs + [split_sentences(t) for t in reviews]
        docs = [list(d.sentences) for d in corpus.documents(n=n_documents, seed=seed)]
        reviews = corpus.reviews()["train"].texts
        return docs + [split_sentences(t) for t in reviews]
    lines: list[str] = []
    for part in _splits(split):
        lines += _text_lines(data, part)
    lines = datasets.drop_headings(lines)
    documents = [split_sentences(line) for line in lines]
    documents = [d for d in documents if d]
    if len(documents) < 2:
        raise RecipeError(f"--data {data!r} split {split!r} holds {len(documents)} paragraph(s); pretraining needs 2+")
    return documents


def _text_lines(data: str, split: str) -> list[str]:
    if _is_path(data):
        path = pathlib.Path(data).expanduser()
        if not path.exists():
            raise RecipeError(f"--data {data}: no such file or folder")
        if path.is_file() and path.suffix not in (".zip", ".gz", ".tgz", ".tar"):
            try:
                return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            except UnicodeDecodeError:
                raise RecipeError(f"--data {data}: not a UTF-8 text file") from None
        return datasets.read_wikitext(path, split)
    _check_name(data, "text")
    return datasets.load(data, split)


def load_labelled(data: str = BUNDLED_REVIEWS, splits=("train", "validation", "test")) -> dict[str, Split]:
    """Labelled texts by split: the bundled reviews, a registry name (``"sst-2"``, ``"imdb"``) or a local
    copy of SST-2 (a folder with ``train.tsv``, ``dev.tsv``, ``test.tsv``, or GLUE's zip). A split the
    data does not have is left out (IMDb has no validation split)."""
    out = {}
    for split in splits:
        try:
            if _is_path(data):
                path = pathlib.Path(data).expanduser()
                if not path.exists():
                    raise RecipeError(f"--data {data}: no such file or folder")
                out[split] = datasets.read_sst2(path, split)
            else:
                _check_name(data, "classification")
                out[split] = datasets.load(data, split)
        except ValueError as e:
            if "no split" in str(e):
                continue
            raise
    if "train" not in out:
        raise RecipeError(f"--data {data!r} has no training split")
    return out


def few_labels(split: Split, n: int, seed: int = 0) -> Split:
    """``n`` examples of ``split``, as balanced between the labels as it allows, drawn with ``seed``
    (``n = 0`` or more than there are: all of them, shuffled)."""
    labels = np.asarray(split.labels)
    rng = np.random.default_rng(seed)
    if n <= 0 or n >= len(labels):
        order = rng.permutation(len(labels))
    else:
        classes = np.unique(labels)
        per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
        take, share = [], n // len(classes)
        for idx in per_class:
            take += list(idx[:share])
        rest = np.setdiff1d(np.arange(len(labels)), take)
        take += list(rng.permutation(rest)[: n - len(take)])
        order = rng.permutation(np.asarray(take))
    return Split([split.texts[i] for i in order], [int(split.labels[i]) for i in order])


def train_tokenizer(documents, vocab_size: int = 4000) -> WordPieceTokenizer:
    """A WordPiece tokenizer (lowercasing, BERT's special tokens) trained on every sentence of ``documents``."""
    return WordPieceTokenizer().train([" ".join(d) for d in documents], vocab_size=vocab_size)
