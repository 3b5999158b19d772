"""The grammar: noun phrases and verb groups that agree, and the record of what was generated.

The rules a reader (or a language model) can find in the text:

- **number agreement**: ``the cook bakes`` / ``the cooks bake``, ``the soup is`` / ``the pies are``,
  ``this boat`` / ``these boats``, ``two boats``, ``some rice`` (a mass noun is never ``a rice``);
- **a / an** by the next word's first letter: ``a boat``, ``an old boat``;
- **pronouns** by number and gender: ``Anna ... she ... her``, ``the boats ... they``, ``it`` for
  animals and things, and a possessive always agrees with its subject (``Ben washed his cup``);
- **tense**: every verb of a sentence is in the sentence's tense (past, present or future), with
  ``do``-support in negations and questions (``did not bake``, ``does she bake?``).

Each generated sentence keeps, beside its tokens, one ``Clause`` per finite verb: the subject's
words, the verb group's words, the tense and the verb's lemma. The tests read these to check the
agreement rules from the surface words alone.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from minilm.data.corpus import morphology
from minilm.data.corpus.lexicon import PRONOUNS, Noun, Verb

#: How often a salient entity (the previous subject) is referred to by a pronoun.
P_PRONOUN = 0.6
#: How often a definite mention repeats the adjective of the first mention (``the old boat``).
P_REPEAT_ADJECTIVE = 0.3
#: How often ``this``/``these`` or ``that``/``those`` replaces ``the``.
P_DEMONSTRATIVE = 0.05
PLURAL_DETERMINERS = ("some", "two", "three", "several", "many", "four")


class Pool:
    """Things to choose from with fixed weights; ``pick(rng)`` draws one.

    ``Pool.zipf(items)`` weights the k-th item (from 0) by ``1 / (k + 1)``, so the first items of a
    list are the common ones and the rest form a long tail, as word frequencies do in real text.
    """

    __slots__ = ("cumulative", "items", "weights")

    def __init__(self, items, weights):
        self.items, self.weights = list(items), list(weights)
        total, self.cumulative = 0.0, []
        for w in self.weights:
            total += w
            self.cumulative.append(total)

    @classmethod
    def zipf(cls, items, scale: float = 1.0) -> Pool:
        items = list(items)
        return cls(items, [scale / (k + 1) for k in range(len(items))])

    def __add__(self, other: Pool) -> Pool:
        return Pool(self.items + other.items, self.weights + other.weights)

    def __len__(self) -> int:
        return len(self.items)

    def pick(self, rng):
        """One item, drawn with probability proportional to its weight."""
        return self.items[bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def choice(rng, options):
    """One of ``options``, all equally likely (``rng.random`` only, so stable across Python versions)."""
    return options[int(rng.random() * len(options))]


class Entity:
    """Something a document talks about: a person, an animal, a thing, or a group of two.

    ``noun`` gives its kinds (for a named person, the noun of their role: Anna the ``sailor``);
    ``number`` is ``"sg"`` or ``"pl"``; ``gender`` (``"m"``, ``"f"``, ``"n"``, or ``"1"`` for the
    narrator, who is always ``I``) picks the pronoun;
    ``adjective`` is said at the first mention and sometimes repeated; ``mentioned`` flips to true
    at the first mention, after which the entity is ``the ...``.
    """

    __slots__ = ("adjective", "gender", "members", "mentioned", "name", "noun", "number")

    def __init__(self, noun: Noun, number="sg", name=None, gender="n", adjective=None, members=()):
        self.noun, self.name, self.gender, self.adjective = noun, name, gender, adjective
        plural = bool(members) or (number == "pl" and not noun.mass)
        self.number = "pl" if plural else "sg"
        self.mentioned = False
        self.members = tuple(members)

    def __repr__(self) -> str:
        return f"Entity({self.name or self.noun.singular!r}, {self.number})"

    @property
    def agreement(self) -> str:
        """``"1sg"``, ``"3sg"`` or ``"pl"``: what the verb agrees with."""
        if self.number == "pl":
            return "pl"
        return "1sg" if self.gender == "1" else "3sg"

    @property
    def introduced(self) -> bool:
        """Has the reader met this entity? (A name and ``I`` need no introduction.)"""
        return self.mentioned or bool(self.name) or self.gender == "1"

    @property
    def is_person(self) -> bool:
        return "person" in self.noun.kinds

    def fits(self, allowed: frozenset) -> bool:
        """Does this entity satisfy a verb's restriction (a set of kinds and single nouns)?"""
        if self.members:
            return all(m.fits(allowed) for m in self.members)
        return bool(self.noun.kinds & allowed) or self.noun.singular in allowed

    def pronoun(self, case: int) -> str:
        """Case 0: subject (``she``), 1: object (``her``), 2: possessive (``her``)."""
        if self.number == "pl":
            key = ("pl", "1" if self.gender == "1" else None)
        else:
            key = ("sg", self.gender)
        return PRONOUNS[key][case]

    def form(self) -> str:
        """The noun in this entity's number: ``boat`` or ``boats``."""
        return self.noun.plural if self.number == "pl" else self.noun.singular


def group(a: Entity, b: Entity) -> Entity:
    """``Anna and the captain``: two entities as one plural subject (``they``; with the narrator,
    who is named last, ``Anna and I``, ``we``)."""
    if a.gender == "1":
        a, b = b, a
    return Entity(a.noun, "pl", gender="1" if b.gender == "1" else None, members=(a, b))


def noun_phrase(entity: Entity, rng, case: int = 0, salient: Entity | None = None, pronoun_ok=True) -> list[str]:
    """Words that refer to ``entity`` here: a pronoun, a name, ``a ...`` at first, ``the ...`` later.

    ``case`` is 0 for a subject, 1 for an object. A pronoun is used only for the ``salient``
    entity (the subject of the previous clause), so that it is clear what it refers to.
    """
    if entity.members:
        first = noun_phrase(entity.members[0], rng, case, None)
        return first + ["and"] + noun_phrase(entity.members[1], rng, case, None)
    if entity.gender == "1":  # the narrator is always "I" / "me"
        return [entity.pronoun(case)]
    if pronoun_ok and entity is salient and rng.random() < P_PRONOUN:
        return [entity.pronoun(case)]
    if entity.name:
        return [entity.name]
    if not entity.mentioned:
        entity.mentioned = True
        return indefinite(entity, rng)
    return definite(entity, rng)


def indefinite(entity: Entity, rng) -> list[str]:
    """First mention: ``a boat``, ``an old boat``, ``some rice``, ``two boats``."""
    words = ([entity.adjective] if entity.adjective else []) + [entity.form()]
    if entity.number == "pl":
        return [choice(rng, PLURAL_DETERMINERS)] + words
    if entity.noun.mass:
        return ["some"] + words
    return [morphology.article(words[0])] + words


def definite(entity: Entity, rng) -> list[str]:
    """Later mentions: ``the boat``, ``the old boat``, ``these boats``."""
    det = "the"
    r = rng.random()
    if r < P_DEMONSTRATIVE:
        near = r < P_DEMONSTRATIVE / 2
        det = ("these" if near else "those") if entity.number == "pl" else ("this" if near else "that")
    words = [entity.form()]
    if entity.adjective and rng.random() < P_REPEAT_ADJECTIVE:
        words.insert(0, entity.adjective)
    return [det] + words


def possessive_phrase(owner: Entity, thing: Entity) -> list[str]:
    """``her knife``, ``their boats``: a thing named through its owner (the clause's subject)."""
    thing.mentioned = True
    return [owner.pronoun(2), thing.form()]


def verb_group(verb: Verb | None, agreement: str, tense: str, negated: bool = False) -> list[str]:
    """The finite verb for a subject with this agreement (``"1sg"``, ``"3sg"`` or ``"pl"``).

    ``verb=None`` is the copula *be*. Negations and the future take an auxiliary:
    ``bakes``, ``baked``, ``will bake``, ``does not bake``, ``did not bake``, ``is``, ``were not``.
    """
    if verb is None:
        return copula(agreement, tense, negated)
    if tense == "future":
        return ["will", "not", verb.base] if negated else ["will", verb.base]
    if negated:
        return [do_auxiliary(agreement, tense), "not", verb.base]
    if tense == "past":
        return [verb.past]
    return [verb.third if agreement == "3sg" else verb.base]


def copula(agreement: str, tense: str, negated: bool = False) -> list[str]:
    """*be*: ``am``/``is``/``are``, ``was``/``were``, ``will be``; negated ``is not``, ``will not be``."""
    if tense == "future":
        return ["will", "not", "be"] if negated else ["will", "be"]
    if tense == "past":
        word = "were" if agreement == "pl" else "was"
    else:
        word = {"1sg": "am", "3sg": "is"}.get(agreement, "are")
    return [word, "not"] if negated else [word]


def do_auxiliary(agreement: str, tense: str) -> str:
    """The auxiliary of questions and negations: ``did``, ``does``, ``do`` or ``will``."""
    if tense == "future":
        return "will"
    if tense == "past":
        return "did"
    return "does" if agreement == "3sg" else "do"


@dataclass
class Clause:
    """One finite verb and its subject, as they appear in the sentence.

    ``subject``: the subject's words (``['the', 'old', 'boat']``, ``['she']``, ``['Anna', 'and',
    'Ben']``); ``verb``: the verb group's words (``['did', 'not', 'sink']``; in a question the
    auxiliary and the verb, ``['did', 'sink']``); ``obj``: the object's words or ``[]``.
    """

    subject: list[str]
    verb: list[str]
    tense: str
    lemma: str
    obj: list[str] = field(default_factory=list)


@dataclass
class Sentence:
    """A generated sentence: its tokens and one ``Clause`` per finite verb."""

    tokens: list[str]
    clauses: list[Clause]

    @property
    def text(self) -> str:
        """The sentence as text: ``The cook baked a pie.``"""
        return morphology.join(self.tokens)
