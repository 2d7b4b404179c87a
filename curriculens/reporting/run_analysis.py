"""What the analyses computed for one run, in one typed object read from one open of its store.

:func:`analyze` opens the run's results store once (readonly) and hands that store to every
analysis the report shows: the results table, each skill's emergence, the per-run intervals,
the composite check, lead/lag, the order consistency of several runs, the probe baselines with
their audit, and the composite trajectories. The report of imported curves fills the same
:class:`RunAnalysis` per model with what behavior alone gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from curriculens.analysis.consistency import (
    CompositeCheck,
    Consistency,
    composite_check,
    rank_consistency,
    registry_components,
)
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.curriculum import SkillEmergence, skill_emergence
from curriculens.analysis.emergence import EmergenceCI, behavior_emergence
from curriculens.analysis.leadlag import DEFAULT_CRITERION, LeadLag, lead_lag
from curriculens.analysis.predict import Prediction
from curriculens.analysis.table import load_table, skill_info
from curriculens.errors import StoreError
from curriculens.reporting.probes import ProbeBaselines, probe_baselines
from curriculens.reporting.trajectories import trajectory_prediction
from curriculens.store import Store

__all__ = ["RunAnalysis", "analyze", "analyze_store"]


@dataclass(frozen=True, kw_only=True, eq=False)
class RunAnalysis:
    """Everything a report shows of one run (or one model of imported curves).

    Attributes:
        df: The run's current results table (:func:`~curriculens.analysis.table.load_table`).
        runs: The runs in the table (several: seeds, pooled by ``emergence``).
        criterion: The behavior emergence criterion.
        emergence: Each skill's emergence, sorted by behavior emergence (not emerged last).
        n_boot: Bootstrap resamples behind the intervals and the lead/lag tests.
        probe_criterion: The criterion lead/lag reads both of its curves with (None: no probes).
        margin_log10: The equivalence margin lead/lag was asked for in log10 tokens (None: its
            default, one checkpoint gap; each lead/lag result carries the margin it used).
        cis: ``{run: {skill: interval}}``, each run's behavior emergence on its own.
        points: ``{run: {skill: tokens or None}}``, the points of ``cis``.
        composites: ``{run: check}``: do composites emerge after their components.
        leads: Lead/lag of probe selectivity against behavior, one per probed skill.
        consistency: Rank agreement of the runs' orders (None for one run).
        baselines: Each probed skill's final probe beside its baselines.
        trajectories: Composite trajectories predicted from task vectors (None without them).
        skipped: ``{run: [{"label", "reason"}]}``, checkpoints its sweep skipped (``--skip-bad``).
    """

    df: pd.DataFrame
    runs: list[str]
    criterion: Criterion
    emergence: list[SkillEmergence]
    n_boot: int
    probe_criterion: Criterion | None = None
    margin_log10: float | None = None
    cis: dict[str, dict[str, EmergenceCI]] = field(default_factory=dict)
    points: dict[str, dict[str, float | None]] = field(default_factory=dict)
    composites: dict[str, CompositeCheck] = field(default_factory=dict)
    leads: list[LeadLag] = field(default_factory=list)
    consistency: Consistency | None = None
    baselines: list[ProbeBaselines] = field(default_factory=list)
    trajectories: Prediction | None = None
    skipped: dict[str, list[dict]] = field(default_factory=dict)


def analyze(
    run: str | Path,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    margin_log10: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    **overrides,
) -> RunAnalysis:
    """Everything the report shows, read from one open of the run's store (also usable alone).

    Args:
        run: Run directory.
        criterion: Behavior emergence criterion (default ``paper``).
        probe_criterion: Criterion of lead/lag, applied to both of its curves (default
            ``paper-relative``).
        margin_log10: Equivalence margin of lead/lag in log10 tokens (default: one checkpoint
            gap).
        n_boot: Bootstrap resamples of the intervals and the lead/lag tests.
        seed: Seed of the resampling.
        **overrides: Fields that replace the behavior criterion's (``threshold=0.5``).

    >>> a = analyze("runs/demo", n_boot=200)  # doctest: +SKIP
    >>> [e.skill for e in a.emergence if e.emerged]  # doctest: +SKIP
    """
    with Store(run, readonly=True) as store:
        return analyze_store(
            store,
            criterion=criterion,
            probe_criterion=probe_criterion,
            margin_log10=margin_log10,
            n_boot=n_boot,
            seed=seed,
            **overrides,
        )


def analyze_store(
    store: Store,
    *,
    criterion: Criterion | str | None = None,
    probe_criterion: Criterion | str | None = None,
    margin_log10: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    **overrides,
) -> RunAnalysis:
    """:func:`analyze` of an open store: every analysis reads this one store."""
    df = load_table(store)
    runs = sorted(df.run.unique())
    crit = Criterion.of(criterion, **overrides)
    probe_crit = Criterion.of(probe_criterion if probe_criterion is not None else DEFAULT_CRITERION)
    emergence = skill_emergence(
        store,
        criterion=crit,
        probe_criterion=probe_crit,
        margin_log10=margin_log10,
        n_boot=n_boot,
        seed=seed,
    )
    cis = behavior_emergence(store, criterion=crit, n_boot=n_boot, seed=seed)
    points = {r: {s: ci.point for s, ci in v.items()} for r, v in cis.items()}
    comps = registry_components(df.skill.unique(), df)
    composites = {r: composite_check(p, comps) for r, p in points.items()} if comps else {}
    leads = []
    if (df.kind == "control").any():
        leads = lead_lag(
            store, criterion=probe_crit, n_boot=n_boot, seed=seed, margin_log10=margin_log10
        )
    consistency = rank_consistency(points, seed=seed) if len(runs) > 1 else None
    baselines = _probe_baselines(store, df, {r.skill: r.layer for r in leads}, leads)
    skipped = {r: (store.get_meta(f"run:{r}") or {}).get("skipped") or [] for r in runs}
    return RunAnalysis(
        skipped={r: s for r, s in skipped.items() if s},
        df=df,
        runs=runs,
        criterion=crit,
        emergence=emergence,
        n_boot=n_boot,
        probe_criterion=probe_crit,
        margin_log10=margin_log10,
        cis=cis,
        points=points,
        composites=composites,
        leads=leads,
        consistency=consistency,
        baselines=baselines,
        trajectories=trajectory_prediction(store),
    )


def _probe_baselines(
    store: Store, df: pd.DataFrame, layers: dict[str, int], leads: list | None = None
) -> list:
    """Each probed skill's final probe beside its baselines and its audit verdict (its
    ``lexical`` flag from ``leads``, the report's lead/lag)."""
    from curriculens.analysis.audit import audit_run  # imports scikit-learn: only when run

    skills = list(dict.fromkeys(df.loc[df.kind == "probe", "skill"]))
    try:
        found = audit_run(store, skills=skills, leads=leads) if skills else {}
        audit = {k: r.verdict for k, r in found.items()}
    except StoreError:  # a run swept before probe items were stored
        audit = {}
    info = skill_info(df, skills)
    texts = {s: info.get(s, {}).get("probe", "") for s in skills}
    flags = {r.skill: r.lexical for r in leads or ()}
    return probe_baselines(df, texts, audit, layers, flags)
