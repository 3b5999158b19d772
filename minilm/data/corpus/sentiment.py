"""Labelled reviews whose sentiment needs context: negation, contrast and degree.

A review is one to four sentences about a film, a meal, a hotel, a gadget, a book, a concert or a
trip, in the same words as the documents. Its label (1 positive, 0 negative) follows these rules,
which is all a model has to learn:

1. A sentiment word has a polarity: ``good``, ``delicious``, ``love``, ``recommend`` and ``again``
   (``I will read it again``) are positive; ``boring``, ``stale``, ``hate``, ``regret`` negative;
   ``long``, ``salty`` are neutral.
2. Each negator before it in its clause flips it: ``not``, ``never``, ``hardly``, ``barely``,
   ``far from`` (``not boring`` is positive, ``hardly impressive`` negative). Intensifiers and
   downtoners (``very``, ``extremely``, ``slightly``, ``a bit``) change nothing.
3. ``too`` makes any adjective negative (``too long``), and ``not too long`` is positive.
4. In ``A, but B``, ``although A, B`` and ``B, although A`` only ``B`` counts.
5. Every clause that counts has the review's polarity; the other sentences are neutral.

The generator picks each sentiment word's own polarity at random: the clause's polarity
``P_PLAIN`` (60%) of the time, otherwise the opposite one, which it then negates. And about a
quarter of the sentences first concede the opposite in a clause that does not count. So ``good``
turns up in negative reviews almost as often as in positive ones: counting words (a bag of words)
predicts the label only weakly (about 63% right), bigrams that see ``not good`` do much better
(about 91%), and a model that reads the whole sentence in order can be right every time.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from minilm.data.corpus import grammar as g
from minilm.data.corpus import lexicon as lex
from minilm.data.corpus import morphology
from minilm.data.corpus.grammar import Pool, choice

#: How often a sentiment word is used with its own polarity (not negated).
P_PLAIN = 0.6
#: How often a judgement is made with ``too`` (``too long`` / ``not too long``).
P_TOO = 0.12
#: How many judged sentences a review has (besides a neutral opener and a verdict).
JUDGED_SENTENCES = Pool([1, 2, 3], [0.5, 0.33, 0.17])

#: The things reviewed. ``items``: what the review is about; ``aspects``: its parts (a plural form
#: means a plural subject); ``openers``: neutral first sentences (``{I}`` reviewer, ``{item}`` the
#: item, a verb in braces its past tense); ``again``: what a happy reviewer would do again.
DOMAINS = {
    "film": {
        "items": "film movie",
        "aspects": "plot ending script scenes actors hero villain music seats",
        "openers": ["{I} {watch} {item}", "{I} {see} {item} at the cinema", "{I} {watch} {item} with a friend"],
        "again": "watch it again",
    },
    "meal": {
        "items": "dinner lunch meal",
        "aspects": "soup bread cake pie sauce salad fish rice waiter restaurant",
        "openers": ["{I} {eat} at the restaurant", "{I} {order} the soup", "{I} {order} the fish and the rice"],
        "again": "eat there again",
    },
    "hotel": {
        "items": "hotel room",
        "aspects": "room bed pillows lobby balcony receptionist porter manager breakfast",
        "openers": ["{I} {stay} at the hotel", "{I} {book} a room at the hotel", "{I} {arrive} at the hotel"],
        "again": "stay there again",
    },
    "gadget": {
        "items": "phone camera radio laptop clock lamp printer",
        "aspects": "battery screen buttons cable",
        "openers": ["{I} {buy} {item}", "{I} {buy} {item} for a friend", "{I} {use} {item} at the office"],
        "again": "buy it again",
    },
    "book": {
        "items": "book story",
        "aspects": "story ending pages poems hero villain",
        "openers": ["{I} {read} {item}", "{I} {read} {item} on the train", "{I} {find} {item} at the library"],
        "again": "read it again",
    },
    "concert": {
        "items": "concert show",
        "aspects": "singer drummer pianist songs music melody rhythm stage",
        "openers": ["{I} {see} {item}", "{I} {listen} to the singer", "{I} {visit} the hall for {item}"],
        "again": "see them again",
    },
    "trip": {
        "items": "trip tour journey",
        "aspects": "guide boat captain beach cabin island",
        "openers": ["{I} {book} {item}", "{I} {sail} to the island", "{I} {leave} the harbor in the morning"],
        "again": "book it again",
    },
}

INTENSIFIERS = ("very", "really", "extremely", "so", "quite", "incredibly")
EXTREME_INTENSIFIERS = ("absolutely", "truly", "simply")
DOWNTONERS = {1: ("fairly", "reasonably", "rather"), -1: ("slightly", "a bit", "a little", "somewhat", "rather")}
#: Neutral adjectives of degree: ``too`` turns them negative.
DEGREE = frozenset({"long", "short", "loud", "quiet", "spicy", "sweet", "salty", "sour", "expensive", "cheap", "small",
                    "big", "cold", "hot", "warm", "heavy", "soft", "dark", "busy"})
#: Verbs of feeling with their polarity (``I love the plot``, ``I do not hate it``).
FEELINGS = {1: ("love", "like", "enjoy"), -1: ("hate",)}


@dataclass
class Review:
    """One review: its text, its label (1 positive, 0 negative) and what it is about."""

    text: str
    label: int
    domain: str


@dataclass
class Split:
    """Texts and their labels, in the same order."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self):
        return iter(zip(self.texts, self.labels))


@dataclass(frozen=True)
class Thing:
    """Something a review judges: its words as a subject and an object, its agreement, its noun."""

    subject: tuple
    obj: tuple
    agreement: str
    noun: lex.Noun


def thing(word: str, rng, item: bool) -> Thing:
    """``plot`` -> ``the plot``; an item is also ``this film`` or ``it``."""
    noun = _noun(word)
    plural = word == noun.plural and word != noun.singular
    agreement = "pl" if plural else "3sg"
    if item and rng.random() < 0.4:
        return Thing(("it",), ("it",), agreement, noun)
    det = ("these" if plural else "this") if item and rng.random() < 0.5 else "the"
    return Thing((det, word), (det, word), agreement, noun)


@functools.cache
def _noun(word: str) -> lex.Noun:
    return lex.get().noun(word)


@functools.cache
def adjectives(noun: lex.Noun, polarity: int) -> tuple:
    """Adjectives of this polarity that fit ``noun`` (polarity 0: the neutral ones of degree)."""
    out, seen = [], set()
    for a in lex.get().all_adjectives():
        fits = a.kinds & noun.kinds or noun.singular in a.kinds
        if fits and a.polarity == polarity and a.word not in seen and (polarity or a.word in DEGREE):
            seen.add(a.word)
            out.append(a)
    return tuple(out)


def own_polarity(rng, target: int) -> int:
    """The polarity of the word to write: the clause's (``P_PLAIN``) or the opposite, to negate."""
    return target if rng.random() < P_PLAIN else -target


def degree_words(rng, adjective: lex.Adjective) -> list[str]:
    """Nothing, an intensifier or a downtoner before an adjective said plainly."""
    r = rng.random()
    if adjective.extreme:
        return [choice(rng, EXTREME_INTENSIFIERS)] if r < 0.3 else []
    if r < 0.4:
        return []
    if r < 0.8:
        return [choice(rng, INTENSIFIERS)]
    return choice(rng, DOWNTONERS[adjective.polarity]).split()


def negated_adjective(rng, adjective: lex.Adjective) -> list[str]:
    """A negator and the adjective: ``not good``, ``never boring``, ``not very good``, ``far from perfect``."""
    r, word = rng.random(), adjective.word
    if r < 0.35:
        return ["not", word]
    if r < 0.5 and not adjective.extreme:
        return ["not", choice(rng, ("very", "really", "particularly") if adjective.polarity > 0 else ("that", "so")),
                word]
    if r < 0.62:
        return ["never", word]
    if r < 0.76:
        return [choice(rng, ("hardly", "barely")), word]
    if r < 0.86:
        return ["far", "from", word]
    return ["not", word, "at", "all"]


def judgement(rng, target: int, about: Thing, tense: str) -> list[str]:
    """``the plot was very good``, ``the soup was not bland``, ``the room was too small``."""
    be = g.copula(about.agreement, tense)
    if rng.random() < P_TOO:
        degree = adjectives(about.noun, 0)
        if degree:
            word = choice(rng, degree).word
            return list(about.subject) + be + (["not", "too", word] if target > 0 else ["too", word])
    own = own_polarity(rng, target)
    candidates = adjectives(about.noun, own)
    adjective = Pool.zipf(candidates).pick(rng)
    if own == target:
        return list(about.subject) + be + degree_words(rng, adjective) + [adjective.word]
    return list(about.subject) + be + negated_adjective(rng, adjective)


def feeling(rng, target: int, about: Thing, reviewer: tuple) -> list[str]:
    """``I love the plot``, ``we do not enjoy the soup``, ``I really hate it``.

    Always in the present: with ``I`` and ``we`` the verb then has one form whether negated or not
    (``I loved`` / ``I did not love`` would give the label away through the form alone).
    """
    own = own_polarity(rng, target)
    verb = verb_entry(choice(rng, FEELINGS[own]))
    pronoun, agreement = reviewer
    if own == target:
        group = (["really"] if rng.random() < 0.3 else []) + g.verb_group(verb, agreement, "present")
    else:
        group = g.verb_group(verb, agreement, "present", negated=True)
    return [pronoun] + group + list(about.obj)


def verdict(rng, target: int, domain: dict, reviewer: tuple) -> list[str]:
    """``I would recommend it``, ``we will never eat there again``, ``I do not regret it``."""
    pronoun, agreement = reviewer
    own = own_polarity(rng, target)
    flip = [] if own == target else [choice(rng, ("not", "never"))]
    if own < 0:
        group = g.verb_group(verb_entry("regret"), agreement, "present", negated=bool(flip))
        return [pronoun] + group + ["it"]
    if rng.random() < 0.5:
        return [pronoun, "would"] + flip + ["recommend", "it"]
    return [pronoun, "will"] + flip + domain["again"].split()


@functools.cache
def verb_entry(base: str) -> lex.Verb:
    return next(v for v in lex.get().all_verbs() if v.base == base)


def opener(rng, domain: dict, item: str, reviewer: tuple) -> list[str]:
    """A neutral first sentence: ``We ate at the restaurant.``"""
    words = []
    for part in choice(rng, domain["openers"]).split():
        if part == "{I}":
            words.append(reviewer[0])
        elif part == "{item}":
            words += ["the", item]
        elif part.startswith("{"):
            words.append(verb_entry(part.strip("{}")).past)
        else:
            words.append(part)
    return words


def polar_sentence(rng, target: int, domain: dict, things: list, tense: str, reviewer: tuple) -> list[str]:
    """One sentence whose counting clauses have polarity ``target``: a feeling (12%), a judgement
    (46%), two judgements joined by ``and`` (14%), or a judgement that concedes the opposite first
    (28%: ``A, but B``, ``although A, B``, ``B, although A``)."""
    first, second = things[0], things[1]
    r = rng.random()
    if r < 0.12:
        return feeling(rng, target, first, reviewer)
    if r < 0.58:
        return judgement(rng, target, first, tense)
    if r < 0.72:
        return judgement(rng, target, first, tense) + ["and"] + judgement(rng, target, second, tense)
    conceded = judgement(rng, -target, first, tense)
    counted = judgement(rng, target, second, tense)
    if r < 0.86:
        return conceded + [",", "but"] + counted
    if r < 0.93:
        return ["although"] + conceded + [","] + counted
    return counted + [","] + choice(rng, (["although"], ["even", "though"])) + conceded


def distinct_pair(rng, words: list) -> tuple:
    """Two different words of ``words``: a contrast compares two different things."""
    first = choice(rng, words)
    second = choice(rng, [w for w in words if w != first])
    return first, second


def make_review(rng, label: int) -> Review:
    """One review with this label, drawn with ``rng``."""
    name = choice(rng, tuple(DOMAINS))
    domain = DOMAINS[name]
    target = 1 if label else -1
    tense = "past" if rng.random() < 0.7 else "present"
    reviewer = ("I", "1sg") if rng.random() < 0.6 else ("we", "pl")
    item = choice(rng, domain["items"].split())
    aspects = domain["aspects"].split()
    sentences = []
    if rng.random() < 0.3:
        sentences.append(opener(rng, domain, item, reviewer))
    for _ in range(min(JUDGED_SENTENCES.pick(rng), 4 - len(sentences))):
        first, second = distinct_pair(rng, aspects)
        things = [thing(first, rng, False), thing(second, rng, False)]
        if rng.random() < 0.3:
            things[0] = thing(item, rng, True)
        sentences.append(polar_sentence(rng, target, domain, things, tense, reviewer))
    if len(sentences) < 4 and rng.random() < 0.25:
        sentences.append(verdict(rng, target, domain, reviewer))
    return Review(" ".join(morphology.join(s + ["."]) for s in sentences), label, name)


def review_list(n: int = 6000, seed: int = 0) -> list[Review]:
    """``n`` distinct reviews, about half of them positive. Review ``i`` is drawn from its own
    stream, so a smaller ``n`` gives a prefix; a text seen before is skipped."""
    out, seen, i = [], set(), 0
    while len(out) < n:
        rng = random.Random(f"minilm-corpus:review:{seed}:{i}")
        i += 1
        review = make_review(rng, int(rng.random() < 0.5))
        if review.text not in seen:
            seen.add(review.text)
            out.append(review)
    return out


def reviews(n: int = 6000, seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> dict[str, Split]:
    """``n`` reviews split into ``train``, ``validation`` and ``test`` by ``fractions``."""
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers that sum to 1, got {fractions}")
    items = review_list(n, seed)
    cut1 = round(n * fractions[0])
    cut2 = cut1 + round(n * fractions[1])
    parts = {"train": items[:cut1], "validation": items[cut1:cut2], "test": items[cut2:]}
    return {name: Split([r.text for r in part], [r.label for r in part]) for name, part in parts.items()}
