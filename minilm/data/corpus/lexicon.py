"""The lexicon: every word the generator may use, with what it means for the grammar.

A noun has a *kind* (``person``, ``food``, ``vehicle``...); a verb says which kinds may be its
subject and its object (``eat : person -> food``); an adjective says which kinds it may describe
and whether it is positive, negative or neutral. These *selectional restrictions* are what make
the text meaningful: cooks eat soup, soup does not eat cooks, so words in the same role share
contexts and a model can learn them.

The word lists themselves live in ``topics.py`` in a compact notation that this module reads:

- nouns: ``knife/knives`` gives an irregular plural, ``rice*`` marks a mass noun (``some rice``,
  never ``a rice`` or ``rices``), ``kitchen:in`` a place with its preposition (``in the kitchen``);
- verbs, one per line: ``base[/past] : subject kinds -> [preposition] object kinds`` (no arrow:
  intransitive); a kind may also be a single noun (``milk : person -> cow goat``);
- adjectives, one group per line: ``words : kinds``, with ``+word`` positive, ``-word`` negative
  and ``word!`` an extreme adjective that takes no ``very`` (``excellent``).

Build it with ``get()`` (done once, then cached).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from minilm.data.corpus import morphology, topics

#: Names for groups of kinds, usable wherever a kind is.
ALIASES = {
    "animate": ("person", "animal"),
    "object": ("tool", "thing", "machine", "instrument"),
    "content": ("story", "tune", "event"),
    "concrete": ("person", "animal", "food", "drink", "plant", "tool", "thing", "machine", "instrument",
                 "vehicle", "place", "nature"),
}
#: ``dish`` and ``produce`` narrow ``food`` (one bakes a pie, one peels an onion); ``clause``: verbs
#: like ``think`` take a whole clause (``that the soup was hot``); ``weather``: the subject of ``rain``
#: and ``snow`` (``it rained``).
KINDS = frozenset(ALIASES["concrete"] + ALIASES["content"] + ("fodder", "clause", "weather", "dish", "produce"))

#: First names and the pronoun they take.
NAMES = {
    "Anna": "f", "Ben": "m", "Clara": "f", "David": "m", "Emma": "f", "Felix": "m", "Grace": "f",
    "Hugo": "m", "Ida": "f", "Jonas": "m", "Lena": "f", "Leo": "m", "Mia": "f", "Noah": "m",
    "Olga": "f", "Paul": "m", "Rosa": "f", "Sam": "m", "Tara": "f", "Tom": "m", "Vera": "f",
    "Oscar": "m", "Nina": "f", "Max": "m",
}

#: Personal pronouns: (number, gender) -> (subject, object, possessive). Gender ``"1"`` is the
#: first person: a narrator, and any group that includes one.
PRONOUNS = {
    ("sg", "m"): ("he", "him", "his"),
    ("sg", "f"): ("she", "her", "her"),
    ("sg", "n"): ("it", "it", "its"),
    ("sg", "1"): ("I", "me", "my"),
    ("pl", None): ("they", "them", "their"),
    ("pl", "1"): ("we", "us", "our"),
}


@dataclass(frozen=True)
class Noun:
    """A noun: its two forms, what kind of thing it names, and (places only) its preposition."""

    singular: str
    plural: str
    kinds: frozenset
    topic: str | None
    mass: bool = False
    prep: str = ""


@dataclass(frozen=True)
class Verb:
    """A verb: its forms and which kinds of noun may be its subject and object (none: intransitive)."""

    base: str
    third: str
    past: str
    subjects: frozenset
    objects: frozenset
    prep: str
    topic: str | None

    @property
    def transitive(self) -> bool:
        return bool(self.objects)


@dataclass(frozen=True)
class Adjective:
    """An adjective, the kinds it can describe, its polarity (+1, -1, 0) and whether it is extreme."""

    word: str
    kinds: frozenset
    polarity: int
    extreme: bool
    topic: str | None


def expand_kinds(words: list[str]) -> frozenset:
    """Replace aliases by the kinds they stand for: ``["animate"] -> {"person", "animal"}``."""
    out = set()
    for w in words:
        out.update(ALIASES.get(w, (w,)))
    return frozenset(out)


def parse_nouns(groups: dict[str, str], places: str, topic: str | None) -> list[Noun]:
    """Read a topic's noun groups (kind -> words) and its places into Noun entries, in list order.

    A word listed under several kinds becomes one noun with all of them.
    """
    order, kinds, forms = [], {}, {}
    items = [(kind, spec) for kind, words in groups.items() for spec in words.split()]
    items += [("place", spec) for spec in places.split()]
    for kind, spec in items:
        spec, _, prep = spec.partition(":")
        mass = spec.endswith("*")
        spec = spec.rstrip("*")
        sg, _, pl = spec.partition("/")
        if sg not in kinds:
            order.append(sg)
            kinds[sg] = set()
            forms[sg] = (pl or (sg if mass else morphology.plural(sg)), mass, prep)
        kinds[sg].add(kind)
    return [Noun(sg, forms[sg][0], frozenset(kinds[sg]), topic, forms[sg][1], forms[sg][2]) for sg in order]


#: Words that, first after the arrow of a verb line, are the verb's preposition (``listen -> to tune``).
PREPOSITIONS = frozenset({"to", "for", "at", "with", "about", "from"})


def parse_verbs(lines: str, topic: str | None) -> list[Verb]:
    """Read ``base[/past] : subjects -> [prep] objects`` lines into Verb entries."""
    verbs = []
    for line in lines.strip().splitlines():
        head, _, frame = line.partition(":")
        base, _, past = head.strip().partition("/")
        subjects, _, objects = frame.partition("->")
        obj = objects.split()
        prep = obj.pop(0) if obj and obj[0] in PREPOSITIONS else ""
        verbs.append(Verb(base, morphology.third_person(base), past or morphology.past(base),
                          expand_kinds(subjects.split()), expand_kinds(obj), prep, topic))
    return verbs


def parse_adjectives(lines: str, topic: str | None) -> list[Adjective]:
    """Read ``[+-]word[!] ... : kinds`` lines into Adjective entries."""
    adjectives = []
    for line in lines.strip().splitlines():
        words, _, kinds = line.partition(":")
        for spec in words.split():
            polarity = {"+": 1, "-": -1}.get(spec[0], 0)
            word = spec.lstrip("+-").rstrip("!")
            adjectives.append(Adjective(word, expand_kinds(kinds.split()), polarity, spec.endswith("!"), topic))
    return adjectives


@dataclass
class Lexicon:
    """All words, grouped by topic (``None``: the general vocabulary every topic shares)."""

    nouns: dict
    verbs: dict
    adjectives: dict

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(t for t in self.nouns if t is not None)

    def all_nouns(self) -> list[Noun]:
        return [n for ns in self.nouns.values() for n in ns]

    def all_verbs(self) -> list[Verb]:
        return [v for vs in self.verbs.values() for v in vs]

    def all_adjectives(self) -> list[Adjective]:
        return [a for adjs in self.adjectives.values() for a in adjs]

    def noun(self, word: str) -> Noun:
        """The first noun with this singular or plural form."""
        for n in self.all_nouns():
            if word in (n.singular, n.plural):
                return n
        raise KeyError(f"no noun {word!r} in the lexicon")

    def word_topics(self) -> dict[str, set]:
        """Each content word form -> the topics whose lists have it (``None`` for the general list)."""
        out: dict[str, set] = {}
        for topic in (None,) + self.topics:
            forms = [f for n in self.nouns[topic] for f in (n.singular, n.plural)]
            forms += [f for v in self.verbs[topic] for f in (v.base, v.third, v.past)]
            forms += [a.word for a in self.adjectives[topic]]
            for f in forms:
                out.setdefault(f, set()).add(topic)
        return out


def _check(lexicon: Lexicon) -> None:
    """Catch typos in the word lists: unknown kinds, and restrictions no noun can satisfy."""
    known_nouns = {n.singular for n in lexicon.all_nouns()}
    for noun in lexicon.all_nouns():
        unknown = noun.kinds - KINDS
        if unknown:
            raise ValueError(f"noun {noun.singular!r}: unknown kinds {sorted(unknown)}")
    for verb in lexicon.all_verbs():
        for k in verb.subjects | verb.objects:
            if k not in KINDS and k not in known_nouns:
                raise ValueError(f"verb {verb.base!r}: {k!r} is neither a kind nor a noun")
    for adj in lexicon.all_adjectives():
        unknown = adj.kinds - KINDS - known_nouns
        if unknown:
            raise ValueError(f"adjective {adj.word!r}: {sorted(unknown)} are neither kinds nor nouns")


@functools.cache
def get() -> Lexicon:
    """The lexicon, read from ``topics.py`` once."""
    nouns, verbs, adjectives = {}, {}, {}
    for name, spec in [(None, topics.GENERAL)] + list(topics.TOPICS.items()):
        nouns[name] = parse_nouns(spec["nouns"], spec.get("places", ""), name)
        verbs[name] = parse_verbs(spec["verbs"], name)
        adjectives[name] = parse_adjectives(spec["adjectives"], name)
    lexicon = Lexicon(nouns, verbs, adjectives)
    _check(lexicon)
    return lexicon
