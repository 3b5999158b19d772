"""BERT's text normaliser and pre-tokenizer: from raw text to the words that WordPiece will cut.

Before WordPiece sees anything, BERT's tokenizer (its ``BasicTokenizer``) cleans the text and cuts
it into words, in six small steps, each a function here::

    >>> basic_tokenize("  Héllo,\\tWORLD!\\x00 naïve 中文 ")
    ['hello', ',', 'world', '!', 'naive', '中', '文']

1. ``clean_text``: drop the NUL character, U+FFFD (the replacement character that marks broken
   bytes) and every control or format character; turn every whitespace character into a plain
   space. Tab, newline and carriage return count as whitespace, not as control characters.
2. ``space_cjk``: put a space on each side of every CJK ideograph, so that Chinese (and the
   Chinese characters of Japanese and Korean) becomes one word per character.
3. ``nfc``: Unicode NFC normalisation, so that ``e`` + combining acute and the one-character ``é``
   are the same text.
4. split on whitespace (``str.split()``).
5. ``normalize_word``: lowercase (uncased BERT) and strip accents (``remove_accents``: Unicode NFD,
   then drop the combining marks). ``strip_accents=None`` means "strip when lowercasing", which is
   what BERT's uncased models were trained with.
6. ``split_punctuation``: every punctuation character becomes a word of its own.

``basic_tokenize`` runs them all. Its output is exactly what the Python ``BertTokenizer`` of
Hugging Face transformers (``BertTokenizerLegacy`` since version 5) gives to WordPiece, which is
Google's original BERT tokenizer plus step 3 and a wider notion of control character (Google's
drops categories Cc and Cf only; this one, like Hugging Face's, every category starting with C:
also private-use, surrogate and unassigned code points). Unicode facts (categories, case, NFC/NFD)
come from Python's ``unicodedata``, so they follow the Unicode version of the running Python.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

#: The CJK ideograph blocks BERT puts spaces around (Unified Ideographs and Extensions A to E,
#: Compatibility Ideographs and their Supplement). Hangul, Hiragana and Katakana are not among
#: them: those are written with spaces between words, or not split by BERT at all.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

#: ASCII characters that are neither letters, digits nor space: BERT counts all of them as
#: punctuation, also ``$ + < = > ^ ` | ~`` which Unicode files under symbols (S*), not P*.
ASCII_PUNCTUATION = frozenset(
    chr(c) for lo, hi in ((33, 47), (58, 64), (91, 96), (123, 126)) for c in range(lo, hi + 1)
)


# -- what a character is ----------------------------------------------------------------------------


def is_whitespace(ch: str) -> bool:
    """Space, tab, newline, carriage return, or any Unicode space separator (category Zs, e.g. the
    no-break space U+00A0 or the ideographic space U+3000)."""
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch: str) -> bool:
    """A control or format character (every Unicode category starting with C: Cc, Cf, Co, Cs, Cn),
    except tab, newline and carriage return, which BERT treats as whitespace."""
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def is_punctuation(ch: str) -> bool:
    """Any ASCII character that is not a letter, a digit or a space (``$``, ``^`` and `````
    included), and any Unicode punctuation (a category starting with P: ``«``, ``—``, ``。``)."""
    return ch in ASCII_PUNCTUATION or unicodedata.category(ch).startswith("P")


def is_cjk(ch: str) -> bool:
    """A CJK ideograph, from one of the blocks in ``CJK_RANGES``."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


# -- the steps ----------------------------------------------------------------------------------------


def clean_char(ch: str) -> str:
    """What ``clean_text`` makes of one character: ``""`` for NUL, U+FFFD and control characters,
    ``" "`` for whitespace, else the character itself."""
    if ch == "\x00" or ch == "\ufffd" or is_control(ch):
        return ""
    if is_whitespace(ch):
        return " "
    return ch


class _CleanTable(dict):
    """``str.translate`` table that asks ``clean_char`` once per distinct character and remembers."""

    def __missing__(self, cp: int):
        out = clean_char(chr(cp))
        self[cp] = out
        return out


_CLEAN_TABLE = _CleanTable()


def clean_text(text: str) -> str:
    """``"a\\tb\\x00c\\u00a0d"`` -> ``"a bc d"``: ``clean_char`` applied to every character.

    (Written as ``"".join(clean_char(c) for c in text)`` it does the same; ``str.translate`` with a
    table that remembers each character's answer runs the loop in C.)"""
    return text.translate(_CLEAN_TABLE)


_CJK_PATTERN = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES) + "]")


def space_cjk(text: str) -> str:
    """``"我爱NLP"`` -> ``" 我  爱 NLP"``: a space on each side of every CJK ideograph (``is_cjk``)."""
    return _CJK_PATTERN.sub(r" \g<0> ", text)


def nfc(text: str) -> str:
    """Unicode NFC: compose what can be composed (``"e\\u0301"`` -> ``"é"``), so that text that looks
    the same is the same. (Hugging Face's Python BERT tokenizer does this; Google's original and the
    Rust one of the ``tokenizers`` library do not. Uncased, it makes no difference, as
    ``remove_accents`` decomposes again.)"""
    return unicodedata.normalize("NFC", text)


def remove_accents(word: str) -> str:
    """``"naïve"`` -> ``"naive"``: decompose (NFD: ``ï`` becomes ``i`` + a combining diaeresis), then
    drop the nonspacing combining marks (category Mn)."""
    if word.isascii():
        return word
    return "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")


def normalize_word(word: str, lowercase: bool = True, strip_accents: bool | None = None) -> str:
    """Lowercase ``word`` (``str.lower``) if ``lowercase``, then strip its accents if ``strip_accents``
    (``None``: the same as ``lowercase``, as in uncased BERT). ``"Café"`` -> ``"cafe"``."""
    if strip_accents is None:
        strip_accents = lowercase
    if lowercase:
        word = word.lower()
    if strip_accents:
        word = remove_accents(word)
    return word


def split_punctuation(word: str) -> list[str]:
    """``"don't!"`` -> ``["don", "'", "t", "!"]``: every punctuation character (``is_punctuation``)
    becomes a word of its own, the runs between them stay whole. ``""`` gives ``[]``."""
    if word.isalnum():  # letters and digits only: nothing to split (the common case, made fast)
        return [word]
    pieces, run = [], []
    for ch in word:
        if is_punctuation(ch):
            if run:
                pieces.append("".join(run))
                run = []
            pieces.append(ch)
        else:
            run.append(ch)
    if run:
        pieces.append("".join(run))
    return pieces


def basic_tokenize(
    text: str, lowercase: bool = True, strip_accents: bool | None = None, never_split: Collection[str] = ()
) -> list[str]:
    """The words of ``text`` as BERT's tokenizer sees them, before WordPiece.

    ``clean_text``, ``space_cjk``, ``nfc``, split on whitespace, then for each word
    ``normalize_word`` and ``split_punctuation``. A word in ``never_split`` (the tokenizer passes its
    special tokens) is kept as it is, before or after normalising, as BERT does::

        >>> basic_tokenize("HeLLo, world! $5^")
        ['hello', ',', 'world', '!', '$', '5', '^']
        >>> basic_tokenize("Café", lowercase=False)
        ['Café']
    """
    words = []
    for word in nfc(space_cjk(clean_text(text))).split():
        if word not in never_split:
            word = normalize_word(word, lowercase, strip_accents)
            if word not in never_split:
                words.extend(split_punctuation(word))
                continue
        words.append(word)
    return words
