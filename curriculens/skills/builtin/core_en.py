"""The core-en suite: plain-English template skills that work with any Hugging Face tokenizer.

Prompts are ordinary English and targets start without a leading space (the scorer joins prompt
and target with one space). Read positions are substring anchors or ``-1``, resolved per
tokenizer. Country facts come from ``skills/builtin/data/countries.csv``. Loaded lazily by the
registry. Each builder's docstring says what its probe decodes, where it reads, and why a
lexical shortcut cannot pass it when the probe is split by group (``Probe:``), or why the skill
is scored for behavior only (``No probe:``); ``Items:`` gives its pool of prompts and groups.
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from curriculens.skills.builtin import toy  # noqa: F401  (the toy suite registers first, always)
from curriculens.skills.builtin._register import builtin_skill
from curriculens.skills.registry import Example

SUITE = "core-en"


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


# ---------------------------------------------------------------- agreement
#: (singular, plural) subjects; the group of an agreement item is its subject's singular.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("author", "authors"),
    ("key", "keys"),
    ("teacher", "teachers"),
    ("dog", "dogs"),
    ("car", "cars"),
    ("student", "students"),
    ("painting", "paintings"),
    ("letter", "letters"),
    ("pilot", "pilots"),
    ("singer", "singers"),
    ("book", "books"),
    ("bridge", "bridges"),
    ("lawyer", "lawyers"),
    ("engine", "engines"),
    ("picture", "pictures"),
    ("player", "players"),
    ("road", "roads"),
    ("nurse", "nurses"),
    ("bottle", "bottles"),
    ("soldier", "soldiers"),
)
#: (singular, plural) attractors, none of them a subject.
ATTRACTORS: tuple[tuple[str, str], ...] = (
    ("cabinet", "cabinets"),
    ("house", "houses"),
    ("farmer", "farmers"),
    ("garden", "gardens"),
    ("window", "windows"),
    ("doctor", "doctors"),
)
PREPOSITIONS = ("of", "near", "behind", "next to", "for")
#: Number-neutral asides between a subject and its verb: no noun, no pronoun.
ASIDES = (
    "of course",
    "apparently",
    "however",
    "as expected",
    "obviously",
    "indeed",
    "clearly",
    "surely",
    "naturally",
    "therefore",
)
#: (singular, plural) verb forms; the continuation is the verb.
BE_FORMS: tuple[tuple[str, str], ...] = (("is", "are"), ("was", "were"), ("has", "have"))
NUMBER = ("singular", "plural")


def _agreement(rng: np.random.Generator, n: int, attractor: bool) -> list[Example]:
    out = []
    for _ in range(n):
        plural = int(rng.integers(2))
        subject = _pick(rng, SUBJECTS)
        prompt = f"The {subject[plural]}"
        if attractor:  # of either number, independent of the subject's
            noun = _pick(rng, ATTRACTORS)[int(rng.integers(2))]
            prompt += f" {_pick(rng, PREPOSITIONS)} the {noun}"
        else:
            prompt += f", {_pick(rng, ASIDES)},"
        verb = _pick(rng, BE_FORMS)
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
    label_names=NUMBER,
    chance=0.5,
    suite=SUITE,
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
    label_names=NUMBER,
    chance=0.5,
    suite=SUITE,
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

#: Templates per relation; each ends on the token before the answer ('is' or 'the').
FACT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "capital": (
        "The capital of {country} is",
        "The capital city of {country} is",
        "The name of the capital of {country} is",
        "As everyone knows, the capital of {country} is",
        "In {country}, the capital city is",
        "Did you know? The capital of {country} is",
        "Fact: the capital of {country} is",
    ),
    "currency": (
        "The currency of {country} is the",
        "The official currency of {country} is the",
        "The money used in {country} is the",
        "As everyone knows, the currency of {country} is the",
        "In {country}, people pay with the",
        "In {country}, the currency is the",
        "Fact: the currency of {country} is the",
    ),
    "two_hop": (  # capital -> country -> currency
        "The currency of the country whose capital is {capital} is the",
        "The official currency of the country whose capital is {capital} is the",
        "The money used in the country whose capital is {capital} is the",
        "In the country whose capital is {capital}, people pay with the",
        "{capital} is the capital of a country whose currency is the",
        "As everyone knows, the currency of the country whose capital is {capital} is the",
        "Fact: the currency of the country whose capital is {capital} is the",
    ),
}


def _country_phrase(country: str) -> str:
    return f"the {country}" if country in _WITH_THE else country


def _facts(rng: np.random.Generator, n: int, relation: str) -> list[Example]:
    templates = FACT_TEMPLATES[relation]
    target = "capital" if relation == "capital" else "currency"
    out = []
    for i in rng.integers(0, len(COUNTRIES), n):
        row = COUNTRIES[int(i)]
        prompt = _pick(rng, templates).format(
            country=_country_phrase(row["country"]), capital=row["capital"]
        )
        out.append(
            Example(
                prompt=prompt,
                target=row[target],
                label=CONTINENTS.index(row["continent"]),
                group=row["country"],
            )
        )
    return out


@builtin_skill(
    "en_capital",
    version=2,
    family="facts",
    label_names=CONTINENTS,
    suite=SUITE,
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
    label_names=CONTINENTS,
    suite=SUITE,
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
CARRY = ("no_carry", "carry")
TENS_PARITY = ("tens_even", "tens_odd")
ADD_TEMPLATES = ("{a} + {b} =", "{a} plus {b} equals", "{a} plus {b} is")


def _pair(x: int, y: int) -> str:
    """The operand pair as a group, order-free: '7 + 8' and '8 + 7' are one group."""
    a, b = sorted((x, y))
    return f"{a}+{b}"


@builtin_skill(
    "en_add1",
    version=2,
    family="arithmetic",
    label_names=CARRY,
    chance=0.05,
    suite=SUITE,
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
            prompt=_pick(rng, ADD_TEMPLATES).format(a=int(x), b=int(y)),
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
    label_names=TENS_PARITY,
    chance=0.01,
    suite=SUITE,
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
CATEGORIES = ("animal", "food", "place", "object")
WORDS: dict[str, tuple[str, ...]] = {
    "animal": ("cat", "dog", "horse", "sheep", "mouse", "tiger", "rabbit", "eagle"),
    "food": ("bread", "apple", "cheese", "rice", "soup", "cake", "lemon", "honey"),
    "place": ("river", "forest", "city", "village", "mountain", "island", "garden", "desert"),
    "object": ("chair", "table", "window", "hammer", "pencil", "bottle", "mirror", "basket"),
}
WORD_CATEGORY = {w: c for c, words in WORDS.items() for w in words}
_ALL_WORDS = tuple(WORD_CATEGORY)
_TO_WRITE = 4  # words still to write: one of each category, in random order


def _list_task(rng: np.random.Generator, n: int, reverse: bool) -> list[Example]:
    out = []
    for _ in range(n):
        shown = 1 + int(rng.integers(3))  # words of the answer already written
        todo = [_pick(rng, WORDS[CATEGORIES[int(c)]]) for c in rng.permutation(len(CATEGORIES))]
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
                label=CATEGORIES.index(WORD_CATEGORY[todo[0]]),
                group=", ".join(words),
            )
        )
    return out


@builtin_skill(
    "en_copy",
    version=2,
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
    suite=SUITE,
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
    version=2,
    family="induction",
    label_names=CATEGORIES,
    primary_metric="token_acc",
    suite=SUITE,
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
NAMES = ("Mary", "John", "Tom", "Anna", "James", "Sarah", "David", "Lisa", "Paul", "Emma")
IOI_TEMPLATES = (
    "When {a} and {b} went to the store, {s} gave a drink to",
    "After {a} and {b} arrived at the park, {s} handed a ball to",
    "While {a} and {b} were working at the office, {s} sent a letter to",
    "Then {a} and {b} had lunch at the cafe, and {s} passed the salt to",
)
IOI_POSITION = ("io_first", "io_second")


@builtin_skill(
    "en_ioi",
    version=2,
    family="ioi",
    format="choice",
    label_names=IOI_POSITION,
    chance=0.5,
    suite=SUITE,
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
        io, s = (NAMES[int(i)] for i in rng.choice(len(NAMES), 2, replace=False))
        io_second = int(rng.integers(2))
        a, b = (s, io) if io_second else (io, s)
        prompt = _pick(rng, IOI_TEMPLATES).format(a=a, b=b, s=s)
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
    version=2,
    family="morphology",
    label_names=PLURAL_CLASSES,
    suite=SUITE,
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

    Items: thousands of prompts (demonstration sets) in 32 groups, the query words, 8 per
    class; a draw of 300 finds 300.
    """
    return _word_map(rng, n, PLURALS, _same)


@builtin_skill(
    "en_gerund",
    version=2,
    family="morphology",
    label_names=GERUND_CLASSES,
    suite=SUITE,
)
def en_gerund(rng: np.random.Generator, n: int) -> list[Example]:
    """Gerund in context: 'walk -> walking, make -> making, sit -> sitting, run ->' -> running.

    Probe: the query's spelling rule (add_ing, drop_e, double), read at the last '->', where the
    model must know how to form the ending. The read token is always '->', the demonstrations
    are independent of the query's rule, and groups are query words, so the probe must decode
    the rule of words it never saw in training. As for en_plural, where a tokenizer splits
    words into pieces that show the ending, the prompt's tokens give the rule even at random
    init, and only gains over the random-init probe count.

    Items: thousands of prompts (demonstration sets) in 24 groups, the query words, 8 per
    rule; a draw of 300 finds 300.
    """
    return _word_map(rng, n, GERUNDS, _same)


@builtin_skill(
    "en_uppercase",
    version=2,
    family="orthography",
    label_names=CATEGORIES,
    suite=SUITE,
)
def en_uppercase(rng: np.random.Generator, n: int) -> list[Example]:
    """Uppercase in context: 'cat -> CAT, bread -> BREAD, river ->' -> RIVER.

    No probe: the answer needs the query word itself, which is the group (held out, so no
    word-specific label can be tested), and a rule that is the same for every item. The query's
    kind (animal, food, place, object), probed before, is not needed to uppercase a word. The
    label (the kind) only stratifies the split.

    Items: thousands of prompts (demonstration sets) in 32 groups, the query words; a draw
    of 300 finds 300.
    """
    table = {c: tuple((w, w) for w in words) for c, words in WORDS.items()}
    return _word_map(rng, n, table, _upper)


# ---------------------------------------------------------------- negation
#: Complementary states and the nouns that take them, so 'not open' means 'closed'. Every
#: state pair has several nouns, so a probe split by noun sees every pair in training.
STATES: tuple[tuple[tuple[str, str], tuple[str, ...]], ...] = (
    (("open", "closed"), ("door", "window", "gate", "shop")),
    (("on", "off"), ("light", "lamp", "radio", "oven")),
    (("full", "empty"), ("glass", "cup", "bottle", "jar")),
    (("wet", "dry"), ("towel", "shirt", "floor", "road")),
    (("awake", "asleep"), ("baby", "child", "cat", "guard")),
    (("alive", "dead"), ("plant", "tree", "fish", "bird")),
    (("right", "wrong"), ("answer", "guess", "result", "clock")),
)
NEGATION_TEMPLATES = (
    "The {noun} is {state}, so the {noun} is",
    "The {noun} is {state}. Therefore, the {noun} is",
    "Since the {noun} is {state}, the {noun} is",
    "We know that the {noun} is {state}, which means that the {noun} is",
)
STATE_OF_PAIR = ("first_state", "second_state")


@builtin_skill(
    "en_negation",
    version=2,
    family="negation",
    format="choice",
    label_names=STATE_OF_PAIR,
    chance=0.5,
    suite=SUITE,
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
        pair, nouns = _pick(rng, STATES)
        noun = _pick(rng, nouns)
        said, negated = int(rng.integers(2)), int(rng.integers(2))
        answer = 1 - said if negated else said
        state = f"{'not ' if negated else ''}{pair[said]}"
        prompt = _pick(rng, NEGATION_TEMPLATES).format(noun=noun, state=state)
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
    version=2,
    family="composite",
    label_names=PLURAL_CLASSES,
    components=("en_plural", "en_uppercase"),
    suite=SUITE,
)
def en_plural_upper(rng: np.random.Generator, n: int) -> list[Example]:
    """Plural and uppercase at once: 'cat -> CATS, box -> BOXES, city ->' -> CITIES.

    Probe: the query's inflection class, read at the last '->', as for en_plural: the read
    token is always '->', the demonstrations are independent of the class, and groups are
    query words, so the probe must decode the class of words it never saw in training. Where a
    tokenizer splits words into pieces that show the ending, the prompt's tokens give the class
    even at random init, and only gains over the random-init probe count.

    Items: thousands of prompts (demonstration sets) in 32 groups, the query words, 8 per
    class; a draw of 300 finds 300.
    """
    return _word_map(rng, n, PLURALS, _upper)


@builtin_skill(
    "en_capital_currency",
    version=2,
    family="composite",
    label_names=CONTINENTS,
    components=("en_capital", "en_currency"),
    suite=SUITE,
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
#: The few-shot skills of :mod:`curriculens.skills.builtin.core_en_icl`, registered after these.
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
CORE_EN_SKILLS += CORE_EN_ICL_SKILLS

from curriculens.skills.builtin import core_en_icl  # noqa: E402, F401  (registers them)
