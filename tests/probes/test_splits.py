"""Leak-free probe items: distinct draws, a split by group, controls keyed on group."""

from __future__ import annotations

import numpy as np
import pytest

from curriculens.errors import ConfigError
from curriculens.probes.controls import control_labels
from curriculens.probes.splits import draw_distinct, draw_items, split_by_group
from curriculens.skills.registry import Example, Skill


def _skill(pool: int, *, groups_of: int = 1, n_classes: int = 2, name: str = "pool") -> Skill:
    """A skill drawing with replacement from ``pool`` prompts, ``groups_of`` prompts a group."""

    def build(rng, n):
        idx = rng.integers(0, pool, n)
        return [
            Example(
                prompt=f"item {i} is",
                target="x",
                label=int(i // groups_of) % n_classes,
                group=f"g{i // groups_of}",
            )
            for i in idx
        ]

    return Skill(
        name=name,
        version=1,
        family="t",
        format="continuation",
        build=build,
        label_names=tuple(f"c{k}" for k in range(n_classes)),
    )


def test_draws_never_repeat_an_item_and_report_a_small_pool():
    many, exhausted = draw_distinct(_skill(10_000), 300, seed=0)
    assert len(many) == 300 and not exhausted
    assert len({e.prompt for e in many}) == 300
    few, exhausted = draw_distinct(_skill(48), 300, seed=0)
    assert exhausted and len(few) == 48 == len({e.prompt for e in few})


def test_items_are_deterministic_and_split_by_group():
    skill = _skill(600, groups_of=3)
    a = draw_items(skill, 300, seed=3, train_frac=0.7)
    b = draw_items(skill, 300, seed=3, train_frac=0.7)
    assert [e.prompt for e in a.examples] == [e.prompt for e in b.examples]
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.control, b.control)
    train_groups, test_groups = set(a.groups[a.train]), set(a.groups[~a.train])
    assert train_groups and test_groups and not train_groups & test_groups
    prompts = np.array([e.prompt for e in a.examples])
    assert not set(prompts[a.train]) & set(prompts[~a.train])
    assert set(a.labels[a.train]) == set(a.labels[~a.train]) == {0, 1}
    assert 0.6 < a.train.mean() < 0.8


def test_a_label_with_two_groups_lands_in_both_splits():
    groups = np.array(["a", "a", "b", "c", "d", "e", "f"])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])  # label 1: groups a and b only
    train = split_by_group(groups, labels, 0.9, seed=0)
    assert set(labels[train]) == set(labels[~train]) == {0, 1}
    assert train[0] == train[1]


def test_control_label_is_one_class_per_group_drawn_from_the_label_distribution():
    skill = _skill(6_000, groups_of=2, n_classes=3)
    items = draw_items(skill, 3000, seed=0)
    per_group: dict[str, set[int]] = {}
    for g, c in zip(items.groups, items.control, strict=True):
        per_group.setdefault(g, set()).add(int(c))
    assert all(len(v) == 1 for v in per_group.values())
    # skewed labels: the control classes follow the label shares, not a uniform draw
    groups = np.arange(4000).astype(str)
    y = np.where(np.arange(4000) < 3600, 0, 1)
    share = (control_labels(groups, y=y, n_classes=2, seed=1) == 0).mean()
    assert 0.87 < share < 0.93
    # a class that never occurs is never drawn, even when a later class does occur
    c = control_labels(groups, y=np.where(np.arange(4000) % 2 == 0, 0, 2), n_classes=3, seed=1)
    assert set(np.unique(c)) == {0, 2}


def test_too_few_items_is_an_error_with_numbers():
    with pytest.raises(ConfigError, match=r"only 12 distinct items in 12 group\(s\)"):
        draw_items(_skill(12), 300)
    with pytest.raises(ConfigError, match=r"in 1 group\(s\)"):
        draw_items(_skill(50, groups_of=100), 40)


def test_shortfall_says_how_many_items_are_used():
    items = draw_items(_skill(48), 300, seed=0)
    assert items.n == 48 and items.exhausted
    assert items.shortfall().startswith("pool: only 48 distinct items (48 groups) for the 300")
    assert draw_items(_skill(1000), 100).shortfall() == ""
