"""The toy-world suite: ten skills that the embedded synthetic corpus teaches, one source each.

Every skill here is also a corpus source (:mod:`curriculens.toy.corpus`): training documents are
drawn from the same templates, so the demo model can learn them and the sweep can watch it happen.
Each builder's docstring says what its probe decodes, where it reads, and why a lexical shortcut
cannot pass it when the probe is split by group (``Probe:``), or why the skill is scored for
behavior only (``No probe:``); ``Items:`` gives its pool of distinct prompts and groups.
"""

from __future__ import annotations

import numpy as np

from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.registry import Example

# ---------------------------------------------------------------- vocabulary of the toy world
NOUNS: tuple[tuple[str, str], ...] = (
    # (singular, plural), four groups of four; the groups are a fixed partition of the nouns
    # that nothing in the corpus teaches (copy probes use it as a 4-way code for a noun)
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
#: Number-neutral words between a subject and its verb (agreement reads the last of them).
ADVERBS = ("often", "still", "also", "now")
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
    words += list(ADVERBS)
    return words


def _group(noun_index: int) -> int:
    return noun_index // 4


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
            k = 1 + int(rng.integers(2))
            words += [ADVERBS[int(i)] for i in rng.choice(len(ADVERBS), k, replace=False)]
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
    version=2,
    family="agreement",
    format="choice",
    label_names=("singular", "plural"),
    chance=0.5,
    suite="toy",
    document=lambda rng: _document(_agreement(rng, 1, attractor=False)[0]),
)
def agreement(rng: np.random.Generator, n: int) -> list[Example]:
    """Subject-verb agreement after one or two adverbs: 'the dogs often still' -> run (vs runs).

    Probe: the subject's number, read at the last adverb, the token before the verb, where the
    model must hold it to choose the verb. The read token is an adverb drawn independently of the
    label, and groups are subject nouns (lemmas), so test nouns are never seen by the probe in
    training: it passes only if number reaches the adverb from nouns it has not seen. With 16
    nouns about 5 are held out, and a probe tends to be right or wrong on a noun as a whole, so
    one split's accuracy moves in steps of about 0.2 (a random-init model's ranges from 0.4 to
    0.97 over seeds, mean 0.54).

    Items: 16 nouns x 2 numbers x 16 adverb runs = 512 prompts in 16 groups, both labels in each.
    """
    return _agreement(rng, n, attractor=False)


@builtin_skill(
    "agreement_attractor",
    version=2,
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
    gives the label. As for agreement, about 5 of the 16 nouns are held out, so one split's
    accuracy is coarse.

    Items: 32 subjects x 3 prepositions x 30 attractors = 2880 prompts in 16 groups, both labels
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
    version=2,
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
    version=2,
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


# ---------------------------------------------------------------- copy / induction
_SPANS = (5, 6, 7)  # source span lengths
_TO_WRITE = 4  # words left to copy: one noun of each group, in random order


def _copy(rng: np.random.Generator, n: int, plural: bool) -> list[Example]:
    out = []
    for _ in range(n):
        shown = _pick(rng, _SPANS) - _TO_WRITE  # 1..3 words already copied
        rest = [4 * int(g) + int(rng.integers(4)) for g in rng.permutation(len(NOUN_GROUPS))]
        others = [i for i in range(len(NOUNS)) if i not in rest]
        idx = [others[int(i)] for i in rng.choice(len(others), shown, replace=False)] + rest
        src = [NOUNS[i][0] for i in idx]
        dst = [NOUNS[i][1 if plural else 0] for i in idx]
        head = "plural" if plural else "copy"
        prompt = f"{head} {' '.join(src)} : {' '.join(dst[:shown])}"
        out.append(
            Example(
                prompt=prompt,
                target=" ".join(dst[shown:]),
                label=_group(idx[shown]),
                group=" ".join(src),
            )
        )
    return out


@builtin_skill(
    "copy",
    version=2,
    family="induction",
    label_names=NOUN_GROUPS,
    primary_metric="token_acc",
    suite="toy",
    document=lambda rng: _document(_copy(rng, 1, plural=False)[0]),
)
def copy(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a 5-7 word span (per-token accuracy): 'copy cat key pen apple boy : cat' -> key ...

    Probe: the noun group of the next word to copy (a fixed 4-way code for the noun), read at
    the last prompt token, where the model must have found the next word in the span. The four
    words still to copy are one of each group in random order, so which groups remain (any mix
    of the prompt's tokens) says nothing; the read token is an already copied word of another
    group; and the span is 5-7 words long, so the next word sits at no fixed offset. Groups are
    spans: test spans are new orders of nouns the probe has seen. The other three words to
    copy sit at fixed places before ':', so a readout that knows positions can rule their
    groups out: a random-init model reads about 0.35 at its last layer (chance 0.25), and only
    gains over the random-init probe show induction.

    Items: millions of prompts, each its own group (the span); a draw of 300 finds 300.
    """
    return _copy(rng, n, plural=False)


# ---------------------------------------------------------------- arithmetic
def _digits(x: int) -> str:
    return " ".join(str(x))


def _pair(x: int, y: int) -> str:
    """The operand pair as a group, order-free: '7 + 8' and '8 + 7' are one group."""
    a, b = sorted((x, y))
    return f"{a}+{b}"


@builtin_skill(
    "add1",
    version=2,
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
    version=2,
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
        out.append(
            Example(prompt=prompt, target=NOUNS[i][to_plural], label=_group(i), group=NOUNS[i][0])
        )
    return out


@builtin_skill(
    "plural",
    version=2,
    family="morphology",
    label_names=NOUN_GROUPS,
    suite="toy",
    chance=1 / 32,
    document=lambda rng: _document(_plural(rng, 1, False)[0]),
)
def plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Inflect a noun in context: 'one cat , two' -> cats.

    No probe: the answer needs the noun (the group: held out, so no noun-specific label can be
    tested) and the target number, which is the read token itself ('one' or 'two'). The noun's
    group, probed before, is not needed by the skill and cannot be learnt for held-out nouns.
    The label (the noun's group) only stratifies the split.

    Items: 32 prompts in 16 groups (the noun); a sweep of 300 uses 32.
    """
    return _plural(rng, n, attractor=False)


# ---------------------------------------------------------------- composites
@builtin_skill(
    "copy_plural",
    version=2,
    family="composite",
    label_names=NOUN_GROUPS,
    components=("copy", "plural"),
    primary_metric="token_acc",
    suite="toy",
    document=lambda rng: _document(_copy(rng, 1, plural=True)[0]),
)
def copy_plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a span while pluralizing each word: needs induction and morphology.

    Probe: the noun group of the next word to copy, read at the last prompt token, as for
    copy: the four words still to write are one of each group in random order, the read token
    is a copied word of another group, and the span is 5-7 words long, so neither the prompt's
    token mix, the read token nor a fixed offset gives the label. Groups are spans. As for copy,
    positions alone rule out some groups (about 0.3 at random init, chance 0.25).

    Items: millions of prompts, each its own group (the span); a draw of 300 finds 300.
    """
    return _copy(rng, n, plural=True)


@builtin_skill(
    "plural_attractor",
    version=2,
    family="composite",
    label_names=NOUN_GROUPS,
    components=("plural", "agreement_attractor"),
    suite="toy",
    chance=1 / 32,
    document=lambda rng: _document(_plural(rng, 1, True)[0]),
)
def plural_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Inflect the subject past an attractor: 'one cat near the dogs , two' -> cats.

    No probe: as for plural, the answer needs the held-out subject noun and the target number
    given by the read token itself. The label (the subject's group) only stratifies the split.

    Items: 32 subjects x 3 prepositions x 32 attractors = 3072 prompts in 16 groups.
    """
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
