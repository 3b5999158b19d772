"""English word forms: plurals, verb endings, the indefinite article, and turning tokens into text.

The lexicon lists only base forms and the irregular ones (``knife/knives``, ``eat/ate``); these
rules make the regular rest.
"""

from __future__ import annotations

VOWELS = frozenset("aeiou")
_SIBILANT_ENDINGS = ("s", "sh", "ch", "x", "z")


def plural(noun: str) -> str:
    """``boat -> boats``, ``box -> boxes``, ``berry -> berries``."""
    if noun.endswith(_SIBILANT_ENDINGS):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in VOWELS:
        return noun[:-1] + "ies"
    return noun + "s"


def third_person(verb: str) -> str:
    """Present tense with he/she/it: ``eat -> eats``, ``wash -> washes``, ``go -> goes``, ``fry -> fries``."""
    if verb == "have":
        return "has"
    if verb.endswith(_SIBILANT_ENDINGS + ("o",)):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in VOWELS:
        return verb[:-1] + "ies"
    return verb + "s"


def past(verb: str) -> str:
    """Regular past tense: ``bake -> baked``, ``carry -> carried``, ``cook -> cooked``.

    Irregular pasts (``eat/ate``) and doubled consonants (``chop/chopped``) are written in the lexicon.
    """
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in VOWELS:
        return verb[:-1] + "ied"
    return verb + "ed"


def article(word: str) -> str:
    """``a`` before a consonant, ``an`` before a vowel: ``a boat``, ``an old boat``.

    The rule looks at the letter; the lexicon avoids words where sound and letter disagree
    (``hour``, ``useful``), so the letter is always right here.
    """
    return "an" if word[0] in VOWELS else "a"


#: Tokens written without a space before them.
_CLOSING = frozenset(".,?!;:")


def join(tokens: list[str]) -> str:
    """Tokens to a sentence: spaces between words, none before punctuation, first letter capital.

    >>> join(["the", "cook", "baked", "a", "pie", "."])
    'The cook baked a pie.'
    """
    text = " ".join(tokens)
    for mark in _CLOSING:
        text = text.replace(" " + mark, mark)
    return text[:1].upper() + text[1:]
