"""Probe targets of the built-in skills: groups, group splits, read positions, stated probes, pools.

A probe number is evidence only if the probe cannot pass by memorising items or by reading a
token whose identity gives the label away. These tests hold every built-in skill to that: each
example names its group, a split by group puts every label on both sides, the read token and
the prompt's bag of tokens do not give the label on held-out groups, and what each docstring
claims about its probe and its pool of items is true. Each check is also shown to fail on a
planted skill that has the defect.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from curriculens.probes.linear import LinearProbe
from curriculens.probes.splits import draw_items
from curriculens.skills import get_skill
from curriculens.skills.builtin._register import probe_paragraph
from curriculens.skills.builtin.core_en import CORE_EN_SKILLS
from curriculens.skills.builtin.toy import CHAINS, TOY_SKILLS
from curriculens.skills.builtin.toy_words import NOUN_MAPS
from curriculens.skills.registry import Skill, resolve_read_position

BUILTINS = TOY_SKILLS + CORE_EN_SKILLS
PROBED = tuple(n for n in BUILTINS if get_skill(n).probed)
#: Skills whose label varies inside a group (the subject's number with the subject's lemma as
#: group; the indirect object's position with the name pair; the answer's state with the noun).
#: Every other built-in's label is a function of its group.
BOTH_LABELS_PER_GROUP = frozenset(
    {
        "agreement",
        "agreement_attractor",
        "en_agreement",
        "en_agreement_attractor",
        "en_ioi",
        "en_negation",
    }
)
#: How far above the majority class a shortcut may score before the target counts as given away.
READ_TOKEN_MARGIN = 0.05
BAG_MARGIN = 0.10


def _tokenizers(request, skill: Skill) -> list:
    """The toy tokenizer for toy skills; a byte-level BPE and a metaspace one for core-en."""
    names = ["toy_tokenizer"] if skill.suite == "toy" else ["bpe_tokenizer", "metaspace_tokenizer"]
    return [request.getfixturevalue(n) for n in names]


@pytest.fixture(scope="module")
def word_tokenizer():
    """Whole-word tokens for core-en prompts, as most English words are in a 50k vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = set()
    for name in CORE_EN_SKILLS:
        for ex in get_skill(name).examples(3000, seed=0):
            words.update(re.findall(r"\w+|[^\w\s]+", ex.prompt))
    vocab = {w: i for i, w in enumerate(["<unk>", *sorted(words)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>")


def _whole_words(request, skill: Skill):
    return request.getfixturevalue("toy_tokenizer" if skill.suite == "toy" else "word_tokenizer")


# ---------------------------------------------------------------- groups
@pytest.mark.parametrize("name", BUILTINS)
def test_every_example_names_its_group(name):
    for ex in get_skill(name).examples(300, seed=0):
        assert ex.group and ex.group == ex.group.strip() and ex.group_key == ex.group, ex


@pytest.mark.parametrize("name", BUILTINS)
def test_label_is_a_function_of_the_group_where_claimed(name):
    skill = get_skill(name)
    labels = defaultdict(set)
    for ex in skill.examples(4000, seed=1):
        labels[ex.group].add(ex.label)
    per_group = {len(v) for v in labels.values()}
    if name in BOTH_LABELS_PER_GROUP:
        assert per_group == {skill.n_classes}, f"{name}: a group lacks a label"
    else:
        assert per_group == {1}, f"{name}: a group has more than one label"


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("seed", [0, 1])
def test_a_group_split_puts_every_label_on_both_sides(name, seed):
    skill = get_skill(name)
    items = draw_items(skill, 300, seed=seed, train_frac=0.7)
    train, test = items.train, ~items.train
    assert not set(items.groups[train]) & set(items.groups[test])
    prompts = np.array([e.text_key for e in items.examples])
    assert not set(prompts[train]) & set(prompts[test])
    every = set(range(skill.n_classes))
    assert set(items.labels[train]) == set(items.labels[test]) == every, name
    groups_per_label = Counter(lab for g, lab in set(zip(items.groups, items.labels, strict=True)))
    assert min(groups_per_label.values()) >= 2, (name, groups_per_label)


# ---------------------------------------------------------------- stated probes
@pytest.mark.parametrize("name", BUILTINS)
def test_every_skill_states_its_probe_or_why_it_has_none(name):
    skill = get_skill(name)
    assert (skill.probed, skill.probe) == probe_paragraph(skill.build.__doc__)
    assert len(skill.probe) > 80  # a statement, not a label name
    if skill.probed:
        assert "read at" in skill.probe, "say where the probe reads"
        assert "group" in skill.probe.lower(), "say why a split by group leaves no shortcut"
    else:
        assert "only stratifies the split" in skill.probe, "say what the unprobed label is for"


def test_probed_and_unprobed_skills():
    unprobed = {n for n in BUILTINS if not get_skill(n).probed}
    icl = {"copy", "reverse", "first", "last", "uppercase", "antonym", "add1", "first_upper"}
    toy_spans = {f"{a}_{b}" for a in ("copy", "middle", "last") for b in ("plural", "category")}
    assert unprobed == {
        "agreement",  # toy v4: its probe was lexical (the subject noun's own number)
        "brackets",
        "add1",
        "plural",
        "category",
        "copy",
        "middle",
        "last",
        "successor",
        *toy_spans,
        *NOUN_MAPS,  # toy v5: the answer's group is a property of the query noun
        *CHAINS,  # toy v5: the read token comes before the chain's first hop
        "en_add1",
        "en_uppercase",
        *(f"en_icl_{n}" for n in icl),
    }
    assert len(PROBED) == len(BUILTINS) - len(unprobed)


# ---------------------------------------------------------------- shortcuts
def read_token_gain(skill: Skill, tokenizer, n: int = 8000) -> float:
    """Accuracy of the best rule 'read token -> label' over the majority class (in sample).

    An in-sample rule is an upper bound on what the read token's identity alone can tell.
    """
    examples = skill.examples(n, seed=2)
    by_token: dict[int, Counter] = defaultdict(Counter)
    for ex in examples:
        ids, pos = resolve_read_position(tokenizer, ex)
        by_token[ids[pos]][ex.label] += 1
    best = sum(max(c.values()) for c in by_token.values())
    majority = max(Counter(ex.label for ex in examples).values())
    return (best - majority) / len(examples)


def bag_gain(skill: Skill, tokenizer, seeds=(0, 1, 2)) -> float:
    """Held-out accuracy of a linear probe on the prompt's token counts, over the majority class.

    Items, group split and held-out groups are the sweep's own (``draw_items``); the bag holds
    the tokens up to the read position, all that a causal model can have mixed there.
    """
    gains = []
    for seed in seeds:
        items = draw_items(skill, 300, seed=seed, train_frac=0.7)
        rows = []
        for ex in items.examples:
            ids, pos = resolve_read_position(tokenizer, ex)
            rows.append(ids[: pos + 1])
        vocab = {t: i for i, t in enumerate(sorted({t for r in rows for t in r}))}
        X = np.zeros((items.n, len(vocab)))
        for i, r in enumerate(rows):
            for t in r:
                X[i, vocab[t]] += 1
        y, tr = items.labels, items.train
        probe = LinearProbe(C=1.0).fit(X[tr], y[tr])
        majority = np.mean(y[~tr] == np.bincount(y[tr]).argmax())
        gains.append(probe.score(X[~tr], y[~tr]) - majority)
    return float(np.mean(gains))


@pytest.mark.parametrize("name", PROBED)
def test_the_read_token_does_not_give_the_label(request, name):
    skill = get_skill(name)
    for tokenizer in _tokenizers(request, skill):
        assert read_token_gain(skill, tokenizer) <= READ_TOKEN_MARGIN


@pytest.mark.parametrize("name", PROBED)
def test_the_prompts_words_do_not_give_the_label_on_held_out_groups(request, name):
    skill = get_skill(name)
    assert bag_gain(skill, _whole_words(request, skill)) <= BAG_MARGIN


@pytest.mark.parametrize("name", [n for n in PROBED if n in CORE_EN_SKILLS])
def test_a_shortcut_through_word_pieces_is_stated(bpe_tokenizer, name):
    """Where a small BPE's pieces (a plural '-s', a word's ending) give the label, say so."""
    skill = get_skill(name)
    if bag_gain(skill, bpe_tokenizer) > BAG_MARGIN:
        assert "split" in skill.probe and "random-init probe" in skill.probe, name


def _relabel(name: str, **change) -> Skill:
    """A copy of a built-in skill whose examples are changed by ``change[field](example)``."""
    skill = get_skill(name)

    def build(rng, n):
        out = skill.build(rng, n)
        return [dataclasses.replace(e, **{k: f(e) for k, f in change.items()}) for e in out]

    return dataclasses.replace(skill, name=f"planted_{name}", build=build)


def test_the_read_token_check_catches_a_probe_read_at_the_noun(toy_tokenizer):
    at_noun = _relabel("agreement", read_at=lambda e: 1)  # 'the dogs often': the noun
    assert read_token_gain(at_noun, toy_tokenizer) > 0.4


@pytest.mark.parametrize(
    ("name", "old_label"),
    [
        ("en_negation", lambda e: int(" not " in e.prompt)),  # whether 'not' is present
        ("add2", lambda e: int(sum(int(x[-1]) for x in e.prompt[:-2].split(" + ")) >= 10)),
    ],
)
def test_the_bag_check_catches_lexical_and_additive_labels(request, name, old_label):
    """The old negation label ('not' present) and the carry bit pass a bag of tokens."""
    planted = _relabel(name, label=old_label)
    assert bag_gain(planted, _whole_words(request, planted)) > BAG_MARGIN


# ---------------------------------------------------------------- pools
def _items_paragraph(skill: Skill) -> str:
    doc = (skill.build.__doc__ or "").split("Items:", 1)
    assert len(doc) == 2, f"{skill.name}: the docstring has no 'Items:' paragraph"
    return " ".join(doc[1].split("\n\n")[0].split())


@pytest.mark.parametrize("name", BUILTINS)
def test_the_items_paragraph_is_true(name):
    """'N prompts in G groups' is the pool; a sweep of 300 finds min(N, 300) distinct items."""
    skill = get_skill(name)
    text = _items_paragraph(skill)
    pool = skill.examples(8000, seed=1)
    n_items = len({(e.text_key, e.group_key) for e in pool})
    n_groups = len({e.group_key for e in pool})
    stated = re.search(r"(\d+) prompts in (\d+) groups", text)
    groups = re.search(r"in (\d+) groups", text)
    if stated and int(stated.group(1)) <= 1000:  # 8000 draws find every item of such a pool
        assert n_items == int(stated.group(1)), (name, n_items, text)
    if groups and int(groups.group(1)) <= 100:
        assert n_groups == int(groups.group(1)), (name, n_groups, text)
    items = draw_items(skill, 300, seed=0)
    if stated and int(stated.group(1)) < 300 and skill.shots:  # each query, several demo sets
        sets = 300 // int(stated.group(1))
        assert (items.n, items.exhausted) == (sets * int(stated.group(1)), True)
        assert f"{sets} demonstration sets ({items.n} items)" in text
    elif stated and int(stated.group(1)) < 300:
        assert (items.n, items.exhausted) == (int(stated.group(1)), True)
        assert f"uses {items.n}" in text
    else:
        assert (items.n, items.exhausted) == (300, False), name


def test_a_toy_agreement_document_matches_its_evaluation_template():
    from curriculens.skills.builtin.toy import ADVERBS

    rng = np.random.default_rng(0)
    skill = get_skill("agreement")
    for _ in range(50):
        doc = skill.document(rng)
        assert doc.endswith(" .")
        sentences = doc[: -len(" .")].split(" . ")  # 3-6 sentences a document
        assert 3 <= len(sentences) <= 6
        for sentence in sentences:
            words = sentence.split()
            assert words[0] == "the"
            assert 1 <= len(words[2:-1]) <= 2 and set(words[2:-1]) <= set(ADVERBS)
