"""WordPiece, the subword tokenizer of BERT; reads and writes BERT's ``vocab.txt``.

A word is cut into the longest pieces the vocabulary has, from the left; every piece after the
first carries the continuation prefix ``##``, so that ``un ##aff ##able`` reads back as
``unaffable``. A word that cannot be cut into known pieces becomes the one token ``[UNK]``, whole.

Encoding text is two stages, each in its own file:

1. ``basic_tokenize`` (``bert_normalizer.py``): clean the text, space out CJK ideographs, lowercase
   and strip accents (uncased BERT), split on whitespace and punctuation;
2. ``wordpiece(word, vocab)``: greedy longest-match-first, for each word.

::

    >>> from minilm.data import Vocab
    >>> tok = WordPieceTokenizer(Vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                                 "the", "un", "##aff", "##able", "cafe", ",", "!"]))
    >>> tok.tokenize("The Unaffable café, [MASK]!")
    ['the', 'un', '##aff', '##able', 'cafe', ',', '[MASK]', '!']
    >>> tok.encode("The unaffable tea!", add_special_tokens=True)
    [2, 5, 6, 7, 8, 1, 11, 3]
    >>> tok.decode(tok.encode("The Unaffable café!"))
    'the unaffable cafe !'

``WordPieceTokenizer.from_vocab_file("vocab.txt")`` loads a real BERT vocabulary (ids = line
numbers, so bert-base-uncased keeps ``[PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103``).

**Exactly BERT.** With the same ``vocab.txt`` it gives the tokens and ids of BERT's reference
tokenizer, the Python one of Hugging Face transformers (``BertTokenizerLegacy`` since version 5,
``BertTokenizer`` before), which is Google's original plus NFC normalisation;
``tests/test_tokenizers_wordpiece.py`` checks this on hand-made and trained vocabularies, on arbitrary
Unicode text and on WikiText. What differs is the interface: ``encode`` adds ``[CLS] ... [SEP]`` only
with ``add_special_tokens=True`` (Hugging Face by default); ``decode`` leaves a space on each side
of punctuation (``"cafe !"``, where Hugging Face's ``clean_up_tokenization_spaces`` glues some back)
and does not glue a ``##`` piece onto a special token before it; and a ``vocab.txt`` with a token
on two lines is an error here (Hugging Face silently keeps the later id).

The Rust tokenizer of the ``tokenizers`` library (``BertTokenizerFast``) differs from both on rare
text: it keeps unassigned code points (so their word becomes ``[UNK]``), lowercases a word-final
``Σ`` to ``σ`` (Python: ``ς``), does not compose NFC (matters for cased models only), does not
space out the CJK ideographs U+2B820..U+2B91F, and uses its own Unicode tables. Here, as in the
Python tokenizer, Unicode facts come from the running Python's ``unicodedata``.

**Special tokens** written in the text (``[MASK]``, ``[SEP]``, ...) are kept whole, exactly as
written: ``"a [MASK] b"`` -> ``a [MASK] b``, also glued to a word (``"a[MASK]b"``). The match is
case-sensitive: a lowercase ``[mask]`` is ordinary text and becomes ``[ mask ]``. BERT's tokenizer
does the same (and so does this one with its quirk: a word that becomes a special token only after
cleaning, as ``"[MA\x00SK]"``, is kept whole too).

**Round trip, modulo normalisation.** ``decode`` does not undo what normalisation threw away
(case, accents, control characters, the spaces around punctuation), but it gives back text that
tokenizes the same: ``tokenize(decode(encode(text))) == tokenize(text)``. For text whose words can
all be pieced this is the statement that decoding loses nothing but normalisation; it holds for any
text, because a word that cannot be pieced comes back as the special token ``[UNK]``, which
tokenizes to ``[UNK]`` again.

**Training** (``train``) learns a vocabulary with likelihood-scored merges: see
``wordpiece_train.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Iterable, Sequence

from minilm.data.tokenizers.base import Tokenizer, TokenizerFileError
from minilm.data.tokenizers.bert_normalizer import basic_tokenize
from minilm.data.tokenizers.wordpiece_train import Merge, train_vocab, word_counts
from minilm.data.vocab import SPECIAL_TOKENS, Vocab


def wordpiece(
    word: str,
    vocab: Collection[str],
    unk_token: str | None = "[UNK]",
    max_input_chars_per_word: int = 100,
    prefix: str = "##",
    max_piece_chars: int | None = None,
) -> list[str]:
    """Cut one (already normalised) word into vocabulary pieces, as BERT does.

    Greedy longest-match-first: from the left, take the longest prefix of the rest of the word that
    is in ``vocab`` (written with ``prefix`` when it does not start the word), and go on after it::

        >>> wordpiece("unaffable", {"un", "##aff", "##able", "##a"})
        ['un', '##aff', '##able']

    If at some point no piece matches, the WHOLE word is ``[unk_token]`` (not just its tail); so is
    a word longer than ``max_input_chars_per_word`` characters. (With ``unk_token=None`` such a word
    is returned whole, and ``encode`` will then name it in its error.) ``max_piece_chars``, if given,
    bounds the length of a piece without its prefix (the longest token of ``vocab`` will do): it
    only saves time.
    """
    n = len(word)
    if n > max_input_chars_per_word:
        return [word if unk_token is None else unk_token]
    longest = n if max_piece_chars is None else max_piece_chars
    pieces, start = [], 0
    while start < n:
        for end in range(min(n, start + longest), start, -1):
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
        else:
            return [word if unk_token is None else unk_token]
        pieces.append(piece)
        start = end
    return pieces


def read_vocab_file(path) -> list[str]:
    """The tokens of a BERT ``vocab.txt``: one token per line, its id the line number counted from 0.

    A line is kept exactly as it is, only its line end is removed (``\\n``, and also ``\\r\\n`` or
    ``\\r``, as Python's text files and Hugging Face read them). An empty file, or a token on two
    lines, is a ``TokenizerFileError`` naming the file and the lines."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except UnicodeDecodeError as e:
        raise TokenizerFileError(f"{path}: not a vocabulary file, it is not UTF-8 text ({e})") from None
    tokens = [line[:-1] if line.endswith("\n") else line for line in lines]
    if not tokens:
        raise TokenizerFileError(f"{path}: the vocabulary file is empty; expected one token per line")
    first_line = {}
    for i, t in enumerate(tokens):
        if t in first_line:
            raise TokenizerFileError(
                f"{path}: token {t!r} is on line {first_line[t] + 1} and again on line {i + 1} "
                f"(ids {first_line[t]} and {i}); each token must appear once"
            )
        first_line[t] = i
    return tokens


class WordPieceTokenizer(Tokenizer):
    """BERT's tokenizer: ``basic_tokenize``, then ``wordpiece`` on each word.

    ``WordPieceTokenizer(vocab=None, lowercase=True, strip_accents=None, special_tokens=SPECIAL_TOKENS,
    unk_token="[UNK]", max_input_chars_per_word=100, continuation_prefix="##")``.

    ``lowercase=True, strip_accents=None`` is uncased BERT (``Café`` -> ``cafe``);
    ``lowercase=False`` is cased BERT (accents kept, unless ``strip_accents=True``).
    ``WordPieceTokenizer.from_vocab_file(path)`` reads a BERT ``vocab.txt``, ``save_vocab_file(path)``
    writes one; ``train(texts)`` learns a vocabulary.
    """

    kind = "wordpiece"

    def __init__(
        self,
        vocab: Vocab | None = None,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
        max_input_chars_per_word: int = 100,
        continuation_prefix: str = "##",
    ):
        _check_options(lowercase, strip_accents, max_input_chars_per_word, continuation_prefix)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.max_input_chars_per_word = max_input_chars_per_word
        self.continuation_prefix = continuation_prefix
        #: the merges of the last ``train`` (``Merge`` records, in order); None if not trained here
        self.merges: list[Merge] | None = None
        self._lookup_for = None  # the Vocab that _lookup, _longest and _cache were made for
        super().__init__(vocab, special_tokens=special_tokens, unk_token=unk_token)
        self._special_set = frozenset(self._special_tokens)

    def __repr__(self) -> str:
        return (
            f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
            f"strip_accents={self.strip_accents}, special_tokens={self.special_tokens})"
        )

    # -- text -> tokens -----------------------------------------------------------------------------

    def basic_tokenize(self, text: str) -> list[str]:
        """The words of ``text`` before WordPiece (``bert_normalizer.basic_tokenize`` with this
        tokenizer's options); special tokens are not cut out first (``tokenize`` does that)."""
        return basic_tokenize(text, self.lowercase, self.strip_accents, never_split=self._special_set)

    def _prepare(self, vocab: Vocab) -> None:
        """Make the set of tokens, the longest piece length and an empty word cache for ``vocab``."""
        tokens = vocab.tokens
        self._lookup = frozenset(tokens)
        self._longest = max(map(len, tokens), default=0)  # no piece is longer, with or without its prefix
        self._cache = {}
        self._lookup_for = vocab

    def wordpiece(self, word: str) -> list[str]:
        """The pieces of one normalised word: ``wordpiece`` with this tokenizer's vocabulary and
        options (``tok.wordpiece("unaffable")`` -> ``['un', '##aff', '##able']``)."""
        return list(self._pieces(word))

    def _pieces(self, word: str) -> list[str]:
        """``wordpiece``, remembered: real text repeats its words (the list is shared, do not change it)."""
        vocab = self._need_vocab("wordpiece")
        if self._lookup_for is not vocab:
            self._prepare(vocab)
        pieces = self._cache.get(word)
        if pieces is None:
            pieces = wordpiece(
                word,
                self._lookup,
                self.unk_token,
                self.max_input_chars_per_word,
                self.continuation_prefix,
                self._longest,
            )
            if len(self._cache) >= 200_000:
                self._cache.clear()
            self._cache[word] = pieces
        return pieces

    def _tokenize_chunk(self, text: str) -> list[str]:
        """``basic_tokenize``, then ``wordpiece`` on each word (a special token stays whole)."""
        specials = self._special_set
        out = []
        for word in self.basic_tokenize(text):
            if word in specials:
                out.append(word)
            else:
                out.extend(self._pieces(word))
        return out

    def _detokenize(self, tokens: list[str]) -> str:
        """BERT's way back: pieces joined by spaces, each ``##`` continuation glued to the piece before
        it without its prefix (``un ##aff ##able`` -> ``unaffable``)."""
        prefix = self.continuation_prefix
        words = []
        for t in tokens:
            if words and t.startswith(prefix):
                words[-1] += t[len(prefix) :]
            else:
                words.append(t)
        return " ".join(words)

    # -- training -----------------------------------------------------------------------------------

    def train(
        self,
        texts: Iterable[str],
        vocab_size: int = 8000,
        min_frequency: int = 2,
        progress: bool | Callable[[Merge], object] | None = None,
        trace: int = 0,
    ) -> WordPieceTokenizer:
        """Learn a vocabulary of at most ``vocab_size`` tokens from ``texts`` (likelihood-scored merges,
        see ``wordpiece_train``); returns ``self``.

        Words are counted after ``basic_tokenize`` (special tokens written in the text are left out,
        and so are words longer than ``max_input_chars_per_word``, which can never be pieced). The
        vocabulary is: the special tokens, the alphabet (word-initial characters, then ``##``
        continuation characters, each in string order), then the merged pieces in the order they
        were made. Only pairs seen at least ``min_frequency`` times are merged.

        ``progress=True`` prints a line (to stderr) at every tenth of the merges; a function is
        called with each ``Merge`` as it is made (``steps = []; tok.train(texts, progress=steps.append)``).
        ``trace=k`` prints the first ``k`` merges with their scores. The merges are also kept in
        ``self.merges``.
        """
        if isinstance(texts, str):
            raise TypeError("WordPieceTokenizer.train: expected a list of texts, got one string; wrap it in a list")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"WordPieceTokenizer.train: vocab_size must be an integer, got {vocab_size!r}")
        if not isinstance(min_frequency, int) or min_frequency < 1:
            raise ValueError(f"WordPieceTokenizer.train: min_frequency must be an integer >= 1, got {min_frequency!r}")
        counts = word_counts(texts, tokenize=self._training_words)
        counts = {
            w: c for w, c in counts.items() if w not in self._special_set and len(w) <= self.max_input_chars_per_word
        }
        wanted = vocab_size - len(self._special_tokens)
        report = _printer(wanted) if progress is True else (progress or None)
        tokens, merges = train_vocab(
            counts, vocab_size, min_frequency, self.continuation_prefix, self._special_tokens, report
        )
        for m in merges[:trace]:
            print(m)
        self.vocab = Vocab(tokens, unk_token=self.unk_token)
        self.merges = merges
        return self

    def _training_words(self, text: str) -> list[str]:
        """The words of ``text`` for training: ``basic_tokenize`` of the text between special tokens."""
        return [
            w for chunk, special in self.split_special_tokens(text) if not special for w in self.basic_tokenize(chunk)
        ]

    # -- files --------------------------------------------------------------------------------------

    @classmethod
    def from_vocab_file(
        cls,
        path,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
        max_input_chars_per_word: int = 100,
        continuation_prefix: str = "##",
    ) -> WordPieceTokenizer:
        """A tokenizer with the vocabulary of a BERT ``vocab.txt`` (ids = line numbers, from 0; see
        ``read_vocab_file``). For an uncased BERT keep ``lowercase=True``; for a cased one pass
        ``lowercase=False``. The file must hold every special token; a ``TokenizerFileError`` says
        which ones it lacks."""
        path = os.fspath(path)
        tokens = read_vocab_file(path)
        present = set(tokens)
        missing = [t for t in special_tokens if t not in present]
        if missing:
            raise TokenizerFileError(
                f"{path}: the vocabulary lacks the special tokens {missing} (it has "
                f"{len(tokens)} lines); add them, or pass special_tokens= and unk_token= that "
                f"it has"
            )
        return cls(
            Vocab(tokens, unk_token=unk_token),
            lowercase=lowercase,
            strip_accents=strip_accents,
            special_tokens=special_tokens,
            unk_token=unk_token,
            max_input_chars_per_word=max_input_chars_per_word,
            continuation_prefix=continuation_prefix,
        )

    def save_vocab_file(self, path) -> None:
        """Write the vocabulary as a BERT ``vocab.txt`` (one token per line, in id order), atomically.
        The options (lowercase, ...) are not in that file: ``save`` keeps them too."""
        from minilm.io import atomic_open

        vocab = self._need_vocab("save_vocab_file")
        for i, t in enumerate(vocab.tokens):
            if "\n" in t or "\r" in t:
                raise ValueError(
                    f"WordPieceTokenizer.save_vocab_file: token {t!r} (id {i}) holds a line break and "
                    f"cannot be one line of vocab.txt; use save(path) instead"
                )
        with atomic_open(path, "WordPieceTokenizer.save_vocab_file") as f:
            f.write("".join(t + "\n" for t in vocab.tokens).encode("utf-8"))

    def _config(self) -> dict:
        return {
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "max_input_chars_per_word": self.max_input_chars_per_word,
            "continuation_prefix": self.continuation_prefix,
        }

    @classmethod
    def _from_file(cls, vocab, special_tokens, unk_token, config, path):
        unknown = sorted(
            set(config) - {"lowercase", "strip_accents", "max_input_chars_per_word", "continuation_prefix"}
        )
        if unknown:
            raise ValueError(f'unknown WordPiece options {unknown} in "config"')
        return cls(
            vocab,
            lowercase=config.get("lowercase", True),
            strip_accents=config.get("strip_accents"),
            special_tokens=special_tokens,
            unk_token=unk_token,
            max_input_chars_per_word=config.get("max_input_chars_per_word", 100),
            continuation_prefix=config.get("continuation_prefix", "##"),
        )


def _check_options(lowercase, strip_accents, max_input_chars_per_word, continuation_prefix) -> None:
    """ValueError naming the first bad option."""
    if not isinstance(lowercase, bool):
        raise ValueError(f"WordPieceTokenizer: lowercase must be True or False, got {lowercase!r}")
    if strip_accents is not None and not isinstance(strip_accents, bool):
        raise ValueError(f"WordPieceTokenizer: strip_accents must be True, False or None, got {strip_accents!r}")
    if (
        isinstance(max_input_chars_per_word, bool)
        or not isinstance(max_input_chars_per_word, int)
        or max_input_chars_per_word < 1
    ):
        raise ValueError(
            f"WordPieceTokenizer: max_input_chars_per_word must be a positive integer, got {max_input_chars_per_word!r}"
        )
    if not isinstance(continuation_prefix, str) or not continuation_prefix:
        raise ValueError(
            f"WordPieceTokenizer: continuation_prefix must be a non-empty string (BERT: '##'), got "
            f"{continuation_prefix!r}"
        )


def _printer(wanted: int) -> Callable[[Merge], None]:
    """A ``progress`` function that prints a line to stderr at every tenth of ``wanted`` merges (the
    most there can be: the alphabet takes some of the vocabulary too)."""
    every, done = max(1, wanted // 10), 0

    def report(merge: Merge) -> None:
        nonlocal done
        done += 1
        if done % every == 0:
            print(f"wordpiece merge {done} (at most {wanted}): {merge}", file=sys.stderr, flush=True)

    return report
