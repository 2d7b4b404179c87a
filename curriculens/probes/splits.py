"""Leak-free probe items: distinct examples, a train/test split by group, controls keyed on group.

A probe result means something only if the probe cannot pass by memorising its training set. So
every skill's items are drawn without repeating an item, split so that no test group (the entity
that determines the label: a noun, a country, an operand pair) occurs in training, and given
Hewitt & Liang control labels that are one random class per group. Every checkpoint of a sweep
gets the same items, split and controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curriculens.errors import ConfigError, SkillError
from curriculens.probes.controls import control_labels
from curriculens.skills.fewshot import render_k_shot
from curriculens.skills.registry import Example, Skill

__all__ = ["ItemSet", "draw_items", "split_by_group", "SPLIT_VERSION"]

#: Bump when the draw, the split or the control labelling changes, so stored units are redone.
SPLIT_VERSION = 1
#: Fewest items a probe can be fitted and tested on.
MIN_ITEMS = 20
#: Draw rounds in a row that find nothing new before a pool counts as exhausted.
_STALL_ROUNDS = 4


@dataclass(frozen=True)
class ItemSet:
    """The probe items of one skill: what every checkpoint's probe trains and tests on.

    Attributes:
        skill: The skill's name.
        examples: The distinct examples, in draw order.
        groups: Each item's group key ``[n]`` (:attr:`Example.group_key`).
        labels: Probe labels ``[n]``.
        train: True where the item is in the training split ``[n]``.
        control: Control labels ``[n]``: one random class per group, drawn from the label
            distribution.
        requested: How many examples were asked for.
        exhausted: True when the skill ran out of distinct items before ``requested``.
        demos: Per item, the indices into ``queries`` of its demonstrations (a few-shot
            skill's k-shot prompt; every one a training query of another group), else empty.
        queries: A few-shot skill's distinct zero-shot queries, split by group like the items;
            each is shown with one or more demonstration sets (else empty).
        query: Per item, the index of its query in ``queries`` ``[n]`` (None: not few-shot).
    """

    skill: str
    examples: tuple[Example, ...]
    groups: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    control: np.ndarray
    requested: int
    exhausted: bool
    demos: tuple[tuple[int, ...], ...] = ()
    queries: tuple[Example, ...] = ()
    query: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.examples)

    @property
    def n_groups(self) -> int:
        return int(np.unique(self.groups).size)

    @property
    def split(self) -> np.ndarray:
        """``'train'`` or ``'test'`` per item."""
        return np.where(self.train, "train", "test")

    def shortfall(self) -> str:
        """One line when fewer items were found than asked for, else ``''``."""
        if not self.exhausted:
            return ""
        if self.queries:
            return (
                f"{self.skill}: only {len(self.queries)} distinct queries ({self.n_groups} "
                f"groups) for the {self.requested} examples asked; using each with "
                f"{self.n // len(self.queries)} demonstration sets ({self.n} items), "
                f"{int((~self.train).sum())} of them held out (queries are never repeated)"
            )
        return (
            f"{self.skill}: only {self.n} distinct items ({self.n_groups} groups) for the "
            f"{self.requested} examples asked; using {self.n}, {int((~self.train).sum())} of "
            "them held out (items are never repeated)"
        )


def draw_distinct(skill: Skill, n: int, seed: int) -> tuple[list[Example], bool]:
    """Up to ``n`` examples of ``skill`` with no item twice; and whether its pool ran out.

    Two examples are the same item when they share prompt (or minimal-pair sentences) and group.
    Examples are drawn in rounds of ``n`` from the skill's seeded generator until ``n`` distinct
    ones are found or several rounds in a row find nothing new.
    """
    out: list[Example] = []
    seen: set[tuple[str, str]] = set()
    stall, round_ = 0, 0
    while len(out) < n and stall < _STALL_ROUNDS:
        batch = skill.examples(n, seed=seed if round_ == 0 else _round_seed(seed, round_))
        round_ += 1
        before = len(out)
        for ex in batch:
            key = (ex.text_key, ex.group_key)
            if key not in seen:
                seen.add(key)
                out.append(ex)
                if len(out) == n:
                    break
        stall = stall + 1 if len(out) == before else 0
    return out, len(out) < n


def _round_seed(seed: int, round_: int) -> int:
    return int(np.random.SeedSequence([seed, 7919, round_]).generate_state(1)[0])


def split_by_group(
    groups: np.ndarray, labels: np.ndarray, train_frac: float, seed: int
) -> np.ndarray:
    """Train mask that keeps every group wholly in one split, stratified by the group's label.

    Groups are ordered by their most common label; within each label a seeded shuffle sends
    ``round(train_frac * count)`` groups to training (at least one group to each split when the
    label has two or more groups). The mask depends only on the sorted groups, labels and seed.

    >>> g = np.array(["a", "a", "b", "c", "d"]); y = np.array([0, 0, 0, 1, 1])
    >>> m = split_by_group(g, y, 0.5, seed=0)
    >>> bool(m[0] == m[1]), sorted(set(y[m])) == sorted(set(y[~m])) == [0, 1]
    (True, True)
    """
    groups = np.asarray(groups).astype(str)
    labels = np.asarray(labels)
    uniq, inverse = np.unique(groups, return_inverse=True)
    main_label = np.array([np.bincount(labels[inverse == g]).argmax() for g in range(uniq.size)])
    rng = np.random.default_rng([seed, 5])
    train_group = np.zeros(uniq.size, bool)
    for lab in np.unique(main_label):
        members = np.flatnonzero(main_label == lab)
        members = members[rng.permutation(members.size)]
        k = int(round(train_frac * members.size))
        if members.size >= 2:
            k = min(max(k, 1), members.size - 1)
        train_group[members[:k]] = True
    return train_group[inverse]


def draw_items(skill: Skill, n: int, *, seed: int = 0, train_frac: float = 0.7) -> ItemSet:
    """The leak-free probe items of ``skill``: distinct, split by group, with group controls.

    A few-shot skill's distinct zero-shot queries are drawn and split by group; then each gets
    ``skill.shots`` demonstrations, training queries of other groups
    (:func:`curriculens.skills.fewshot.render_k_shot`), so no test group's pair is ever shown.
    When the skill has fewer queries than ``n``, each is shown with ``n // pool``
    demonstration sets (distinct prompts, all in its query's split).

    Raises:
        ConfigError: when the skill has fewer than 20 distinct items, or fewer than two groups.
    """
    examples, exhausted = draw_distinct(skill, n, seed)
    groups = np.array([e.group_key for e in examples], dtype=object).astype(str)
    n_groups = np.unique(groups).size
    if len(examples) < MIN_ITEMS or n_groups < 2:
        raise ConfigError(
            f"Skill '{skill.name}' has only {len(examples)} distinct items in {n_groups} "
            f"group(s); a probe needs at least {MIN_ITEMS} items in two or more groups, so that "
            "no test item or group is seen in training. Add examples to the skill, or leave it "
            "out of the sweep."
        )
    labels = np.array([e.label for e in examples], dtype=np.int64)
    train = split_by_group(groups, labels, train_frac, seed)
    control = control_labels(groups, y=labels, n_classes=skill.n_classes, seed=seed)
    demos: tuple[tuple[int, ...], ...] = ()
    queries: tuple[Example, ...] = ()
    query = None
    if skill.shots:  # after the split: demonstrations come from training groups only
        # a pool smaller than n shows each query with n // pool demonstration sets
        sets = max(1, n // len(examples)) if exhausted else 1
        try:
            rendered, demos, query = render_k_shot(
                examples, groups, train, skill.shots, seed, skill=skill.name, sets=sets
            )
        except SkillError as e:
            raise ConfigError(str(e)) from None
        queries = tuple(examples)
        examples, groups, labels = rendered, groups[query], labels[query]
        train, control = train[query], control[query]
    return ItemSet(
        skill=skill.name,
        demos=demos,
        queries=queries,
        query=query,
        examples=tuple(examples),
        groups=groups,
        labels=labels,
        train=train,
        control=control,
        requested=n,
        exhausted=exhausted,
    )
