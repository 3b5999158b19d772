"""The state of one document while it is written: its cast, its props, its setting, who was just named.

A ``Scene`` decides *who* and *what* each sentence talks about and *how* to refer to them: the main
character most often, a known prop when a verb needs an object (``the rope``), a pronoun for the
subject of the previous sentence (``she``). The sentence plans in ``discourse.py`` decide the
shape of each sentence.
"""

from __future__ import annotations

from minilm.data.corpus import grammar as g
from minilm.data.corpus.lexicon import NAMES
from minilm.data.corpus.world import PROP_KINDS, Pool, world

TIME_PHRASES = {
    "past": ("yesterday", "that morning", "in the evening", "later", "after that", "then", "one day", "that night"),
    "present": ("every morning", "every day", "in the evening", "now", "every evening", "in the morning"),
    "future": ("tomorrow", "next week", "soon", "in the evening", "tomorrow morning"),
}
#: Manner adverbs and who can do things that way.
ADVERBS = (("slowly", None), ("quickly", None), ("carefully", "person"), ("quietly", "animate"),
           ("happily", "animate"), ("gently", "person"), ("loudly", "animate"), ("again", None))
#: Verbs of state: no manner adverb after them (not ``she liked the fire slowly``).
STATIVE = frozenset({"see", "like", "love", "hate", "want", "need", "hear", "know", "think", "remember", "forget",
                     "enjoy", "hope", "notice", "hold", "find", "lose", "regret", "recommend"})
#: Words of degree before an adjective, and negators, as the reviews use them too.
DEGREES = ("very", "quite", "really", "rather", "so", "extremely", "slightly", "a bit", "too")
NEGATIONS = ("not", "not", "not", "never", "hardly", "far from")
CONJUNCTIONS = ((",", "and"), (",", "but"), (",", "so"), ("because",), ("and",), (",", "although"), ("while",))
FEMALE = tuple(n for n, gender in NAMES.items() if gender == "f")
MALE = tuple(n for n, gender in NAMES.items() if gender == "m")
#: How often a document is told by its main character (``I was a sailor.``).
P_NARRATOR = 0.15


class Scene:
    """What one document is about: its topic, tense, cast, props, setting and salient entity."""

    def __init__(self, topic: str, rng):
        self.world, self.rng = world(topic), rng
        self.tense = "past" if rng.random() < 0.7 else "present"
        self.cast: list[g.Entity] = []  # people and animals, the main character first
        self.cast.append(self.narrator() if rng.random() < P_NARRATOR else self.new_person(named=rng.random() < 0.6))
        if rng.random() < 0.5:
            self.cast.append(self.new_person(named=rng.random() < 0.3))
        if len(self.world.animals) and rng.random() < 0.4:
            self.cast.append(self.new_entity(self.world.animals.pick(rng)))
        self.props = [self.new_entity(self.world.props.pick(rng)) for _ in range(2 + int(rng.random() * 2))]
        self.place = self.world.places.pick(rng)
        self.salient = None  # the subject of the previous sentence: may be "she" now
        self.said = None  # the subject of this sentence's first clause: must be "she" again

    def new_entity(self, noun, plural_rate=0.25, adjective_rate=0.3) -> g.Entity:
        """A new entity for ``noun``: sometimes plural, sometimes with an adjective."""
        rng = self.rng
        number = "pl" if rng.random() < plural_rate else "sg"
        adjective = None
        if rng.random() < adjective_rate:
            adjectives = self.world.adjectives_for(noun)
            adjective = adjectives.pick(rng).word if len(adjectives) else None
        gender = g.choice(rng, "mf") if "person" in noun.kinds and number == "sg" else "n"
        return g.Entity(noun, number, gender=gender, adjective=adjective)

    def new_person(self, named: bool) -> g.Entity:
        """A person of this topic (a sailor at sea), named or known by their role (``the captain``)."""
        roles = {e.noun.singular for e in self.cast}
        noun = self.world.persons.pick(self.rng)
        for _ in range(3):  # prefer a role nobody in the cast has yet
            if noun.singular not in roles:
                break
            noun = self.world.persons.pick(self.rng)
        person = self.new_entity(noun, plural_rate=0.0 if named else 0.15)
        if named:
            taken = {e.name for e in self.cast}
            names = [n for n in (FEMALE if person.gender == "f" else MALE) if n not in taken]
            person.name = g.choice(self.rng, names)
        return person

    def narrator(self) -> g.Entity:
        """``I``: a main character who tells the story (agreement ``1sg``, always a pronoun)."""
        return g.Entity(self.world.persons.pick(self.rng), "sg", gender="1")

    def sentence_tense(self) -> str:
        """The document's tense; a present-tense document sometimes looks ahead to the future."""
        if self.tense == "present" and self.rng.random() < 0.1:
            return "future"
        return self.tense

    def actor(self) -> g.Entity:
        """Someone to act: mostly the main character, then the others, now and then a newcomer."""
        rng = self.rng
        if rng.random() < 0.08:
            newcomer = self.new_entity(self.world.persons.pick(rng))
            self.cast.append(newcomer)
            return newcomer
        weights = [1.0 / (k + 1) ** 1.5 for k in range(len(self.cast))]
        return Pool(self.cast, weights).pick(rng)

    def np(self, entity: g.Entity, case: int = 0, pronoun_ok: bool = True) -> list[str]:
        """Words for ``entity``; an entity already named in this sentence comes back as a pronoun."""
        if pronoun_ok and entity is self.said:
            return [entity.pronoun(case)]
        return g.noun_phrase(entity, self.rng, case, self.salient, pronoun_ok)

    def object_phrase(self, verb, subject: g.Entity) -> tuple[list[str], g.Entity]:
        """The object of ``verb``: a known prop or cast member when one fits, otherwise a new one."""
        rng = self.rng
        known = [e for e in self.props + self.cast if e is not subject and e.fits(verb.objects)]
        if known and rng.random() < 0.65:
            obj = g.choice(rng, known)
            return self.np(obj, 1), obj
        noun = self.world.nouns_for(verb.objects).pick(rng)
        if noun is subject.noun:  # not "the fox hunted a fox"
            noun = self.world.nouns_for(verb.objects).pick(rng)
        obj = self.new_entity(noun)
        if noun.kinds & PROP_KINDS:
            self.props.append(obj)
        owned = noun.kinds & {"tool", "thing", "instrument", "vehicle", "machine"}
        if owned and not subject.members and subject.is_person and rng.random() < 0.25:
            return g.possessive_phrase(subject, obj), obj
        return self.np(obj, 1), obj

    def location(self) -> list[str]:
        """``in the kitchen``, ``near the barn``: mostly the document's setting."""
        place = self.place if self.rng.random() < 0.7 else self.world.places.pick(self.rng)
        prep = place.prep if self.rng.random() < 0.8 else "near"
        return [prep, "the", place.singular]

    def adverbial(self, subject: g.Entity, verb) -> list[str]:
        """Maybe a place or a manner adverb after the verb phrase."""
        if verb.base in STATIVE:
            return []
        r = self.rng.random()
        if r < 0.25:
            return self.location()
        if r < 0.35:
            word, who = g.choice(self.rng, ADVERBS)
            kinds = {"person": {"person"}, "animate": {"person", "animal"}}.get(who)
            if kinds is None or subject.noun.kinds & kinds:
                return [word]
        return []

    def time_phrase(self, tense: str) -> list[str]:
        """``Yesterday,`` / ``Every morning,`` / ``Tomorrow,``: a sentence opener that fits the tense."""
        return g.choice(self.rng, TIME_PHRASES[tense]).split() + [","]
