"""The core-en suite: plain-English template skills that work with any Hugging Face tokenizer.

Prompts are ordinary English and targets start without a leading space (the scorer joins prompt
and target with one space). Read positions are substring anchors or ``-1``, resolved per
tokenizer. Country facts come from ``skills/builtin/data/countries.csv``. Loaded lazily by the
registry.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from curriculens.skills.builtin import toy  # noqa: F401  (the toy suite registers first, always)
from curriculens.skills.registry import Example, register_skill

SUITE = "core-en"


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


# ---------------------------------------------------------------- agreement
#: (singular, plural) subjects and attractors.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("author", "authors"),
    ("key", "keys"),
    ("teacher", "teachers"),
    ("dog", "dogs"),
    ("car", "cars"),
    ("student", "students"),
    ("painting", "paintings"),
    ("letter", "letters"),
)
ATTRACTORS: tuple[tuple[str, str], ...] = (
    ("cabinet", "cabinets"),
    ("house", "houses"),
    ("farmer", "farmers"),
    ("garden", "gardens"),
    ("window", "windows"),
    ("doctor", "doctors"),
)
PREPOSITIONS = ("of", "near", "behind", "next to", "for")
#: (singular, plural) verb forms; the continuation is the verb.
BE_FORMS: tuple[tuple[str, str], ...] = (("is", "are"), ("was", "were"), ("has", "have"))
NUMBER = ("singular", "plural")


def _agreement(rng: np.random.Generator, n: int, attractor: bool) -> list[Example]:
    out = []
    for _ in range(n):
        plural = int(rng.integers(2))
        words = ["The", _pick(rng, SUBJECTS)[plural]]
        read_after = ""
        if attractor:  # always of the other number: agreeing with the last noun fails
            words.append(_pick(rng, PREPOSITIONS))
            # read at the preposition, where the subject's number must be carried; the attractor
            # token itself would decode its own number, the exact inverse of the label
            read_after = " ".join(words)
            words += ["the", _pick(rng, ATTRACTORS)[1 - plural]]
        verb = _pick(rng, BE_FORMS)
        out.append(
            Example(
                prompt=" ".join(words),
                target=verb[plural],
                choices=(verb[1 - plural],),
                label=plural,
                read_after=read_after,
            )
        )
    return out


@register_skill(
    "en_agreement",
    version=1,
    family="agreement",
    format="choice",
    label_names=NUMBER,
    chance=0.5,
    suite=SUITE,
)
def en_agreement(rng: np.random.Generator, n: int) -> list[Example]:
    """Subject-verb agreement: 'The keys' -> are (vs is). Probe: subject number at the end."""
    return _agreement(rng, n, attractor=False)


@register_skill(
    "en_agreement_attractor",
    version=1,
    family="agreement",
    format="choice",
    label_names=NUMBER,
    chance=0.5,
    suite=SUITE,
)
def en_agreement_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Agreement past a mismatched attractor: 'The key near the cabinets' -> is (vs are).

    Probe: the subject's number, read at the preposition (before the attractor).
    """
    return _agreement(rng, n, attractor=True)


# ---------------------------------------------------------------- facts
CONTINENTS = ("europe", "asia", "africa", "americas", "oceania")


def _load_countries() -> tuple[dict[str, str], ...]:
    text = (
        resources.files("curriculens.skills.builtin")
        .joinpath("data/countries.csv")
        .read_text("utf-8")
    )
    return tuple(dict(row) for row in csv.DictReader(text.splitlines()))


#: Rows of ``skills/builtin/data/countries.csv``: country, capital, currency, continent.
COUNTRIES = _load_countries()
_WITH_THE = ("United States",)


def _country_phrase(country: str) -> str:
    return f"the {country}" if country in _WITH_THE else country


def _fact(row: dict[str, str], relation: str) -> Example:
    """One fact; the probe reads the last prompt token, where the answer must be retrieved.

    (At the country or capital token the continent is a property of the token itself, which any
    embedding decodes; the last token has to receive it from there.)
    """
    country = _country_phrase(row["country"])
    if relation == "capital":
        prompt, target = f"The capital of {country} is", row["capital"]
    elif relation == "currency":
        prompt, target = f"The currency of {country} is the", row["currency"]
    else:  # two hops: capital -> country -> currency
        prompt = f"The currency of the country whose capital is {row['capital']} is the"
        target = row["currency"]
    return Example(prompt=prompt, target=target, label=CONTINENTS.index(row["continent"]))


@register_skill(
    "en_capital",
    version=1,
    family="facts",
    label_names=CONTINENTS,
    suite=SUITE,
)
def en_capital(rng: np.random.Generator, n: int) -> list[Example]:
    """Country -> capital: 'The capital of France is' -> Paris. Probe: continent at 'is'."""
    return [_fact(COUNTRIES[int(i)], "capital") for i in rng.integers(0, len(COUNTRIES), n)]


@register_skill(
    "en_currency",
    version=1,
    family="facts",
    label_names=CONTINENTS,
    suite=SUITE,
)
def en_currency(rng: np.random.Generator, n: int) -> list[Example]:
    """Country -> currency: 'The currency of Japan is the' -> yen. Probe: continent at 'the'."""
    return [_fact(COUNTRIES[int(i)], "currency") for i in rng.integers(0, len(COUNTRIES), n)]


# ---------------------------------------------------------------- arithmetic
CARRY = ("no_carry", "carry")


def _addition(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[Example]:
    a, b = rng.integers(lo, hi, n), rng.integers(lo, hi, n)
    return [
        Example(prompt=f"{x} + {y} =", target=str(int(x + y)), label=int(x % 10 + y % 10 >= 10))
        for x, y in zip(a, b, strict=True)
    ]


@register_skill(
    "en_add1",
    version=1,
    family="arithmetic",
    label_names=CARRY,
    chance=0.05,
    suite=SUITE,
)
def en_add1(rng: np.random.Generator, n: int) -> list[Example]:
    """One-digit addition: '7 + 8 =' -> 15. Probe: the carry bit at '='."""
    return _addition(rng, n, 0, 10)


@register_skill(
    "en_add2",
    version=1,
    family="arithmetic",
    label_names=CARRY,
    chance=0.01,
    suite=SUITE,
)
def en_add2(rng: np.random.Generator, n: int) -> list[Example]:
    """Two-digit addition: '27 + 45 =' -> 72. Probe: the units carry bit at '='."""
    return _addition(rng, n, 10, 100)


# ---------------------------------------------------------------- induction: copy and reverse
CATEGORIES = ("animal", "food", "place", "object")
WORDS: dict[str, tuple[str, ...]] = {
    "animal": ("cat", "dog", "horse", "sheep", "mouse", "tiger", "rabbit", "eagle"),
    "food": ("bread", "apple", "cheese", "rice", "soup", "cake", "lemon", "honey"),
    "place": ("river", "forest", "city", "village", "mountain", "island", "garden", "desert"),
    "object": ("chair", "table", "window", "hammer", "pencil", "bottle", "mirror", "basket"),
}
WORD_CATEGORY = {w: c for c, words in WORDS.items() for w in words}
_ALL_WORDS = tuple(WORD_CATEGORY)
_LIST_LEN, _SHOWN = 5, 2


def _list_task(rng: np.random.Generator, n: int, reverse: bool) -> list[Example]:
    out = []
    for _ in range(n):
        words = [_ALL_WORDS[int(i)] for i in rng.choice(len(_ALL_WORDS), _LIST_LEN, replace=False)]
        answer = words[::-1] if reverse else words
        head = "Reversed" if reverse else "Again"
        prompt = f"List: {', '.join(words)}. {head}: {', '.join(answer[:_SHOWN])},"
        out.append(
            Example(
                prompt=prompt,
                target=", ".join(answer[_SHOWN:]),
                label=CATEGORIES.index(WORD_CATEGORY[answer[_SHOWN]]),
            )
        )
    return out


@register_skill(
    "en_copy",
    version=1,
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
    suite=SUITE,
)
def en_copy(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a word list: 'List: a, b, c, d, e. Again: a, b,' -> c, d, e. Probe: next word's kind."""
    return _list_task(rng, n, reverse=False)


@register_skill(
    "en_reverse",
    version=1,
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
    suite=SUITE,
)
def en_reverse(rng: np.random.Generator, n: int) -> list[Example]:
    """Reverse a word list: '... Reversed: e, d,' -> c, b, a. Probe: next word's kind."""
    return _list_task(rng, n, reverse=True)


# ---------------------------------------------------------------- indirect object identification
NAMES = ("Mary", "John", "Tom", "Anna", "James", "Sarah", "David", "Lisa", "Paul", "Emma")
IOI_TEMPLATES = (
    "When {a} and {b} went to the store, {s} gave a drink to",
    "After {a} and {b} arrived at the park, {s} handed a ball to",
    "While {a} and {b} were working at the office, {s} sent a letter to",
    "Then {a} and {b} had lunch at the cafe, and {s} passed the salt to",
)
IOI_POSITION = ("io_first", "io_second")


@register_skill(
    "en_ioi",
    version=1,
    family="ioi",
    format="choice",
    label_names=IOI_POSITION,
    chance=0.5,
    suite=SUITE,
)
def en_ioi(rng: np.random.Generator, n: int) -> list[Example]:
    """Indirect object: 'When Mary and John ..., John gave a drink to' -> Mary (vs John).

    Probe: whether the indirect object was the first or second name of the pair.
    """
    out = []
    for _ in range(n):
        io, s = (NAMES[int(i)] for i in rng.choice(len(NAMES), 2, replace=False))
        io_second = int(rng.integers(2))
        a, b = (s, io) if io_second else (io, s)
        prompt = _pick(rng, IOI_TEMPLATES).format(a=a, b=b, s=s)
        out.append(Example(prompt=prompt, target=io, choices=(s,), label=io_second))
    return out


# ---------------------------------------------------------------- in-context word maps
PLURAL_CLASSES = ("add_s", "add_es", "y_to_ies", "irregular")
PLURALS: dict[str, tuple[tuple[str, str], ...]] = {
    "add_s": (("cat", "cats"), ("dog", "dogs"), ("tree", "trees"), ("book", "books"),
              ("car", "cars"), ("girl", "girls"), ("river", "rivers"), ("king", "kings")),
    "add_es": (("box", "boxes"), ("bus", "buses"), ("fox", "foxes"), ("dish", "dishes"),
               ("church", "churches"), ("glass", "glasses"), ("watch", "watches"),
               ("brush", "brushes")),
    "y_to_ies": (("city", "cities"), ("baby", "babies"), ("lady", "ladies"),
                 ("story", "stories"), ("party", "parties"), ("berry", "berries"),
                 ("puppy", "puppies"), ("family", "families")),
    "irregular": (("man", "men"), ("woman", "women"), ("child", "children"),
                  ("mouse", "mice"), ("foot", "feet"), ("tooth", "teeth"), ("goose", "geese"),
                  ("person", "people")),
}  # fmt: skip
GERUND_CLASSES = ("add_ing", "drop_e", "double")
GERUNDS: dict[str, tuple[tuple[str, str], ...]] = {
    "add_ing": (("walk", "walking"), ("read", "reading"), ("sing", "singing"),
                ("play", "playing"), ("jump", "jumping"), ("cook", "cooking"),
                ("help", "helping"), ("talk", "talking")),
    "drop_e": (("make", "making"), ("write", "writing"), ("ride", "riding"),
               ("dance", "dancing"), ("smile", "smiling"), ("bake", "baking"),
               ("drive", "driving"), ("hope", "hoping")),
    "double": (("run", "running"), ("swim", "swimming"), ("sit", "sitting"),
               ("stop", "stopping"), ("shop", "shopping"), ("plan", "planning"),
               ("hit", "hitting"), ("cut", "cutting")),
}  # fmt: skip
_SHOTS = 3


def _word_map(
    rng: np.random.Generator, n: int, table: dict[str, tuple[tuple[str, str], ...]], transform
) -> list[Example]:
    """Few-shot maps 'a -> A, b -> B, c -> C, q ->' with the query's class balanced."""
    classes = tuple(table)
    pool = [(pair, c) for c, pairs in table.items() for pair in pairs]
    out = []
    for _ in range(n):
        label = int(rng.integers(len(classes)))
        query = _pick(rng, table[classes[label]])
        others = [p for p, _ in pool if p[0] != query[0]]
        shots = [others[int(i)] for i in rng.choice(len(others), _SHOTS, replace=False)]
        demo = ", ".join(f"{src} -> {transform(dst)}" for src, dst in shots)
        out.append(
            Example(prompt=f"{demo}, {query[0]} ->", target=transform(query[1]), label=label)
        )
    return out


def _same(word: str) -> str:
    return word


def _upper(word: str) -> str:
    return word.upper()


@register_skill(
    "en_plural",
    version=1,
    family="morphology",
    label_names=PLURAL_CLASSES,
    suite=SUITE,
)
def en_plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Plural in context: 'cat -> cats, box -> boxes, man -> men, city ->' -> cities.

    Probe: the query's inflection class (add_s, add_es, y_to_ies, irregular) at '->'.
    """
    return _word_map(rng, n, PLURALS, _same)


@register_skill(
    "en_gerund",
    version=1,
    family="morphology",
    label_names=GERUND_CLASSES,
    suite=SUITE,
)
def en_gerund(rng: np.random.Generator, n: int) -> list[Example]:
    """Gerund in context: 'walk -> walking, make -> making, sit -> sitting, run ->' -> running.

    Probe: the query's spelling rule (add_ing, drop_e, double) at '->'.
    """
    return _word_map(rng, n, GERUNDS, _same)


@register_skill(
    "en_uppercase",
    version=1,
    family="orthography",
    label_names=CATEGORIES,
    suite=SUITE,
)
def en_uppercase(rng: np.random.Generator, n: int) -> list[Example]:
    """Uppercase in context: 'cat -> CAT, bread -> BREAD, river ->' -> RIVER.

    Probe: the query word's kind (animal, food, place, object) at '->'.
    """
    table = {c: tuple((w, w) for w in words) for c, words in WORDS.items()}
    return _word_map(rng, n, table, _upper)


# ---------------------------------------------------------------- negation
#: (noun, state, opposite state): complementary pairs, so 'not open' means 'closed'.
STATES: tuple[tuple[str, str, str], ...] = (
    ("door", "open", "closed"),
    ("light", "on", "off"),
    ("glass", "full", "empty"),
    ("towel", "wet", "dry"),
    ("baby", "awake", "asleep"),
    ("plant", "alive", "dead"),
    ("answer", "right", "wrong"),
    ("road", "open", "closed"),
)
POLARITY = ("affirmed", "negated")


@register_skill(
    "en_negation",
    version=1,
    family="negation",
    format="choice",
    label_names=POLARITY,
    chance=0.5,
    suite=SUITE,
)
def en_negation(rng: np.random.Generator, n: int) -> list[Example]:
    """Negation: 'The door is not open, so the door is' -> closed (vs open).

    Probe: whether the premise was negated, read at the last prompt token.
    """
    out = []
    for _ in range(n):
        noun, *pair = _pick(rng, STATES)
        flip, negated = int(rng.integers(2)), int(rng.integers(2))
        said, other = pair[flip], pair[1 - flip]
        premise = f"The {noun} is {'not ' if negated else ''}{said}"
        good, bad = (other, said) if negated else (said, other)
        out.append(
            Example(
                prompt=f"{premise}, so the {noun} is", target=good, choices=(bad,), label=negated
            )
        )
    return out


# ---------------------------------------------------------------- composites
@register_skill(
    "en_plural_upper",
    version=1,
    family="composite",
    label_names=PLURAL_CLASSES,
    components=("en_plural", "en_uppercase"),
    suite=SUITE,
)
def en_plural_upper(rng: np.random.Generator, n: int) -> list[Example]:
    """Plural and uppercase at once: 'cat -> CATS, box -> BOXES, city ->' -> CITIES.

    Probe: the query's inflection class at '->'.
    """
    return _word_map(rng, n, PLURALS, _upper)


@register_skill(
    "en_capital_currency",
    version=1,
    family="composite",
    label_names=CONTINENTS,
    components=("en_capital", "en_currency"),
    suite=SUITE,
)
def en_capital_currency(rng: np.random.Generator, n: int) -> list[Example]:
    """Two hops: 'The currency of the country whose capital is Tokyo is the' -> yen.

    Probe: the continent, read at the last prompt token.
    """
    return [_fact(COUNTRIES[int(i)], "two_hop") for i in rng.integers(0, len(COUNTRIES), n)]


CORE_EN_SKILLS: tuple[str, ...] = (
    "en_agreement",
    "en_agreement_attractor",
    "en_capital",
    "en_currency",
    "en_add1",
    "en_add2",
    "en_copy",
    "en_reverse",
    "en_ioi",
    "en_plural",
    "en_gerund",
    "en_uppercase",
    "en_negation",
    "en_plural_upper",
    "en_capital_currency",
)
