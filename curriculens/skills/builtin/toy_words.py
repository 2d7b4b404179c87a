"""The toy world's words: nouns and their groups, verbs, people, cities, digits, the few-shot
tasks' markers, and the tokenizer's vocabulary. Shared by the zero-shot skills
(:mod:`~curriculens.skills.builtin.toy`) and the few-shot ones
(:mod:`~curriculens.skills.builtin.toy_icl`)."""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- vocabulary of the toy world
NOUNS: tuple[tuple[str, str], ...] = (
    # (singular, plural), four groups of six; the groups are a fixed partition of the nouns
    # (pet probes use it as a 4-way code for the looked-up noun)
    ("cat", "cats"),
    ("dog", "dogs"),
    ("bird", "birds"),
    ("horse", "horses"),
    ("cow", "cows"),
    ("fox", "foxes"),
    ("key", "keys"),
    ("cup", "cups"),
    ("box", "boxes"),
    ("pen", "pens"),
    ("bag", "bags"),
    ("lamp", "lamps"),
    ("apple", "apples"),
    ("cake", "cakes"),
    ("pear", "pears"),
    ("bean", "beans"),
    ("egg", "eggs"),
    ("plum", "plums"),
    ("girl", "girls"),
    ("boy", "boys"),
    ("king", "kings"),
    ("nurse", "nurses"),
    ("queen", "queens"),
    ("baby", "babies"),
)
NOUN_GROUPS = ("animal", "object", "food", "person")
VERBS: tuple[tuple[str, str], ...] = (
    ("runs", "run"),
    ("sleeps", "sleep"),
    ("eats", "eat"),
    ("sings", "sing"),
)
PREPS = ("near", "behind", "with")
#: Number-neutral words between a subject and its verb (agreement reads the last of them).
ADVERBS = ("often", "still", "also", "now")
CITIES = ("paris", "rome", "oslo", "lima", "cairo", "tokyo")
_SYL_A = ("ka", "lo", "mi", "tu", "re", "so", "na", "vi")
_SYL_B = ("ran", "bel", "dor", "fin", "gus", "lia")
PEOPLE: tuple[str, ...] = tuple(a + b for a in _SYL_A for b in _SYL_B)  # 48 names
DIGITS = tuple(str(d) for d in range(10))
BRACKETS = {"(": ")", "[": "]"}
MARKERS = ("the", "lives", "in", "->", "+", "=", ".")

#: The fact base: person -> city, fixed for the toy world (not a function of any run's seed).
FACTS: dict[str, str] = dict(
    zip(
        PEOPLE,
        np.random.default_rng(20260401).integers(0, len(CITIES), len(PEOPLE)).tolist(),
        strict=True,
    )
)
FACTS = {p: CITIES[c] for p, c in FACTS.items()}


def person_map(seed: int) -> dict[str, int]:
    """person -> noun index, each noun given to two people, fixed for the toy world."""
    order = np.random.default_rng(seed).permutation(np.arange(len(PEOPLE)) % len(NOUNS))
    return dict(zip(PEOPLE, order.tolist(), strict=True))


def _derangement(seed: int) -> dict[int, int]:
    """noun index -> another noun index: a fixed permutation with no noun mapped to itself."""
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(len(NOUNS))
        if not (perm == np.arange(len(NOUNS))).any():
            return {i: int(j) for i, j in enumerate(perm)}


#: Toy world v5's memorised item maps (see :mod:`~curriculens.skills.builtin.toy_icl`): two
#: more person -> noun bases beside the pets (a gift and a prize per person), and six noun ->
#: noun maps (each noun's mate, rival, twin, boss, pal and kin). Arbitrary and fixed, so only
#: memory answers them.
GIFTS: dict[str, int] = person_map(77)
PRIZES: dict[str, int] = person_map(79)
NOUN_MAPS: dict[str, dict[int, int]] = {
    name: _derangement(500 + k)
    for k, name in enumerate(("mate", "rival", "twin", "boss", "pal", "kin"))
}

#: Zipfian frequency of each person in the corpus (rank r has weight 1/r).
PERSON_WEIGHTS = np.array([1.0 / (r + 1) for r in range(len(PEOPLE))])
PERSON_WEIGHTS /= PERSON_WEIGHTS.sum()


#: Each few-shot skill's marker word, which opens its query ('plural cat -> cats'). The
#: demonstrations still show the task, but the query names it, so tasks that take the same input
#: (a noun, a span) are not confused. A composite has a word of its own ('cp': copy, then
#: plural), not its components' two words: with those, the model composed a composite from its
#: components' markers as soon as both were learnt, so the composite could never come later.
TASK_MARKERS: dict[str, str] = {
    "plural": "plural",
    "category": "kind",
    "copy": "copy",
    "middle": "middle",
    "last": "last",
    "pet": "pet",
    "successor": "next",
    "copy_plural": "cp",
    "copy_category": "ck",
    "middle_plural": "mp",
    "middle_category": "mk",
    "last_plural": "lp",
    "last_category": "lk",
    "pet_plural": "pp",
    "pet_category": "pk",
    # toy world v5: the item maps (a chain composite's query opens with its first component's)
    "gift": "gift",
    "prize": "prize",
    "mate": "mate",
    "rival": "rival",
    "twin": "twin",
    "boss": "boss",
    "pal": "pal",
    "kin": "kin",
}


def toy_vocabulary() -> list[str]:
    """Every word of the toy world, in a fixed order (the tokenizer's vocabulary)."""
    words: list[str] = list(MARKERS)
    words += [w for pair in NOUNS for w in pair]
    words += [w for pair in VERBS for w in pair]
    words += list(PREPS) + list(CITIES) + list(PEOPLE) + list(DIGITS)
    words += [b for kv in BRACKETS.items() for b in kv]
    words += list(ADVERBS)
    words += list(NOUN_GROUPS)  # toy v4: the answers of the category skills
    words += list(TASK_MARKERS.values())  # toy v4: the few-shot tasks' markers
    return list(dict.fromkeys(words))  # a word once (v5's markers 'gift' ... are new words)


def noun_group(noun_index: int) -> int:
    """The group (animal, object, food, person) of a noun, by its index."""
    return noun_index // (len(NOUNS) // len(NOUN_GROUPS))


def spaced_digits(x: int) -> str:
    """A number written digit by digit: 12 -> '1 2'."""
    return " ".join(str(x))
