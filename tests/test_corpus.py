"""The bundled corpus: deterministic, grammatical, on topic, and with reviews that need word order.

Most checks read the generated *surface* words and judge them with rules written here, from the
lexicon's word lists, independently of how the generator made them.
"""

import ast
import hashlib
import itertools
import os
import random
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import minilm.data
from minilm.data import corpus
from minilm.data.corpus import lexicon, sentiment
from minilm.data import WordTokenizer

LEXICON = lexicon.get()
NAMES = lexicon.NAMES
SINGULAR = {n.singular for n in LEXICON.all_nouns()}
PLURAL = {n.plural for n in LEXICON.all_nouns() if not n.mass}
PAST = {v.past for v in LEXICON.all_verbs()}
BASE = {v.base for v in LEXICON.all_verbs()}
THIRD = {v.third for v in LEXICON.all_verbs()}
FUNCTION_WORDS = {
    "the", "a", "an", ".", ",", "?", "he", "she", "it", "they", "i", "we", "his", "her", "its", "their", "my", "our",
    "him", "them", "me", "us", "was", "were", "is", "are", "am", "some", "that", "this", "these", "those", "and", "to",
    "of", "in", "on", "at", "near", "not", "did", "do", "does", "will",
}


@pytest.fixture(scope="module")
def parsed():
    return corpus.generate_documents(n=2000, seed=0)


@pytest.fixture(scope="module")
def docs(parsed):
    return [corpus.Document(topic, [s.text for s in sentences]) for topic, sentences in parsed]


@pytest.fixture(scope="module")
def clauses(parsed):
    return [c for _, sentences in parsed for s in sentences for c in s.clauses]


@pytest.fixture(scope="module")
def reviews():
    return corpus.reviews(n=6000, seed=0)


def words(text):
    return WordTokenizer().tokenize(text)


# -- determinism and sizes ---------------------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different_text():
    first = "\n".join(d.text for d in corpus.documents(n=40, seed=7))
    assert first == "\n".join(d.text for d in corpus.documents(n=40, seed=7))
    assert first != "\n".join(d.text for d in corpus.documents(n=40, seed=8))
    a, b = corpus.reviews(n=300, seed=7), corpus.reviews(n=300, seed=7)
    assert a == b
    assert a["train"].texts != corpus.reviews(n=300, seed=8)["train"].texts


FINGERPRINT_CODE = """
import hashlib
from minilm.data import corpus
docs = "\\n".join(d.topic + "|" + d.text for d in corpus.documents(n=200, seed=0))
reviews = "\\n".join(f"{r.label}|{r.text}" for r in corpus.review_list(500, seed=0))
print(hashlib.sha256((docs + "\\n" + reviews).encode()).hexdigest())
"""

#: sha256 of the first 200 documents and 500 reviews of seed 0. The chapters print corpus output
#: verbatim, so a change to the word lists or the generator must be deliberate: update this value
#: and re-run the chapters' code to refresh what they print.
FINGERPRINT = "85dcb050f18d47c172bb35ec4db1463db0f13823aa586ccd4504b95bc586835c"


def test_same_bytes_in_every_process_and_unchanged_since_pinned():
    """Nothing depends on Python's per-process hash seed (set iteration order), and the output
    is the pinned one."""
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        result = subprocess.run([sys.executable, "-c", FINGERPRINT_CODE], env=env, capture_output=True, text=True,
                                check=True)
        digests.add(result.stdout.strip())
    assert digests == {FINGERPRINT}


def test_output_is_the_pinned_one_in_this_process_too():
    docs = "\n".join(d.topic + "|" + d.text for d in corpus.documents(n=200, seed=0))
    reviews = "\n".join(f"{r.label}|{r.text}" for r in corpus.review_list(500, seed=0))
    assert hashlib.sha256((docs + "\n" + reviews).encode()).hexdigest() == FINGERPRINT


def test_smaller_n_is_a_prefix():
    assert corpus.documents(n=5, seed=3) == corpus.documents(n=30, seed=3)[:5]
    assert corpus.review_list(50, seed=3) == corpus.review_list(200, seed=3)[:50]
    assert corpus.sentences(n=100, seed=0) == [s for d in corpus.documents(n=30) for s in d.sentences][:100]


def test_default_sizes(docs, reviews):
    assert len(docs) == 2000
    assert all(5 <= len(d.sentences) <= 15 for d in docs)
    assert {d.topic for d in docs} == set(corpus.TOPICS) and len(corpus.TOPICS) == 12
    assert {k: len(v) for k, v in reviews.items()} == {"train": 4800, "validation": 600, "test": 600}
    texts = [t for split in reviews.values() for t in split.texts]
    assert len(set(texts)) == len(texts), "a review text appears twice (maybe in two splits)"
    assert all(1 <= t.count(".") <= 4 for t in texts)


#: What ``minilm.data`` may import from the rest of minilm: the low layers (arrays, tensors, files),
#: never nn, models or training, so that data flows one way.
LOW_LAYERS = ("minilm.data", "minilm.io", "minilm.backend", "minilm.tensor", "minilm.creation")


def test_data_package_imports_only_the_standard_library_numpy_and_low_layers():
    folder = os.path.dirname(minilm.data.__file__)
    for root, _, files in os.walk(folder):
        for name in [f for f in files if f.endswith(".py")]:
            with open(os.path.join(root, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    # ``from minilm import backend`` imports the module minilm.backend
                    modules = [f"minilm.{a.name}" for a in node.names] if node.module == "minilm" else [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    ok = top in sys.stdlib_module_names or top == "numpy" or module.startswith(LOW_LAYERS)
                    assert ok, f"{name} imports {module}"


def test_options_and_argument_errors():
    docs = corpus.documents(n=20, seed=1, min_sentences=2, max_sentences=3, topics=["sea", "farm"])
    assert {d.topic for d in docs} <= {"sea", "farm"} and all(2 <= len(d.sentences) <= 3 for d in docs)
    with pytest.raises(ValueError, match="unknown topics \\['moon'\\]"):
        corpus.documents(n=1, topics=["moon"])
    with pytest.raises(ValueError, match="min_sentences"):
        corpus.documents(n=1, min_sentences=4, max_sentences=3)
    with pytest.raises(ValueError, match="fractions"):
        corpus.reviews(n=10, fractions=(0.5, 0.5, 0.5))


def test_describe(docs, reviews):
    info = corpus.describe(docs, reviews)
    assert info["documents"] == 2000 and info["sentences"] == sum(len(d.sentences) for d in docs)
    assert 800 <= info["word_types"] <= 1800
    assert info["reviews_train"] == 4800 and 0.4 < info["positive_train"] < 0.6


# -- grammar ------------------------------------------------------------------------------------------


def all_text(docs, reviews):
    return " ".join(d.text for d in docs) + " " + " ".join(t for s in reviews.values() for t in s.texts)


def test_a_before_consonant_an_before_vowel(docs, reviews):
    pairs = re.findall(r"\b([Aa]n?) (\w+)", all_text(docs, reviews))
    assert len(pairs) > 10000
    wrong = [f"{a} {w}" for a, w in pairs if (a.lower() == "an") != (w[0].lower() in "aeiou")]
    assert not wrong, wrong[:10]
    assert {a.lower() for a, _ in pairs} == {"a", "an"}


def test_mass_nouns_take_no_article_and_no_number(docs):
    mass = {n.singular for n in LEXICON.all_nouns() if n.mass}
    text = " ".join(d.text for d in docs).lower()
    adjectives = "|".join({a.word for a in LEXICON.all_adjectives()})
    determiners = "a|an|two|three|four|several|many|these|those"
    wrong = re.findall(rf"\b(?:{determiners}) (?:(?:{adjectives}) )?({'|'.join(mass)})\b", text)
    assert not wrong, wrong[:10]
    assert re.search(r"\bsome (\w+ )?(rice|bread|milk|water|tea)\b", text)


def subject_agreement(subject):
    """'1sg', '3sg' or 'pl' from the subject's words alone (None: cannot tell, e.g. 'the sheep')."""
    last = subject[-1]
    if "and" in subject:
        return "pl"
    pronouns = {"I": "1sg", "he": "3sg", "she": "3sg", "it": "3sg", "they": "pl", "we": "pl"}
    if last in pronouns:
        return pronouns[last]
    if last in NAMES:
        return "3sg"
    if last in SINGULAR and last in PLURAL:  # sheep, fish, deer: the determiner decides
        return {"a": "3sg", "an": "3sg", "this": "3sg", "that": "3sg", "these": "pl", "those": "pl", "two": "pl",
                "three": "pl", "four": "pl", "several": "pl", "many": "pl"}.get(subject[0])
    if last in PLURAL:
        return "pl"
    assert last in SINGULAR, f"unexpected subject {subject}"
    return "3sg"


def verb_agrees(subject, verb, tense):
    """Does the first word of the verb group fit the subject and the tense?"""
    agreement, first = subject_agreement(subject), verb[0]
    if tense == "future":
        return first == "will"
    be = {"past": {"1sg": "was", "3sg": "was", "pl": "were"}, "present": {"1sg": "am", "3sg": "is", "pl": "are"}}
    if first in ("was", "were", "am", "is", "are"):
        return first in be[tense].values() and (agreement is None or first == be[tense][agreement])
    if first in ("did", "does", "do"):
        if tense == "past":
            return first == "did"
        return agreement is None and first != "did" or first == ("does" if agreement == "3sg" else "do")
    if tense == "past":
        return first in PAST
    if agreement is None:
        return first in THIRD | BASE
    return first in (THIRD if agreement == "3sg" else BASE)


def test_agreement_checker_catches_mistakes():
    assert verb_agrees(["the", "cook"], ["bakes"], "present")
    assert not verb_agrees(["the", "cooks"], ["bakes"], "present")
    assert not verb_agrees(["the", "cook"], ["bake"], "present")
    assert not verb_agrees(["Anna"], ["were"], "past")
    assert not verb_agrees(["I"], ["is"], "present")
    assert not verb_agrees(["the", "boats"], ["does", "not", "sink"], "present")
    assert not verb_agrees(["the", "boat"], ["sank"], "present")
    assert verb_agrees(["Anna", "and", "I"], ["are"], "present")


def test_subject_verb_agreement(clauses):
    assert len(clauses) > 20000
    wrong = [(c.subject, c.verb, c.tense) for c in clauses if not verb_agrees(c.subject, c.verb, c.tense)]
    assert not wrong, wrong[:10]
    forms = Counter(c.verb[0] for c in clauses)
    assert all(forms[w] > 50 for w in ("is", "are", "was", "were", "am", "does", "do", "did", "will"))


def test_one_tense_per_sentence_and_time_words_agree(parsed):
    time_words = {"yesterday": "past", "tomorrow": "future", "every": "present"}
    for _, sentences in parsed:
        for s in sentences:
            assert len({c.tense for c in s.clauses}) == 1, s.text
            for word, tense in time_words.items():
                if word in s.tokens:
                    assert s.clauses[0].tense == tense, s.text


def test_possessives_agree_with_the_subject(clauses):
    owner = {"he": {"his"}, "she": {"her"}, "I": {"my"}, "they": {"their"}, "it": {"its"}}
    checked = 0
    for c in clauses:
        if len(c.obj) != 2 or c.obj[0] not in ("his", "her", "its", "their", "my", "our"):
            continue
        subject = c.subject
        if "and" in subject:
            allowed = {"our"} if subject[-1] == "I" else {"their"}
        elif subject[-1] in NAMES:
            allowed = {"his"} if NAMES[subject[-1]] == "m" else {"her"}
        elif subject[-1] in owner:
            allowed = owner[subject[-1]]
        else:
            allowed = {"their"} if subject_agreement(subject) == "pl" else {"his", "her"}
        assert c.obj[0] in allowed, (subject, c.obj)
        checked += 1
    assert checked > 200


def fits(noun_word, allowed):
    """Could the noun with this form satisfy a restriction (kinds or single nouns)?"""
    nouns = [n for n in LEXICON.all_nouns() if noun_word in (n.singular, n.plural)]
    return any(n.kinds & allowed or n.singular in allowed for n in nouns)


def test_selectional_restrictions(clauses):
    """Subjects and objects fit their verb: cooks eat soup, nothing eats a hammer."""
    verbs = {}
    for v in LEXICON.all_verbs():
        verbs.setdefault(v.base, []).append(v)
    checked = Counter()
    for c in clauses:
        if c.lemma not in verbs or c.lemma in ("be", "do"):
            continue
        head, obj = c.subject[-1], c.obj[-1] if c.obj else None
        if head in SINGULAR | PLURAL and "and" not in c.subject:
            assert any(fits(head, v.subjects) for v in verbs[c.lemma]), (c.subject, c.lemma)
            checked["subject"] += 1
        if obj in SINGULAR | PLURAL:
            assert any(fits(obj, v.objects) for v in verbs[c.lemma]), (c.lemma, c.obj)
            checked["object"] += 1
        if c.lemma == "eat" and obj in SINGULAR | PLURAL:
            assert fits(obj, frozenset({"food", "fodder"})), c.obj
            checked["eat"] += 1
    assert checked["subject"] > 5000 and checked["object"] > 5000 and checked["eat"] > 10


def test_lexicon_has_no_words_that_break_the_article_rule():
    forms = {f for n in LEXICON.all_nouns() for f in (n.singular, n.plural)}
    forms |= {a.word for a in LEXICON.all_adjectives()}
    assert all(re.fullmatch(r"[a-z]+", f) for f in forms)
    assert not [f for f in forms if re.match(r"(hour|honest|honou?r|heir|u[nst][aeiou]|uni|use|eu|one)", f)]


# -- documents keep a topic ----------------------------------------------------------------------------


def test_documents_stay_on_topic(docs):
    own = {w: next(iter(t)) for w, t in LEXICON.word_topics().items() if len(t) == 1 and None not in t}
    purity = []
    for d in docs:
        topical = [own[w] for w in words(d.text) if w in own]
        purity.append(sum(t == d.topic for t in topical) / len(topical))
    assert np.mean(purity) > 0.95 and np.percentile(purity, 5) > 0.8


def content_words(sentence):
    return {w for w in words(sentence) if w not in FUNCTION_WORDS}


def test_next_sentence_shares_more_than_a_random_one(docs):
    rng = random.Random(0)
    consecutive = [(d.sentences[i], d.sentences[i + 1]) for d in docs for i in range(len(d.sentences) - 1)]
    pairs = []
    for _ in range(len(consecutive)):
        a, b = rng.sample(docs, 2)
        pairs.append((rng.choice(a.sentences), rng.choice(b.sentences)))

    def share(pair_list):
        return np.mean([bool(content_words(a) & content_words(b)) for a, b in pair_list])

    assert share(consecutive) > 3 * share(pairs)
    own = {w: next(iter(t)) for w, t in LEXICON.word_topics().items() if len(t) == 1 and None not in t}

    def same_topic(pair_list):
        hits = [bool({own[w] for w in words(a) if w in own} & {own[w] for w in words(b) if w in own})
                for a, b in pair_list]
        return np.mean(hits)

    assert same_topic(consecutive) > 0.5
    assert same_topic(pairs) < 0.2


def test_pronouns_have_an_antecedent(parsed):
    """A sentence that opens with he/she/they follows a sentence that could have introduced them."""
    people = {n.singular for n in LEXICON.all_nouns() if "person" in n.kinds}
    people |= {n.plural for n in LEXICON.all_nouns() if "person" in n.kinds}
    for _, sentences in parsed:
        assert sentences[0].tokens[0] not in ("he", "she", "they", "him", "her", "them")
        for before, s in itertools.pairwise(sentences):
            if s.tokens[0] in ("he", "she"):
                gender = "m" if s.tokens[0] == "he" else "f"
                previous = set(before.tokens)
                named = any(NAMES.get(w) == gender for w in previous)
                assert named or previous & people or previous & {"he", "she", "him", "his", "her"}, (before.text,
                                                                                                     s.text)


def test_word_frequencies_are_zipf_like(docs):
    counts = np.array(sorted(Counter(words(" ".join(d.text for d in docs))).values(), reverse=True), float)
    ranks = np.arange(1, len(counts) + 1)
    slope = np.polyfit(np.log(ranks[9:500]), np.log(counts[9:500]), 1)[0]
    assert -1.4 < slope < -0.7
    assert 800 < len(counts) < 1800


# -- reviews ------------------------------------------------------------------------------------------


POLARITY = {a.word: a.polarity for a in LEXICON.all_adjectives() if a.polarity}
POLARITY.update({w: 1 for w in ("love", "like", "enjoy", "recommend", "again")})
POLARITY.update({w: -1 for w in ("hate", "regret")})
NEGATORS = {"not", "never", "hardly", "barely", "far"}


def clause_polarity(clause):
    """Rules 1-3 of the reviews: each negator flips what follows; 'too X' is negative."""
    flips = 0
    total = 0
    for w in clause:
        if w in NEGATORS:
            flips += 1
        elif w == "too":
            return total - (-1) ** flips
        elif w in POLARITY:
            total += POLARITY[w] * (-1) ** flips
            flips = 0
    return total


def counted_clauses(sentence):
    """Rule 4: after 'but', the main clause of 'although'; both halves of 'and'."""
    w = sentence
    if "but" in w:
        return [w[w.index("but") + 1:]]
    if w[0] == "although":
        return [w[w.index(",") + 1:]]
    if "although" in w or "though" in w:
        return [w[: w.index(",")]]
    if "and" in w:
        return [w[: w.index("and")], w[w.index("and") + 1:]]
    return [w]


def read_review(text):
    """The label the rules give, or None if the text has no sentiment at all."""
    total = 0
    for sentence in re.split(r"(?<=\.) ", text.lower()):
        tokens = words(sentence)[:-1]
        total += sum(clause_polarity(c) for c in counted_clauses(tokens))
    return None if total == 0 else int(total > 0)


def test_labels_follow_the_stated_rules(reviews):
    for split in reviews.values():
        assert [read_review(t) for t in split.texts] == split.labels


def test_labels_are_balanced(reviews):
    for split in reviews.values():
        assert 0.44 < np.mean(split.labels) < 0.56
    domains = Counter(r.domain for r in corpus.review_list(6000, 0))
    assert set(domains) == set(corpus.DOMAINS) and min(domains.values()) > 600


def test_sentiment_words_appear_on_both_sides(reviews):
    texts, labels = reviews["train"].texts, reviews["train"].labels
    seen, positive = Counter(), Counter()
    for text, label in zip(texts, labels):
        for w in set(words(text)) & set(POLARITY):
            seen[w] += 1
            positive[w] += label
    frequent = [w for w in seen if seen[w] >= 30]
    assert len(frequent) > 30
    share = {w: positive[w] / seen[w] for w in frequent}
    assert all(0.25 < s < 0.75 for s in share.values()), share
    assert np.mean([abs(s - 0.5) for s in share.values()]) < 0.13


def test_contexts_needed_to_read_reviews_occur(reviews):
    text = " ".join(reviews["train"].texts).lower()
    for phrase in ("not bad at all", "never boring", "hardly", "barely", ", but the", "although", "even though",
                   "very", "extremely", "slightly", "a bit", "too", "not too", "would not recommend"):
        assert phrase in text, phrase


def test_reviews_use_the_documents_words(docs, reviews):
    in_docs = Counter(words(" ".join(d.text for d in docs)))
    in_reviews = Counter(words(" ".join(reviews["train"].texts)))
    covered = sum(c for w, c in in_reviews.items() if w in in_docs) / sum(in_reviews.values())
    assert covered > 0.9
    content = set(POLARITY) | SINGULAR | PLURAL
    assert not [w for w in in_reviews if w in content and w not in in_docs]


def ngram_features(texts, n):
    out = []
    for text in texts:
        w = words(text)
        out.append(w + [a + " " + b for a, b in itertools.pairwise(w)] if n == 2 else w)
    return out


def logistic_regression_accuracy(train, test, n, steps=400):
    """Binary n-gram features (seen twice or more in training), logistic regression by full-batch Adam."""
    train_feats, test_feats = ngram_features(train.texts, n), ngram_features(test.texts, n)
    counts = Counter(f for feats in train_feats for f in set(feats))
    index = {f: i for i, f in enumerate(sorted(f for f, c in counts.items() if c >= 2))}

    def matrix(feature_lists):
        x = np.zeros((len(feature_lists), len(index)), np.float32)
        for row, feats in enumerate(feature_lists):
            x[row, [index[f] for f in feats if f in index]] = 1.0
        return x

    x, x_test, y = matrix(train_feats), matrix(test_feats), np.asarray(train.labels, np.float32)
    w, b = np.zeros(x.shape[1], np.float32), 0.0
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        grad = x.T @ (p - y) / len(y) + 1e-4 * w
        b -= 0.1 * float(np.mean(p - y))
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad**2
        w -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return float(np.mean(((x_test @ w + b) > 0) == np.asarray(test.labels, bool)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bag_of_words_is_clearly_worse_than_reading_order(seed):
    """The key property: counting words is weak, adding bigrams (local order) is strong."""
    data = corpus.reviews(n=6000, seed=seed)
    held_out = corpus.Split(data["validation"].texts + data["test"].texts,
                            data["validation"].labels + data["test"].labels)
    bag = logistic_regression_accuracy(data["train"], held_out, n=1)
    ordered = logistic_regression_accuracy(data["train"], held_out, n=2)
    assert 0.55 < bag < 0.8, bag
    assert ordered > 0.87, ordered
    assert ordered - bag > 0.15, (bag, ordered)


def test_review_generator_settings_are_documented():
    assert 0.5 < sentiment.P_PLAIN < 0.7
    assert set(sentiment.DOMAINS) == set(corpus.DOMAINS)
