"""The probe audit: can a skill's probe pass by memorising its training set?

For each skill of a run (or a skill file's items as a sweep would draw them) the audit reports:

- the train/test overlap of prompts and of groups (a leak-free split has none);
- the held-out accuracy of a **prompt-identity adversary**: one random vector per distinct prompt,
  fitted with the sweep's own probe engine on the stored split. It carries nothing but which
  prompt an item is, so above chance it can only be memorising prompts seen in training;
- the control-task accuracy the sweep stored (Hewitt & Liang, one random class per group);
- a verdict, ``ok`` or ``leaky``, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from curriculens.analysis.table import Source, read_items, read_rows, skill_info
from curriculens.errors import StoreError
from curriculens.probes import ProbeTask, fit_probe_tasks

__all__ = ["AuditResult", "audit_items", "audit_run", "TOLERANCE"]

#: How far above chance the adversary may score before a skill counts as leaky (or three
#: standard errors of its mean, when the test split is so small that noise alone reaches 0.05).
TOLERANCE = 0.05
#: Width of the adversary's random prompt vectors, and how many draws are averaged.
_DIM, _DRAWS = 128, 20


@dataclass(frozen=True, kw_only=True)
class AuditResult:
    """The audit of one skill's probe items.

    Attributes:
        skill: Skill name.
        n_train, n_test: Items in each split.
        prompt_overlap: Share of test items whose prompt also occurs in training.
        group_overlap: Share of test items whose group also occurs in training.
        adversary_acc: Held-out accuracy of the prompt-identity adversary (mean of 20 draws).
        chance: Share of the most common class among test items (the best constant guess).
        control_acc: Mean stored control-task accuracy over checkpoints and layers (None when
            the run stored none, or for a skill file).
        verdict: ``ok`` or ``leaky``.
        reason: Why, in one line.
    """

    skill: str
    n_train: int
    n_test: int
    prompt_overlap: float
    group_overlap: float
    adversary_acc: float
    chance: float
    control_acc: float | None
    verdict: str
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def audit_items(
    skill: str,
    prompts: Sequence[str],
    groups: Sequence[str],
    labels: Sequence[int],
    train: Sequence[bool],
    *,
    control_acc: float | None = None,
    seed: int = 0,
) -> AuditResult:
    """Audit one skill's items (prompt, group, label, train mask per item).

    >>> r = audit_items("t", ["a", "b"] * 20, ["a", "b"] * 20, [0, 1] * 20, [True, False] * 20)
    >>> r.verdict, r.prompt_overlap
    ('ok', 0.0)
    """
    prompts = np.asarray(prompts, dtype=object).astype(str)
    groups = np.asarray(groups, dtype=object).astype(str)
    labels = np.asarray(labels, dtype=np.int64)
    train = np.asarray(train, dtype=bool)
    test = ~train
    n_train, n_test = int(train.sum()), int(test.sum())
    if n_train == 0 or n_test == 0:
        return AuditResult(
            skill=skill,
            n_train=n_train,
            n_test=n_test,
            prompt_overlap=float("nan"),
            group_overlap=float("nan"),
            adversary_acc=float("nan"),
            chance=float("nan"),
            control_acc=control_acc,
            verdict="leaky",
            reason=f"no {'training' if n_train == 0 else 'held-out'} items: nothing is tested",
        )
    prompt_overlap = float(np.isin(prompts[test], prompts[train]).mean())
    group_overlap = float(np.isin(groups[test], groups[train]).mean())
    chance = float(np.bincount(labels[test]).max() / n_test)
    adversary = _adversary(prompts, labels, train, seed)
    reasons = []
    if prompt_overlap > 0:
        reasons.append(f"{prompt_overlap:.0%} of test prompts occur in training")
    if group_overlap > 0:
        reasons.append(f"{group_overlap:.0%} of test groups occur in training")
    # on unseen prompts the adversary's guesses are independent of the labels: its mean over
    # the draws scatters around at most `chance` with this standard error
    noise = 3 * np.sqrt(chance * (1 - chance) / (n_test * _DRAWS))
    if adversary > chance + max(TOLERANCE, noise):
        reasons.append(
            f"a prompt-identity adversary scores {adversary:.2f} held out "
            f"(chance {chance:.2f}): the probe can pass by memorising prompts"
        )
    ok = not reasons
    return AuditResult(
        skill=skill,
        n_train=n_train,
        n_test=n_test,
        prompt_overlap=prompt_overlap,
        group_overlap=group_overlap,
        adversary_acc=adversary,
        chance=chance,
        control_acc=control_acc,
        verdict="ok" if ok else "leaky",
        reason=(
            f"disjoint splits; the prompt-identity adversary scores {adversary:.2f} "
            f"(chance {chance:.2f})"
        )
        if ok
        else "; ".join(reasons),
    )


def _adversary(prompts: np.ndarray, labels: np.ndarray, train: np.ndarray, seed: int) -> float:
    """Mean held-out accuracy of probes on one random vector per distinct prompt."""
    uniq, inverse = np.unique(prompts, return_inverse=True)
    tasks = []
    for draw in range(_DRAWS):
        rng = np.random.default_rng([seed, 104729, draw])
        vectors = rng.standard_normal((uniq.size, _DIM)).astype(np.float32)
        tasks.append(ProbeTask(X=vectors[inverse], y=labels, train=train, key=draw))
    accs = [r.acc for r in fit_probe_tasks(tasks, seed=seed) if r.failure is None]
    return float(np.mean(accs)) if accs else float("nan")


def audit_run(source: Source, *, skills: Sequence[str] | None = None) -> dict[str, AuditResult]:
    """Audit every probed skill of a run from its stored items (the run's current settings).

    A store that holds several runs (the seeds of ``demo --seeds K``) keeps one split per run;
    each run is audited on its own split, and a skill's result is its worst run's.

    Skills swept without a probe (``probed=False``) are left out unless named in ``skills``.

    Raises:
        StoreError: when the run stored no probe items (swept before items were kept).
    """
    items = read_items(source)
    if items.empty:
        raise StoreError(
            "This run stored no probe items (it was swept before curriculens kept them), so "
            "its splits cannot be audited. Re-run the sweep into a new directory."
        )
    if skills is None:
        stored = list(dict.fromkeys(items["skill"]))
        info = skill_info(source, stored)
        names = [n for n in stored if info.get(n, {}).get("probed", True)]
    else:
        names = list(skills)
    controls = pd.DataFrame(read_rows(source, kind="control"), columns=["run", "skill", "value"])
    out = {}
    for name in names:
        mine = items[items["skill"] == name]
        if mine.empty:
            raise StoreError(
                f"No probe items for skill '{name}' in this run; it holds "
                f"{', '.join(dict.fromkeys(items['skill']))}."
            )
        # each run (seed) has its own split: audit them apart, and report the worst
        per_run = []
        for run, theirs in mine.groupby("run", sort=True):
            theirs = theirs.sort_values("item")
            ctrl = controls.loc[
                (controls["skill"] == name) & (controls["run"] == run), "value"
            ].dropna()
            per_run.append(
                audit_items(
                    name,
                    theirs["prompt"].to_numpy(),
                    theirs["group"].to_numpy(),
                    theirs["label"].to_numpy(),
                    (theirs["split"] == "train").to_numpy(),
                    control_acc=float(ctrl.mean()) if len(ctrl) else None,
                )
            )
        out[name] = max(per_run, key=_leakiness)
    return out


def _leakiness(r: AuditResult) -> tuple:
    """Sort key of the worst audit among runs: leaky first, then overlap, then adversary gain."""
    return (r.verdict == "leaky", r.prompt_overlap + r.group_overlap, r.adversary_acc - r.chance)
