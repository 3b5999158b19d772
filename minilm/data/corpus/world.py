"""A topic's world: which nouns, verbs and adjectives a document about it draws from, and how often.

A document about the sea mostly uses sea words (boats, sailors, waves), sometimes general words
(a friend, a bag, the sun), never farm words. Every choice goes through a ``Pool`` whose weights
fall with the word's rank in its list, topic words weighing more than general ones.
"""

from __future__ import annotations

import functools

from minilm.data.corpus import lexicon as lex
from minilm.data.corpus.grammar import Entity, Pool

#: Weight of general vocabulary relative to the topic's own words.
GENERAL_WEIGHT = 0.3
#: Kinds of noun that can be a document's props (the things it is about).
PROP_KINDS = frozenset({"food", "drink", "plant", "tool", "thing", "machine", "instrument", "vehicle", "story",
                        "tune", "event"})
#: Kinds of thing that can simply be somewhere (``there was a boat in the harbor``).
PLACEABLE = frozenset({"food", "drink", "plant", "tool", "thing", "machine", "instrument", "vehicle", "event"})


class World:
    """The words available to documents about ``topic``, with cached pools per restriction."""

    def __init__(self, topic: str):
        lexicon = lex.get()
        self.topic = topic
        self.nouns = lexicon.nouns[topic] + lexicon.nouns[None]
        self._weights = {}  # noun -> weight: 1 / rank within its list, general words scaled down
        for entries, scale in ((lexicon.nouns[topic], 1.0), (lexicon.nouns[None], GENERAL_WEIGHT)):
            for k, noun in enumerate(entries):
                self._weights[noun] = scale / (k + 1)
        self.verbs = Pool.zipf(lexicon.verbs[topic]) + Pool.zipf(lexicon.verbs[None], GENERAL_WEIGHT)
        self.adjectives = lexicon.adjectives[topic] + lexicon.adjectives[None]
        self.persons = self.topic_nouns({"person"})
        self.animals = self.topic_nouns({"animal"})
        self.props = self.topic_nouns(PROP_KINDS)
        self.placeable = self.topic_nouns(PLACEABLE)
        self.places = self.topic_nouns({"place"})
        self._noun_pools, self._verb_pools, self._adjective_pools = {}, {}, {}

    def topic_nouns(self, kinds) -> Pool:
        """The topic's own nouns of these kinds (general ones only if the topic has none)."""
        own = [n for n in self.nouns if n.topic is not None and n.kinds & kinds]
        chosen = own or [n for n in self.nouns if n.kinds & kinds]
        return Pool(chosen, [self._weights[n] for n in chosen])

    def nouns_for(self, allowed: frozenset) -> Pool:
        """All nouns (topic and general) that satisfy a restriction: kinds and single nouns."""
        pool = self._noun_pools.get(allowed)
        if pool is None:
            chosen = [n for n in self.nouns if n.kinds & allowed or n.singular in allowed]
            pool = self._noun_pools[allowed] = Pool(chosen, [self._weights[n] for n in chosen])
        return pool

    def verbs_for(self, subject: Entity, transitive: bool | None = None) -> Pool:
        """Verbs whose subject may be ``subject`` and (if transitive) whose object exists here."""
        key = (subject.noun.singular, bool(subject.members), transitive)
        pool = self._verb_pools.get(key)
        if pool is None:
            items, weights = [], []
            for verb, w in zip(self.verbs.items, self.verbs.weights):
                if not subject.fits(verb.subjects) or "clause" in verb.objects or "weather" in verb.subjects:
                    continue
                if transitive is not None and verb.transitive != transitive:
                    continue
                if verb.transitive and not len(self.nouns_for(verb.objects)):
                    continue
                items.append(verb)
                weights.append(w)
            pool = self._verb_pools[key] = Pool(items, weights)
        return pool

    def verb(self, base: str) -> lex.Verb:
        """The (first) verb with this base form."""
        return next(v for v in self.verbs.items if v.base == base)

    def adjectives_for(self, noun: lex.Noun, polarity: int | None = None) -> Pool:
        """Adjectives that can describe ``noun`` (optionally only those of one polarity)."""
        key = (noun.singular, polarity)
        pool = self._adjective_pools.get(key)
        if pool is None:
            chosen = [a for a in self.adjectives if (a.kinds & noun.kinds or noun.singular in a.kinds)
                      and (polarity is None or a.polarity == polarity)]
            seen, unique = set(), []
            for a in chosen:
                if a.word not in seen:
                    seen.add(a.word)
                    unique.append(a)
            pool = self._adjective_pools[key] = Pool.zipf(unique)
        return pool


@functools.cache
def world(topic: str) -> World:
    """The (cached) world of one topic."""
    return World(topic)


@functools.cache
def report_verbs() -> Pool:
    """``think``, ``know``, ``say``...: verbs whose object is a whole clause."""
    return Pool.zipf([v for v in lex.get().verbs[None] if "clause" in v.objects])


@functools.cache
def weather_verbs() -> Pool:
    """``rain`` and ``snow``, whose subject is the empty ``it``."""
    return Pool.zipf([v for v in lex.get().verbs[None] if "weather" in v.subjects])
