"""The toy-world suite: thirty-seven skills that the embedded synthetic corpus teaches, one source
each.

Every skill here is also a corpus source (:mod:`curriculens.toy.corpus`): training documents are
drawn from the same templates, so the demo model can learn them and the sweep can watch it happen.
Six skills are zero-shot (agreement, agreement_attractor, brackets, facts, add1, add2). The rest
are few-shot in-context tasks written ``{input} -> {output}`` and shown with :data:`SHOTS`
demonstrations from training groups only (:mod:`curriculens.skills.fewshot`). World v4 has seven
elementals (plural, category, copy, middle, last, pet, successor) and eight composites, each
chaining one selection (copy a span, its middle or last noun, a looked-up pet) with one word form
(plural, category) under a marker of its own ('pp kalo ->' for pet_plural). World v5, the demo's,
adds eight memorised item maps (:data:`ITEM_MAPS`: gift, prize, mate, rival, twin, boss, pal, kin)
and eight chain composites (:data:`CHAINS`: 'pet karan -> bag mate bag -> boy'), whose answer
writes both component tasks out. A few-shot query opens with its task's marker word
(:data:`TASK_MARKERS`). Their corpus documents are 3-6 solved pairs of one skill (the item maps'
and chains' drawn at Zipf frequencies). When each source enters the demo's corpus, and so the
order the world is built to produce, is in :mod:`curriculens.toy.curriculum`. Each builder's
docstring says what its probe decodes, where it reads, and why a lexical shortcut cannot pass it
when the probe is split by group (``Probe:``), or why the skill is scored for behavior only (``No
probe:``); ``Items:`` gives its pool of distinct prompts and groups."""

from __future__ import annotations

import itertools

import numpy as np

from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.builtin.toy_words import (  # noqa: F401  (re-exported: the world's words)
    ADVERBS,
    BRACKETS,
    CITIES,
    DIGITS,
    FACTS,
    MARKERS,
    NOUN_GROUPS,
    NOUNS,
    PEOPLE,
    PERSON_WEIGHTS,
    PREPS,
    TASK_MARKERS,
    VERBS,
    noun_group,
    spaced_digits,
    toy_vocabulary,
)
from curriculens.skills.registry import Example

#: One or two distinct adverbs, each run equally likely (16 runs).
_ADVERB_RUNS = tuple((a,) for a in ADVERBS) + tuple(itertools.permutations(ADVERBS, 2))


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _document(ex: Example) -> str:
    """A training document rendered from an evaluation example: prompt, target, full stop."""
    return f"{ex.prompt} {ex.target} ."


def _sentences(examples: list[Example]) -> str:
    """A training document of several solved examples: 'prompt target . prompt target .'."""
    return " ".join(_document(ex) for ex in examples)


#: Sentences per agreement document (3 to 6, as a few-shot document has 3-6 pairs). A source's
#: weight is a share of documents; with one 6-word sentence a document, the agreement skills had
#: about a fifth of the training tokens their weight suggests beside 30-token few-shot documents,
#: and in world v5 trials crossed anywhere from 260k to 870k tokens between seeds. With 3-6
#: sentences they crossed at 86k-234k in every trial and demo seed (docs/results.md).
_AGREEMENT_SENTENCES = (3, 7)


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
    document=lambda rng: _sentences(
        _agreement(rng, int(rng.integers(*_AGREEMENT_SENTENCES)), attractor=False)
    ),
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
    document=lambda rng: _sentences(
        _agreement(rng, int(rng.integers(*_AGREEMENT_SENTENCES)), attractor=True)
    ),
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
            target=spaced_digits(int(x + y)),
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
            prompt=f"{spaced_digits(int(x))} + {spaced_digits(int(y))} =",
            target=spaced_digits(int(x + y)),
            label=int((x + y) // 10 % 2),
            group=_pair(int(x), int(y)),
        )
        for x, y in zip(a, b, strict=True)
    ]


# ---------------------------------------------------------------- few-shot (in-context) skills
# registered after the zero-shot skills, in this order (re-exported here)
from curriculens.skills.builtin import toy_icl  # noqa: E402, F401  (registers them)
from curriculens.skills.builtin.toy_icl import CHAINS, PETS, SHOTS  # noqa: E402, F401

#: The elementals among the few-shot skills, then the composites (two components each).
FEWSHOT_ELEMENTALS: tuple[str, ...] = (
    "plural", "category", "copy", "middle", "last", "pet", "successor",
)  # fmt: skip
#: World v5's item maps (few-shot elementals; pet is the first of them).
ITEM_MAPS: tuple[str, ...] = ("gift", "prize", "mate", "rival", "twin", "boss", "pal", "kin")
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
    *ITEM_MAPS,
    *CHAINS,
)
