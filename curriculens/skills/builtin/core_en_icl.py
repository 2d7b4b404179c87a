"""Few-shot core-en skills: the Implicit Curriculum paper's elemental in-context tasks that a
small English vocabulary supports, and composites of two of them.

Each skill is a set of (input, output) pairs written ``{input} -> {output}`` (arithmetic:
``{input} = {output}``) and shown with :data:`SHOTS` demonstrations; its examples are the
zero-shot queries, and a sweep adds the demonstrations after the split by group, from training
groups only (:mod:`curriculens.skills.fewshot`). Each query is one item, so a skill's pool is its
number of pairs. Part of the core-en suite: ``core_en`` imports this module last, so these
skills register after its own; both read their words from
:mod:`~curriculens.skills.builtin.core_en_words`.
"""

from __future__ import annotations

import itertools

import numpy as np

from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.builtin.core_en_words import (
    ANTONYMS,
    CARRY,
    CATEGORIES,
    CONTINENTS,
    COUNTRIES,
    GERUND_CLASSES,
    GERUNDS,
    PLURAL_CLASSES,
    PLURALS,
    SUITE,
    WORD_CATEGORY,
    WORDS,
)
from curriculens.skills.fewshot import queries
from curriculens.skills.registry import Example

#: The skills of this module, in registration order (after those of ``core_en``).
CORE_EN_ICL_SKILLS: tuple[str, ...] = (
    "en_icl_copy",
    "en_icl_reverse",
    "en_icl_first",
    "en_icl_last",
    "en_icl_uppercase",
    "en_icl_plural",
    "en_icl_gerund",
    "en_icl_capital",
    "en_icl_currency",
    "en_icl_antonym",
    "en_icl_add1",
    "en_icl_plural_upper",
    "en_icl_gerund_upper",
    "en_icl_capital_upper",
    "en_icl_first_upper",
)
#: Demonstrations per prompt.
SHOTS = 4
ARROW = "{input} -> {output}"
EQUALS = "{input} = {output}"

SIDES = ("first_of_pair", "second_of_pair")
#: Three-word lists of distinct words for the list tasks (copy, reverse, first, last).
_ALL_WORDS = tuple(sorted(WORD_CATEGORY))
_LIST_LEN = 3


def _sample(rng: np.random.Generator, pool: list, n: int) -> list:
    return [pool[int(i)] for i in rng.integers(0, len(pool), n)]


def _word_pairs(table, transform) -> list[tuple[str, str, int, str]]:
    """(input, output, class, group) for every word of a class table: group = the input."""
    return [
        (src, transform(dst), k, src)
        for k, pairs in enumerate(table.values())
        for src, dst in pairs
    ]


def _lists(rng: np.random.Generator, n: int, answer, transform=str) -> list[Example]:
    """Random lists of distinct words; ``answer(words)`` picks the output words, written with
    ``transform``; the label is the kind of the first output word."""
    pairs = []
    for _ in range(n):
        idx = rng.choice(len(_ALL_WORDS), _LIST_LEN, replace=False)
        words = [_ALL_WORDS[int(i)] for i in idx]
        said, text = answer(words), " ".join(words)
        label = CATEGORIES.index(WORD_CATEGORY[said[0]])
        pairs.append((text, " ".join(transform(w) for w in said), label, text))
    return queries(ARROW, pairs)


_LIST_NO_PROBE = """No probe: the answer is words of the list itself, and each list is its
    own group, so the only latents are positions in the list and which words sit there; the
    kind (animal, food, place, object) of the first word to write is not needed to write it.
    The label (that kind) only stratifies the split."""
_N_WORDS = len(_ALL_WORDS)
_LIST_ITEMS = (
    f"Items: {_N_WORDS} x {_N_WORDS - 1} x {_N_WORDS - 2} = "
    f"{_N_WORDS * (_N_WORDS - 1) * (_N_WORDS - 2)} prompts, each its own group (the list); "
    "a draw of 300 finds 300."
)


def _pool(n: int, what: str, groups: int | None = None) -> str:
    """The ``Items:`` paragraph of a pool of ``n`` queries, shown as a default draw shows them."""
    where = f" {what}" if what.startswith("(") else f", {what}"
    if n >= 300:
        return f"Items: {n} prompts in {groups or n} groups{where}; a draw of 300 finds 300."
    sets = 300 // n
    return (
        f"Items: {n} prompts in {groups or n} groups{where}; a draw of 300 shows each with "
        f"{sets} demonstration sets ({sets * n} items)."
    )


def _count(table: dict) -> int:
    return sum(len(pairs) for pairs in table.values())


def _per(table: dict) -> str:
    """'111 add_s, 85 add_es, ...': the words per class of a class table."""
    return ", ".join(f"{len(pairs)} {name}" for name, pairs in table.items())


def _doc(summary: str, *paragraphs: str) -> str:
    return "\n\n".join([summary, *paragraphs])


def _skill(name: str, doc: str, **kwargs):
    """Register a few-shot core-en builder with ``doc`` as its docstring."""

    def decorator(build):
        build.__doc__ = doc
        kwargs.setdefault("template", ARROW)
        version = kwargs.pop("version", 1)
        return builtin_skill(name, version=version, suite=SUITE, shots=SHOTS, **kwargs)(build)

    return decorator


# ---------------------------------------------------------------- list tasks
@_skill(
    "en_icl_copy",
    _doc("Copy a list in context: 'cat river bread -> cat river bread'.", _LIST_NO_PROBE,
         _LIST_ITEMS),
    version=2,  # v2: the larger core-en word tables
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
)  # fmt: skip
def en_icl_copy(rng: np.random.Generator, n: int) -> list[Example]:
    return _lists(rng, n, lambda w: w)


@_skill(
    "en_icl_reverse",
    _doc("Reverse a list in context: 'cat river bread -> bread river cat'.", _LIST_NO_PROBE,
         _LIST_ITEMS),
    version=2,  # v2: the larger core-en word tables
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
)  # fmt: skip
def en_icl_reverse(rng: np.random.Generator, n: int) -> list[Example]:
    return _lists(rng, n, lambda w: w[::-1])


@_skill(
    "en_icl_first",
    _doc("First word of a list in context: 'cat river bread -> cat'.", _LIST_NO_PROBE,
         _LIST_ITEMS),
    version=2,  # v2: the larger core-en word tables
    family="induction",
    label_names=CATEGORIES,
)  # fmt: skip
def en_icl_first(rng: np.random.Generator, n: int) -> list[Example]:
    return _lists(rng, n, lambda w: w[:1])


@_skill(
    "en_icl_last",
    _doc("Last word of a list in context: 'cat river bread -> bread'.", _LIST_NO_PROBE,
         _LIST_ITEMS),
    version=2,  # v2: the larger core-en word tables
    family="induction",
    label_names=CATEGORIES,
)  # fmt: skip
def en_icl_last(rng: np.random.Generator, n: int) -> list[Example]:
    return _lists(rng, n, lambda w: w[-1:])


# ---------------------------------------------------------------- word maps
_UPPER_NO_PROBE = """No probe: the answer needs the query word itself, which is the group (held
    out, so no word-specific label can be tested), and a rule that is the same for every item.
    The query's kind (animal, food, place, object) is not needed to uppercase a word. The label
    (the kind) only stratifies the split."""
_INFLECTION_PROBE = """Probe: the query's {what}, read at the last prompt token ('->'), the
    token before the answer, where the model must know which ending to write. The read token
    is always '->', the demonstrations are other training words drawn independently of the
    query's {short}, and groups are query words, so the probe must decode the {short} of words
    it never saw in training. Where a tokenizer splits words into pieces that show the ending,
    the prompt's tokens give the {short} even at random init, and only gains over the
    random-init probe count."""
_CONTINENT_PROBE = """Probe: the continent of the query country, read at the last prompt token
    ('->'), where the {what} must be retrieved. The read token is always '->' and the
    demonstrations are other training countries drawn independently of the query's continent;
    groups are countries, so the probe must decode the continent of countries it never saw in
    training. The continent is a property of the country: a pass shows the country's knowledge
    reached '->', not that the {what} itself was retrieved."""


def _words(table) -> dict:
    return {c: tuple((w, w) for w in words) for c, words in table.items()}


@_skill(
    "en_icl_uppercase",
    _doc("Uppercase in context: 'cat -> CAT'.", _UPPER_NO_PROBE,
         _pool(len(WORD_CATEGORY), "the words")),
    version=2,  # v2: the larger core-en word tables
    family="orthography",
    label_names=CATEGORIES,
)  # fmt: skip
def en_icl_uppercase(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, queries(ARROW, _word_pairs(_words(WORDS), str.upper)), n)


@_skill(
    "en_icl_plural",
    _doc("Plural in context: 'city -> cities'.",
         _INFLECTION_PROBE.format(what="inflection class (add_s, add_es, y_to_ies, irregular)",
                                  short="class"),
         _pool(_count(PLURALS), "the query words, " + _per(PLURALS))),
    version=2,  # v2: the larger core-en word tables
    family="morphology",
    label_names=PLURAL_CLASSES,
)  # fmt: skip
def en_icl_plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, queries(ARROW, _word_pairs(PLURALS, str)), n)


@_skill(
    "en_icl_gerund",
    _doc("Gerund in context: 'run -> running'.",
         _INFLECTION_PROBE.format(what="spelling rule (add_ing, drop_e, double)", short="rule"),
         _pool(_count(GERUNDS), "the query words, " + _per(GERUNDS))),
    version=2,  # v2: the larger core-en word tables
    family="morphology",
    label_names=GERUND_CLASSES,
)  # fmt: skip
def en_icl_gerund(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, queries(ARROW, _word_pairs(GERUNDS, str)), n)


def _countries(field: str, transform=str) -> list[Example]:
    return queries(
        ARROW,
        [
            (r["country"], transform(r[field]), CONTINENTS.index(r["continent"]), r["country"])
            for r in COUNTRIES
        ],
    )


_COUNTRY_ITEMS = _pool(len(COUNTRIES), "the countries")


@_skill(
    "en_icl_capital",
    _doc("Capital in context: 'France -> Paris'.", _CONTINENT_PROBE.format(what="capital"),
         _COUNTRY_ITEMS),
    family="facts",
    label_names=CONTINENTS,
)  # fmt: skip
def en_icl_capital(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _countries("capital"), n)


@_skill(
    "en_icl_currency",
    _doc("Currency in context: 'Japan -> yen'.", _CONTINENT_PROBE.format(what="currency"),
         _COUNTRY_ITEMS),
    family="facts",
    label_names=CONTINENTS,
)  # fmt: skip
def en_icl_currency(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _countries("currency"), n)


@_skill(
    "en_icl_antonym",
    _doc(
        "Antonym in context: 'hot -> cold', 'cold -> hot'.",
        """No probe: the answer is a lookup keyed on the query word, which is the group (held
        out, so no word-specific label can be tested), and no property of the word decides
        which antonym it has. The label (whether the query is the first or the second word of
        its pair, an arbitrary order) only stratifies the split.""",
        _pool(2 * len(ANTONYMS), f"both words of {len(ANTONYMS)} pairs"),
    ),
    version=2,  # v2: the larger core-en word tables
    family="lexical",
    label_names=SIDES,
)
def en_icl_antonym(rng: np.random.Generator, n: int) -> list[Example]:
    pairs = [(a, b, 0, a) for a, b in ANTONYMS] + [(b, a, 1, b) for a, b in ANTONYMS]
    return _sample(rng, queries(ARROW, pairs), n)


@_skill(
    "en_icl_add1",
    _doc(
        "One-digit addition in context: '7 + 8 = 15'.",
        """No probe: as for en_add1, the carry is a threshold on a + b, so a layer that has
        only gathered both operand tokens exposes it linearly, and XOR-like targets
        anti-generalise on the 55-pair grid. The label (carry) only stratifies the split.""",
        _pool(100, "(the unordered operand pair)", groups=55),
    ),
    family="arithmetic",
    label_names=CARRY,
    chance=0.05,
    template=EQUALS,
)
def en_icl_add1(rng: np.random.Generator, n: int) -> list[Example]:
    pairs = [
        (f"{a} + {b}", str(a + b), int(a + b >= 10), "+".join(map(str, sorted((a, b)))))
        for a, b in itertools.product(range(10), repeat=2)
    ]
    return _sample(rng, queries(EQUALS, pairs), n)


# ---------------------------------------------------------------- composites
@_skill(
    "en_icl_plural_upper",
    _doc("Plural, then uppercase, in context: 'city -> CITIES'.",
         _INFLECTION_PROBE.format(what="inflection class, as for en_icl_plural", short="class"),
         _pool(_count(PLURALS), "the query words, " + _per(PLURALS))),
    version=2,  # v2: the larger core-en word tables
    family="composite",
    label_names=PLURAL_CLASSES,
    components=("en_icl_plural", "en_icl_uppercase"),
)  # fmt: skip
def en_icl_plural_upper(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, queries(ARROW, _word_pairs(PLURALS, str.upper)), n)


@_skill(
    "en_icl_gerund_upper",
    _doc("Gerund, then uppercase, in context: 'run -> RUNNING'.",
         _INFLECTION_PROBE.format(what="spelling rule, as for en_icl_gerund", short="rule"),
         _pool(_count(GERUNDS), "the query words, " + _per(GERUNDS))),
    version=2,  # v2: the larger core-en word tables
    family="composite",
    label_names=GERUND_CLASSES,
    components=("en_icl_gerund", "en_icl_uppercase"),
)  # fmt: skip
def en_icl_gerund_upper(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, queries(ARROW, _word_pairs(GERUNDS, str.upper)), n)


@_skill(
    "en_icl_capital_upper",
    _doc("Capital, then uppercase, in context: 'France -> PARIS'.",
         _CONTINENT_PROBE.format(what="capital"), _COUNTRY_ITEMS),
    family="composite",
    label_names=CONTINENTS,
    components=("en_icl_capital", "en_icl_uppercase"),
)  # fmt: skip
def en_icl_capital_upper(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _countries("capital", str.upper), n)


@_skill(
    "en_icl_first_upper",
    _doc("First word of a list, then uppercase, in context: 'cat river bread -> CAT'.",
         _LIST_NO_PROBE, _LIST_ITEMS),
    version=2,  # v2: the larger core-en word tables
    family="composite",
    label_names=CATEGORIES,
    components=("en_icl_first", "en_icl_uppercase"),
)  # fmt: skip
def en_icl_first_upper(rng: np.random.Generator, n: int) -> list[Example]:
    return _lists(rng, n, lambda w: w[:1], str.upper)
