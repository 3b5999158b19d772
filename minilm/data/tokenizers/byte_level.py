"""Byte-level text: every byte as one printable character, and the pre-tokenizer of byte-level BPE.

Byte-level BPE (GPT-2's tokenizer, chapter 08) does not work on characters but on the UTF-8 bytes
of the text. There are only 256 different bytes, so a vocabulary that starts with all of them can
spell *any* text: nothing is ever unknown, an emoji or a Chinese character simply takes several
bytes, and decoding gives back exactly the text that went in.

Bytes are awkward to look at and to store in a JSON vocabulary (byte 10 is a newline, byte 32 a
space, bytes 128 to 255 are not text on their own). So each byte is *shown* as one printable
Unicode character, its **byte symbol**:

    >>> bytes_to_symbols("héllo wörld\\n".encode("utf-8"))
    'hÃ©lloĠwÃ¶rldĊ'
    >>> symbols_to_bytes('hÃ©lloĠwÃ¶rldĊ').decode("utf-8")
    'héllo wörld\\n'

A space is ``Ġ``, a newline ``Ċ``, and ``é`` (two bytes in UTF-8, ``c3 a9``) is ``Ã©``. A BPE token is
then an ordinary string of byte symbols, such as ``Ġthe``.

The **pre-tokenizer** cuts text into words before BPE sees it, so that no merge ever crosses a word
boundary, and a word keeps the space in front of it (``" the"`` is one word, ``Ġthe`` one token):

    >>> pretokenize("I'll pay 42 dollars!!  OK")
    ['I', "'ll", ' pay', ' 42', ' dollars', '!!', ' ', ' OK']
"""

from __future__ import annotations

import re


def byte_symbol_table() -> list[str]:
    """The byte symbols: ``table[b]`` is the printable character that stands for byte ``b``.

    The rule: a byte whose Latin-1 character (``chr(b)``, the first 256 Unicode code points) is
    printable and not a space stands for itself, so ``a``, ``!``, ``é`` look as they should. The other
    68 bytes (the controls 0-31 and 127-159, the space 32, the no-break space 160 and the soft
    hyphen 173) are given the code points 256, 257, 258, ... in byte order, which are printable
    letters (``Ā ā Ă ...``). So byte 0 is ``Ā``, the space (the 33rd such byte) is ``Ġ`` = chr(288), the
    newline ``Ċ``. Every symbol is one printable, non-space character and no two bytes share one.
    (This is the same table as GPT-2's, reached by a rule rather than a list of ranges.)
    """
    table, shifted = [], 0
    for b in range(256):
        c = chr(b)
        if c.isprintable() and not c.isspace():
            table.append(c)
        else:
            table.append(chr(256 + shifted))
            shifted += 1
    return table


#: ``BYTE_TO_SYMBOL[b]``: the symbol of byte ``b`` (a tuple of 256 one-character strings).
BYTE_TO_SYMBOL = tuple(byte_symbol_table())
#: The inverse: symbol -> byte value.
SYMBOL_TO_BYTE = {s: b for b, s in enumerate(BYTE_TO_SYMBOL)}


def bytes_to_symbols(data: bytes) -> str:
    """``b"a b"`` -> ``'aĠb'``: each byte replaced by its symbol (one character per byte)."""
    return "".join([BYTE_TO_SYMBOL[b] for b in data])


def symbols_to_bytes(symbols: str) -> bytes:
    """``'aĠb'`` -> ``b"a b"``: the inverse of ``bytes_to_symbols``. A character that is not a byte
    symbol is a ``ValueError`` naming it."""
    try:
        return bytes([SYMBOL_TO_BYTE[c] for c in symbols])
    except KeyError as e:
        char = e.args[0]
        raise ValueError(
            f"symbols_to_bytes: {char!r} (U+{ord(char):04X}) in {symbols[:40]!r} is not a byte "
            f"symbol; byte-level tokens are made only of the 256 characters of BYTE_TO_SYMBOL"
        ) from None


def text_to_symbols(text: str) -> str:
    """``"é"`` -> ``'Ã©'``: the byte symbols of the UTF-8 encoding of ``text``.

    A lone surrogate (``"\\ud800"``, which is not text and cannot be written as UTF-8) is a
    ``UnicodeEncodeError``."""
    return bytes_to_symbols(text.encode("utf-8"))


def symbols_to_text(symbols: str) -> str:
    """``'Ã©'`` -> ``"é"``. A sequence of symbols cut in the middle of a character (any run of ids
    can be decoded, also one that splits the two bytes of ``é``) gives ``\\ufffd`` for the broken
    bytes instead of an error."""
    return symbols_to_bytes(symbols).decode("utf-8", errors="replace")


# The pre-tokenizer. Python's ``re`` has no ``\p{L}`` (letter) or ``\p{N}`` (number), so the classes are
# built from ``\w`` (letters, digits, other numerals and ``_``), ``\d`` (decimal digits) and ``\s``:
#   letters  [^\W\d_]       = word characters that are neither digits nor "_"
#   digits   \d
#   other    [^\s\w] or _   = everything that is neither space, letter nor digit
# Every character belongs to exactly one class. Checked against Hugging Face's GPT-2 pre-tokenizer
# on every code point, the one difference (besides code points that Python's Unicode tables do not
# know yet) is numerals that are not decimal digits, such as "²", "½" or "Ⅻ": letters here, numbers
# (\p{N}) there.
PRETOKENIZE_PATTERN = re.compile(
    r"'(?:s|t|re|ve|m|ll|d)"  # English contractions: 's 't 're 've 'm 'll 'd
    r"| ?[^\W\d_]+"  # a run of letters, with the space before it
    r"| ?\d+"  # a run of digits, with the space before it
    r"| ?(?:[^\s\w]|_)+"  # a run of other symbols (punctuation, emoji, marks), with the space before it
    r"|\s+(?!\S)"  # a run of spaces, leaving its last space to the word that follows it
    r"|\s+"  # any other run of spaces (at the end of the text, or one space before a word)
)


def pretokenize(text: str) -> list[str]:
    """Cut ``text`` into the words that BPE works inside, in the spirit of GPT-2's pre-tokenizer.

    ``"The cat's 3 toys!"`` -> ``['The', ' cat', "'s", ' 3', ' toys', '!']``. A word keeps one space in
    front of it, so ``" the"`` in the middle of a sentence is one word and ``"the"`` at its start
    another; of a longer run of spaces all but the last stand alone (``"a   b"`` -> ``['a', '  ', ' b']``).

    Lossless: every character of every string falls into one of the patterns (a space into the
    last, anything else into letters, digits or other), so ``"".join(pretokenize(text)) == text``.
    """
    return PRETOKENIZE_PATTERN.findall(text)
