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
2. A noun phrase is ``noun [adjective] [en | number]``: the adjective follows the noun, "a" (or "an") becomes
   ``en`` after the phrase, a number follows it too. "the" has no word: a bare noun is definite.
3. Plural nouns add ``-i`` (``vorn`` dog, ``vorni`` dogs), except after a number, where the noun
   stays singular ("two dogs" -> ``vorn dun``).
4. The object phrase is marked by ``ko`` after it (English marks it by position only).
5. A verb is one word, stem + tense: ``-an`` present, ``-et`` past, ``-ol`` future. So "will see",
   "saw", "sees" and "see" each become one word (``lumol``, ``lumet``, ``luman``); Zorvish has no
   agreement, and "do", "does", "did" and "will" have no word of their own.
6. "not" becomes ``nu`` right before the verb ("did not see" -> ``nu lumet``).
7. A place phrase is ``noun [adjective] [en] postposition`` ("under a tree" -> ``telv en dor``).
8. Time words: "yesterday" ``ishta``, "today" ``hova``, "tomorrow" ``morat``; each needs its tense.

Both sides are lowercase words separated by single spaces, no punctuation: ``text.split()`` is the
tokenizer.

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
A baseline that translates each word by its most frequent Zorvish word, in English order, gets
about 1 validation sentence in 100 right (see the tests): a model must learn the reordering.

Generation: pair ``i`` is drawn with ``random.Random(f"minilm-translation:{seed}:{i}")``, so it
depends only on ``seed`` and ``i`` (a smaller ``n`` gives a prefix). The generator only picks
sensible combinations (one eats food, a stone does not sleep), but ``translate`` translates any
sentence of the grammar, sensible or not, and raises ``ValueError`` naming the first word it cannot
handle. Sources have 3 to 12 words, targets 2 to 12; about 90 word types each side.

The words live in ``lexicon.py``, the rules (render a ``Clause`` both ways, read English back) in
``grammar.py``; this file draws the pairs and splits them.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from minilm.data.translation.grammar import Clause, NounPhrase, parse, random_clause, source_words, target_words
from minilm.data.translation.lexicon import RULES, SOURCE_WORDS, TARGET_WORDS
from minilm.data.vocab import Vocab

__all__ = [
    "BOS",
    "EOS",
    "MAX_LENGTH",
    "PAD",
    "RULES",
    "SOURCE_WORDS",
    "SPECIALS",
    "TARGET_WORDS",
    "UNK",
    "Clause",
    "NounPhrase",
    "Pair",
    "alignment",
    "describe",
    "pairs",
    "parse",
    "splits",
    "translate",
    "vocabularies",
]

#: Special tokens of ``vocabularies`` (ids 0 to 3): padding, start and end of a sentence, unknown word.
PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
#: No generated sentence, on either side, has more words than this.
MAX_LENGTH = 12


@dataclass(frozen=True)
class Pair:
    """One sentence and its Zorvish translation, both lowercase words separated by single spaces."""

    source: str
    target: str


def translate(source: str) -> str:
    """The Zorvish translation of an English sentence of the grammar, by the rules (``RULES``)."""
    return " ".join(w for w, _ in target_words(parse(source)))


def alignment(source: str) -> list[tuple[int, ...]]:
    """For each word of ``translate(source)``, the positions of the source words it translates
    (``()`` for ``ko``): the reference an attention heatmap can be compared with."""
    clause = parse(source)
    position = {role: i for i, (_, role) in enumerate(source_words(clause))}
    return [tuple(sorted(position[r] for r in roles)) for _, roles in target_words(clause)]


def _pair(seed: int, index: int) -> Pair:
    """Pair ``index``: drawn with its own ``random.Random``, so it depends on nothing else."""
    rng = random.Random(f"minilm-translation:{seed}:{index}")
    while True:  # draw again the rare clause that is too long
        clause = random_clause(rng)
        source, target = source_words(clause), target_words(clause)
        if len(source) <= MAX_LENGTH and len(target) <= MAX_LENGTH:
            return Pair(" ".join(w for w, _ in source), " ".join(w for w, _ in target))


def pairs(n: int = 20000, seed: int = 0) -> list[Pair]:
    """``n`` generated pairs; pair ``i`` depends only on ``seed`` and ``i``. A short sentence may occur
    more than once; ``splits`` removes the repeats."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"pairs: n must be a non-negative int, got {n!r}")
    return [_pair(seed, i) for i in range(n)]


def splits(n: int = 20000, seed: int = 0, fractions=(0.9, 0.05, 0.05)) -> dict[str, list[Pair]]:
    """``pairs(n, seed)`` with each source kept once (its first pair), shuffled with ``seed`` and cut
    into train, validation and test by ``fractions``. So no source is in two splits, and the sizes
    add up to the number of distinct sources (about 0.87 n): validation and test get
    ``round(fraction * distinct)`` pairs each, train the rest."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"splits: fractions must be three non-negative numbers adding up to 1, got {fractions!r}")
    first = {}
    for p in pairs(n, seed):
        first.setdefault(p.source, p)
    unique = list(first.values())
    random.Random(f"minilm-translation:splits:{seed}").shuffle(unique)
    n_val, n_test = round(fractions[1] * len(unique)), round(fractions[2] * len(unique))
    n_train = len(unique) - n_val - n_test
    return {
        "train": unique[:n_train],
        "validation": unique[n_train : n_train + n_val],
        "test": unique[n_train + n_val :],
    }


def describe(pairs: list[Pair]) -> dict:
    """Counts for a quick look: pairs, distinct sources, word types and lengths on each side, and the
    fraction of pairs whose two sides differ in length."""
    info = {"pairs": len(pairs), "distinct_sources": len({p.source for p in pairs})}
    for side in ("source", "target"):
        lengths = [len(getattr(p, side).split()) for p in pairs]
        info[f"{side}_types"] = len({w for p in pairs for w in getattr(p, side).split()})
        info[f"mean_{side}_length"] = round(sum(lengths) / max(len(lengths), 1), 2)
        info[f"max_{side}_length"] = max(lengths, default=0)
    differ = sum(len(p.source.split()) != len(p.target.split()) for p in pairs)
    info["length_differs"] = round(differ / max(len(pairs), 1), 3)
    return info


def vocabularies(pairs: list[Pair]) -> tuple[Vocab, Vocab]:
    """``(source_vocab, target_vocab)``: ``Vocab`` objects with ``SPECIALS`` first (``<pad>`` 0,
    ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3), then the words of ``pairs``, most frequent first. Look the
    specials up by name, ``vocab[BOS]``: ``vocab.unk_id`` works, but ``vocab.pad_id`` looks for
    ``[PAD]`` and raises ``KeyError`` here."""
    source = Counter(w for p in pairs for w in p.source.split())
    target = Counter(w for p in pairs for w in p.target.split())
    return Vocab.build(source, specials=SPECIALS, unk_token=UNK), Vocab.build(target, specials=SPECIALS, unk_token=UNK)
