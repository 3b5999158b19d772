"""A bundled translation task: English-like sentences and their translation into Zorvish, a made-up language.

Chapter 06 trains an encoder-decoder with attention. It needs sentence pairs that a small model
learns on a laptop CPU in minutes, that a learner can check by hand, and whose alignment is not
just "word ``i`` becomes word ``i``". So minilm invents a language, **Zorvish**, and translates into
it by a handful of rules. Nothing here is third-party text, and every pair can be verified by
reading the rules below (``translate`` applies them; ``RULES`` lists them)::

    from minilm.data import translation
    pairs = translation.pairs(n=20000, seed=0)          # list[Pair(source, target)]
    splits = translation.splits(n=20000, seed=0)        # {'train', 'validation', 'test'}: lists of Pair
    translation.translate("a big dog saw the cats")     # 'vorn gor en meski ko lumet'
    translation.alignment("a big dog saw the cats")     # [(2,), (1,), (0,), (4, 5), (), (3,)]
    src_vocab, tgt_vocab = translation.vocabularies(splits["train"])

The rules of Zorvish:

1. Verb last (SOV). Order: ``[time] subject [place] [object ko] [nu] verb``. English puts the time
   word ("yesterday") last and the place ("in the house") after the object; Zorvish puts the time
   first and the place before the object.
2. A noun phrase is ``noun [adjective] [en | number]``: the adjective follows the noun, "a" becomes
   ``en`` after the phrase, a number follows it too. "the" has no word: a bare noun is definite.
3. Plural nouns add ``-i`` (``vorn`` dog, ``vorni`` dogs), except after a number, where the noun
   stays singular ("two dogs" -> ``vorn dun``).
4. The object phrase is marked by ``ko`` after it (English marks it by position only).
5. A verb is one word, stem + tense: ``-an`` present, ``-et`` past, ``-ol`` future. So "will see",
   "saw", "sees" and "see" each become one word (``lumol``, ``lumet``, ``luman``); Zorvish has no
   agreement, and "do", "does", "did" and "will" have no word of their own.
6. "not" becomes ``nu`` right before the verb ("did not see" -> ``nu lumet``).
7. A place phrase is ``noun [adjective] [en] postposition`` ("under a tree" -> ``telv en dor``).

Worked examples (source -> target):

- "the girls did not eat two red apples yesterday" -> ``ishta leniki abor ruk dun ko nu namet``:
  yesterday moves to the front; "girls" -> ``leniki`` (plural, "the" dropped); "two red apples" ->
  ``abor ruk dun`` (noun, adjective, number; singular after a number) then ``ko``; "did not eat" ->
  ``nu namet``, where the past tense of ``namet`` comes from "did", three words away from "eat".
- "three old farmers will sing in the garden" -> ``grodan sen tras vendal ta lirol``.
- "the cat will not follow a bird near a river tomorrow" -> ``morat mesk narm en vel pirl en ko nu sidol``.

Why this makes interesting attention heatmaps. Plot the decoder's attention weights (rows: target
words, columns: source words). For a word-by-word language the picture is a diagonal. Here the row
of the first target word looks at the *last* source word when there is a time word; the verb,
produced last, looks back at "eat" *and* at "did" (the tense); ``dun`` looks back at "two" after
the model has already produced the noun; ``ko`` and ``en`` have no single source word and the
attention spreads. ``alignment(source)`` gives the reference alignment to compare the picture with.
A baseline that translates word by word in English order gets only about 1 sentence in 20 right
(see the tests), so a model must learn the reordering.

Generation: pair ``i`` is drawn with ``random.Random(f"minilm-translation:{seed}:{i}")``, so it
depends only on ``seed`` and ``i`` (a smaller ``n`` gives a prefix). The generator only picks
sensible combinations (one eats food, a stone does not sleep), but ``translate`` translates any
sentence of the grammar, sensible or not, and raises ``ValueError`` naming the first word it cannot
handle. Sources have 3 to 12 words, targets 2 to 12; about 90 word types each side.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from minilm.data.vocab import Vocab

__all__ = [
    "BOS", "EOS", "PAD", "RULES", "SOURCE_WORDS", "SPECIALS", "TARGET_WORDS", "UNK", "Clause", "NounPhrase",
    "Pair", "alignment", "describe", "pairs", "parse", "splits", "translate", "vocabularies",
]

# -- the lexicon: English word -> Zorvish word (nouns and verbs: the stem) -----------------------------

ANIMATES = {"dog": "vorn", "cat": "mesk", "bird": "pirl", "horse": "kalv", "girl": "lenik", "boy": "tomak",
            "farmer": "grodan", "teacher": "sulem"}
THINGS = {"apple": "abor", "pear": "mirt", "cake": "tulk", "ball": "tupol", "book": "lisk", "stone": "kamor"}
FOOD = ("apple", "pear", "cake")
PLACES = {"house": "hesk", "garden": "vendal", "river": "narm", "tree": "telv", "bridge": "brok", "forest": "sylt"}
ADJECTIVES = {"big": "gor", "small": "pit", "old": "sen", "young": "nav", "red": "ruk", "black": "mor",
              "white": "alb", "happy": "jol"}
NUMBERS = {"two": "dun", "three": "tras", "four": "kel"}
PREPOSITIONS = {"in": "ta", "near": "vel", "under": "dor", "behind": "pos"}
TIMES = {"yesterday": ("past", "ishta"), "today": ("present", "hova"), "tomorrow": ("future", "morat")}
#: base -> (3rd person singular, past, Zorvish stem, the nouns its object may be; None: intransitive)
VERBS = {
    "see": ("sees", "saw", "lum", "any"), "like": ("likes", "liked", "sev", "any"),
    "eat": ("eats", "ate", "nam", "food"), "find": ("finds", "found", "tov", "any"),
    "carry": ("carries", "carried", "bar", "things"), "chase": ("chases", "chased", "kur", "animates"),
    "follow": ("follows", "followed", "sid", "animates"), "sleep": ("sleeps", "slept", "zun", None),
    "run": ("runs", "ran", "rek", None), "sing": ("sings", "sang", "lir", None), "swim": ("swims", "swam", "nag", None),
}
TENSE_SUFFIX = {"present": "an", "past": "et", "future": "ol"}
INDEFINITE, OBJECT_MARK, NEGATION, PLURAL_SUFFIX = "en", "ko", "nu", "i"
NOUNS = {**ANIMATES, **THINGS}
PEOPLE = ("girl", "boy", "farmer", "teacher")
#: What the generator lets an adjective describe or a preposition take (``translate`` takes any noun).
FITS = {"young": tuple(ANIMATES), "happy": tuple(ANIMATES), "in": ("house", "garden", "river", "forest"),
        "under": ("tree", "bridge"),
        **dict.fromkeys(("red", "black", "white"), tuple(n for n in {**NOUNS, **PLACES} if n not in PEOPLE))}
OBJECTS = {"any": tuple(NOUNS), "food": FOOD, "things": tuple(THINGS), "animates": tuple(ANIMATES)}
_PLURAL_OF = {noun: noun + "s" for noun in NOUNS}
_SINGULAR_OF = {plural: noun for noun, plural in _PLURAL_OF.items()}
_VERB_FORMS = {form: (base, kind) for base, (third, past, _, _) in VERBS.items()
               for form, kind in ((base, "base"), (third, "third"), (past, "past"))}
MAX_LENGTH = 12

#: Special tokens of the vocabularies (ids 0 to 3): padding, start and end of a sentence, unknown word.
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)

RULES = """Zorvish, rule by rule (English -> Zorvish):
1. Verb last. Order: [time] subject [place] [object ko] [nu] verb.
2. Noun phrase: noun [adjective] [en | number]. 'the' has no word; 'a' -> en after the phrase.
3. Plural noun: stem + i (vorn dog, vorni dogs); after a number the noun stays singular (two dogs -> vorn dun).
4. The object is followed by ko.
5. Verb = stem + tense: -an present, -et past, -ol future (will see -> lumol); do/does/did/will have no word.
6. not -> nu, right before the verb (did not see -> nu lumet).
7. Place: noun [adjective] [en] postposition (in -> ta, near -> vel, under -> dor, behind -> pos).
8. Time words come first: yesterday -> ishta, today -> hova, tomorrow -> morat."""


@dataclass(frozen=True)
class Pair:
    """One sentence and its Zorvish translation, both lowercase words separated by single spaces."""

    source: str
    target: str


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


# -- words with roles: both renderings tag each word, so the alignment falls out --------------------


def source_words(c: Clause) -> list[tuple[str, str]]:
    """The English sentence as ``(word, role)`` pairs; a role ("subj.noun", "aux", "verb"...) occurs once."""
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
    out = [(np.det, slot + ".det")] + ([(np.adjective, slot + ".adj")] if np.adjective else [])
    return out + [(_PLURAL_OF[np.noun] if np.plural else np.noun, slot + ".noun")]


def target_words(c: Clause) -> list[tuple[str, tuple[str, ...]]]:
    """The Zorvish sentence as ``(word, source roles it translates)``; ``ko`` translates no single word."""
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


# -- reading an English sentence back into a Clause -----------------------------------------------


def parse(source: str) -> Clause:
    """The ``Clause`` of an English sentence of the grammar; a ``ValueError`` names the first word that
    does not fit (an unknown word, a missing verb, "a dogs", "the dog see", "saw ... tomorrow")."""
    words = source.split()
    for i, w in enumerate(words):
        if w not in _SOURCE_SET:
            raise ValueError(f"cannot translate {source!r}: unknown word {w!r} (word {i + 1}); "
                             f"the words it knows are translation.SOURCE_WORDS")
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
    det = reader.take()
    if det not in ("the", "a") + (tuple(NUMBERS) if nouns is NOUNS else ()):
        reader.fail(f"{what} must start with 'the', 'a'" + (" or a number" if nouns is NOUNS else ""), back=1)
    adjective = reader.take() if reader.peek() in ADJECTIVES else None
    word = reader.take()
    noun, plural = (_SINGULAR_OF[word], True) if nouns is NOUNS and word in _SINGULAR_OF else (word, False)
    if noun not in nouns:
        kinds = "a place (" + ", ".join(PLACES) + ")" if nouns is PLACES else "a noun"
        reader.fail(f"{what} needs {kinds} here", back=1)
    if (det == "a" and plural) or (det in NUMBERS and not plural):
        reader.fail(f"{det!r} does not go with the {'plural' if plural else 'singular'} {word!r}", back=1)
    return NounPhrase(det, noun, plural, adjective)


def _read_verb_group(reader: _Reader, plural: bool) -> tuple[str, str, bool]:
    """(base, tense, negated) from "sees", "saw", "will [not] see", "does/do/did not see"."""
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
        if _VERB_FORMS.get(base, (None, None))[1] != "base":
            reader.fail(f"after {word!r} comes the base form of a verb ('see', not 'sees' or 'saw')", back=1)
        return base, {"will": "future", "did": "past"}.get(word, "present"), negated
    if word not in _VERB_FORMS:
        reader.fail("expected a verb here", back=1)
    base, kind = _VERB_FORMS[word]
    if kind != "past" and (kind == "base") != plural:
        reader.fail(f"{word!r} does not agree with a {'plural' if plural else 'singular'} subject", back=1)
    return base, "past" if kind == "past" else "present", False


# -- the public functions ---------------------------------------------------------------------------


def translate(source: str) -> str:
    """The Zorvish translation of an English sentence of the grammar, by the rules (``RULES``)."""
    return " ".join(w for w, _ in target_words(parse(source)))


def alignment(source: str) -> list[tuple[int, ...]]:
    """For each target word of ``translate(source)``, the positions of the source words it translates
    (``()`` for ``ko``): the reference an attention heatmap can be compared with."""
    clause = parse(source)
    position = {role: i for i, (_, role) in enumerate(source_words(clause))}
    return [tuple(sorted(position[r] for r in roles)) for _, roles in target_words(clause)]


def random_clause(rng: random.Random) -> Clause:
    """One sensible clause drawn with ``rng`` (animate subjects, objects that fit the verb)."""
    def noun_phrase(nouns, plural_ok=True, adjective_rate=0.3):
        plural = plural_ok and rng.random() < 0.35
        det = rng.choice(("the", "the", "the") + (tuple(NUMBERS) if plural else ("a", "a")))
        noun = rng.choice(tuple(nouns))
        fitting = tuple(a for a in ADJECTIVES if a not in FITS or noun in FITS[a])
        adjective = rng.choice(fitting) if rng.random() < adjective_rate else None
        return NounPhrase(det, noun, plural, adjective)

    verb = rng.choice(tuple(VERBS))
    tense = rng.choice(tuple(TENSE_SUFFIX))
    objects = VERBS[verb][3]
    obj = noun_phrase(OBJECTS[objects]) if objects else None
    preposition = rng.choice(tuple(PREPOSITIONS)) if rng.random() < 0.3 else None
    place = noun_phrase(FITS.get(preposition, tuple(PLACES)), False, 0.2) if preposition else None
    time = next(t for t, (tt, _) in TIMES.items() if tt == tense) if rng.random() < 0.3 else None
    return Clause(noun_phrase(ANIMATES), verb, tense, rng.random() < 0.3, obj, preposition, place, time)


def _pair(seed: int, index: int) -> Pair:
    rng = random.Random(f"minilm-translation:{seed}:{index}")
    while True:  # redraw the rare clause that is too long
        clause = random_clause(rng)
        source, target = source_words(clause), target_words(clause)
        if len(source) <= MAX_LENGTH and len(target) <= MAX_LENGTH:
            return Pair(" ".join(w for w, _ in source), " ".join(w for w, _ in target))


def pairs(n: int = 20000, seed: int = 0) -> list[Pair]:
    """``n`` generated pairs; pair ``i`` depends only on ``seed`` and ``i``. The same sentence may occur
    more than once (short ones do); ``splits`` removes the repeats."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"pairs: n must be a non-negative int, got {n!r}")
    return [_pair(seed, i) for i in range(n)]


def splits(n: int = 20000, seed: int = 0, fractions=(0.9, 0.05, 0.05)) -> dict[str, list[Pair]]:
    """``pairs(n, seed)`` without repeated sources, shuffled with ``seed``, cut into train, validation
    and test by ``fractions``. A source sentence is in one split only; the three sizes add up to the
    number of distinct sources (a little below ``n``), validation and test get ``round(f * distinct)``."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"splits: fractions must be three non-negative numbers adding up to 1, got {fractions!r}")
    unique = list({p.source: p for p in reversed(pairs(n, seed))}.values())[::-1]  # first occurrence, in order
    random.Random(f"minilm-translation:splits:{seed}").shuffle(unique)
    n_val, n_test = round(fractions[1] * len(unique)), round(fractions[2] * len(unique))
    n_train = len(unique) - n_val - n_test
    return {"train": unique[:n_train], "validation": unique[n_train:n_train + n_val], "test": unique[n_train + n_val:]}


def describe(pairs: list[Pair]) -> dict:
    """Counts for a quick look: pairs, distinct sources, word types and lengths on each side."""
    info = {"pairs": len(pairs), "distinct_sources": len({p.source for p in pairs})}
    for side in ("source", "target"):
        lengths = [len(getattr(p, side).split()) for p in pairs]
        info[f"{side}_types"] = len({w for p in pairs for w in getattr(p, side).split()})
        info[f"mean_{side}_length"] = round(sum(lengths) / max(len(lengths), 1), 2)
        info[f"max_{side}_length"] = max(lengths, default=0)
    info["length_differs"] = round(sum(len(p.source.split()) != len(p.target.split()) for p in pairs)
                                   / max(len(pairs), 1), 3)
    return info


def vocabularies(pairs: list[Pair]) -> tuple[Vocab, Vocab]:
    """``(source_vocab, target_vocab)``: ``Vocab`` objects with ``SPECIALS`` first (``<pad>`` 0, ``<bos>``
    1, ``<eos>`` 2, ``<unk>`` 3), then the words of ``pairs``, most frequent first. Use ``vocab[BOS]``
    (``vocab.pad_id`` looks for ``[PAD]`` and does not apply here; ``vocab.unk_id`` does)."""
    source = Counter(w for p in pairs for w in p.source.split())
    target = Counter(w for p in pairs for w in p.target.split())
    return (Vocab.build(source, specials=SPECIALS, unk_token=UNK), Vocab.build(target, specials=SPECIALS, unk_token=UNK))


def _all_source_words() -> set[str]:
    verbs = {form for base, (third, past, _, _) in VERBS.items() for form in (base, third, past)}
    nouns = set(NOUNS) | set(_SINGULAR_OF) | set(PLACES)
    return verbs | nouns | set(ADJECTIVES) | set(NUMBERS) | set(PREPOSITIONS) | set(TIMES) | {
        "the", "a", "will", "not", "does", "do", "did"}


def _all_target_words() -> set[str]:
    verbs = {stem + suffix for _, _, stem, _ in VERBS.values() for suffix in TENSE_SUFFIX.values()}
    nouns = set(NOUNS.values()) | {stem + PLURAL_SUFFIX for stem in NOUNS.values()} | set(PLACES.values())
    small = set(ADJECTIVES.values()) | set(NUMBERS.values()) | set(PREPOSITIONS.values())
    return verbs | nouns | small | {w for _, w in TIMES.values()} | {INDEFINITE, OBJECT_MARK, NEGATION}


_SOURCE_SET = _all_source_words()
#: Every word type each side can produce, sorted.
SOURCE_WORDS = tuple(sorted(_SOURCE_SET))
TARGET_WORDS = tuple(sorted(_all_target_words()))
