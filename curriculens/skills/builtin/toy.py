"""The toy-world suite (v4): twenty-one skills that the embedded synthetic corpus teaches, one
source each.

Every skill here is also a corpus source (:mod:`curriculens.toy.corpus`): training documents are
drawn from the same templates, so the demo model can learn them and the sweep can watch it happen.
Six skills are zero-shot (agreement, agreement_attractor, brackets, facts, add1, add2). Fifteen
are few-shot in-context tasks written ``{input} -> {output}`` and shown with :data:`SHOTS`
demonstrations from training groups only (:mod:`curriculens.skills.fewshot`): seven elementals
(plural, category, copy, middle, last, pet, successor) and eight composites, each chaining one
selection (copy a span, its middle or last noun, a looked-up pet) with one word form (plural,
category), so that no two composites share both components. A few-shot query opens with its
task's marker word (:data:`TASK_MARKERS`: 'plural cat ->', 'pp kalo ->' for pet_plural). Their
corpus documents are 3-6 solved pairs of one skill. When each source enters the demo's corpus,
and so the order the world is built to produce, is in :mod:`curriculens.toy.curriculum`. Each
builder's docstring says what its probe decodes, where it reads, and why a lexical shortcut
cannot pass it when the probe is split by group (``Probe:``), or why the skill is scored for
behavior only (``No probe:``); ``Items:`` gives its pool of distinct prompts and groups."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.fewshot import SEPARATOR, demonstration, queries
from curriculens.skills.registry import Example

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
#: Zipfian frequency of each person in the corpus (rank r has weight 1/r).
PERSON_WEIGHTS = np.array([1.0 / (r + 1) for r in range(len(PEOPLE))])
PERSON_WEIGHTS /= PERSON_WEIGHTS.sum()


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
    return words


#: One or two distinct adverbs, each run equally likely (16 runs).
_ADVERB_RUNS = tuple((a,) for a in ADVERBS) + tuple(itertools.permutations(ADVERBS, 2))


def _group(noun_index: int) -> int:
    return noun_index // (len(NOUNS) // len(NOUN_GROUPS))


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _document(ex: Example) -> str:
    """A training document rendered from an evaluation example: prompt, target, full stop."""
    return f"{ex.prompt} {ex.target} ."


# ---------------------------------------------------------------- agreement family
def _agreement(rng: np.random.Generator, n: int, attractor: bool) -> list[Example]:
    out = []
    for _ in range(n):
        subj, plural = int(rng.integers(len(NOUNS))), int(rng.integers(2))
        words = ["the", NOUNS[subj][plural]]
        if attractor:
            # another noun, of either number: its number is independent of the subject's, so
            # decoding the last noun's number (a property of the read token) scores chance
            other = (subj + 1 + int(rng.integers(len(NOUNS) - 1))) % len(NOUNS)
            words += [_pick(rng, PREPS), "the", NOUNS[other][int(rng.integers(2))]]
        else:
            words += list(_pick(rng, _ADVERB_RUNS))
        verb = _pick(rng, VERBS)
        out.append(
            Example(
                prompt=" ".join(words),
                target=verb[plural],
                choices=(verb[1 - plural],),
                label=plural,
                group=NOUNS[subj][0],
            )
        )
    return out


@builtin_skill(
    "agreement",
    version=4,
    family="agreement",
    format="choice",
    label_names=("singular", "plural"),
    chance=0.5,
    suite="toy",
    document=lambda rng: _document(_agreement(rng, 1, attractor=False)[0]),
)
def agreement(rng: np.random.Generator, n: int) -> list[Example]:
    """Subject-verb agreement after one or two adverbs: 'the dogs often still' -> run (vs runs).

    No probe: the subject's number is a property of one prompt word (the subject noun, 'dog'
    or 'dogs'), so a readout of the prompt's words without any computation over the context
    decodes it: in toy v3 a probe on the plain mean of the prompt's input embeddings matched the
    residual probe (0.93 then 1.00 held out, at the same checkpoints), so the probe's "lead"
    was lexical. agreement_attractor, whose prompt holds nouns of both numbers, keeps the probe.
    The label (the subject's number) only stratifies the split.

    Items: 24 nouns x 2 numbers x 16 adverb runs = 768 prompts in 24 groups, both labels in each.
    """
    return _agreement(rng, n, attractor=False)


@builtin_skill(
    "agreement_attractor",
    version=3,
    family="agreement",
    format="choice",
    label_names=("singular", "plural"),
    chance=0.5,
    suite="toy",
    document=lambda rng: _document(_agreement(rng, 1, attractor=True)[0]),
)
def agreement_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Agreement past an attractor noun of either number: 'the dog near the cats' -> runs.

    The attractor's number is drawn independently of the subject's, so half of the items
    mismatch and agreeing with the nearest noun scores chance (0.5), as does always one form.

    Probe: the subject's number, read at the attractor, the token before the verb, where the
    model must hold it to choose the verb. The read token's own number is independent of the
    label, and groups are subject nouns, so neither the nearest noun nor a memorised subject
    gives the label. As for agreement, about 7 of the 24 nouns are held out, so one split's
    accuracy is coarse.

    Items: 48 subjects x 3 prepositions x 46 attractors = 6624 prompts in 24 groups, both labels
    in each.
    """
    return _agreement(rng, n, attractor=True)


# ---------------------------------------------------------------- nesting
def _brackets(rng: np.random.Generator, n_open: int) -> list[str]:
    """A random balanced bracket string with ``n_open`` pairs, max depth 3."""
    out, stack = [], []
    opened = 0
    while opened < n_open or stack:
        can_open = opened < n_open and len(stack) < 3
        if can_open and (not stack or rng.random() < 0.55):
            b = _pick(rng, tuple(BRACKETS))
            stack.append(b)
            out.append(b)
            opened += 1
        else:
            out.append(BRACKETS[stack.pop()])
    return out


@builtin_skill(
    "brackets",
    version=3,
    family="nesting",
    label_names=("depth1", "depth2+"),
    chance=0.5,
    suite="toy",
    document=lambda rng: " ".join(_brackets(rng, int(rng.integers(2, 6)))) + " .",
)
def brackets(rng: np.random.Generator, n: int) -> list[Example]:
    """Close the innermost open bracket after a closed one: '( [ ( )' -> ].

    No probe: these strings are too short for a latent that only computation reveals. The
    nesting depth is the count of openers minus closers, which any mix of the prompt's tokens
    gives (a random-init model decodes it on held-out strings at about 0.99). The innermost
    open bracket's type can be read off the tokens at fixed offsets from the end (a linear
    readout of them, and a random-init model, both score about 0.97 on held-out strings). The
    label (depth) only stratifies the split.

    Items: over 1000 prompts, each its own group (the string); a draw of 300 finds 300.
    """
    out = []
    while len(out) < n:
        seq = _brackets(rng, int(rng.integers(2, 6)))
        stack, cut = [], []
        for i, tok in enumerate(seq):
            if tok in BRACKETS:
                stack.append(tok)
            else:
                stack.pop()
            # cut right after a closer, so the innermost open bracket is not the last token
            closer_here = tok not in BRACKETS
            if stack and closer_here and i + 1 < len(seq) and seq[i + 1] not in BRACKETS:
                cut.append((i, len(stack), BRACKETS[stack[-1]]))
        if not cut:
            continue
        i, depth, closer = cut[int(rng.integers(len(cut)))]
        prompt = " ".join(seq[: i + 1])
        out.append(Example(prompt=prompt, target=closer, label=min(depth, 2) - 1, group=prompt))
    return out


# ---------------------------------------------------------------- fact retrieval
def _fact(person: str) -> Example:
    city = FACTS[person]
    return Example(prompt=f"{person} lives in", target=city, label=CITIES.index(city), group=person)


@builtin_skill(
    "facts",
    version=3,
    family="facts",
    label_names=CITIES,
    chance=1 / len(CITIES),
    suite="toy",
    document=lambda rng: _document(_fact(PEOPLE[int(rng.choice(len(PEOPLE), p=PERSON_WEIGHTS))])),
)
def facts(rng: np.random.Generator, n: int) -> list[Example]:
    """Recall a person's city from a fixed fact base (Zipfian in the corpus, uniform here).

    Probe: the person's city, read at 'in', the token before the answer, where the city must
    have been retrieved. The read token is always 'in', and groups are people: a test person's
    name is never seen by the probe in training, and the fact base is arbitrary, so only a city
    the model has retrieved from its own weights can be decoded.

    Items: 48 prompts in 48 groups (one per person, 6 to 9 per city); a sweep of 300 examples
    uses 48. More templates would add prompts but no people, and more people would add
    vocabulary and rarely seen facts; the probe's held-out set is about 15 people.
    """
    return [_fact(PEOPLE[int(i)]) for i in rng.integers(0, len(PEOPLE), n)]


# ---------------------------------------------------------------- arithmetic
def _digits(x: int) -> str:
    return " ".join(str(x))


def _pair(x: int, y: int) -> str:
    """The operand pair as a group, order-free: '7 + 8' and '8 + 7' are one group."""
    a, b = sorted((x, y))
    return f"{a}+{b}"


@builtin_skill(
    "add1",
    version=3,
    family="arithmetic",
    label_names=("no_carry", "carry"),
    suite="toy",
    chance=0.05,
    document=lambda rng: _document(add1(rng, 1)[0]),
)
def add1(rng: np.random.Generator, n: int) -> list[Example]:
    """One-digit addition: '7 + 8 =' -> '1 5'.

    No probe: every latent of a one-digit sum is either additive in the two operand tokens or
    cannot be held out fairly. The carry is a threshold on a + b, so a layer that has merely
    gathered both operands at '=' exposes it linearly (a random-init model decodes it at about
    0.8 on held-out operand pairs). XOR-like targets (the parity of the sum) anti-generalise on
    this 55-pair grid (about 0.2 at random init). The label (carry) only stratifies the split.

    Items: 100 prompts in 55 groups (the unordered operand pair); a sweep of 300 uses 100.
    """
    a, b = rng.integers(0, 10, n), rng.integers(0, 10, n)
    return [
        Example(
            prompt=f"{x} + {y} =",
            target=_digits(int(x + y)),
            label=int(x + y >= 10),
            group=_pair(int(x), int(y)),
        )
        for x, y in zip(a, b, strict=True)
    ]


@builtin_skill(
    "add2",
    version=3,
    family="arithmetic",
    label_names=("tens_even", "tens_odd"),
    suite="toy",
    chance=0.01,
    document=lambda rng: _document(add2(rng, 1)[0]),
)
def add2(rng: np.random.Generator, n: int) -> list[Example]:
    """Two-digit addition: '2 7 + 4 5 =' -> '7 2'.

    Probe: the parity of the answer's tens digit, read at '=', the token before the answer,
    where the model must compute the digit it writes first (the tens digit, or the hundreds 1
    before it). The parity is the XOR of both tens digits' parities and the units carry, so it
    needs the carry computed, and no linear readout of the gathered operand tokens gives it (a
    random-init model scores chance on held-out pairs, where it decodes the carry bit itself at
    about 0.8). The read token is always '='; groups are unordered operand pairs.

    Items: 8100 prompts in 4095 groups; a draw of 300 finds 300.
    """
    a, b = rng.integers(10, 100, n), rng.integers(10, 100, n)
    return [
        Example(
            prompt=f"{_digits(int(x))} + {_digits(int(y))} =",
            target=_digits(int(x + y)),
            label=int((x + y) // 10 % 2),
            group=_pair(int(x), int(y)),
        )
        for x, y in zip(a, b, strict=True)
    ]


# ---------------------------------------------------------------- few-shot (in-context) skills
#: Demonstrations per prompt of the few-shot skills.
SHOTS = 4
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
}
ARROW = "{input} -> {output}"
#: Pairs per few-shot training document: 3 to 6, so the corpus shows each skill 0- to 5-shot.
_DOC_PAIRS = (3, 7)
_SPAN = 3  # words per copied span

#: The pet base: person -> noun index, each noun the pet of two people, fixed for the toy world.
PETS: dict[str, int] = dict(
    zip(
        PEOPLE,
        np.random.default_rng(20260403).permutation(np.arange(len(PEOPLE)) % len(NOUNS)).tolist(),
        strict=True,
    )
)

Pairs = Callable[[np.random.Generator, int], list[Example]]


def _sample(rng: np.random.Generator, pool: list[Example], n: int) -> list[Example]:
    return [pool[int(i)] for i in rng.integers(0, len(pool), n)]


def _pairs_document(pairs: Pairs) -> Callable[[np.random.Generator], str]:
    """A corpus renderer: 3-6 solved pairs of one skill, joined as a k-shot prompt joins them."""

    def render(rng: np.random.Generator) -> str:
        return SEPARATOR.join(demonstration(e) for e in pairs(rng, int(rng.integers(*_DOC_PAIRS))))

    return lambda rng: render(rng) + " ."


def _fewshot(name: str, doc: str, **kwargs):
    """Register a few-shot toy builder with ``doc`` as its docstring; its corpus documents are
    3-6 of its own pairs."""

    def decorator(build: Pairs) -> Pairs:
        build.__doc__ = doc
        kwargs.setdefault("family", "composite" if kwargs.get("components") else "in-context")
        return builtin_skill(
            name,
            version=kwargs.pop("version", 4),
            suite="toy",
            shots=SHOTS,
            template=ARROW,
            document=_pairs_document(build),
            **kwargs,
        )(build)

    return decorator


def _doc(summary: str, *paragraphs: str) -> str:
    return "\n\n".join([summary, *paragraphs])


#: What a word-level answer is made of: a noun index -> the word written for it.
Form = Callable[[int], str]
SINGULAR: Form = lambda i: NOUNS[i][0]  # noqa: E731
PLURAL: Form = lambda i: NOUNS[i][1]  # noqa: E731
CATEGORY: Form = lambda i: NOUN_GROUPS[_group(i)]  # noqa: E731


def _marked(skill: str, text: str) -> str:
    """The query input: the task's marker word, then its text ('plural cat')."""
    return f"{TASK_MARKERS[skill]} {text}"


def _nouns(form: Form, skill: str) -> list[Example]:
    return queries(
        ARROW, [(_marked(skill, s), form(i), _group(i), s) for i, (s, _) in enumerate(NOUNS)]
    )


def _spans(rng: np.random.Generator, n: int, pick: slice, form: Form, skill: str) -> list[Example]:
    """3-noun spans; the answer is ``form`` of the nouns that ``pick`` selects, in order."""
    pairs = []
    for _ in range(n):
        idx = [int(i) for i in rng.choice(len(NOUNS), _SPAN, replace=False)]
        text = " ".join(NOUNS[i][0] for i in idx)
        chosen = idx[pick]
        out = " ".join(form(i) for i in chosen)
        pairs.append((_marked(skill, text), out, _group(chosen[0]), text))
    return queries(ARROW, pairs)


def _pets(form: Form, skill: str) -> list[Example]:
    return queries(ARROW, [(_marked(skill, p), form(PETS[p]), _group(PETS[p]), p) for p in PEOPLE])


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
    _doc("Look up a person's pet in context: 'pet kalo -> fox' (a fixed pet base, uniform in the "
         "corpus).", _PET_PROBE, _PET_ITEMS),
    family="facts",
    label_names=NOUN_GROUPS,
    chance=1 / len(NOUNS),
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
            (_marked("successor", _digits(x)), _digits(x + 1), int(x % 10 == 9), str(x))
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


#: The elementals among the few-shot skills, then the composites (two components each).
FEWSHOT_ELEMENTALS: tuple[str, ...] = (
    "plural", "category", "copy", "middle", "last", "pet", "successor",
)  # fmt: skip
COMPOSITES: tuple[str, ...] = (
    "copy_plural", "copy_category", "middle_plural", "middle_category",
    "last_plural", "last_category", "pet_plural", "pet_category",
)  # fmt: skip
TOY_SKILLS: tuple[str, ...] = (
    "agreement",
    "agreement_attractor",
    "brackets",
    "facts",
    "add1",
    "add2",
    *FEWSHOT_ELEMENTALS,
    *COMPOSITES,
)
