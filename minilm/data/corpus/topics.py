"""The word lists: a general vocabulary every document shares, and twelve topics.

The lists are in ``words_general.py``, ``words_indoors.py`` and ``words_outdoors.py``.

Notation (read by ``lexicon.py``): ``knife/knives`` irregular plural, ``rice*`` mass noun,
``kitchen:in`` place with its preposition; verbs ``base[/past] : subjects -> [prep] objects``;
adjectives ``[+-]word[!] ... : kinds`` (``+`` positive, ``-`` negative, ``!`` extreme).
Within a list, earlier words are used more often (a Zipf-like rank weighting), so put the
common ones first. Kinds: person animal food drink fodder plant tool thing machine instrument
vehicle place nature story tune event clause weather dish produce; aliases animate, object, content, concrete.
"""

from minilm.data.corpus import words_indoors as indoors
from minilm.data.corpus import words_outdoors as outdoors
from minilm.data.corpus.words_general import GENERAL

#: The topics a document can be about, each a dict of ``nouns`` (kind -> words), ``places``,
#: ``verbs`` and ``adjectives`` in the notation above.
TOPICS = {
    "kitchen": indoors.KITCHEN,
    "sea": outdoors.SEA,
    "school": indoors.SCHOOL,
    "farm": outdoors.FARM,
    "city": outdoors.CITY,
    "music": indoors.MUSIC,
    "sport": outdoors.SPORT,
    "garden": outdoors.GARDEN,
    "forest": outdoors.FOREST,
    "workshop": indoors.WORKSHOP,
    "cinema": indoors.CINEMA,
    "hotel": indoors.HOTEL,
}

__all__ = ["GENERAL", "TOPICS"]
