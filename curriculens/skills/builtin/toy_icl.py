"""The toy world's few-shot (in-context) skills, each a corpus source too (see
:mod:`curriculens.skills.builtin.toy`, which registers them after its zero-shot skills).

Toy world v4 has seven elementals and eight composites that chain a selection with a word form
under a marker of their own ('pp kalo -> foxes'). World v5 (design version 6, the demo's) adds
eight memorised item maps (gift, prize: person -> noun; mate, rival, twin, boss, pal, kin: noun ->
noun) and eight *chain* composites of two maps whose answer writes both component tasks out ('pet
karan -> bag mate bag -> boy'). In trials, a composite learnt from documents of its own ran a
checkpoint ahead of or behind the product of its components, and decoy pairs predicted it better
than its real components; a written-out chain only has to learn the chaining, and tracks the
product. The item maps' documents draw items at Zipf frequencies (a fixed rank per item), so a map
is learnt item by item over a span of training rather than in one step."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.builtin.toy_words import (
    GIFTS,
    NOUN_GROUPS,
    NOUN_MAPS,
    NOUNS,
    PEOPLE,
    PRIZES,
    TASK_MARKERS,
    noun_group,
    person_map,
    spaced_digits,
)
from curriculens.skills.fewshot import SEPARATOR, demonstration, queries
from curriculens.skills.registry import Example

# ---------------------------------------------------------------- few-shot (in-context) skills
#: Demonstrations per prompt of the few-shot skills.
SHOTS = 4
ARROW = "{input} -> {output}"
#: Pairs per few-shot training document: 3 to 6, so the corpus shows each skill 0- to 5-shot.
_DOC_PAIRS = (3, 7)
_SPAN = 3  # words per copied span

#: The pet base: person -> noun index, each noun the pet of two people, fixed for the toy world.
PETS: dict[str, int] = person_map(20260403)

Pairs = Callable[[np.random.Generator, int], list[Example]]


def _sample(rng: np.random.Generator, pool: list[Example], n: int) -> list[Example]:
    return [pool[int(i)] for i in rng.integers(0, len(pool), n)]


def _pairs_document(pairs: Pairs) -> Callable[[np.random.Generator], str]:
    """A corpus renderer: 3-6 solved pairs of one skill, joined as a k-shot prompt joins them."""

    def render(rng: np.random.Generator) -> str:
        return SEPARATOR.join(demonstration(e) for e in pairs(rng, int(rng.integers(*_DOC_PAIRS))))

    return lambda rng: render(rng) + " ."


#: Zipf exponent of the item maps' documents: the item of rank r is drawn with weight 1/r.
ZIPF = 1.0


def zipf_weights(key: str, n: int) -> np.ndarray:
    """Document frequency of each of ``n`` items: Zipf over a fixed rank per item (``key``
    seeds the ranks, so a chain composite shares its first component's frequencies).

    >>> w = zipf_weights("pet", 48)
    >>> round(float(w.sum()), 6), round(float(w.max() / w.min()), 1)
    (1.0, 48.0)
    """
    rank = np.random.default_rng(zlib.crc32(key.encode())).permutation(n)
    w = 1.0 / (rank + 1.0) ** ZIPF
    return w / w.sum()


def _zipf_document(pool: list[Example], key: str) -> Callable[[np.random.Generator], str]:
    """A corpus renderer: 3-6 solved pairs of a fixed pool, drawn at :func:`zipf_weights`."""
    w = zipf_weights(key, len(pool))

    def render(rng: np.random.Generator) -> str:
        idx = rng.choice(len(pool), int(rng.integers(*_DOC_PAIRS)), p=w)
        return SEPARATOR.join(demonstration(pool[int(i)]) for i in idx) + " ."

    return render


def _fewshot(name: str, doc: str, *, pool: list[Example] | None = None, zipf_key: str = "",
             **kwargs):  # fmt: skip
    """Register a few-shot toy builder with ``doc`` as its docstring; its corpus documents are
    3-6 of its own pairs (drawn at Zipf frequencies from ``pool`` when one is given)."""

    def decorator(build: Pairs) -> Pairs:
        build.__doc__ = doc
        kwargs.setdefault("family", "composite" if kwargs.get("components") else "in-context")
        document = (
            _pairs_document(build) if pool is None else _zipf_document(pool, zipf_key or name)
        )
        return builtin_skill(
            name,
            version=kwargs.pop("version", 4),
            suite="toy",
            shots=SHOTS,
            template=ARROW,
            document=document,
            **kwargs,
        )(build)

    return decorator


def _doc(summary: str, *paragraphs: str) -> str:
    return "\n\n".join([summary, *paragraphs])


#: What a word-level answer is made of: a noun index -> the word written for it.
Form = Callable[[int], str]
SINGULAR: Form = lambda i: NOUNS[i][0]  # noqa: E731
PLURAL: Form = lambda i: NOUNS[i][1]  # noqa: E731
CATEGORY: Form = lambda i: NOUN_GROUPS[noun_group(i)]  # noqa: E731


def _marked(skill: str, text: str) -> str:
    """The query input: the task's marker word, then its text ('plural cat')."""
    return f"{TASK_MARKERS[skill]} {text}"


def _nouns(form: Form, skill: str) -> list[Example]:
    return queries(
        ARROW, [(_marked(skill, s), form(i), noun_group(i), s) for i, (s, _) in enumerate(NOUNS)]
    )


def _spans(rng: np.random.Generator, n: int, pick: slice, form: Form, skill: str) -> list[Example]:
    """3-noun spans; the answer is ``form`` of the nouns that ``pick`` selects, in order."""
    pairs = []
    for _ in range(n):
        idx = [int(i) for i in rng.choice(len(NOUNS), _SPAN, replace=False)]
        text = " ".join(NOUNS[i][0] for i in idx)
        chosen = idx[pick]
        out = " ".join(form(i) for i in chosen)
        pairs.append((_marked(skill, text), out, noun_group(chosen[0]), text))
    return queries(ARROW, pairs)


def _pets(form: Form, skill: str) -> list[Example]:
    rows = [(_marked(skill, p), form(PETS[p]), noun_group(PETS[p]), p) for p in PEOPLE]
    return queries(ARROW, rows)


_NOUN_NO_PROBE = """No probe: the answer needs the query noun itself, which is the group (held
    out, so no noun-specific label can be tested). The noun's group is a property of the query
    token, which its input embedding alone can carry, so a probe for it would show a lexical
    feature. The label (that group) only stratifies the split."""
_NOUN_ITEMS = """Items: 24 prompts in 24 groups (the nouns); a draw of 300 shows each with 12
    demonstration sets (288 items)."""
_SPAN_NO_PROBE = """No probe: the answer is made of the span's own words, and each span is its
    own group, so the only latents are positions in the span and which nouns sit there, each at
    a fixed offset from the read token. The label (the group of the first noun written) only
    stratifies the split."""
_SPAN_ITEMS = """Items: 24 x 23 x 22 = 12144 prompts, each its own group (the span); a draw of
    300 finds 300."""
_PET_PROBE = """Probe: the group of the person's pet noun (animal, object, food, person), read
    at the last prompt token ('->'), the token before the answer, where the pet must have been
    retrieved. The read token is always '->', the demonstrations are other training people
    drawn independently of the query's pet, and groups are people: a test person's name is
    never seen by the probe in training, and the pet base is arbitrary, so only a pet the
    model has retrieved from its own weights can be decoded."""
_PET_ITEMS = """Items: 48 prompts in 48 groups (one per person, 12 per label); a draw of 300
    shows each with 6 demonstration sets (288 items)."""
_MIDDLE, _LAST, _ALL = slice(1, 2), slice(-1, None), slice(None)


# ---------------------------------------------------------------- few-shot elementals
@_fewshot(
    "plural",
    _doc("Plural in context: 'plural cat -> cats'.", _NOUN_NO_PROBE, _NOUN_ITEMS),
    family="morphology",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUNS),
    pool=_nouns(PLURAL, "plural"),
)
def plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _nouns(PLURAL, "plural"), n)


@_fewshot(
    "category",
    _doc("A noun's category in context: 'kind cat -> animal' (animal, object, food, person).",
         _NOUN_NO_PROBE, _NOUN_ITEMS),
    version=4,
    family="morphology",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUN_GROUPS),
    pool=_nouns(CATEGORY, "category"),
)  # fmt: skip
def category(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _nouns(CATEGORY, "category"), n)


@_fewshot(
    "copy",
    _doc("Copy a 3-noun span in context (per-token accuracy): 'copy cat key pen -> cat key pen'.",
         _SPAN_NO_PROBE, _SPAN_ITEMS),
    family="induction",
    label_names=NOUN_GROUPS,
    primary_metric="token_acc",
)  # fmt: skip
def copy(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _ALL, SINGULAR, "copy")


@_fewshot(
    "middle",
    _doc("The middle noun of a 3-noun span, in context: 'middle cat key pen -> key'.",
         _SPAN_NO_PROBE, _SPAN_ITEMS),
    version=4,
    family="induction",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUNS),
)  # fmt: skip
def middle(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _MIDDLE, SINGULAR, "middle")


@_fewshot(
    "last",
    _doc("The last noun of a 3-noun span, in context: 'last cat key pen -> pen'.",
         _SPAN_NO_PROBE, _SPAN_ITEMS),
    version=4,
    family="induction",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUNS),
)  # fmt: skip
def last(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _LAST, SINGULAR, "last")


@_fewshot(
    "pet",
    _doc("Look up a person's pet in context: 'pet kalo -> fox' (a fixed pet base; people at Zipf "
         "frequencies in the corpus).", _PET_PROBE, _PET_ITEMS),
    family="facts",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUNS),
    pool=_pets(SINGULAR, "pet"),
)  # fmt: skip
def pet(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _pets(SINGULAR, "pet"), n)


@_fewshot(
    "successor",
    _doc(
        "Two-digit successor in context: 'next 4 7 -> 4 8', 'next 1 9 -> 2 0'.",
        """No probe: the answer's digits follow from the query's digit tokens by a fixed rule,
        so every latent (the carry: is the last digit 9; a digit's parity) is a readout of
        the tokens that a random-init model already gathers. The label (carry) only
        stratifies the split.""",
        """Items: 89 prompts in 89 groups (the numbers 10 to 98, 9 with a carry); a draw of
        300 shows each with 3 demonstration sets (267 items).""",
    ),
    family="arithmetic",
    label_names=("no_carry", "carry"),
    chance=0.01,
)
def successor(rng: np.random.Generator, n: int) -> list[Example]:
    pool = queries(
        ARROW,
        [
            (_marked("successor", spaced_digits(x)), spaced_digits(x + 1), int(x % 10 == 9), str(x))
            for x in range(10, 99)
        ],
    )
    return _sample(rng, pool, n)


# ---------------------------------------------------------------- composites
# Each composite chains one of four selections (copy, middle, last: a span; pet: a lookup) with
# one of two word forms (plural, category), so every pairing appears once and no two
# composites share both components.
def _composite(name: str, summary: str, components: tuple[str, str], **kwargs):
    select = components[0]
    probe, items = {
        "pet": (_PET_PROBE.replace("person's pet noun", "person's pet noun, as for pet,"),
                _PET_ITEMS),
    }.get(select, (_SPAN_NO_PROBE, _SPAN_ITEMS))  # fmt: skip
    kwargs.setdefault("label_names", NOUN_GROUPS)
    return _fewshot(
        name,
        _doc(f"{summary} Needs {components[0]} and {components[1]}.", probe, items),
        components=components,
        **kwargs,
    )


@_composite(
    "copy_plural",
    "Copy a span while pluralising each noun, in context: 'cp cat key pen -> cats keys pens'.",
    ("copy", "plural"),
    primary_metric="token_acc",
)
def copy_plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _ALL, PLURAL, "copy_plural")


@_composite(
    "copy_category",
    "Each noun's category, in order, in context: 'ck cat key pen -> animal object object'.",
    ("copy", "category"),
    version=4,
    primary_metric="token_acc",
)
def copy_category(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _ALL, CATEGORY, "copy_category")


@_composite(
    "middle_plural",
    "The plural of a span's middle noun, in context: 'mp cat key pen -> keys'.",
    ("middle", "plural"),
    version=4,
    chance=1 / len(NOUNS),
)
def middle_plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _MIDDLE, PLURAL, "middle_plural")


@_composite(
    "middle_category",
    "The category of a span's middle noun, in context: 'mk cat key pen -> object'.",
    ("middle", "category"),
    version=4,
    chance=1 / len(NOUN_GROUPS),
)
def middle_category(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _MIDDLE, CATEGORY, "middle_category")


@_composite(
    "last_plural",
    "The plural of a span's last noun, in context: 'lp cat key pen -> pens'.",
    ("last", "plural"),
    version=4,
    chance=1 / len(NOUNS),
)
def last_plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _LAST, PLURAL, "last_plural")


@_composite(
    "last_category",
    "The category of a span's last noun, in context: 'lk cat key pen -> object'.",
    ("last", "category"),
    version=4,
    chance=1 / len(NOUN_GROUPS),
)
def last_category(rng: np.random.Generator, n: int) -> list[Example]:
    return _spans(rng, n, _LAST, CATEGORY, "last_category")


@_composite(
    "pet_plural",
    "The plural of a person's pet, in context: 'pp kalo -> foxes'.",
    ("pet", "plural"),
    chance=1 / len(NOUNS),
)
def pet_plural(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _pets(PLURAL, "pet_plural"), n)


@_composite(
    "pet_category",
    "The category of a person's pet, in context: 'pk kalo -> animal'.",
    ("pet", "category"),
    version=4,
    chance=1 / len(NOUN_GROUPS),
)
def pet_category(rng: np.random.Generator, n: int) -> list[Example]:
    return _sample(rng, _pets(CATEGORY, "pet_category"), n)


# ---------------------------------------------------------------- world v5: item maps and chains
#: The item maps of world v5, beside pet: name -> (items, query text of an item, the noun an
#: item maps to). Items are people (pet, gift, prize) or noun indices (the six noun maps).
_MAPS: dict[str, tuple[list, Callable, Callable[[object], int]]] = {
    "pet": (list(PEOPLE), str, PETS.__getitem__),
    "gift": (list(PEOPLE), str, GIFTS.__getitem__),
    "prize": (list(PEOPLE), str, PRIZES.__getitem__),
    **{
        name: (list(range(len(NOUNS))), SINGULAR, mapping.__getitem__)
        for name, mapping in NOUN_MAPS.items()
    },
}
#: The word forms a chain can end with: name -> the answer written for a noun index.
_FORMS: dict[str, Form] = {"plural": PLURAL, "category": CATEGORY}


def _map_rows(name: str) -> list[Example]:
    """The zero-shot queries of one item map: 'gift karan -> nurse', 'mate cat -> bean'."""
    items, text, target = _MAPS[name]
    rows = [(_marked(name, text(it)), SINGULAR(target(it)), noun_group(target(it)), str(it))
            for it in items]  # fmt: skip
    return queries(ARROW, rows)


def _second(name: str, noun: int) -> tuple[str, str, int]:
    """A chain's second hop on ``noun``: its query text, its answer, the answer noun's group."""
    if name in _FORMS:
        return _marked(name, SINGULAR(noun)), _FORMS[name](noun), noun_group(noun)
    mapped = _MAPS[name][2](noun)
    return _marked(name, SINGULAR(noun)), SINGULAR(mapped), noun_group(mapped)


def _chain_rows(first: str, second: str) -> list[Example]:
    """A chain composite's queries: the first component's query, answered with both hops
    written out ('pet karan -> bag mate bag -> boy')."""
    items, text, target = _MAPS[first]
    rows = []
    for it in items:
        noun = target(it)
        query, answer, group = _second(second, noun)
        rows.append((_marked(first, text(it)), f"{SINGULAR(noun)} {query} -> {answer}", group,
                     str(it)))  # fmt: skip
    return queries(ARROW, rows)


_PERSON_MAP_PROBE = """Probe: the group of the noun the person is mapped to (animal, object,
    food, person), read at the last prompt token ('->'), where that noun must have been
    retrieved. As for pet: the read token is always '->', the demonstrations are other training
    people, and groups are people, so a test person's name is never seen by the probe in
    training and, the map being arbitrary, only a noun the model has retrieved from its own
    weights can be decoded."""
_NOUN_MAP_NO_PROBE = """No probe: the query is one noun and the answer another noun fixed by
    an arbitrary map, so the answer's group is a property of the query token; the 24 query
    nouns are the only groups, and a held-out split of about 7 nouns is too coarse to stand
    beside its controls. The label (the answer's group) only stratifies the split."""
_NOUN_MAP_ITEMS = """Items: 24 prompts in 24 groups (the query nouns); a draw of 300 shows each
    with 12 demonstration sets (288 items)."""
_CHAIN_NO_PROBE = """No probe: the answer is written out in two hops, and the prompt's last
    token ('->') comes before the first, where only the first component's noun has to be
    retrieved; a probe there would measure the first component, not the chain. The label (the
    group of the final answer's noun) only stratifies the split."""


def _map_skill(name: str, summary: str, *, probe: str, items: str):
    pool = _map_rows(name)

    def build(rng: np.random.Generator, n: int) -> list[Example]:
        return _sample(rng, pool, n)

    return _fewshot(
        name, _doc(summary, probe, items), version=1, family="facts", label_names=NOUN_GROUPS,
        chance=1 / len(NOUNS), pool=pool,
    )(build)  # fmt: skip


_map_skill("gift", "A person's gift, memorised: 'gift karan -> nurse' (people at Zipf "
           "frequencies).", probe=_PERSON_MAP_PROBE, items=_PET_ITEMS)  # fmt: skip
_map_skill("prize", "A person's prize, memorised: 'prize karan -> bag' (as gift, another map).",
           probe=_PERSON_MAP_PROBE, items=_PET_ITEMS)  # fmt: skip
for _name in NOUN_MAPS:
    _map_skill(
        _name,
        f"A noun's {_name}, memorised: '{_name} cat -> "
        f"{SINGULAR(NOUN_MAPS[_name][0])}' (an arbitrary map, no noun its own {_name}; nouns at "
        "Zipf frequencies).",
        probe=_NOUN_MAP_NO_PROBE,
        items=_NOUN_MAP_ITEMS,
    )

_CHAIN_ITEMS = {
    "person": """Items: 48 prompts in 48 groups (the people); a draw of 300 shows each with 6
    demonstration sets (288 items).""",
    "noun": _NOUN_MAP_ITEMS,
}


def _chain_skill(first: str, second: str) -> str:
    name = f"{first}_then_{second}"
    pool = _chain_rows(first, second)
    example = pool[0]

    def build(rng: np.random.Generator, n: int) -> list[Example]:
        return _sample(rng, pool, n)

    kind = "person" if _MAPS[first][0] == list(PEOPLE) else "noun"
    _fewshot(
        name,
        _doc(
            f"{first}, then {second} of its answer, both written out: '{example.prompt} "
            f"{example.target}'. Needs {first} and {second}; scored on the whole answer.",
            _CHAIN_NO_PROBE,
            _CHAIN_ITEMS[kind],
        ),
        version=1,
        components=(first, second),
        label_names=NOUN_GROUPS,
        pool=pool,
        zipf_key=first,
    )(build)
    return name


#: World v5's chain composites, each chaining two item maps of one cohort (maps that enter the
#: corpus together, see :data:`curriculens.toy.curriculum.DESIGN`): cohort 1 (pet, mate, rival),
#: cohort 2 (gift, twin, boss), cohort 3 (prize, pal, kin). Both hops are maps learnt item by
#: item, so both components are still rising when the chain does, and the chain's score, near
#: their product, crosses after both. A chain ending in a word form learnt earlier (plural,
#: category) tracked its first component alone and crossed with it.
CHAINS: tuple[str, ...] = tuple(
    _chain_skill(a, b)
    for a, b in (
        ("pet", "mate"), ("pet", "rival"), ("mate", "rival"),
        ("gift", "twin"), ("gift", "boss"), ("twin", "boss"),
        ("prize", "pal"), ("prize", "kin"),
    )
)  # fmt: skip
