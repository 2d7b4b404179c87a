"""The probe audit: can a skill's probe pass by memorising its training set, or by the words alone?

For each skill of a run (or a skill file's items as a sweep would draw them) the audit reports:

- the train/test overlap of prompts and of groups (a leak-free split has none);
- the test set's chance (the share of its majority class);
- the control-task accuracy the sweep stored (Hewitt & Liang, one random class per group): the
  mean over checkpoints and layers of the mean over the sweep's control draws, and their SD;
- for a run, the ``lexical`` flag of lead/lag (:func:`curriculens.analysis.leadlag
  .lexical_crossing`): a probe on the mean of the prompt's input embeddings reaches the probe's
  crossing level no later than one checkpoint after it, so the probe may read the words alone;
- a verdict, ``ok``, ``leaky`` (the split leaks) or ``lexical`` (the split holds, but the
  lexical baseline keeps up with the probe), with the reason.

Earlier versions fitted a *prompt-identity adversary* (one random vector per distinct prompt).
It is gone: a held-out prompt absent from training gets a vector independent of every training
vector and label, so its prediction is independent of its label and its expected accuracy is at
most the test set's chance; the adversary can only beat chance on test prompts that occur in
training, which is exactly what the prompt-overlap count reports (and flags at any share above
0). It also misses what the overlap misses (near-duplicate prompts get unrelated vectors), so it
never caught anything the overlap count did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from curriculens.analysis.table import Source, read_items, read_rows, skill_info
from curriculens.errors import CurriculensError, StoreError

__all__ = ["AuditResult", "audit_items", "audit_run", "VERDICTS"]

VERDICTS = ("ok", "leaky", "lexical")


@dataclass(frozen=True, kw_only=True)
class AuditResult:
    """The audit of one skill's probe items.

    Attributes:
        skill: Skill name.
        n_train, n_test: Items in each split.
        prompt_overlap: Share of test items whose prompt also occurs in training.
        group_overlap: Share of test items whose group also occurs in training.
        chance: Share of the most common class among test items (the best constant guess).
        control_acc: Mean stored control-task accuracy over checkpoints and layers (each the
            mean over the sweep's control draws; None when the run stored none, or for a skill
            file).
        control_sd: Mean stored SD of the control accuracy over the draws (None: not stored).
        lexical: The lead/lag ``lexical`` flag at the probe's best layer (None: not measured,
            e.g. a skill file, or a run swept before lexical baselines were stored).
        lexical_tokens: Where the lexical baseline reaches the probe's crossing level.
        verdict: ``ok``, ``leaky`` or ``lexical`` (:data:`VERDICTS`).
        reason: Why, in one line.
    """

    skill: str
    n_train: int
    n_test: int
    prompt_overlap: float
    group_overlap: float
    chance: float
    control_acc: float | None
    verdict: str
    reason: str
    control_sd: float | None = None
    lexical: bool | None = None
    lexical_tokens: float | None = None

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
    control_sd: float | None = None,
) -> AuditResult:
    """Audit one skill's split (prompt, group, label, train mask per item).

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
            chance=float("nan"),
            control_acc=control_acc,
            control_sd=control_sd,
            verdict="leaky",
            reason=f"no {'training' if n_train == 0 else 'held-out'} items: nothing is tested",
        )
    prompt_overlap = float(np.isin(prompts[test], prompts[train]).mean())
    group_overlap = float(np.isin(groups[test], groups[train]).mean())
    chance = float(np.bincount(labels[test]).max() / n_test)
    reasons = []
    if prompt_overlap > 0:
        reasons.append(
            f"{prompt_overlap:.0%} of test prompts occur in training: the probe can pass by "
            "memorising prompts"
        )
    if group_overlap > 0:
        reasons.append(f"{group_overlap:.0%} of test groups occur in training")
    ok = not reasons
    return AuditResult(
        skill=skill,
        n_train=n_train,
        n_test=n_test,
        prompt_overlap=prompt_overlap,
        group_overlap=group_overlap,
        chance=chance,
        control_acc=control_acc,
        control_sd=control_sd,
        verdict="ok" if ok else "leaky",
        reason=(
            f"disjoint splits: no test prompt or group occurs in training (chance {chance:.2f})"
        )
        if ok
        else "; ".join(reasons),
    )


def with_lexical(r: AuditResult, flag: bool | None, tokens: float | None) -> AuditResult:
    """``r`` with the lead/lag ``lexical`` flag; an ``ok`` split with the flag becomes
    ``lexical`` (a ``leaky`` one stays leaky: the leak comes first)."""
    from dataclasses import replace

    if flag is None:
        return r
    out = replace(r, lexical=flag, lexical_tokens=tokens)
    if flag and r.verdict == "ok":
        at = "" if tokens is None else f" by {tokens:,.0f} tokens"
        out = replace(
            out,
            verdict="lexical",
            reason=(
                f"{r.reason}; but a probe on the prompt's mean input embeddings reaches the "
                f"probe's crossing level{at}, within one checkpoint of the probe: it may read "
                "the words alone"
            ),
        )
    return out


def audit_run(
    source: Source,
    *,
    skills: Sequence[str] | None = None,
    leads: Sequence | None = None,
    n_boot: int = 200,
    lexical: bool = True,
) -> dict[str, AuditResult]:
    """Audit every probed skill of a run from its stored items (the run's current settings).

    A store that holds several runs (the seeds of ``demo --seeds K``) keeps one split per run;
    each run is audited on its own split, and a skill's result is its worst run's.

    Skills swept without a probe (``probed=False``) are left out unless named in ``skills``.

    The ``lexical`` flag comes from ``leads`` (the run's :func:`~curriculens.analysis.leadlag
    .lead_lag` results, as the report has them), else from a lead/lag with ``n_boot`` resamples
    and the default criterion; a skill lead/lag cannot read (no behavior, no lexical baseline)
    keeps ``lexical=None``. ``lexical=False`` audits the splits alone (the sweep's check).

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
    cols = ["run", "skill", "metric", "value"]
    controls = pd.DataFrame(read_rows(source, kind="control", metric="control_acc"), columns=cols)
    sds = pd.DataFrame(read_rows(source, kind="baseline", metric="control_sd"), columns=cols)
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
            sd = sds.loc[(sds["skill"] == name) & (sds["run"] == run), "value"].dropna()
            per_run.append(
                audit_items(
                    name,
                    theirs["prompt"].to_numpy(),
                    theirs["group"].to_numpy(),
                    theirs["label"].to_numpy(),
                    (theirs["split"] == "train").to_numpy(),
                    control_acc=float(ctrl.mean()) if len(ctrl) else None,
                    control_sd=float(sd.mean()) if len(sd) else None,
                )
            )
        out[name] = max(per_run, key=_leakiness)
    if not lexical:
        return out
    flags = _lexical_flags(source, [n for n in names if out[n].verdict == "ok"], leads, n_boot)
    return {n: with_lexical(r, *flags.get(n, (None, None))) for n, r in out.items()}


def _lexical_flags(source, names: Sequence[str], leads, n_boot: int) -> dict:
    """``{skill: (lexical, tokens)}`` from ``leads``, else from a lead/lag of the run."""
    if leads is None and names:
        from curriculens.analysis.leadlag import lead_lag

        try:
            leads = lead_lag(source, skills=list(names), n_boot=n_boot)
        except CurriculensError:
            leads = []
            for name in names:  # one at a time: a skill lead/lag cannot read stays unflagged
                try:
                    leads += lead_lag(source, skills=[name], n_boot=n_boot)
                except CurriculensError:
                    continue
    return {r.skill: (r.lexical, r.lexical_tokens) for r in leads or ()}


def _leakiness(r: AuditResult) -> tuple:
    """Sort key of the worst audit among runs: leaky first, then the overlap."""
    return (r.verdict == "leaky", r.prompt_overlap + r.group_overlap)
