"""Readers for the standard file formats of WikiText-2, PTB, SST-2 and IMDb.

Each reader takes a local path, so a copy you downloaded yourself works as well as the cached one:
the archive as it is distributed, the folder it unpacks to, or (for the one-file-per-split formats)
a single file. Nothing is downloaded here; ``load`` in ``loading.py`` does that and then calls these.

- ``read_wikitext(path, split)`` -> ``list[str]``: one line per paragraph or heading.
- ``read_ptb(path, split)`` -> ``list[str]``: one sentence per line.
- ``read_sst2(path, split)`` -> ``Split``: sentences and labels from GLUE's TSV files.
- ``read_imdb(path, split)`` -> ``Split``: reviews and labels from the ``aclImdb`` tree.

Split names are ``"train"``, ``"validation"`` (``"valid"`` and ``"dev"`` mean the same) and ``"test"``;
IMDb has only ``"train"`` and ``"test"``. Malformed input (a TSV row without its tab, a label that
is not 0 or 1, an archive without the expected file, a truncated archive) is a ``DatasetFormatError``
that names the file and the line.
"""

from __future__ import annotations

import pathlib
import re
import tarfile

from minilm.data.corpus import Split
from minilm.data.datasets.archives import DAMAGED, archive_kind, iter_lines, open_named_file
from minilm.data.datasets.errors import DatasetFormatError
from minilm.data.datasets.registry import SPLIT_ALIASES

__all__ = [
    "drop_headings",
    "is_heading",
    "parse_sst2_lines",
    "read_imdb",
    "read_ptb",
    "read_sst2",
    "read_wikitext",
    "strip_html_breaks",
]


def _split(split: str, allowed: tuple[str, ...], reader: str) -> str:
    """The canonical split name (aliases resolved); anything else is a ``ValueError`` listing ``allowed``."""
    name = SPLIT_ALIASES.get(split, split) if isinstance(split, str) else split
    if name not in allowed:
        raise ValueError(f"{reader}: no split {split!r}; the splits are {list(allowed)}")
    return name


def _nonempty_lines(path, basenames: list[str], what: str) -> list[str]:
    """The stripped, non-empty lines of the file ``open_named_file`` finds."""
    with open_named_file(path, basenames, what) as (source, f):
        return [text.strip() for _, text in iter_lines(f, source) if text.strip()]


# -- WikiText ---------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(=(?: =)*) \S.* \1$")


def read_wikitext(path, split: str = "train") -> list[str]:
    """The lines of a WikiText split: each paragraph and each heading one string, stripped, empty
    lines dropped. ``<unk>`` and the headings (``= Title =``, ``= = Section = =``) stay as they are;
    ``drop_headings`` removes the headings if you want only running text.

    ``path``: the zip (``wikitext-2-v1.zip``, or the raw or WikiText-103 ones), the folder it unpacks
    to (``wiki.{train,valid,test}.tokens``, or ``.raw``, or ``{train,valid,test}.txt``), or one file,
    which is read whatever ``split`` says.
    """
    split = _split(split, ("train", "validation", "test"), "read_wikitext")
    stem = "valid" if split == "validation" else split
    names = [f"wiki.{stem}.tokens", f"wiki.{stem}.raw", f"{stem}.txt"]
    return _nonempty_lines(path, names, f"the WikiText {split} split")


def is_heading(line: str) -> bool:
    """True for a WikiText heading line: ``= Title =``, ``= = Section = =``, ... (stripped or not)."""
    return bool(_HEADING.match(line.strip()))


def drop_headings(lines: list[str]) -> list[str]:
    """``lines`` without the WikiText heading lines."""
    return [line for line in lines if not is_heading(line)]


# -- PTB --------------------------------------------------------------------------------------------


def read_ptb(path, split: str = "train") -> list[str]:
    """The sentences of a Penn Treebank split (Mikolov's preprocessing: lowercase, ``N`` for numbers,
    ``<unk>`` for rare words), one per line, stripped, empty lines dropped.

    ``path``: a folder with ``ptb.{train,valid,test}.txt`` (also ``simple-examples/data/`` inside it),
    Mikolov's ``simple-examples.tgz``, a zip holding those files, or one file.
    """
    split = _split(split, ("train", "validation", "test"), "read_ptb")
    stem = "valid" if split == "validation" else split
    return _nonempty_lines(path, [f"ptb.{stem}.txt"], f"the PTB {split} split")


# -- SST-2 ------------------------------------------------------------------------------------------


def parse_sst2_lines(lines, source: str, allow_unlabelled: bool = False) -> Split:
    """Parse GLUE's SST-2 TSV, given as ``(line number, text)`` pairs.

    The first line is the header: ``sentence<TAB>label`` (train and dev), or ``index<TAB>sentence``
    for GLUE's test file, whose labels GLUE keeps secret for its leaderboard. Each row then has
    exactly as many tab-separated fields as the header; the label must be ``0`` or ``1``. Sentences
    are stripped (GLUE's end in a space). Blank lines are skipped.

    The unlabelled test file is an error, because a label of -1 would silently poison a loss or an
    accuracy; ``allow_unlabelled=True`` reads it anyway, with every label -1.
    """
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        raise DatasetFormatError(source, "empty file; expected the header 'sentence<TAB>label'")
    lineno, header = first
    columns = header.lstrip("\ufeff").split("\t")
    if "sentence" not in columns:
        raise DatasetFormatError(source, f"expected the header 'sentence<TAB>label', got {header[:80]!r}", lineno)
    text_col = columns.index("sentence")
    label_col = columns.index("label") if "label" in columns else None
    if label_col is None and not allow_unlabelled:
        raise DatasetFormatError(
            source,
            f"no 'label' column (header {header!r}): this is GLUE's unlabelled test file, GLUE keeps its labels "
            "for the leaderboard. Evaluate on split='validation' (dev.tsv), or pass allow_unlabelled=True to "
            "read the sentences with label -1.",
            lineno,
        )
    texts, labels = [], []
    for lineno, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise DatasetFormatError(
                source,
                f"expected {len(columns)} tab-separated fields ({'<TAB>'.join(columns)}), got {len(fields)}: "
                f"{line[:80]!r}",
                lineno,
            )
        label = -1
        if label_col is not None:
            raw = fields[label_col].strip()
            if raw not in ("0", "1"):
                raise DatasetFormatError(source, f"the label must be 0 or 1, got {raw!r}", lineno)
            label = int(raw)
        sentence = fields[text_col].strip()
        if not sentence:
            raise DatasetFormatError(source, "empty sentence", lineno)
        texts.append(sentence)
        labels.append(label)
    return Split(texts, labels)


def read_sst2(path, split: str = "train", allow_unlabelled: bool = False) -> Split:
    """A split of SST-2 as ``Split(texts, labels)``, label 1 positive and 0 negative.

    ``path``: GLUE's ``SST-2.zip``, the ``SST-2`` folder (``train.tsv``, ``dev.tsv``, ``test.tsv``), or
    one TSV file. ``split="validation"`` (or ``"dev"``) reads ``dev.tsv``. GLUE's ``test.tsv`` has no
    labels and is an error unless ``allow_unlabelled=True`` (see ``parse_sst2_lines``).
    """
    split = _split(split, ("train", "validation", "test"), "read_sst2")
    stem = "dev" if split == "validation" else split
    with open_named_file(path, [f"{stem}.tsv"], f"the SST-2 {split} split") as (source, f):
        return parse_sst2_lines(iter_lines(f, source), source, allow_unlabelled)


# -- IMDb -------------------------------------------------------------------------------------------

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_REVIEW_FILE = re.compile(r"^(\d+)_(\d+)\.txt$")
_POLARITY = {"neg": 0, "pos": 1}


def strip_html_breaks(text: str) -> str:
    """IMDb reviews mark paragraphs with ``<br />``: turn each into a space, then make every run of
    whitespace one space, and strip."""
    return " ".join(_BREAK.sub(" ", text).split())


def _review_order(item: tuple[int, str, str]) -> tuple:
    """Negative reviews first, then positive; within each, by the number in ``<id>_<rating>.txt``."""
    label, name, _ = item
    m = _REVIEW_FILE.match(name)
    return (label, int(m.group(1)) if m else float("inf"), name)


def _decode_review(data: bytes, source: str) -> str:
    try:
        return strip_html_breaks(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DatasetFormatError(source, f"not UTF-8 text ({e.reason} at byte {e.start})", 1) from None


def _imdb_from_tar(path: pathlib.Path, split: str) -> list[tuple[int, str, str]]:
    """Stream through the tar archive once, keeping ``*/<split>/{pos,neg}/*.txt`` (nothing goes to disk)."""
    items = []
    try:
        with tarfile.open(path, "r|*") as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) >= 3 and parts[-3] == split and parts[-2] in _POLARITY:
                    if parts[-1].endswith(".txt"):
                        data = tar.extractfile(member).read()
                        text = _decode_review(data, f"{path}[{member.name}]")
                        items.append((_POLARITY[parts[-2]], parts[-1], text))
    except (*DAMAGED, OSError) as e:
        raise DatasetFormatError(
            path, f"the archive is damaged or incomplete ({type(e).__name__}: {e}); a truncated download?"
        ) from None
    return items


def _imdb_from_folder(folder: pathlib.Path, split: str) -> list[tuple[int, str, str]]:
    """Read ``<folder>/<split>/{pos,neg}/*.txt``; ``folder`` is ``aclImdb`` or the folder that holds it."""
    root = folder if (folder / split).is_dir() else folder / "aclImdb"
    items = []
    for polarity, label in _POLARITY.items():
        for file in sorted((root / split / polarity).glob("*.txt")):
            items.append((label, file.name, _decode_review(file.read_bytes(), str(file))))
    return items


def read_imdb(path, split: str = "train") -> Split:
    """A split of the IMDb reviews as ``Split(texts, labels)``, label 1 positive (``pos/``) and 0
    negative (``neg/``), ``<br />`` turned into spaces.

    ``path``: ``aclImdb_v1.tar.gz`` (read as a stream, nothing extracted to disk) or the unpacked
    ``aclImdb`` folder (or the folder that holds it). The order is fixed: the negative reviews, then
    the positive ones, each by file number; shuffle before training.
    """
    split = _split(split, ("train", "test"), "read_imdb")
    path = pathlib.Path(path)
    kind = archive_kind(path)
    if kind == "tar":
        items = _imdb_from_tar(path, split)
    elif kind == "folder":
        items = _imdb_from_folder(path, split)
    else:
        raise DatasetFormatError(
            path, f"IMDb is a tree of files: give aclImdb_v1.tar.gz or the aclImdb folder, not a {kind}"
        )
    if not items:
        raise DatasetFormatError(
            path, f"no reviews found for split {split!r} (expected aclImdb/{split}/pos/*.txt and neg/*.txt)"
        )
    items.sort(key=_review_order)
    return Split([text for _, _, text in items], [label for label, _, _ in items])
