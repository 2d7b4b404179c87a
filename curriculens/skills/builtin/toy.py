"""The toy-world suite: ten skills that the embedded synthetic corpus teaches, one source each.

Every skill here is also a corpus source (:mod:`curriculens.toy.corpus`): training documents are
drawn from the same templates, so the demo model can learn them and the sweep can watch it happen.
"""

from __future__ import annotations

import numpy as np

from curriculens.skills.registry import Example, register_skill

# ---------------------------------------------------------------- vocabulary of the toy world
NOUNS: tuple[tuple[str, str], ...] = (
    # (singular, plural), four semantic groups of four
    ("cat", "cats"),
    ("dog", "dogs"),
    ("bird", "birds"),
    ("horse", "horses"),
    ("key", "keys"),
    ("cup", "cups"),
    ("box", "boxes"),
    ("pen", "pens"),
    ("apple", "apples"),
    ("cake", "cakes"),
    ("pear", "pears"),
    ("bean", "beans"),
    ("girl", "girls"),
    ("boy", "boys"),
    ("king", "kings"),
    ("nurse", "nurses"),
)
NOUN_GROUPS = ("animal", "object", "food", "person")
VERBS: tuple[tuple[str, str], ...] = (
    ("runs", "run"),
    ("sleeps", "sleep"),
    ("eats", "eat"),
    ("sings", "sing"),
)
PREPS = ("near", "behind", "with")
CITIES = ("paris", "rome", "oslo", "lima", "cairo", "tokyo")
_SYL_A = ("ka", "lo", "mi", "tu", "re", "so", "na", "vi")
_SYL_B = ("ran", "bel", "dor", "fin", "gus", "lia")
PEOPLE: tuple[str, ...] = tuple(a + b for a in _SYL_A for b in _SYL_B)  # 48 names
DIGITS = tuple(str(d) for d in range(10))
BRACKETS = {"(": ")", "[": "]"}
MARKERS = ("the", "lives", "in", "copy", "plural", "one", "two", ":", ",", "+", "=", ".")

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
    return words


def _group(noun_index: int) -> int:
    return noun_index // 4


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


# ---------------------------------------------------------------- agreement family
def _agreement(
    rng: np.random.Generator, n: int, attractor: bool, mismatch: bool = True
) -> list[Example]:
    out = []
    for _ in range(n):
        subj, plural = int(rng.integers(len(NOUNS))), int(rng.integers(2))
        words = ["the", NOUNS[subj][plural]]
        if attractor:
            other = int(rng.integers(len(NOUNS)))
            other_plural = 1 - plural if mismatch else int(rng.integers(2))
            words += [_pick(rng, PREPS), "the", NOUNS[other][other_plural]]
        verb = VERBS[int(rng.integers(len(VERBS)))]
        good, bad = verb[plural], verb[1 - plural]
        # with an attractor, read at the preposition: the subject's number must be carried there
        # (reading the attractor itself would decode its number, the inverse of the label)
        out.append(
            Example(
                prompt=" ".join(words),
                target=good,
                choices=(bad,),
                label=plural,
                read_at=2 if attractor else -1,
            )
        )
    return out


def _agreement_doc(rng: np.random.Generator, attractor: bool) -> str:
    # evaluation always mismatches the attractor; the corpus draws its number at random,
    # as natural text does, so "agree with the last noun" is not a shortcut that pays
    ex = _agreement(rng, 1, attractor, mismatch=False)[0]
    return f"{ex.prompt} {ex.target} ."


@register_skill(
    "agreement",
    version=1,
    family="agreement",
    format="choice",
    label_names=("singular", "plural"),
    chance=0.5,
    suite="toy",
    document=lambda rng: _agreement_doc(rng, attractor=False),
)
def agreement(rng: np.random.Generator, n: int) -> list[Example]:
    """Subject-verb agreement right after the subject: 'the dogs' -> run (vs runs)."""
    return _agreement(rng, n, attractor=False)


@register_skill(
    "agreement_attractor",
    version=1,
    family="agreement",
    format="choice",
    label_names=("singular", "plural"),
    chance=0.5,
    suite="toy",
    document=lambda rng: _agreement_doc(rng, attractor=True),
)
def agreement_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Agreement across a mismatched attractor: 'the dog near the cats' -> runs (vs run)."""
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


@register_skill(
    "brackets",
    version=1,
    family="nesting",
    label_names=("depth1", "depth2+"),
    chance=0.5,
    suite="toy",
    document=lambda rng: " ".join(_brackets(rng, int(rng.integers(2, 6)))) + " .",
)
def brackets(rng: np.random.Generator, n: int) -> list[Example]:
    """Close the innermost open bracket after a closed one: '( [ ( )' -> ]. Probe: depth."""
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
        out.append(Example(prompt=" ".join(seq[: i + 1]), target=closer, label=min(depth, 2) - 1))
    return out


# ---------------------------------------------------------------- fact retrieval
def _fact(person: str) -> Example:
    city = FACTS[person]
    # read at 'in', where the city must be retrieved (the name token alone identifies the person)
    return Example(prompt=f"{person} lives in", target=city, label=CITIES.index(city))


@register_skill(
    "facts",
    version=1,
    family="facts",
    label_names=CITIES,
    chance=1 / len(CITIES),
    suite="toy",
    document=lambda rng: (lambda e: f"{e.prompt} {e.target} .")(
        _fact(PEOPLE[int(rng.choice(len(PEOPLE), p=PERSON_WEIGHTS))])
    ),
)
def facts(rng: np.random.Generator, n: int) -> list[Example]:
    """Recall a person's city from a fixed fact base (Zipfian in the corpus, uniform here)."""
    return [_fact(PEOPLE[int(i)]) for i in rng.integers(0, len(PEOPLE), n)]


# ---------------------------------------------------------------- copy / induction
_SPAN = 5
_SHOWN = 2  # copied words already in the prompt; the target is the rest


def _copy(rng: np.random.Generator, n: int, plural: bool) -> list[Example]:
    out = []
    for _ in range(n):
        idx = rng.choice(len(NOUNS), _SPAN, replace=False)
        src = [NOUNS[i][0] for i in idx]
        dst = [NOUNS[i][1 if plural else 0] for i in idx]
        head = "plural" if plural else "copy"
        prompt = f"{head} {' '.join(src)} : {' '.join(dst[:_SHOWN])}"
        out.append(
            Example(prompt=prompt, target=" ".join(dst[_SHOWN:]), label=_group(int(idx[_SHOWN])))
        )
    return out


def _copy_doc(rng: np.random.Generator, plural: bool) -> str:
    ex = _copy(rng, 1, plural)[0]
    return f"{ex.prompt} {ex.target} ."


@register_skill(
    "copy",
    version=1,
    family="induction",
    label_names=NOUN_GROUPS,
    primary_metric="token_acc",
    suite="toy",
    document=lambda rng: _copy_doc(rng, plural=False),
)
def copy(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a random 5-word span (per-token accuracy). Probe: group of the next word to copy."""
    return _copy(rng, n, plural=False)


# ---------------------------------------------------------------- arithmetic
def _digits(x: int) -> str:
    return " ".join(str(x))


@register_skill(
    "add1",
    version=1,
    family="arithmetic",
    label_names=("no_carry", "carry"),
    suite="toy",
    chance=0.05,
    document=lambda rng: (lambda e: f"{e.prompt} {e.target} .")(add1(rng, 1)[0]),
)
def add1(rng: np.random.Generator, n: int) -> list[Example]:
    """One-digit addition: '7 + 8 =' -> '1 5'. Probe: the carry bit at '='."""
    a, b = rng.integers(0, 10, n), rng.integers(0, 10, n)
    return [
        Example(prompt=f"{x} + {y} =", target=_digits(int(x + y)), label=int(x + y >= 10))
        for x, y in zip(a, b, strict=True)
    ]


@register_skill(
    "add2",
    version=1,
    family="arithmetic",
    label_names=("no_carry", "carry"),
    suite="toy",
    chance=0.01,
    document=lambda rng: (lambda e: f"{e.prompt} {e.target} .")(add2(rng, 1)[0]),
)
def add2(rng: np.random.Generator, n: int) -> list[Example]:
    """Two-digit addition: '2 7 + 4 5 =' -> '7 2'. Probe: the units carry bit at '='."""
    a, b = rng.integers(10, 100, n), rng.integers(10, 100, n)
    return [
        Example(
            prompt=f"{_digits(int(x))} + {_digits(int(y))} =",
            target=_digits(int(x + y)),
            label=int(x % 10 + y % 10 >= 10),
        )
        for x, y in zip(a, b, strict=True)
    ]


# ---------------------------------------------------------------- morphology in context
def _plural(rng: np.random.Generator, n: int, attractor: bool) -> list[Example]:
    out = []
    for _ in range(n):
        i, to_plural = int(rng.integers(len(NOUNS))), int(rng.integers(2))
        src = ["one" if to_plural else "two", NOUNS[i][1 - to_plural]]
        if attractor:
            j = int(rng.integers(len(NOUNS)))
            src += [_pick(rng, PREPS), "the", NOUNS[j][int(rng.integers(2))]]
        prompt = " ".join(src) + (" , two" if to_plural else " , one")
        out.append(Example(prompt=prompt, target=NOUNS[i][to_plural], label=_group(i)))
    return out


@register_skill(
    "plural",
    version=1,
    family="morphology",
    label_names=NOUN_GROUPS,
    suite="toy",
    chance=1 / 32,
    document=lambda rng: (lambda e: f"{e.prompt} {e.target} .")(_plural(rng, 1, False)[0]),
)
def plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Inflect a noun in context: 'one cat , two' -> cats. Probe: the noun's group at 'two'."""
    return _plural(rng, n, attractor=False)


# ---------------------------------------------------------------- composites
@register_skill(
    "copy_plural",
    version=1,
    family="composite",
    label_names=NOUN_GROUPS,
    components=("copy", "plural"),
    primary_metric="token_acc",
    suite="toy",
    document=lambda rng: _copy_doc(rng, plural=True),
)
def copy_plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a span while pluralizing each word: needs induction and morphology."""
    return _copy(rng, n, plural=True)


@register_skill(
    "plural_attractor",
    version=1,
    family="composite",
    label_names=NOUN_GROUPS,
    components=("plural", "agreement_attractor"),
    suite="toy",
    chance=1 / 32,
    document=lambda rng: (lambda e: f"{e.prompt} {e.target} .")(_plural(rng, 1, True)[0]),
)
def plural_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Inflect the subject past an attractor: 'one cat near the dogs , two' -> cats."""
    return _plural(rng, n, attractor=True)


TOY_SKILLS: tuple[str, ...] = (
    "agreement",
    "agreement_attractor",
    "brackets",
    "facts",
    "copy",
    "add1",
    "add2",
    "plural",
    "copy_plural",
    "plural_attractor",
)
