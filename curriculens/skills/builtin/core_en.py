"""The core-en suite: plain-English template skills that work with any Hugging Face tokenizer.

Prompts are ordinary English and targets start without a leading space (the scorer joins prompt
and target with one space). Read positions are substring anchors or ``-1``, resolved per
tokenizer. Country facts and word tables are package data, read by
:mod:`~curriculens.skills.builtin.core_en_words` (imported as ``vocab``). Loaded lazily by the
registry. Each builder's docstring says what its probe decodes, where it reads, and why a
lexical shortcut cannot pass it when the probe is split by group (``Probe:``), or why the skill
is scored for behavior only (``No probe:``); ``Items:`` gives its pool of prompts and groups.
"""

from __future__ import annotations

import numpy as np

from curriculens.skills.builtin import core_en_words as vocab
from curriculens.skills.builtin import toy  # noqa: F401  (the toy suite registers first, always)
from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.registry import Example


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


# ---------------------------------------------------------------- agreement


def _agreement(rng: np.random.Generator, n: int, attractor: bool) -> list[Example]:
    out = []
    for _ in range(n):
        plural = int(rng.integers(2))
        subject = _pick(rng, vocab.SUBJECTS)
        prompt = f"The {subject[plural]}"
        if attractor:  # of either number, independent of the subject's
            noun = _pick(rng, vocab.ATTRACTORS)[int(rng.integers(2))]
            prompt += f" {_pick(rng, vocab.PREPOSITIONS)} the {noun}"
        else:
            prompt += f", {_pick(rng, vocab.ASIDES)},"
        verb = _pick(rng, vocab.BE_FORMS)
        out.append(
            Example(
                prompt=prompt,
                target=verb[plural],
                choices=(verb[1 - plural],),
                label=plural,
                group=subject[0],
            )
        )
    return out


@builtin_skill(
    "en_agreement",
    version=2,
    family="agreement",
    format="choice",
    label_names=vocab.NUMBER,
    chance=0.5,
    suite=vocab.SUITE,
)
def en_agreement(rng: np.random.Generator, n: int) -> list[Example]:
    """Subject-verb agreement past an aside: 'The keys, of course,' -> are (vs is).

    Probe: the subject's number, read at the last prompt token (the comma closing the aside),
    the token before the verb, where the model must hold it to choose the verb. The read token
    is the same for every item and the aside is drawn independently of the label; groups are
    subject nouns, so the probe must decode number from nouns it never saw in training. That
    holds where nouns are whole tokens; where a tokenizer splits off the plural '-s' (a small
    BPE does), the prompt's tokens carry the number even at random init, and only gains over
    the random-init probe count.

    Items: 20 nouns x 2 numbers x 10 asides = 400 prompts in 20 groups, both labels in each.
    """
    return _agreement(rng, n, attractor=False)


@builtin_skill(
    "en_agreement_attractor",
    version=2,
    family="agreement",
    format="choice",
    label_names=vocab.NUMBER,
    chance=0.5,
    suite=vocab.SUITE,
)
def en_agreement_attractor(rng: np.random.Generator, n: int) -> list[Example]:
    """Agreement past an attractor of either number: 'The key near the cabinets' -> is (vs are).

    The attractor's number is drawn independently of the subject's, so half of the items
    mismatch and agreeing with the nearest noun scores chance (0.5).

    Probe: the subject's number, read at the last prompt token (the end of the attractor), the
    token before the verb, where the model must hold it to choose the verb. The read token's
    own number is independent of the label, and groups are subject nouns, so neither the
    nearest noun nor a memorised subject gives the label. Where a tokenizer splits off the
    plural '-s', the count of '-s' tokens carries part of it even at random init; read it
    against the random-init probe.

    Items: 40 subjects x 5 prepositions x 12 attractors = 2400 prompts in 20 groups, both
    labels in each.
    """
    return _agreement(rng, n, attractor=True)


# ---------------------------------------------------------------- facts


def _country_phrase(country: str) -> str:
    return f"the {country}" if country in vocab.WITH_THE else country


def _facts(rng: np.random.Generator, n: int, relation: str) -> list[Example]:
    templates = vocab.FACT_TEMPLATES[relation]
    target = "capital" if relation == "capital" else "currency"
    out = []
    for i in rng.integers(0, len(vocab.COUNTRIES), n):
        row = vocab.COUNTRIES[int(i)]
        prompt = _pick(rng, templates).format(
            country=_country_phrase(row["country"]), capital=row["capital"]
        )
        out.append(
            Example(
                prompt=prompt,
                target=row[target],
                label=vocab.CONTINENTS.index(row["continent"]),
                group=row["country"],
            )
        )
    return out


@builtin_skill(
    "en_capital",
    version=2,
    family="facts",
    label_names=vocab.CONTINENTS,
    suite=vocab.SUITE,
)
def en_capital(rng: np.random.Generator, n: int) -> list[Example]:
    """Country -> capital: 'The capital of France is' -> Paris (seven templates).

    Probe: the continent of the answer, read at the last prompt token ('is'), where the capital
    must be retrieved; the capital itself is one class per country and cannot be tested on
    held-out countries, so its continent stands for it. The read token is always 'is', and
    groups are countries: a test country is never seen by the probe in training, so the probe
    passes only if the model brings what it knows about an unseen country to 'is'. The
    continent is also a property of the country: a pass shows the country's knowledge reached
    'is', not that the capital itself was retrieved. Names that share a piece across
    countries (New Zealand, Papua New Guinea) leak a little: a bag of the prompt's words reads
    about 0.41 where the majority class gives 0.36.

    Items: 46 countries x 7 templates = 322 prompts in 46 groups (6 to 15 per continent).
    """
    return _facts(rng, n, "capital")


@builtin_skill(
    "en_currency",
    version=2,
    family="facts",
    label_names=vocab.CONTINENTS,
    suite=vocab.SUITE,
)
def en_currency(rng: np.random.Generator, n: int) -> list[Example]:
    """Country -> currency: 'The currency of Japan is the' -> yen (seven templates).

    Probe: the continent of the country whose currency is asked, read at the last prompt token
    ('the'), where the currency must be retrieved. The read token is always 'the', and groups
    are countries, so the probe must decode the continent of countries it never saw in
    training; as for en_capital, a pass shows the country's knowledge reached the read token.

    Items: 46 countries x 7 templates = 322 prompts in 46 groups (6 to 15 per continent).
    """
    return _facts(rng, n, "currency")


# ---------------------------------------------------------------- arithmetic


def _pair(x: int, y: int) -> str:
    """The operand pair as a group, order-free: '7 + 8' and '8 + 7' are one group."""
    a, b = sorted((x, y))
    return f"{a}+{b}"


@builtin_skill(
    "en_add1",
    version=2,
    family="arithmetic",
    label_names=vocab.CARRY,
    chance=0.05,
    suite=vocab.SUITE,
)
def en_add1(rng: np.random.Generator, n: int) -> list[Example]:
    """One-digit addition: '7 + 8 =' -> 15 (also '7 plus 8 equals', '7 plus 8 is').

    No probe: as for the toy add1, the carry is a threshold on a + b, so a layer that has only
    gathered both operand tokens exposes it linearly (a bag of the prompt's words decodes it at
    about 0.85 on held-out operand pairs), and XOR-like targets such as the sum's parity
    anti-generalise on the 55-pair grid. The label (carry) only stratifies the split.

    Items: 100 operand pairs x 3 templates = 300 prompts in 55 groups (the unordered pair).
    """
    a, b = rng.integers(0, 10, n), rng.integers(0, 10, n)
    return [
        Example(
            prompt=_pick(rng, vocab.ADD_TEMPLATES).format(a=int(x), b=int(y)),
            target=str(int(x + y)),
            label=int(x + y >= 10),
            group=_pair(int(x), int(y)),
        )
        for x, y in zip(a, b, strict=True)
    ]


@builtin_skill(
    "en_add2",
    version=2,
    family="arithmetic",
    label_names=vocab.TENS_PARITY,
    chance=0.01,
    suite=vocab.SUITE,
)
def en_add2(rng: np.random.Generator, n: int) -> list[Example]:
    """Two-digit addition: '27 + 45 =' -> 72.

    Probe: the parity of the answer's tens digit, read at '=', where the model must compute
    the answer. The parity is the XOR of both tens digits' parities and the units carry, so it
    needs the carry computed; where a number is one token, the carry bit itself is additive in
    the two operand tokens (a bag of the prompt's words decodes it at about 0.8 on held-out
    pairs) but the tens parity is not (chance). The read token is always '='; groups are
    unordered operand pairs.

    Items: 8100 prompts in 4095 groups; a draw of 300 finds 300.
    """
    a, b = rng.integers(10, 100, n), rng.integers(10, 100, n)
    return [
        Example(
            prompt=f"{x} + {y} =",
            target=str(int(x + y)),
            label=int((x + y) // 10 % 2),
            group=_pair(int(x), int(y)),
        )
        for x, y in zip(a, b, strict=True)
    ]


# ---------------------------------------------------------------- induction: copy and reverse
_ALL_WORDS = tuple(vocab.WORD_CATEGORY)
_TO_WRITE = 4  # words still to write: one of each category, in random order


def _list_task(rng: np.random.Generator, n: int, reverse: bool) -> list[Example]:
    out = []
    for _ in range(n):
        shown = 1 + int(rng.integers(3))  # words of the answer already written
        order = rng.permutation(len(vocab.CATEGORIES))
        todo = [_pick(rng, vocab.WORDS[vocab.CATEGORIES[int(c)]]) for c in order]
        others = [w for w in _ALL_WORDS if w not in todo]
        done = [others[int(i)] for i in rng.choice(len(others), shown, replace=False)]
        answer = done + todo
        words = answer[::-1] if reverse else answer
        head = "Reversed" if reverse else "Again"
        prompt = f"List: {', '.join(words)}. {head}: {', '.join(done)},"
        out.append(
            Example(
                prompt=prompt,
                target=", ".join(todo),
                label=vocab.CATEGORIES.index(vocab.WORD_CATEGORY[todo[0]]),
                group=", ".join(words),
            )
        )
    return out


@builtin_skill(
    "en_copy",
    version=3,  # v3: the larger core-en word tables
    family="induction",
    label_names=vocab.CATEGORIES,
    primary_metric="token_acc",
    suite=vocab.SUITE,
)
def en_copy(rng: np.random.Generator, n: int) -> list[Example]:
    """Copy a word list: 'List: a, b, c, d, e. Again: a,' -> b, c, d, e.

    Probe: the category of the next word to write, read at the last prompt token (the comma
    after the words already written), where the model must have found that word in the list.
    The four words still to write are one of each category in random order, so the categories
    in the prompt say nothing; the read token is always a comma, and the list has 5 to 7 words.
    Groups are lists: test lists are new arrangements of words the probe has seen. The other
    three words to write end the list, so a readout that knows positions can rule their
    categories out (words by offset from the end: about 0.38, chance 0.25); only gains over the
    random-init probe show induction.

    Items: millions of prompts, each its own group (the list); a draw of 300 finds 300.
    """
    return _list_task(rng, n, reverse=False)


@builtin_skill(
    "en_reverse",
    version=3,  # v3: the larger core-en word tables
    family="induction",
    label_names=vocab.CATEGORIES,
    primary_metric="token_acc",
    suite=vocab.SUITE,
)
def en_reverse(rng: np.random.Generator, n: int) -> list[Example]:
    """Reverse a word list: '... Reversed: e,' -> d, c, b, a.

    Probe: the category of the next word to write, read at the last prompt token (a comma),
    where the model must have found the word before the last one written. As for en_copy, the
    four words still to write are one of each category in random order, the read token is
    always a comma and the list has 5 to 7 words; groups are lists. Positions alone rule out
    some categories here too (about 0.37, chance 0.25); read it against the random-init probe.

    Items: millions of prompts, each its own group (the list); a draw of 300 finds 300.
    """
    return _list_task(rng, n, reverse=True)


# ---------------------------------------------------------------- indirect object identification


@builtin_skill(
    "en_ioi",
    version=2,
    family="ioi",
    format="choice",
    label_names=vocab.IOI_POSITION,
    chance=0.5,
    suite=vocab.SUITE,
)
def en_ioi(rng: np.random.Generator, n: int) -> list[Example]:
    """Indirect object: 'When Mary and John ..., John gave a drink to' -> Mary (vs John).

    Probe: whether the indirect object is the first or the second name of the pair, read at
    the last prompt token ('to'), where the model must have picked the name it gives. The label
    is whether the repeated name is the second or the first one, which no single token and no
    bag of the prompt's words tells (each name of a pair appears in both positions); the read
    token is always 'to'. Groups are unordered name pairs, each with both labels.

    Items: 90 ordered pairs x 2 positions x 4 templates = 720 prompts in 45 groups.
    """
    out = []
    for _ in range(n):
        io, s = (vocab.NAMES[int(i)] for i in rng.choice(len(vocab.NAMES), 2, replace=False))
        io_second = int(rng.integers(2))
        a, b = (s, io) if io_second else (io, s)
        prompt = _pick(rng, vocab.IOI_TEMPLATES).format(a=a, b=b, s=s)
        out.append(
            Example(
                prompt=prompt,
                target=io,
                choices=(s,),
                label=io_second,
                group="+".join(sorted((io, s))),
            )
        )
    return out


# ---------------------------------------------------------------- in-context word maps
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
            Example(
                prompt=f"{demo}, {query[0]} ->",
                target=transform(query[1]),
                label=label,
                group=query[0],
            )
        )
    return out


def _same(word: str) -> str:
    return word


def _upper(word: str) -> str:
    return word.upper()


@builtin_skill(
    "en_plural",
    version=3,  # v3: the larger core-en word tables
    family="morphology",
    label_names=vocab.PLURAL_CLASSES,
    suite=vocab.SUITE,
)
def en_plural(rng: np.random.Generator, n: int) -> list[Example]:
    """Plural in context: 'cat -> cats, box -> boxes, man -> men, city ->' -> cities.

    Probe: the query's inflection class (add_s, add_es, y_to_ies, irregular), read at the last
    '->', the token before the answer, where the model must know which ending to write. The
    read token is always '->' and the demonstrations are drawn independently of the query's
    class; groups are query words, so the probe must decode the class of words it never saw in
    training, from their spelling (or, for irregulars, from the model's knowledge of them).
    Where the query is one token (most of them in a 50k vocabulary) its spelling is knowledge
    the model brings; where a tokenizer splits words into pieces that show the ending, the
    prompt's tokens give the class even at random init, and only gains over the random-init
    probe count.

    Items: thousands of prompts (demonstration sets) in 351 groups, the query words (111 add_s,
    85 add_es, 88 y_to_ies, 67 irregular); a draw of 300 finds 300.
    """
    return _word_map(rng, n, vocab.PLURALS, _same)


@builtin_skill(
    "en_gerund",
    version=3,  # v3: the larger core-en word tables
    family="morphology",
    label_names=vocab.GERUND_CLASSES,
    suite=vocab.SUITE,
)
def en_gerund(rng: np.random.Generator, n: int) -> list[Example]:
    """Gerund in context: 'walk -> walking, make -> making, sit -> sitting, run ->' -> running.

    Probe: the query's spelling rule (add_ing, drop_e, double), read at the last '->', where the
    model must know how to form the ending. The read token is always '->', the demonstrations
    are independent of the query's rule, and groups are query words, so the probe must decode
    the rule of words it never saw in training. As for en_plural, where a tokenizer splits
    words into pieces that show the ending, the prompt's tokens give the rule even at random
    init, and only gains over the random-init probe count.

    Items: thousands of prompts (demonstration sets) in 374 groups, the query words (140
    add_ing, 130 drop_e, 104 double); a draw of 300 finds 300.
    """
    return _word_map(rng, n, vocab.GERUNDS, _same)


@builtin_skill(
    "en_uppercase",
    version=3,  # v3: the larger core-en word tables
    family="orthography",
    label_names=vocab.CATEGORIES,
    suite=vocab.SUITE,
)
def en_uppercase(rng: np.random.Generator, n: int) -> list[Example]:
    """Uppercase in context: 'cat -> CAT, bread -> BREAD, river ->' -> RIVER.

    No probe: the answer needs the query word itself, which is the group (held out, so no
    word-specific label can be tested), and a rule that is the same for every item. The query's
    kind (animal, food, place, object), probed before, is not needed to uppercase a word. The
    label (the kind) only stratifies the split.

    Items: thousands of prompts (demonstration sets) in 325 groups, the query words; a draw
    of 300 finds 300.
    """
    table = {c: tuple((w, w) for w in words) for c, words in vocab.WORDS.items()}
    return _word_map(rng, n, table, _upper)


# ---------------------------------------------------------------- negation


@builtin_skill(
    "en_negation",
    version=2,
    family="negation",
    format="choice",
    label_names=vocab.STATE_OF_PAIR,
    chance=0.5,
    suite=vocab.SUITE,
)
def en_negation(rng: np.random.Generator, n: int) -> list[Example]:
    """Negation: 'The door is not open, so the door is' -> closed (vs open).

    Probe: which state of the pair the answer is (first: open, on, full, wet, awake, alive,
    right; second: closed, off, empty, dry, asleep, dead, wrong), read at the last prompt token
    ('is'), where the model must hold the answer. It is the XOR of whether the premise is
    negated and which state it names, so neither 'not' (the old, lexical label) nor the stated
    word nor any bag of the prompt's words gives it; the read token is always 'is'. Groups are
    nouns, each with both labels; every state pair has nouns in training.

    Items: 28 nouns x 2 states x 2 polarities x 4 templates = 448 prompts in 28 groups.
    """
    out = []
    for _ in range(n):
        pair, nouns = _pick(rng, vocab.STATES)
        noun = _pick(rng, nouns)
        said, negated = int(rng.integers(2)), int(rng.integers(2))
        answer = 1 - said if negated else said
        state = f"{'not ' if negated else ''}{pair[said]}"
        prompt = _pick(rng, vocab.NEGATION_TEMPLATES).format(noun=noun, state=state)
        out.append(
            Example(
                prompt=prompt,
                target=pair[answer],
                choices=(pair[1 - answer],),
                label=answer,
                group=noun,
            )
        )
    return out


# ---------------------------------------------------------------- composites
@builtin_skill(
    "en_plural_upper",
    version=3,  # v3: the larger core-en word tables
    family="composite",
    label_names=vocab.PLURAL_CLASSES,
    components=("en_plural", "en_uppercase"),
    suite=vocab.SUITE,
)
def en_plural_upper(rng: np.random.Generator, n: int) -> list[Example]:
    """Plural and uppercase at once: 'cat -> CATS, box -> BOXES, city ->' -> CITIES.

    Probe: the query's inflection class, read at the last '->', as for en_plural: the read
    token is always '->', the demonstrations are independent of the class, and groups are
    query words, so the probe must decode the class of words it never saw in training. Where a
    tokenizer splits words into pieces that show the ending, the prompt's tokens give the class
    even at random init, and only gains over the random-init probe count.

    Items: thousands of prompts (demonstration sets) in 351 groups, the query words (111 add_s,
    85 add_es, 88 y_to_ies, 67 irregular); a draw of 300 finds 300.
    """
    return _word_map(rng, n, vocab.PLURALS, _upper)


@builtin_skill(
    "en_capital_currency",
    version=2,
    family="composite",
    label_names=vocab.CONTINENTS,
    components=("en_capital", "en_currency"),
    suite=vocab.SUITE,
)
def en_capital_currency(rng: np.random.Generator, n: int) -> list[Example]:
    """Two hops: 'The currency of the country whose capital is Tokyo is the' -> yen.

    Probe: the continent of the country, read at the last prompt token ('the'), where the
    currency must be retrieved through the country the capital names. The read token is always
    'the', and groups are countries (one capital each), so the probe must decode the continent
    for capitals it never saw in training; the continent is also a property of the capital, so
    a pass shows the capital's knowledge reached 'the', not that both hops were made.

    Items: 46 countries x 7 templates = 322 prompts in 46 groups (6 to 15 per continent).
    """
    return _facts(rng, n, "two_hop")


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
# the few-shot skills register after these
from curriculens.skills.builtin.core_en_icl import CORE_EN_ICL_SKILLS  # noqa: E402

CORE_EN_SKILLS += CORE_EN_ICL_SKILLS
