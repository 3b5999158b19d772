"""Documents that keep a topic: a cast of entities, introduced once and referred back to.

A document is about one topic (the sea, a farm, a school...). Its first sentence introduces a main
character or a thing; the following sentences keep drawing their subjects and objects from the same
small cast (``Anna``, ``the captain``, ``an old boat``), say ``the boat`` once the boat is known and
``she`` for the subject of the previous sentence. So a sentence and the one after it share a topic
and usually an entity, while a sentence from another document usually shares neither: the signal
next-sentence prediction learns.

``generate(topic, rng, n_sentences)`` returns the ``Sentence`` records (tokens and clauses) of one
document; ``corpus.documents`` turns many of them into plain text.
"""

from __future__ import annotations

from minilm.data.corpus import grammar as g
from minilm.data.corpus.scene import CONJUNCTIONS, DEGREES, NEGATIONS, STATIVE, Scene
from minilm.data.corpus.world import Pool, report_verbs, weather_verbs

# -- clauses: (tokens, clauses) without the final punctuation ----------------------------------------


def action_clause(scene: Scene, subject: g.Entity, tense: str, transitive=None, negation_rate=0.08):
    """``the captain tied the rope to ...``: subject, verb, object when the verb takes one, adverbial."""
    verbs = scene.world.verbs_for(subject, transitive)
    if not len(verbs):
        verbs = scene.world.verbs_for(subject)
    verb = verbs.pick(scene.rng)
    subj = scene.np(subject, 0)
    group = g.verb_group(verb, subject.agreement, tense, scene.rng.random() < negation_rate)
    obj, thing = [], None
    if verb.transitive:
        obj, thing = scene.object_phrase(verb, subject)
    where = [] if thing is not None and "place" in thing.noun.kinds else scene.adverbial(subject, verb)
    tokens = subj + group + ([verb.prep] if verb.prep else []) + obj + where
    return tokens, [g.Clause(subj, group, tense, verb.base, obj)]


def description_clause(scene: Scene, subject: g.Entity, tense: str, negation_rate=0.12):
    """``the soup was very hot``: subject, *be*, an adjective that fits the subject."""
    rng = scene.rng
    adjectives = scene.world.adjectives_for(subject.noun)
    if not len(adjectives):
        return action_clause(scene, subject, tense)
    adjective = adjectives.pick(rng)
    if adjective.word == subject.adjective:  # not "the big bottles were big"
        adjective = adjectives.pick(rng)
    subj = scene.np(subject, 0)
    group = g.copula(subject.agreement, tense)
    negation = g.choice(rng, NEGATIONS).split() if rng.random() < negation_rate else []
    if negation == ["not"]:
        group, negation = g.copula(subject.agreement, tense, negated=True), []
    degree = g.choice(rng, DEGREES).split() if not adjective.extreme and rng.random() < 0.3 else []
    return subj + group + negation + degree + [adjective.word], [g.Clause(subj, group, tense, "be")]


def clause(scene: Scene, subject: g.Entity, tense: str):
    """An action (two times in three) or a description of ``subject`` (if it is known already)."""
    if scene.rng.random() < 0.67 or not subject.introduced:
        return action_clause(scene, subject, tense)
    return description_clause(scene, subject, tense)


def finish(scene: Scene, subject: g.Entity, tokens, clauses, mark=".") -> list[g.Sentence]:
    """Close a sentence; its subject becomes the salient entity of the next one."""
    scene.salient, scene.said = subject, None
    return [g.Sentence(tokens + [mark], clauses)]


# -- sentence plans: each returns a list of sentences -------------------------------------------------


def opening(scene: Scene) -> list[g.Sentence]:
    """The first sentence: who the main character is, or what there is where."""
    rng, hero, tense = scene.rng, scene.cast[0], scene.tense
    r = rng.random()
    if (hero.name or hero.gender == "1") and r < 0.6:  # Anna was a young sailor. / I am a sailor.
        role = scene.new_entity(hero.noun, plural_rate=0.0)
        subj = scene.np(hero)
        group = g.copula(hero.agreement, tense)
        return finish(scene, hero, subj + group + g.indefinite(role, rng), [g.Clause(subj, group, tense, "be")])
    if r < 0.8:
        return existential(scene)
    verb = scene.world.verb("work" if hero.is_person else "live")
    subj = scene.np(hero)
    group = g.verb_group(verb, hero.agreement, tense)
    return finish(scene, hero, subj + group + scene.location(), [g.Clause(subj, group, tense, verb.base)])


def action(scene: Scene) -> list[g.Sentence]:
    """``Anna tied the rope.``, sometimes after a time phrase (``Later, ...``)."""
    subject, tense = scene.actor(), scene.sentence_tense()
    front = scene.time_phrase(tense) if scene.rng.random() < 0.15 else []
    tokens, clauses = action_clause(scene, subject, tense)
    return finish(scene, subject, front + tokens, clauses)


def happening(scene: Scene) -> list[g.Sentence]:
    """An intransitive verb: ``The boat drifted.``, ``The dog slept near the barn.``"""
    rng = scene.rng
    movers = [e for e in scene.props if len(scene.world.verbs_for(e, transitive=False))]
    subject = g.choice(rng, movers) if movers and rng.random() < 0.4 else scene.actor()
    tense = scene.sentence_tense()
    tokens, clauses = action_clause(scene, subject, tense, transitive=False)
    return finish(scene, subject, tokens, clauses)


def description(scene: Scene) -> list[g.Sentence]:
    """``The soup was very hot.``, ``The sailors were not tired.``"""
    rng = scene.rng
    known = [e for e in scene.props if e.mentioned]
    if rng.random() < 0.12:  # The harbor was calm.
        setting = g.Entity(scene.place)
        setting.mentioned = True
        tokens, clauses = description_clause(scene, setting, scene.sentence_tense())
        return finish(scene, setting, tokens, clauses)
    if not known and rng.random() < 0.55:
        return existential(scene)
    subject = g.choice(rng, known) if known and rng.random() < 0.55 else scene.actor()
    if not subject.introduced:  # not "Two birds were white." as a first mention
        return action(scene)
    tokens, clauses = description_clause(scene, subject, scene.sentence_tense())
    return finish(scene, subject, tokens, clauses)


def existential(scene: Scene) -> list[g.Sentence]:
    """``There was an old boat in the harbor.``: introduces a new prop."""
    rng = scene.rng
    thing = scene.new_entity(scene.world.placeable.pick(rng))
    scene.props.append(thing)
    tense = scene.sentence_tense()
    group = g.copula(thing.agreement, tense)
    subj = g.noun_phrase(thing, rng, 0)
    return finish(scene, thing, ["there"] + group + subj + scene.location(), [g.Clause(subj, group, tense, "be")])


def relative(scene: Scene) -> list[g.Sentence]:
    """``The sailor who tied the rope was tired.`` or ``The pie that Anna baked was sweet.``"""
    rng, tense = scene.rng, scene.sentence_tense()
    agent = scene.actor()
    verbs = scene.world.verbs_for(agent, transitive=True)
    if agent.name or agent.members or agent.gender == "1" or not len(verbs) or rng.random() < 0.5:
        return object_relative(scene, agent, tense)
    verb = verbs.pick(rng)
    head = scene.np(agent, 0, pronoun_ok=False)
    inner = g.verb_group(verb, agent.agreement, tense)
    obj, _ = scene.object_phrase(verb, agent)
    rel = ["who" if agent.is_person else "that"] + inner + ([verb.prep] if verb.prep else []) + obj
    scene.salient = None
    rest, clauses = clause(scene, agent, tense)
    main = clauses[0]
    tokens = head + rel + rest[len(main.subject):]
    main.subject = head
    return finish(scene, agent, tokens, [g.Clause(head, inner, tense, verb.base, obj), main] + clauses[1:])


def object_relative(scene: Scene, agent: g.Entity, tense: str) -> list[g.Sentence]:
    """``The pie that Anna baked was sweet.``: the head noun is the object of the inner verb."""
    rng = scene.rng
    verbs = [v for v in scene.world.verbs_for(agent, transitive=True).items if not v.prep and v.base not in STATIVE]
    described = [v for v in verbs if any(len(scene.world.adjectives_for(n)) for n in
                                         scene.world.nouns_for(v.objects).items[:3])]
    if not described:
        return action(scene)
    verb = g.choice(rng, described)
    thing = scene.new_entity(scene.world.nouns_for(verb.objects).pick(rng))
    if not len(scene.world.adjectives_for(thing.noun)):
        return action(scene)
    scene.props.append(thing)
    head = g.noun_phrase(thing, rng, 0, pronoun_ok=False)
    subj = scene.np(agent, 0)
    inner = g.verb_group(verb, agent.agreement, tense)
    scene.salient = None
    rest, clauses = description_clause(scene, thing, tense)
    main = clauses[0]
    tokens = head + ["that"] + subj + inner + rest[len(main.subject):]
    main.subject = head
    return finish(scene, thing, tokens, [g.Clause(subj, inner, tense, verb.base, head), main])


def compound(scene: Scene) -> list[g.Sentence]:
    """Two clauses in one tense: ``The wind was strong, so the sailors tied the boat.``"""
    rng, tense = scene.rng, scene.sentence_tense()
    first = scene.actor()
    tokens, clauses = clause(scene, first, tense)
    scene.said = first
    second = first if rng.random() < 0.5 else scene.actor()
    more, more_clauses = action_clause(scene, second, tense)
    if rng.random() < 0.1:  # Although the wind was cold, the sailors were happy.
        return finish(scene, second, ["although"] + tokens + [","] + more, clauses + more_clauses)
    return finish(scene, second, tokens + list(g.choice(rng, CONJUNCTIONS)) + more, clauses + more_clauses)


def together(scene: Scene) -> list[g.Sentence]:
    """A plural subject made of two cast members: ``Anna and the captain sailed to the island.``"""
    people = [e for e in scene.cast if e.is_person and e.number == "sg"]
    if len(people) < 2:
        return action(scene)
    pair = g.group(people[0], people[1])
    tokens, clauses = clause(scene, pair, scene.sentence_tense())
    return finish(scene, pair, tokens, clauses)


def report(scene: Scene) -> list[g.Sentence]:
    """``Anna thought that the soup was too salty.``: a clause inside a clause, in the same tense."""
    rng, tense = scene.rng, scene.tense
    speaker = next((e for e in scene.cast if e.is_person), scene.cast[0])
    verb = report_verbs().pick(rng)
    subj = scene.np(speaker, 0)
    group = g.verb_group(verb, speaker.agreement, tense)
    topic = g.choice(rng, scene.props) if rng.random() < 0.6 else scene.actor()
    scene.said = speaker
    inner, clauses = description_clause(scene, topic, tense) if topic in scene.props else clause(scene, topic, tense)
    tokens = subj + group + ["that"] + inner
    return finish(scene, speaker, tokens, [g.Clause(subj, group, tense, verb.base)] + clauses)


def question(scene: Scene) -> list[g.Sentence]:
    """A yes/no question and its short answer: ``Did the cook bake the pie? Yes, she did.``"""
    rng, tense = scene.rng, scene.sentence_tense()
    subject = scene.actor()
    verbs = scene.world.verbs_for(subject, transitive=True)
    if not len(verbs) or not subject.introduced or subject.gender == "1":
        return action(scene)
    verb = verbs.pick(rng)
    aux = g.do_auxiliary(subject.agreement, tense)
    subj = scene.np(subject, 0)
    obj, _ = scene.object_phrase(verb, subject)
    asked = [aux] + subj + [verb.base] + ([verb.prep] if verb.prep else []) + obj + ["?"]
    q = g.Sentence(asked, [g.Clause(subj, [aux, verb.base], tense, verb.base, obj)])
    pronoun = subject.pronoun(0)
    reply = [aux, "not"] if rng.random() < 0.4 else [aux]
    words = ["no" if len(reply) == 2 else "yes", ",", pronoun] + reply + ["."]
    scene.salient = subject
    return [q, g.Sentence(words, [g.Clause([pronoun], reply, tense, "do")])]


def weather(scene: Scene) -> list[g.Sentence]:
    """``It rained in the morning.`` or ``The wind was cold.``"""
    rng, tense = scene.rng, scene.sentence_tense()
    if rng.random() < 0.5:
        verb = weather_verbs().pick(rng)
        group = g.verb_group(verb, "3sg", tense)
        tail = scene.time_phrase(tense)[:-1] if rng.random() < 0.5 else []
        return finish(scene, None, ["it"] + group + tail, [g.Clause(["it"], group, tense, verb.base)])
    thing = g.Entity(scene.world.topic_nouns({"nature"}).pick(rng))
    thing.mentioned = True
    tokens, clauses = description_clause(scene, thing, tense, negation_rate=0.0)
    return finish(scene, thing, tokens, clauses)


def judged(scene: Scene, thing: g.Entity, polarity: int, tense: str, as_pronoun: bool):
    """``the soup was delicious`` (polarity 1) or ``it was not tasty`` (-1): a judgement of ``thing``."""
    rng = scene.rng
    own = polarity if rng.random() < 0.7 else -polarity
    adjective = scene.world.adjectives_for(thing.noun, own).pick(rng)
    subj = [thing.pronoun(0)] if as_pronoun else scene.np(thing, 0)
    group = g.copula(thing.agreement, tense, negated=own != polarity and rng.random() < 0.6)
    negation = g.choice(rng, ("never", "hardly", "far from")).split() if own != polarity and "not" not in group else []
    return subj + group + negation + [adjective.word], g.Clause(subj, group, tense, "be")


def feeling(scene: Scene, person: g.Entity, polarity: int, tense: str):
    """``Anna was happy``, ``she smiled`` (polarity 1); ``Anna was sad``, ``she frowned`` (-1)."""
    rng = scene.rng
    subj = scene.np(person, 0)
    if rng.random() < 0.5:
        negated = rng.random() < 0.3  # "was not happy" is a sad feeling
        word = ("sad" if negated else "happy") if polarity > 0 else ("happy" if negated else "sad")
        group = g.copula(person.agreement, tense, negated)
        return subj + group + [word], g.Clause(subj, group, tense, "be")
    verb = scene.world.verb(g.choice(rng, ("smile", "laugh") if polarity > 0 else ("frown", "sigh")))
    group = g.verb_group(verb, person.agreement, tense)
    return subj + group, g.Clause(subj, group, tense, verb.base)


def reaction(scene: Scene) -> list[g.Sentence]:
    """Feelings follow judgements, so that a model reading documents learns which words are good:
    ``Anna liked the soup because it was delicious.``, ``The bread was stale, so Ben frowned.``,
    ``Although the room was noisy, Anna was happy.``"""
    rng, tense = scene.rng, scene.tense
    people = [e for e in scene.cast if e.is_person and not e.members and e.introduced]
    things = [e for e in scene.props if e.mentioned and len(scene.world.adjectives_for(e.noun, 1))
              and len(scene.world.adjectives_for(e.noun, -1))]
    if not people or not things:
        return description(scene)
    person, thing, polarity = g.choice(rng, people), g.choice(rng, things), g.choice(rng, (1, -1))
    r = rng.random()
    options = [v for v in (("like", "love", "enjoy") if polarity > 0 else ("like", "hate"))
               if thing.fits(scene.world.verb(v).objects)]
    if r < 0.4 and options:
        subj = scene.np(person, 0)
        verb = scene.world.verb(g.choice(rng, options))
        group = g.verb_group(verb, person.agreement, tense, negated=polarity < 0 and verb.base == "like")
        obj = scene.np(thing, 1)
        because, clause2 = judged(scene, thing, polarity, tense, as_pronoun=True)
        tokens = subj + group + obj + ["because"] + because
        return finish(scene, person, tokens, [g.Clause(subj, group, tense, verb.base, obj), clause2])
    if r < 0.75:
        first, clause1 = judged(scene, thing, polarity, tense, as_pronoun=False)
        second, clause2 = feeling(scene, person, polarity, tense)
        return finish(scene, person, first + [",", "so"] + second, [clause1, clause2])
    first, clause1 = judged(scene, thing, -polarity, tense, as_pronoun=False)
    second, clause2 = feeling(scene, person, polarity, tense)
    return finish(scene, person, ["although"] + first + [","] + second, [clause1, clause2])


#: The sentence plans after the opening, and how often each is chosen.
PLANS = Pool([action, happening, description, existential, relative, compound, together, report, question, weather,
              reaction], [0.28, 0.09, 0.13, 0.05, 0.08, 0.10, 0.04, 0.06, 0.05, 0.04, 0.08])


def generate(topic: str, rng, n_sentences: int) -> list[g.Sentence]:
    """One document of ``n_sentences`` sentences about ``topic``, drawn with ``rng``."""
    scene = Scene(topic, rng)
    sentences = opening(scene)
    while len(sentences) < n_sentences:
        plan = PLANS.pick(rng)
        if plan is question and n_sentences - len(sentences) < 2:
            plan = action
        sentences.extend(plan(scene))
    return sentences
