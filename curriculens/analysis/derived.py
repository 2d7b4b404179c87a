"""Derived tables of a run as tidy DataFrames: emergence, lead/lag and order consistency.

Each is one row per result, computed by the same functions the ``emergence`` command and the
report use (one criterion, printed beside the numbers in a ``criterion`` column), so
``curriculens export --what emergence|leadlag|consistency`` writes exactly what they show.
"""

from __future__ import annotations

import pandas as pd

from curriculens.analysis.consistency import rank_consistency
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.emergence import behavior_emergence
from curriculens.analysis.leadlag import DEFAULT_CRITERION, lead_lag
from curriculens.errors import ConfigError
from curriculens.params import check, flag

#: What ``export --what`` can write besides the scores and items tables.
DERIVED = ("emergence", "leadlag", "consistency")


def emergence_frame(
    source, *, criterion: Criterion | str = "paper", n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Behavior emergence of every skill of every run in ``source``, one row per (run, skill).

    Columns: run, skill, state (``emerged``, ``present_at_init``, ``not_emerged``), tokens (the
    point; empty unless emerged or present at init), lo, hi (the criterion's interval, smoothed
    when it smooths; it holds the point; open ends empty), raw_lo, raw_hi (the same criterion
    on the raw curve and the same resamples: the interval that holds the observed crossing),
    censored, n_boot, resampling (``groups``, ``items``, ``binomial``, ``none``), criterion and
    its description.

    >>> emergence_frame("runs/demo").columns[:4].tolist()  # doctest: +SKIP
    ['run', 'skill', 'state', 'tokens']
    """
    crit = Criterion.preset(criterion) if isinstance(criterion, str) else criterion
    cis = behavior_emergence(source, criterion=crit, n_boot=n_boot, seed=seed)
    rows = [
        {
            "run": run,
            "skill": skill,
            "state": ci.state,
            "tokens": ci.point,
            "lo": ci.lo,
            "hi": ci.hi,
            "raw_lo": ci.raw_lo,
            "raw_hi": ci.raw_hi,
            "censored": ci.censored,
            "n_boot": ci.n_boot,
            "resampling": ci.resampling,
            "criterion": crit.name,
            "criterion_description": crit.describe(),
        }
        for run, per in cis.items()
        for skill, ci in per.items()
        if not (crit.drop_flat and ci.flat)
    ]
    return pd.DataFrame(rows, columns=_EMERGENCE_COLUMNS)


_EMERGENCE_COLUMNS = [
    "run", "skill", "state", "tokens", "lo", "hi", "raw_lo", "raw_hi", "censored", "n_boot",
    "resampling", "criterion", "criterion_description",
]  # fmt: skip


def leadlag_frame(
    source,
    *,
    criterion: Criterion | str = DEFAULT_CRITERION,
    n_boot: int = 1000,
    seed: int = 0,
    margin_log10: float | None = None,
) -> pd.DataFrame:
    """Lead/lag of probe selectivity over behavior, one row per (run, skill): the verdict, the
    lead in log10 tokens with its interval, both states and points, the best layer and hook,
    the Holm-corrected p-values and the equivalence margin, the criterion of each column
    (``behavior_criterion``, ``probe_criterion``; one criterion for both), the behavior metric,
    the resamples and their kind (``resampling``).

    Args:
        margin_log10: Equivalence margin in log10 tokens (default: one checkpoint gap).
    """
    crit = Criterion.preset(criterion) if isinstance(criterion, str) else criterion
    check("margin_log10", margin_log10)
    runs = list(behavior_emergence(source, criterion=crit, n_boot=0))
    rows = []
    for run in runs:
        found = lead_lag(
            source, run=run, criterion=crit, n_boot=n_boot, seed=seed, margin_log10=margin_log10
        )
        for r in found:
            rows.append(
                {"run": run, "skill": r.skill, **r.to_json(), "hook": r.hook}
                | {"behavior_metric": r.behavior_metric, "n_boot": r.n_boot}
                | {"criterion": crit.name, "criterion_description": crit.describe()}
            )
    return pd.DataFrame(rows)


def consistency_frame(
    source,
    *,
    criterion: Criterion | str = "paper",
    tasks: str = "common",
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement of the emergence orders of every pair of runs in ``source`` (e.g. the seeds of
    ``demo --seeds K``), one row per pair: Spearman and Kendall over the shared skills, the
    same over the skills both saw emerge, the permutation null and the bootstrap interval.

    Raises:
        ConfigError: ``source`` holds fewer than two runs.
    """
    crit = Criterion.preset(criterion) if isinstance(criterion, str) else criterion
    cis = behavior_emergence(source, criterion=crit, n_boot=0)
    if len(cis) < 2:
        raise ConfigError(
            f"Order consistency compares runs, and {str(source)!r} holds {len(cis)} "
            f"({', '.join(cis) or 'none'}); sweep several seeds or models into one store "
            f"(curriculens demo {flag('n_seeds')} 3), or use `curriculens emergence` on imported "
            "curves."
        )
    points = {m: {t: ci.point for t, ci in per.items()} for m, per in cis.items()}
    cons = rank_consistency(points, tasks=tasks, n_resamples=n_boot, seed=seed)
    rows = []
    for p in cons.pairs:
        d = p.to_json()
        null = d.pop("null") or {}
        ci = d.pop("ci") or [None, None]
        rows.append(
            d
            | {f"null_{k}": v for k, v in null.items()}
            | {"ci_lo": ci[0], "ci_hi": ci[1], "tasks": tasks, "criterion": crit.name}
        )
    return pd.DataFrame(rows)


def derived_frame(what: str, source, **kwargs) -> pd.DataFrame:
    """``emergence_frame``, ``leadlag_frame`` or ``consistency_frame`` by name."""
    makers = {
        "emergence": emergence_frame,
        "leadlag": leadlag_frame,
        "consistency": consistency_frame,
    }
    if what not in makers:
        raise ConfigError(f"Unknown table {what!r}; expected one of {', '.join(DERIVED)}.")
    return makers[what](source, **kwargs)
