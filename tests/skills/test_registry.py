"""Registry errors, determinism of every built-in skill, and label oracles on the model input."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

import curriculens.skills
from curriculens.errors import SkillError
from curriculens.skills import Example, get_skill, list_skills, register_skill, unregister_skill
from curriculens.skills.builtin.core_en import CORE_EN_SKILLS
from curriculens.skills.builtin.toy import (
    CHAINS,
    CITIES,
    FACTS,
    ITEM_MAPS,
    NOUN_GROUPS,
    NOUNS,
    PETS,
    TASK_MARKERS,
    TOY_SKILLS,
)
from curriculens.skills.builtin.toy_words import GIFTS, NOUN_MAPS, PRIZES

BUILTINS = TOY_SKILLS + CORE_EN_SKILLS


# ---------------------------------------------------------------- registry errors
def test_registering_a_name_twice_raises():
    @register_skill("dup_demo", version=1, family="demo", label_names=("a", "b"))
    def build(rng, n):
        return [Example(prompt="x", target="y", label=0)] * n

    try:
        with pytest.raises(
            SkillError, match=r"Skill 'dup_demo' is already registered \(version 1\)"
        ):
            register_skill("dup_demo", version=2, family="demo", label_names=("a", "b"))(build)
    finally:
        unregister_skill("dup_demo")


def test_builtin_names_cannot_be_taken():
    with pytest.raises(SkillError, match="already registered"):
        register_skill("en_capital", version=1, family="x", label_names=("a", "b"))(
            lambda rng, n: []
        )


def test_unknown_name_suggests_the_closest():
    with pytest.raises(SkillError) as err:
        get_skill("agrement")
    assert str(err.value).startswith(
        "Unknown skill 'agrement'. Did you mean 'agreement'? Available: add1, add2, agreement,"
    )


def test_unknown_suite_suggests_the_closest():
    with pytest.raises(SkillError, match=r"Unknown suite 'core_en'. Did you mean 'core-en'\?"):
        list_skills("core_en")


def test_suites_hold_their_skills():
    assert [s.name for s in list_skills("toy")] == list(TOY_SKILLS)
    assert [s.name for s in list_skills("core-en")] == list(CORE_EN_SKILLS)
    for suite in ("toy", "core-en"):
        skills = list_skills(suite)
        assert len(skills) >= 8
        assert len({s.family for s in skills}) >= 5
        composites = [s for s in skills if s.components]
        assert len(composites) >= 2
        for s in composites:
            for c in s.components:
                assert get_skill(c).suite == suite


def test_core_en_is_not_imported_by_import_curriculens():
    import subprocess
    import sys

    code = (
        "import sys, curriculens, curriculens.skills; "
        "print('curriculens.skills.builtin.core_en' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- determinism
@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_skill_is_deterministic(name):
    skill = get_skill(name)
    a = skill.examples(24, seed=7)
    assert a == skill.examples(24, seed=7)
    assert a != skill.examples(24, seed=8)
    assert skill.content_hash == get_skill(name).content_hash
    for ex in a:
        assert 0 <= ex.label < skill.n_classes
        assert ex.target and ex.target == ex.target.lstrip()
        assert not ex.read_after or ex.read_after in ex.prompt
        if skill.format == "choice":
            assert ex.choices and ex.target not in ex.choices
        else:
            assert not ex.choices


# ---------------------------------------------------------------- label oracles on the input
_SINGULAR = {s for s, _ in NOUNS}
_TOY_GROUP = {w: i // 6 for i, pair in enumerate(NOUNS) for w in pair}
_TOY_PLURAL = dict(NOUNS)


def _toy_depth(prompt: str) -> int:
    return sum(+1 if t in "([" else -1 for t in prompt.split()) - 1


def _toy_input(ex: Example) -> str:
    """A toy v4 query's input without its task marker words ('plural cat ->' -> 'cat')."""
    words = _icl_input(ex).split()
    assert words[0] in TASK_MARKERS.values(), ex.prompt
    while words[0] in TASK_MARKERS.values():
        words.pop(0)
    return " ".join(words)


def _toy_span(ex: Example, plural: bool) -> int:
    """A toy span task: the target is the span (pluralised); the label: its first noun's group."""
    words = _toy_input(ex).split()
    assert ex.target == " ".join(_TOY_PLURAL[w] if plural else w for w in words), ex
    return _TOY_GROUP[words[0]]


_TOY_CATEGORY = {s: NOUN_GROUPS[i // 6] for i, (s, _) in enumerate(NOUNS)}
_TOY_FORMS = {"singular": lambda w: w, "plural": _TOY_PLURAL.get, "category": _TOY_CATEGORY.get}
_TOY_PICK = {"all": slice(None), "middle": slice(1, 2), "last": slice(-1, None)}


def _toy_select(ex: Example, pick: str, form: str) -> int:
    """A toy v4 span task: the target is ``form`` of the picked nouns; the label: the group of
    the first picked noun."""
    words = _toy_input(ex).split()[_TOY_PICK[pick]]
    assert ex.target == " ".join(_TOY_FORMS[form](w) for w in words), ex
    return _TOY_GROUP[words[0]]


def _toy_category(ex: Example) -> int:
    noun = _toy_input(ex)
    assert ex.target == _TOY_CATEGORY[noun]
    return _TOY_GROUP[noun]


def _toy_pet_category(ex: Example) -> int:
    singular = NOUNS[PETS[_toy_input(ex)]][0]
    assert ex.target == _TOY_CATEGORY[singular]
    return _TOY_GROUP[singular]


def _toy_noun(ex: Example) -> int:
    noun = _toy_input(ex)
    assert ex.target == _TOY_PLURAL[noun]
    return _TOY_GROUP[noun]


def _toy_pet(ex: Example, plural: bool) -> int:
    singular, pl = NOUNS[PETS[_toy_input(ex)]]
    assert ex.target == (pl if plural else singular)
    return _TOY_GROUP[singular]


_V5_MAPS = {"pet": PETS, "gift": GIFTS, "prize": PRIZES}


def _v5_hop(name: str, word: str) -> str:
    """World v5: one item map or word form applied to a person or a singular noun."""
    if name in _V5_MAPS:
        return NOUNS[_V5_MAPS[name][word]][0]
    if name == "plural":
        return _TOY_PLURAL[word]
    if name == "category":
        return _TOY_CATEGORY[word]
    index = [s for s, _ in NOUNS].index(word)
    return NOUNS[NOUN_MAPS[name][index]][0]


def _toy_map(ex: Example, name: str) -> int:
    answer = _v5_hop(name, _toy_input(ex))
    assert ex.target == answer, ex
    return _TOY_GROUP[answer]


def _toy_chain(ex: Example, first: str, second: str) -> int:
    """A chain's answer: the first hop, the second task's query on it, the second hop."""
    noun = _v5_hop(first, _toy_input(ex))
    final = _v5_hop(second, noun)
    assert ex.target == f"{noun} {TASK_MARKERS[second]} {noun} -> {final}", ex
    return _TOY_GROUP[noun if second in ("plural", "category") else final]


def _toy_successor(ex: Example) -> int:
    x = int(_toy_input(ex).replace(" ", ""))
    assert ex.target == " ".join(str(x + 1))
    return int(x % 10 == 9)


def _digits(text: str) -> list[int]:
    """The operands of an addition prompt, however it is spelt ('2 7 + 4 5 =', '7 plus 8 is')."""
    return [int("".join(part.split())) for part in re.findall(r"\d[\d ]*\d|\d", text)]


def _countries() -> dict[str, dict[str, str]]:
    path = Path(curriculens.skills.__file__).parent / "builtin" / "data" / "countries.csv"
    with path.open(encoding="utf-8") as f:
        return {row["country"]: row for row in csv.DictReader(f)}


_CONTINENTS = ("europe", "asia", "africa", "americas", "oceania")
_KIND = {  # the word lists of the data file itself, read without the skills' code
    w: kind
    for kind, words in enumerate(
        json.loads((Path(curriculens.skills.__file__).parent / "builtin" / "data" /
                    "core_en_words.json").read_text())["WORDS"].values()
    )
    for w in words
}  # fmt: skip
_STATE_PAIRS = (
    ("open", "closed"),
    ("on", "off"),
    ("full", "empty"),
    ("wet", "dry"),
    ("awake", "asleep"),
    ("alive", "dead"),
    ("right", "wrong"),
)


def _query(prompt: str) -> str:
    return prompt.rsplit(",", 1)[1].split("->")[0].strip()


def _plural_class(word: str, plural: str) -> int:
    """The inflection class, read off how the written plural is spelt from the word."""
    plural = plural.lower()
    if plural == word + "s":
        return 0
    if plural == word + "es":
        return 1
    if word.endswith("y") and word[-2] not in "aeiou" and plural == word[:-1] + "ies":
        return 2
    return 3


def _gerund_class(word: str, gerund: str) -> int:
    """The spelling rule, read off how the written gerund is spelt from the verb."""
    gerund = gerund.lower()
    if word.endswith("e") and gerund == word[:-1] + "ing":
        return 1
    if gerund == word + word[-1] + "ing":
        return 2
    assert gerund == word + "ing", (word, gerund)
    return 0


def _list_next(prompt: str) -> int:
    m = re.fullmatch(r"List: (.*)\. (Again|Reversed): (.*),", prompt)
    words = m.group(1).split(", ")
    answer = words[::-1] if m.group(2) == "Reversed" else words
    written = m.group(3).split(", ")
    assert answer[: len(written)] == written
    return _KIND[answer[len(written)]]


def _ioi(prompt: str) -> int:
    a, b = re.search(r"(\w+) and (\w+)", prompt).groups()
    s = re.search(r", (?:and )?(\w+) (?:gave|handed|sent|passed)", prompt).group(1)
    return int((b if s == a else a) == b)


def _fact(ex: Example) -> int:
    rows = _countries()
    m = re.search(r"whose capital is ([^,]+?)(?:,| is)|^(.+?) is the capital of", ex.prompt)
    if m:  # two hops: the capital names the country
        capital = m.group(1) or m.group(2)
        row = next(r for r in rows.values() if r["capital"] == capital)
        assert ex.target == row["currency"]
    else:
        row = next(r for c, r in rows.items() if re.search(rf"\b{c}\b", ex.prompt))
        assert ex.target == (row["capital"] if "capital" in ex.prompt else row["currency"])
    return _CONTINENTS.index(row["continent"])


def _negation(prompt: str) -> int:
    said = re.search(r"is (not )?(\w+)[,.]", prompt)
    pair = next(p for p in _STATE_PAIRS if said.group(2) in p)
    return pair.index(said.group(2)) ^ int(said.group(1) is not None)


def _icl_input(ex: Example) -> str:
    assert ex.prompt.endswith(" ->") and ex.prompt.count(" -> ") == 0, ex.prompt
    return ex.prompt[: -len(" ->")]


def _icl(ex: Example, pick, upper: bool = False) -> int:
    """A list task: the target is ``pick(words)`` (uppercased); the label: its first word's kind."""
    words = _icl_input(ex).split()
    said = pick(words)
    assert ex.target == " ".join(w.upper() if upper else w for w in said), ex
    return _KIND[said[0]]


def _icl_country(ex: Example, field: str, upper: bool = False) -> int:
    row = _countries()[_icl_input(ex)]
    assert ex.target == (row[field].upper() if upper else row[field])
    return _CONTINENTS.index(row["continent"])


def _icl_antonym(ex: Example) -> int:
    from curriculens.skills.builtin.core_en_icl import ANTONYMS

    word = _icl_input(ex)
    pair = next(p for p in ANTONYMS if word in p)
    assert ex.target == pair[1 - pair.index(word)]
    return pair.index(word)


def _icl_add(ex: Example) -> int:
    assert ex.prompt.endswith(" =") and ex.prompt.count("=") == 1
    a, b = _digits(ex.prompt)
    assert ex.target == str(a + b)
    return int(a + b >= 10)


ORACLES = {
    "agreement": lambda e: int(e.prompt.split()[1] not in _SINGULAR),
    "agreement_attractor": lambda e: int(e.prompt.split()[1] not in _SINGULAR),
    "brackets": lambda e: min(_toy_depth(e.prompt), 1),  # depth1, depth2+
    "facts": lambda e: CITIES.index(FACTS[e.prompt.split()[0]]),
    "add1": lambda e: int(sum(_digits(e.prompt)) >= 10),
    "add2": lambda e: sum(_digits(e.prompt)) // 10 % 2,  # parity of the answer's tens digit
    "plural": _toy_noun,
    "copy": lambda e: _toy_span(e, plural=False),
    "pet": lambda e: _toy_pet(e, plural=False),
    "successor": _toy_successor,
    "copy_plural": lambda e: _toy_span(e, plural=True),
    "pet_plural": lambda e: _toy_pet(e, plural=True),
    "category": _toy_category,
    "middle": lambda e: _toy_select(e, "middle", "singular"),
    "last": lambda e: _toy_select(e, "last", "singular"),
    "copy_category": lambda e: _toy_select(e, "all", "category"),
    "middle_plural": lambda e: _toy_select(e, "middle", "plural"),
    "middle_category": lambda e: _toy_select(e, "middle", "category"),
    "last_plural": lambda e: _toy_select(e, "last", "plural"),
    "last_category": lambda e: _toy_select(e, "last", "category"),
    "pet_category": _toy_pet_category,
    **{m: (lambda e, m=m: _toy_map(e, m)) for m in ITEM_MAPS},
    **{c: (lambda e, c=c: _toy_chain(e, *get_skill(c).components)) for c in CHAINS},
    "en_agreement": lambda e: int(e.prompt.split()[1].rstrip(",").endswith("s")),
    "en_agreement_attractor": lambda e: int(e.prompt.split()[1].endswith("s")),
    "en_capital": _fact,
    "en_currency": _fact,
    "en_capital_currency": _fact,
    "en_add1": lambda e: int(sum(x % 10 for x in _digits(e.prompt)) >= 10),
    "en_add2": lambda e: sum(_digits(e.prompt)) // 10 % 2,
    "en_copy": lambda e: _list_next(e.prompt),
    "en_reverse": lambda e: _list_next(e.prompt),
    "en_ioi": lambda e: _ioi(e.prompt),
    "en_plural": lambda e: _plural_class(_query(e.prompt), e.target),
    "en_plural_upper": lambda e: _plural_class(_query(e.prompt), e.target),
    "en_gerund": lambda e: _gerund_class(_query(e.prompt), e.target),
    "en_uppercase": lambda e: _KIND[_query(e.prompt)],
    "en_negation": lambda e: _negation(e.prompt),
    # few-shot (zero-shot queries 'input ->'): the label from the input, the answer checked
    "en_icl_copy": lambda e: _icl(e, lambda w: w),
    "en_icl_reverse": lambda e: _icl(e, lambda w: w[::-1]),
    "en_icl_first": lambda e: _icl(e, lambda w: w[:1]),
    "en_icl_last": lambda e: _icl(e, lambda w: w[-1:]),
    "en_icl_first_upper": lambda e: _icl(e, lambda w: w[:1], upper=True),
    "en_icl_uppercase": lambda e: _icl(e, lambda w: w, upper=True),
    "en_icl_plural": lambda e: _plural_class(_icl_input(e), e.target),
    "en_icl_plural_upper": lambda e: _plural_class(_icl_input(e), e.target),
    "en_icl_gerund": lambda e: _gerund_class(_icl_input(e), e.target),
    "en_icl_gerund_upper": lambda e: _gerund_class(_icl_input(e), e.target),
    "en_icl_capital": lambda e: _icl_country(e, "capital"),
    "en_icl_capital_upper": lambda e: _icl_country(e, "capital", upper=True),
    "en_icl_currency": lambda e: _icl_country(e, "currency"),
    "en_icl_antonym": lambda e: _icl_antonym(e),
    "en_icl_add1": lambda e: _icl_add(e),
}


def test_every_builtin_skill_has_an_oracle():
    assert set(ORACLES) == set(BUILTINS)


@pytest.mark.parametrize("name", BUILTINS)
def test_probe_label_is_recoverable_from_the_prompt(name):
    skill = get_skill(name)
    examples = skill.examples(200, seed=0)
    assert [ORACLES[name](e) for e in examples] == [e.label for e in examples]
    assert len({e.label for e in examples}) >= 2  # a probe needs two classes


@pytest.mark.parametrize("name", ["en_add1", "en_add2", "add1", "add2"])
def test_addition_targets_are_sums(name):
    for e in get_skill(name).examples(50, seed=0):
        assert len(_digits(e.prompt)) == 2
        assert int(e.target.replace(" ", "")) == sum(_digits(e.prompt))


def test_negation_targets_follow_the_premise():
    for e in get_skill("en_negation").examples(100, seed=0):
        said = re.search(r"is (not )?(\w+)[,.]", e.prompt)
        pair = next(p for p in _STATE_PAIRS if said.group(2) in p)
        assert {e.target, *e.choices} == set(pair)
        assert (e.target == said.group(2)) == (said.group(1) is None)
