"""What every tokenizer of minilm shares: special tokens, ids, batches, decoding, JSON files.

A tokenizer turns text into a list of token ids and back. The ways of cutting text differ
(characters, words, byte-level BPE pieces, WordPiece pieces), but what is done with the pieces is
the same, and lives here:

- **special tokens** (``[PAD] [UNK] [CLS] [SEP] [MASK]`` by default, ids 0 to 4) are never cut: a
  ``[MASK]`` written in the text becomes the one ``[MASK]`` token, whatever the tokenizer;
- **ids** come from a :class:`~minilm.data.vocab.Vocab`: a token's id is its position in a list;
- ``encode(text)``, ``encode_batch(texts)``, ``encode_pair(a, b)`` (BERT's ``[CLS] a [SEP] b [SEP]``
  with segment ids), ``decode(ids)``;
- ``save(path)`` writes one JSON file (atomically), ``Tokenizer.load(path)`` reads any kind back.

A subclass says how to cut (``_tokenize_chunk``), how to glue pieces back into text
(``_detokenize``), how to learn its vocabulary (``train``), and what else its file must hold
(``_config`` and ``_from_file``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence

from minilm.data.vocab import SPECIAL_TOKENS, Vocab

FORMAT = "minilm.tokenizer"
VERSION = 1


class TokenizerFileError(ValueError):
    """A tokenizer file that cannot be read: broken JSON, a missing field, an unknown kind."""


def _special_id_property(token: str, what: str) -> property:
    """A read-only property: the id of the special token ``token`` (a ``KeyError`` if there is none)."""
    return property(lambda self: self._special_id(token), doc=f"Id of ``{token}``, which {what}.")


class Tokenizer:
    """The common interface. Subclasses: ``CharTokenizer``, ``WordTokenizer``,
    ``ByteLevelBPETokenizer``, ``WordPieceTokenizer``.

    ``special_tokens`` are kept whole in any text and get the first ids, in the order given.
    ``unk_token`` (one of them, or None) is what a piece outside the vocabulary becomes.
    """

    #: The name written in the file's ``"type"`` field; ``Tokenizer.load`` picks the class by it.
    kind = "base"
    #: True when ``_detokenize`` can place special tokens itself (words: ``"a [UNK]."``); otherwise
    #: ``decode`` glues the runs between special tokens and puts the special tokens in as they are.
    specials_in_runs = False

    def __init__(
        self,
        vocab: Vocab | None = None,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
    ):
        special_tokens = list(special_tokens)
        for t in special_tokens:
            if not isinstance(t, str) or not t or t != t.strip():
                raise ValueError(
                    f"{type(self).__name__}: a special token must be a non-empty string without "
                    f"surrounding spaces, got {t!r}"
                )
        if len(set(special_tokens)) != len(special_tokens):
            raise ValueError(f"{type(self).__name__}: special tokens repeat: {special_tokens}")
        if unk_token is not None and unk_token not in special_tokens:
            raise ValueError(
                f"{type(self).__name__}: unk_token {unk_token!r} is not among the special tokens {special_tokens}"
            )
        self._special_tokens = special_tokens
        self.unk_token = unk_token
        longest_first = sorted(special_tokens, key=len, reverse=True)
        self._special_pattern = (
            re.compile("(" + "|".join(map(re.escape, longest_first)) + ")") if special_tokens else None
        )
        self._vocab = None
        if vocab is not None:
            self.vocab = vocab

    # -- the vocabulary ---------------------------------------------------------------------------

    @property
    def vocab(self) -> Vocab | None:
        """The token list (a ``Vocab``); None before ``train``."""
        return self._vocab

    @vocab.setter
    def vocab(self, vocab: Vocab | None) -> None:
        if vocab is not None:
            if not isinstance(vocab, Vocab):
                raise TypeError(f"{type(self).__name__}: vocab must be a minilm.data.Vocab, got {type(vocab).__name__}")
            missing = [t for t in self._special_tokens if t not in vocab]
            if missing:
                raise ValueError(
                    f"{type(self).__name__}: the vocabulary lacks the special tokens {missing}; "
                    f"build it with specials={self._special_tokens}"
                )
        self._vocab = vocab

    def _need_vocab(self, what: str) -> Vocab:
        if self._vocab is None:
            raise ValueError(
                f"{type(self).__name__}.{what}: no vocabulary yet; call train(texts) first, "
                f"or load a trained tokenizer with Tokenizer.load(path)"
            )
        return self._vocab

    @property
    def vocab_size(self) -> int:
        """Number of tokens, special tokens included (0 before training)."""
        return 0 if self._vocab is None else len(self._vocab)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def special_tokens(self) -> list[str]:
        """The special tokens, in id order."""
        return list(self._special_tokens)

    def token_to_id(self, token: str) -> int:
        """The id of ``token``. A token outside the vocabulary is a ``KeyError`` (no silent ``[UNK]``:
        use ``encode`` for text)."""
        vocab = self._need_vocab("token_to_id")
        if token not in vocab:
            kind = "special token" if token.startswith("[") and token.endswith("]") else "token"
            raise KeyError(
                f"{kind} {token!r} is not in this tokenizer's vocabulary (size {len(vocab)}); "
                f"its special tokens are {self._special_tokens}"
            )
        return vocab[token]

    def id_to_token(self, token_id: int) -> str:
        """The token with id ``token_id``; an id outside ``0 .. vocab_size - 1`` is an ``IndexError``."""
        return self._need_vocab("id_to_token").lookup_tokens([token_id])[0]

    def _special_id(self, token: str) -> int:
        if token not in self._special_tokens:
            raise KeyError(f"{type(self).__name__} has no {token} token; its special tokens are {self._special_tokens}")
        return self.token_to_id(token)

    pad_id = _special_id_property("[PAD]", "the filler that makes the sequences of a batch equally long")
    cls_id = _special_id_property("[CLS]", "put in front of a sequence; BERT's output there stands for the whole")
    sep_id = _special_id_property("[SEP]", "ends a sentence, and separates the two sentences of a pair")
    mask_id = _special_id_property("[MASK]", "hides a token the model must guess in masked language modelling")

    @property
    def unk_id(self) -> int:
        """Id of the unknown token, which every piece outside the vocabulary becomes."""
        if self.unk_token is None:
            raise KeyError(f"{type(self).__name__} has no unknown token (unk_token=None)")
        return self._special_id(self.unk_token)

    # -- text -> tokens -> ids --------------------------------------------------------------------

    def split_special_tokens(self, text: str) -> list[tuple[str, bool]]:
        """``"a [MASK] b"`` -> ``[("a ", False), ("[MASK]", True), (" b", False)]``: the special tokens
        cut out first, so that no tokenizer ever breaks one up. Empty pieces are dropped."""
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}: expected a string, got {type(text).__name__}")
        if self._special_pattern is None:
            return [(text, False)] if text else []
        parts = self._special_pattern.split(text)
        # re.split with one group alternates: text, special, text, special, ..., text
        return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]

    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text`` (special tokens kept whole)."""
        out = []
        for chunk, special in self.split_special_tokens(text):
            if special:
                out.append(chunk)
            else:
                out.extend(self._tokenize_chunk(chunk))
        return out

    def _tokenize_chunk(self, text: str) -> list[str]:
        """Cut text that holds no special token into tokens. Each subclass says how."""
        raise NotImplementedError(f"{type(self).__name__} must define _tokenize_chunk")

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``. Pieces outside the vocabulary become the unknown token.

        ``add_special_tokens=True`` gives BERT's single-sentence form ``[CLS] text [SEP]``. (The
        default is False for every minilm tokenizer; Hugging Face's BERT tokenizer defaults to True.)
        """
        vocab = self._need_vocab("encode")
        ids = self._ids(vocab, self.tokenize(text))
        if add_special_tokens:
            ids = [self.cls_id, *ids, self.sep_id]
        return ids

    def _ids(self, vocab: Vocab, tokens: list[str]) -> list[int]:
        if self.unk_token is None:
            missing = [t for t in tokens if t not in vocab]
            if missing:
                raise KeyError(
                    f"{type(self).__name__}: tokens {missing[:5]} are not in the vocabulary and there "
                    f"is no unknown token to map them to"
                )
        return vocab.lookup_ids(tokens)

    def encode_batch(self, texts: Iterable[str], add_special_tokens: bool = False) -> list[list[int]]:
        """``encode`` for each text (padding is the batching code's job: ``minilm.data.loader``)."""
        if isinstance(texts, str):
            raise TypeError(
                f"{type(self).__name__}.encode_batch: expected a list of strings, got one string; use encode(text)"
            )
        return [self.encode(t, add_special_tokens=add_special_tokens) for t in texts]

    def encode_pair(self, text_a: str, text_b: str) -> tuple[list[int], list[int]]:
        """BERT's sentence-pair input: ids of ``[CLS] a [SEP] b [SEP]`` and the segment ids
        (``token_type_ids``): 0 for ``[CLS] a [SEP]``, 1 for ``b [SEP]``."""
        a = self.encode(text_a)
        b = self.encode(text_b)
        ids = [self.cls_id, *a, self.sep_id, *b, self.sep_id]
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        return ids, segments

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Text of ``ids``. An id outside the vocabulary is an ``IndexError`` naming it."""
        vocab = self._need_vocab("decode")
        tokens = vocab.lookup_tokens(list(ids))
        specials = set(self._special_tokens)
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in specials]
        if self.specials_in_runs:
            return self._detokenize(tokens)
        # glue the runs of ordinary tokens with the subclass's rule; special tokens go in as they are
        pieces, run = [], []
        for t in tokens:
            if t in specials:
                if run:
                    pieces.append(self._detokenize(run))
                    run = []
                pieces.append(t)
            else:
                run.append(t)
        if run:
            pieces.append(self._detokenize(run))
        return self._join_decoded(pieces)

    def _detokenize(self, tokens: list[str]) -> str:
        """Glue ordinary tokens back into text. Each subclass says how."""
        raise NotImplementedError(f"{type(self).__name__} must define _detokenize")

    def _join_decoded(self, pieces: list[str]) -> str:
        """Join decoded runs and special tokens. Tokenizers whose pieces carry their own spaces
        (characters, byte-level BPE) concatenate; the others put a space between."""
        return " ".join(p for p in pieces if p)

    # -- training ---------------------------------------------------------------------------------

    def train(self, texts: Iterable[str], vocab_size: int | None = None, min_frequency: int = 1) -> Tokenizer:
        """Learn the vocabulary from ``texts``; returns ``self`` so that ``Tok().train(texts)`` reads well."""
        raise NotImplementedError(f"{type(self).__name__} must define train")

    # -- files ------------------------------------------------------------------------------------

    def _config(self) -> dict:
        """What this kind of tokenizer needs in its file besides the vocabulary (JSON values)."""
        return {}

    def save(self, path) -> None:
        """Write the tokenizer as one JSON file, atomically (temporary file, then rename)."""
        from minilm.io import atomic_open

        vocab = self._need_vocab("save")
        data = {
            "format": FORMAT,
            "version": VERSION,
            "type": self.kind,
            "special_tokens": self._special_tokens,
            "unk_token": self.unk_token,
            "vocab": vocab.tokens,
            "config": self._config(),
        }
        with atomic_open(path, f"{type(self).__name__}.save") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    @classmethod
    def _from_file(cls, vocab: Vocab, special_tokens: list[str], unk_token, config: dict, path: str) -> Tokenizer:
        """Rebuild a tokenizer of this kind from the fields of its file."""
        raise NotImplementedError(f"{cls.__name__} must define _from_file")

    @classmethod
    def load(cls, path) -> Tokenizer:
        """Read any file written by ``save``. ``Tokenizer.load`` returns the right kind;
        ``WordPieceTokenizer.load`` also checks that the file holds a WordPiece tokenizer.

        A file that is not a tokenizer file, or is damaged, is a ``TokenizerFileError`` naming the file
        and what is wrong (nothing is half-loaded)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except UnicodeDecodeError as e:
            raise TokenizerFileError(f"{path}: not a tokenizer file, it is not UTF-8 text ({e})") from None
        except json.JSONDecodeError as e:
            raise TokenizerFileError(f"{path}: not a tokenizer file, the JSON is broken ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise TokenizerFileError(
                f'{path}: not a minilm tokenizer file (expected a JSON object with "format": "{FORMAT}")'
            )
        if data.get("version") != VERSION:
            raise TokenizerFileError(
                f"{path}: tokenizer file version {data.get('version')!r}, this minilm reads version {VERSION}"
            )
        kinds = _kinds()
        kind = data.get("type")
        if kind not in kinds:
            raise TokenizerFileError(f"{path}: unknown tokenizer type {kind!r}; known: {sorted(kinds)}")
        target = kinds[kind]
        if cls is not Tokenizer and not issubclass(target, cls):
            raise TokenizerFileError(
                f"{path}: holds a {target.__name__}, not a {cls.__name__}; use Tokenizer.load(path)"
            )
        specials, unk, tokens, config = (data.get(k) for k in ("special_tokens", "unk_token", "vocab", "config"))
        if not isinstance(specials, list) or not all(isinstance(t, str) for t in specials):
            raise TokenizerFileError(f'{path}: "special_tokens" must be a list of strings')
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise TokenizerFileError(f'{path}: "vocab" must be a list of strings')
        if unk is not None and not isinstance(unk, str):
            raise TokenizerFileError(f'{path}: "unk_token" must be a string or null, got {unk!r}')
        if not isinstance(config, dict):
            raise TokenizerFileError(f'{path}: "config" must be a JSON object')
        missing = [t for t in specials if t not in tokens]
        if missing:
            raise TokenizerFileError(f"{path}: the special tokens {missing} are not in the vocabulary")
        try:
            vocab = Vocab(tokens, unk_token=unk)
            return target._from_file(vocab, specials, unk, config, path)
        except TokenizerFileError:
            raise
        except (ValueError, TypeError, KeyError) as e:
            raise TokenizerFileError(f"{path}: {e}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, special_tokens={self._special_tokens})"


def _kinds() -> dict:
    """Every tokenizer class by its ``kind`` (the subclasses of Tokenizer, found when needed)."""
    found, todo = {}, [Tokenizer]
    while todo:
        for sub in todo.pop().__subclasses__():
            found[sub.kind] = sub
            todo.append(sub)
    return found
