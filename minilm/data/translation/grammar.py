"""A sentence as a ``Clause``, written out in English and in Zorvish, and English read back.

The two languages share one meaning, a ``Clause`` (who does what to whom, where, when, negated or
not), and differ only in how they write it: ``source_words`` and ``target_words`` render a clause,
``parse`` recovers the clause from an English sentence. Both renderings tag every word with the
*role* it plays ("subj.noun", "aux", "verb"...), so the word alignment falls out of the roles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from minilm.data.translation.lexicon import (
    ADJECTIVES,
    ANIMATES,
    FITS,
    INDEFINITE,
    NEGATION,
    NOUNS,
    NUMBERS,
    OBJECT_MARK,
    OBJECTS,
    PLACES,
    PLURAL_OF,
    PLURAL_SUFFIX,
    PREPOSITIONS,
    SINGULAR_OF,
    TENSE_SUFFIX,
    TIMES,
    VERB_FORMS,
    VERBS,
    source_word_set,
)

_KNOWN = source_word_set()


@dataclass(frozen=True)
class NounPhrase:
    """``det [adjective] noun``: ``det`` is "the", "a" or a number word; ``noun`` is the singular."""

    det: str
    noun: str
    plural: bool = False
    adjective: str | None = None


@dataclass(frozen=True)
class Clause:
    """What a sentence says, independent of either language's word order."""

    subject: NounPhrase
    verb: str  # the base form ("see")
    tense: str  # "present", "past" or "future"
    negated: bool = False
    object: NounPhrase | None = None
    preposition: str | None = None
    place: NounPhrase | None = None
    time: str | None = None


# -- writing a clause out -------------------------------------------------------------------------


def source_words(c: Clause) -> list[tuple[str, str]]:
    """The English sentence as ``(word, role)`` pairs; each role occurs at most once."""
    out = _source_np(c.subject, "subj")
    third, past, _, _ = VERBS[c.verb]
    if c.tense == "future":
        out += [("will", "aux")] + ([("not", "not")] if c.negated else []) + [(c.verb, "verb")]
    elif c.negated:
        aux = "did" if c.tense == "past" else ("do" if c.subject.plural else "does")
        out += [(aux, "aux"), ("not", "not"), (c.verb, "verb")]
    else:
        out.append((past if c.tense == "past" else c.verb if c.subject.plural else third, "verb"))
    if c.object is not None:
        out += _source_np(c.object, "obj")
    if c.place is not None:
        out += [(c.preposition, "prep")] + _source_np(c.place, "place")
    return out + ([(c.time, "time")] if c.time else [])


def _source_np(np: NounPhrase, slot: str) -> list[tuple[str, str]]:
    noun = PLURAL_OF[np.noun] if np.plural else np.noun
    det = _article(np.adjective or noun) if np.det == "a" else np.det
    out = [(det, slot + ".det")] + ([(np.adjective, slot + ".adj")] if np.adjective else [])
    return out + [(noun, slot + ".noun")]


def _article(next_word: str) -> str:
    """English's indefinite article: "an" before a vowel ("an old horse"), "a" otherwise."""
    return "an" if next_word[0] in "aeiou" else "a"


def target_words(c: Clause) -> list[tuple[str, tuple[str, ...]]]:
    """The Zorvish sentence as ``(word, the source roles it translates)``; ``ko`` translates none."""
    out = [(TIMES[c.time][1], ("time",))] if c.time else []
    out += _target_np(c.subject, "subj")
    if c.place is not None:
        out += _target_np(c.place, "place") + [(PREPOSITIONS[c.preposition], ("prep",))]
    if c.object is not None:
        out += _target_np(c.object, "obj") + [(OBJECT_MARK, ())]
    if c.negated:
        out.append((NEGATION, ("not",)))
    has_aux = c.negated or c.tense == "future"
    return out + [(VERBS[c.verb][2] + TENSE_SUFFIX[c.tense], ("aux", "verb") if has_aux else ("verb",))]


def _target_np(np: NounPhrase, slot: str) -> list[tuple[str, tuple[str, ...]]]:
    """``noun [adjective] [en | number]``; "the" goes into the noun, a number keeps the noun singular."""
    stem = NOUNS.get(np.noun) or PLACES[np.noun]
    plural = np.plural and np.det not in NUMBERS
    noun_roles = (slot + ".det", slot + ".noun") if np.det == "the" else (slot + ".noun",)
    out = [(stem + PLURAL_SUFFIX if plural else stem, noun_roles)]
    out += [(ADJECTIVES[np.adjective], (slot + ".adj",))] if np.adjective else []
    if np.det == "a":
        out.append((INDEFINITE, (slot + ".det",)))
    elif np.det in NUMBERS:
        out.append((NUMBERS[np.det], (slot + ".det",)))
    return out


# -- reading an English sentence back -------------------------------------------------------------


def parse(source: str) -> Clause:
    """The ``Clause`` of an English sentence of the grammar, ``[subject] verb [object] [preposition
    place] [time]``. A ``ValueError`` names the first word that does not fit: an unknown word, a
    missing verb, "a dogs", "the dog see", "saw ... tomorrow"."""
    words = source.split()
    for i, w in enumerate(words):
        if w not in _KNOWN:
            raise ValueError(
                f"cannot translate {source!r}: unknown word {w!r} (word {i + 1}); "
                f"the words it knows are translation.SOURCE_WORDS"
            )
    reader = _Reader(source, words)
    subject = _read_np(reader, "the subject", NOUNS)
    verb, tense, negated = _read_verb_group(reader, subject.plural)
    obj = _read_np(reader, f"the object of {verb!r}", NOUNS) if VERBS[verb][3] else None
    preposition = place = time = None
    if reader.peek() in PREPOSITIONS:
        preposition = reader.take()
        place = _read_np(reader, f"a place after {preposition!r}", PLACES)
    if reader.peek() in TIMES:
        time = reader.take()
        if TIMES[time][0] != tense:
            reader.fail(f"{time!r} needs a {TIMES[time][0]} verb, the verb is {tense}", back=1)
    if reader.peek() is not None:
        reader.fail("the sentence should end here ([subject] verb [object] [preposition place] [time])")
    return Clause(subject, verb, tense, negated, obj, preposition, place, time)


class _Reader:
    """The words of a sentence and a position in them; ``fail`` raises naming the current word."""

    def __init__(self, source: str, words: list[str]):
        self.source, self.words, self.i = source, words, 0

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def take(self) -> str:
        if self.i >= len(self.words):
            self.fail("the sentence ends too early")
        self.i += 1
        return self.words[self.i - 1]

    def fail(self, why: str, back: int = 0):
        i = self.i - back
        where = f"word {i + 1} {self.words[i]!r}" if i < len(self.words) else "the end"
        raise ValueError(f"cannot translate {self.source!r}: at {where}: {why}")


def _read_np(reader: _Reader, what: str, nouns: dict) -> NounPhrase:
    """``det [adjective] noun``, with "a" only before a singular and a number only before a plural."""
    is_place = nouns is PLACES
    det = reader.take()
    if det not in ("the", "a", "an") + (() if is_place else tuple(NUMBERS)):
        reader.fail(f"{what} must start with 'the', 'a', 'an'" + ("" if is_place else " or a number"), back=1)
    if det in ("a", "an"):
        following = reader.peek()
        if following is not None and det != _article(following):
            reader.fail(f"write {_article(following)!r} before {following!r}, not {det!r}", back=1)
        det = "a"
    adjective = reader.take() if reader.peek() in ADJECTIVES else None
    word = reader.take()
    noun, plural = (SINGULAR_OF[word], True) if not is_place and word in SINGULAR_OF else (word, False)
    if noun not in nouns:
        reader.fail(f"{what} needs {'a place (' + ', '.join(PLACES) + ')' if is_place else 'a noun'} here", back=1)
    if (det == "a" and plural) or (det in NUMBERS and not plural):
        reader.fail(f"{det!r} does not go with the {'plural' if plural else 'singular'} {word!r}", back=1)
    return NounPhrase(det, noun, plural, adjective)


def _read_verb_group(reader: _Reader, plural: bool) -> tuple[str, str, bool]:
    """(base, tense, negated) from "sees", "see", "saw", "will [not] see", "does/do/did not see"."""
    word = reader.take()
    if word in ("will", "does", "do", "did"):
        if word in ("does", "do") and (word == "do") != plural:
            reader.fail(f"{word!r} does not agree with a {'plural' if plural else 'singular'} subject", back=1)
        negated = reader.peek() == "not"
        if negated:
            reader.take()
        elif word != "will":
            reader.fail(f"after {word!r} this grammar needs 'not'")
        base = reader.take()
        if VERB_FORMS.get(base, (None, None))[1] != "base":
            reader.fail(f"after {word!r} comes the base form of a verb ('see', not 'sees' or 'saw')", back=1)
        return base, {"will": "future", "did": "past"}.get(word, "present"), negated
    if word not in VERB_FORMS:
        reader.fail("expected a verb here", back=1)
    base, kind = VERB_FORMS[word]
    if kind != "past" and (kind == "base") != plural:
        reader.fail(f"{word!r} does not agree with a {'plural' if plural else 'singular'} subject", back=1)
    return base, "past" if kind == "past" else "present", False


# -- drawing a clause -----------------------------------------------------------------------------


def random_noun_phrase(rng: random.Random, nouns, plural_ok: bool = True, adjective_rate: float = 0.3) -> NounPhrase:
    """A noun from ``nouns``, plural a third of the time, with an adjective that fits it now and then."""
    plural = plural_ok and rng.random() < 0.35
    det = rng.choice(("the", "the", "the") + (tuple(NUMBERS) if plural else ("a", "a")))
    noun = rng.choice(tuple(nouns))
    fitting = tuple(a for a in ADJECTIVES if a not in FITS or noun in FITS[a])
    adjective = rng.choice(fitting) if rng.random() < adjective_rate else None
    return NounPhrase(det, noun, plural, adjective)


def random_clause(rng: random.Random) -> Clause:
    """One sensible clause drawn with ``rng``: an animate subject, an object that fits the verb, and
    now and then a place, a time word (matching the tense) and a negation."""
    verb = rng.choice(tuple(VERBS))
    tense = rng.choice(tuple(TENSE_SUFFIX))
    objects = VERBS[verb][3]
    obj = random_noun_phrase(rng, OBJECTS[objects]) if objects else None
    preposition = rng.choice(tuple(PREPOSITIONS)) if rng.random() < 0.3 else None
    place = random_noun_phrase(rng, FITS.get(preposition, PLACES), False, 0.2) if preposition else None
    time = next(t for t, (needs, _) in TIMES.items() if needs == tense) if rng.random() < 0.3 else None
    subject = random_noun_phrase(rng, ANIMATES)
    return Clause(subject, verb, tense, rng.random() < 0.3, obj, preposition, place, time)
