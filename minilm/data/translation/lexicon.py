"""The words of the translation task: each English word and its Zorvish counterpart, and the rules.

Nouns and verbs map to a Zorvish *stem*; the grammar (``grammar.py``) adds the endings: ``-i`` for
a plural noun, ``-an``/``-et``/``-ol`` for a present/past/future verb. ``FITS``, ``OBJECTS`` and
``PEOPLE`` only steer the generator towards sensible sentences; ``translate`` takes any noun.
"""

from __future__ import annotations

ANIMATES = {
    "dog": "vorn",
    "cat": "mesk",
    "bird": "pirl",
    "horse": "kalv",
    "girl": "lenik",
    "boy": "tomak",
    "farmer": "grodan",
    "teacher": "sulem",
}
THINGS = {"apple": "abor", "pear": "mirt", "cake": "tulk", "ball": "tupol", "book": "lisk", "stone": "kamor"}
PLACES = {"house": "hesk", "garden": "vendal", "river": "narm", "tree": "telv", "bridge": "brok", "forest": "sylt"}
ADJECTIVES = {
    "big": "gor",
    "small": "pit",
    "old": "sen",
    "young": "nav",
    "red": "ruk",
    "black": "mor",
    "white": "alb",
    "happy": "jol",
}
NUMBERS = {"two": "dun", "three": "tras", "four": "kel"}
PREPOSITIONS = {"in": "ta", "near": "vel", "under": "dor", "behind": "pos"}
#: time word -> (the tense it needs, Zorvish word)
TIMES = {"yesterday": ("past", "ishta"), "today": ("present", "hova"), "tomorrow": ("future", "morat")}
#: base -> (3rd person singular, past, Zorvish stem, which nouns its object may be; None: intransitive)
VERBS = {
    "see": ("sees", "saw", "lum", "any"),
    "like": ("likes", "liked", "sev", "any"),
    "eat": ("eats", "ate", "nam", "food"),
    "find": ("finds", "found", "tov", "any"),
    "carry": ("carries", "carried", "bar", "things"),
    "chase": ("chases", "chased", "kur", "animates"),
    "follow": ("follows", "followed", "sid", "animates"),
    "sleep": ("sleeps", "slept", "zun", None),
    "run": ("runs", "ran", "rek", None),
    "sing": ("sings", "sang", "lir", None),
    "swim": ("swims", "swam", "nag", None),
}
TENSE_SUFFIX = {"present": "an", "past": "et", "future": "ol"}
INDEFINITE, OBJECT_MARK, NEGATION, PLURAL_SUFFIX = "en", "ko", "nu", "i"
#: English function words that have no Zorvish word of their own ("the", the auxiliaries) or become one.
FUNCTION_WORDS = ("the", "a", "an", "will", "not", "does", "do", "did")

NOUNS = {**ANIMATES, **THINGS}
PEOPLE = ("girl", "boy", "farmer", "teacher")
#: What the generator lets an adjective describe or a preposition take (others: anything).
FITS = {
    "young": tuple(ANIMATES),
    "happy": tuple(ANIMATES),
    "in": ("house", "garden", "river", "forest"),
    "under": ("tree", "bridge"),
    **dict.fromkeys(("red", "black", "white"), tuple(n for n in {**NOUNS, **PLACES} if n not in PEOPLE)),
}
OBJECTS = {"any": tuple(NOUNS), "food": ("apple", "pear", "cake"), "things": tuple(THINGS), "animates": tuple(ANIMATES)}
PLURAL_OF = {noun: noun + "s" for noun in NOUNS}
SINGULAR_OF = {plural: noun for noun, plural in PLURAL_OF.items()}
#: every English verb form -> (base, "base" | "third" | "past")
VERB_FORMS = {
    form: (base, kind)
    for base, (third, past, _, _) in VERBS.items()
    for form, kind in ((base, "base"), (third, "third"), (past, "past"))
}

RULES = """Zorvish, rule by rule (English -> Zorvish):
1. Verb last. Order: [time] subject [place] [object ko] [nu] verb.
2. Noun phrase: noun [adjective] [en | number]. 'the' has no word; 'a'/'an' -> en after the phrase.
3. Plural noun: stem + i (vorn dog, vorni dogs); after a number the noun stays singular (two dogs -> vorn dun).
4. The object is followed by ko.
5. Verb = stem + tense: -an present, -et past, -ol future (will see -> lumol); do/does/did/will have no word.
6. not -> nu, right before the verb (did not see -> nu lumet).
7. Place: noun [adjective] [en] postposition (in -> ta, near -> vel, under -> dor, behind -> pos).
8. Time words come first: yesterday -> ishta, today -> hova, tomorrow -> morat."""


def source_word_set() -> set[str]:
    """Every English word type the grammar can produce."""
    nouns = set(NOUNS) | set(SINGULAR_OF) | set(PLACES)
    small = set(ADJECTIVES) | set(NUMBERS) | set(PREPOSITIONS) | set(TIMES) | set(FUNCTION_WORDS)
    return set(VERB_FORMS) | nouns | small


def target_word_set() -> set[str]:
    """Every Zorvish word type the rules can produce."""
    verbs = {stem + suffix for _, _, stem, _ in VERBS.values() for suffix in TENSE_SUFFIX.values()}
    nouns = set(NOUNS.values()) | {stem + PLURAL_SUFFIX for stem in NOUNS.values()} | set(PLACES.values())
    small = set(ADJECTIVES.values()) | set(NUMBERS.values()) | set(PREPOSITIONS.values())
    return verbs | nouns | small | {w for _, w in TIMES.values()} | {INDEFINITE, OBJECT_MARK, NEGATION}


#: Every word type each side can produce, sorted.
SOURCE_WORDS = tuple(sorted(source_word_set()))
TARGET_WORDS = tuple(sorted(target_word_set()))
