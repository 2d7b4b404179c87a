"""Emergence of every model and task of one input, in one call: states, points and intervals,
their cross-model rank agreement, the composite order check, and (optionally) lead/lag.

:func:`emergence_summary` reads a curriculens run, an lm-eval results folder or a tidy CSV;
``curriculens emergence`` prints what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from curriculens.analysis.consistency import (
    composite_check,
    elemental_components,
    rank_consistency,
    registry_components,
)
from curriculens.analysis.criterion import Criterion
from curriculens.analysis.emergence import EmergenceCI, behavior_emergence, emergence_intervals
from curriculens.analysis.importers import load_curves, load_rows
from curriculens.analysis.table import Selection, selecting
from curriculens.errors import ConfigError
from curriculens.params import check, flag

#: options of :func:`~curriculens.analysis.importers.load_curves` that only imported files read
FILE_OPTIONS = ("keep_names", "duplicates", "revision_tokens")


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a curriculens store (a ``.sqlite`` file or a run directory)."""
    p = Path(path)
    return p.suffix in (".sqlite", ".db") or (p.is_dir() and (p / "results.sqlite").exists())


@dataclass(frozen=True)
class EmergenceSummary:
    """What :func:`emergence_summary` found.

    Attributes:
        criterion: The behavior criterion.
        intervals: ``{model: {task: EmergenceCI}}``.
        dropped: Tasks the criterion dropped (never above 0 in any model).
        common: Tasks every model has.
        pairs: Rank consistency of each pair of models (JSON-ready), empty for one model.
        tasks: ``common`` or ``pairwise``: which tasks the pairs rank.
        composites: ``{model: CompositeCheck}``.
        leadlag_criterion: The criterion of lead/lag, or ``None`` when not asked for.
        leadlag: ``{model: [LeadLag, ...]}``, or ``None``.
        margin_log10: The equivalence margin lead/lag was asked for (None: its default, one
            checkpoint gap; each result carries the margin it used).
    """

    criterion: Criterion
    intervals: dict[str, dict[str, EmergenceCI]]
    dropped: list[str]
    common: list[str]
    pairs: list[dict]
    tasks: str
    composites: dict = field(default_factory=dict)
    leadlag_criterion: Criterion | None = None
    leadlag: dict | None = None
    margin_log10: float | None = None

    def points(self) -> dict[str, dict[str, float | None]]:
        """``{model: {task: emergence point in tokens or None}}``."""
        return {m: {t: ci.point for t, ci in per.items()} for m, per in self.intervals.items()}

    def resampling(self) -> list[str]:
        """The resampling kinds behind the intervals (``groups``, ``items``, ``binomial``,
        ``none``), sorted."""
        return sorted({ci.resampling for per in self.intervals.values() for ci in per.values()})

    def to_json(self) -> dict:
        """``{criterion, emergence, intervals, intervals_note, resampling, pairs, tasks,
        dropped}`` (+ ``leadlag_criterion``, ``leadlag``).

        Each interval is ``{state, lo, hi, raw_lo, raw_hi, resampling, n_boot}``: ``lo, hi`` the
        criterion's interval (smoothed when it smooths; the point lies in it), ``raw_lo,
        raw_hi`` the same criterion on the raw curve and the same resamples (the interval that
        holds the crossing at the documented coverage). Each lead/lag result names the
        criterion of each of its columns and the behavior metric it reads.
        """
        crit = self.criterion
        out = {
            "criterion": crit.to_dict() | {"description": crit.describe()},
            "emergence": {
                m: {t: _num(v) for t, v in pts.items()} for m, pts in self.points().items()
            },
            "intervals": {
                m: {t: _interval_json(ci) for t, ci in per.items()}
                for m, per in self.intervals.items()
            },
            "intervals_note": intervals_note(crit),
            "resampling": self.resampling(),
            "pairs": self.pairs,
            "tasks": self.tasks,
            "dropped": self.dropped,
        }
        if self.leadlag is not None:
            ll = self.leadlag_criterion
            out["leadlag_criterion"] = ll.to_dict() | {"description": ll.describe()}
            out["leadlag"] = {
                m: {r.skill: leadlag_json(r) for r in results}
                for m, results in self.leadlag.items()
            }
        return out


def _interval_json(ci: EmergenceCI) -> dict:
    return ci.to_json(raw=True) | {"resampling": ci.resampling, "n_boot": ci.n_boot}


def intervals_note(crit: Criterion) -> str:
    """Which interval is which, for a criterion (printed beside them in JSON and text)."""
    if not crit.smooth:
        return (
            f"lo, hi: the crossing interval (lo, hi] under criterion {crit.name} (no smoothing: "
            "raw_lo, raw_hi are the same interval, the one that holds the crossing)"
        )
    return (
        f"lo, hi: the interval (lo, hi] of criterion {crit.name}'s smoothed crossing, which "
        "holds its reported point; raw_lo, raw_hi: the same criterion read on the raw "
        "(unsmoothed) curve and the same resamples, the interval that holds the observed "
        "crossing (smoothing moves a sharp rise late)"
    )


def leadlag_json(r) -> dict:
    """A lead/lag result's JSON (:meth:`LeadLag.to_json`) with the criterion, the behavior
    metric and the resamples behind it."""
    return r.to_json() | {
        "criterion": r.criterion,
        "behavior_metric": r.behavior_metric,
        "n_boot": r.n_boot,
    }


def emergence_summary(
    source: str | Path,
    *,
    criterion: Criterion | str = "paper",
    tasks: str = "common",
    n_boot: int = 1000,
    seed: int = 0,
    leadlag: Criterion | str | None = None,
    margin_log10: float | None = None,
    select: Selection | None = None,
    **read_options,
) -> EmergenceSummary:
    """Emergence of every model and task of ``source``, and how consistent the order is.

    Args:
        source: A run directory or ``.sqlite`` store, an lm-eval results folder, or a tidy CSV.
        criterion: The behavior criterion (a :class:`Criterion` or a preset name).
        tasks: ``common`` (rank pairs over tasks all models share) or ``pairwise``.
        n_boot: Resamples of the intervals, the consistency null and lead/lag (0: checkpoint
            brackets only).
        seed: Seed of the resamples.
        leadlag: Also lead/lag of probe selectivity against behavior, under this criterion
            (a run, or a CSV with probe and control rows); ``None``: not computed.
        margin_log10: Equivalence margin of lead/lag in log10 tokens (default: one checkpoint
            gap); only with ``leadlag``.
        select: Which rows of a store to read (its current configuration by default).
        **read_options: Passed to :func:`~curriculens.analysis.importers.load_curves`
            (``metric``, ``pattern``, ``tokens_per_step``, ``columns``, ``keep_names``,
            ``duplicates``, ``revision_tokens``).

    Raises:
        ConfigError: Bad values, unreadable input, or no checkpoints left under the criterion.

    >>> emergence_summary("runs/demo").to_json()["tasks"]  # doctest: +SKIP
    'common'
    """
    check("n_boot", n_boot)
    check("seed", seed)
    check("tasks", tasks)
    check("margin_log10", margin_log10)
    if margin_log10 is not None and leadlag is None:
        raise ConfigError(
            f"margin_log10={margin_log10!r} ({flag('margin_log10')}) is the equivalence margin "
            f"of lead/lag; ask for lead/lag too (leadlag='paper-relative', {flag('leadlag')})."
        )
    crit = Criterion.of(criterion)
    store = is_store(source)
    if store:
        given = [flag(k) for k in FILE_OPTIONS if read_options.get(k)]
        if given:
            raise ConfigError(
                f"{', '.join(given)} apply to imported files (CSV, lm-eval); {str(source)!r} is a "
                "curriculens run."
            )
        read_options = {k: v for k, v in read_options.items() if k not in FILE_OPTIONS}
    with selecting(select or Selection()):
        try:
            return _summarize(
                source, store, crit, tasks, n_boot, seed, leadlag, margin_log10, read_options
            )
        except (OSError, ValueError) as e:  # unreadable or malformed input files
            raise ConfigError(str(e)) from e


def _summarize(source, store, crit, tasks, n_boot, seed, leadlag, margin, read_options):
    curves = load_curves(source, **read_options)
    if store:
        cis = behavior_emergence(
            source, metric=read_options.get("metric"), criterion=crit, n_boot=n_boot, seed=seed
        )
        cis = _drop_flat(cis) if crit.drop_flat else cis
    else:
        cis = emergence_intervals(curves, crit, n_boot=n_boot, seed=seed)
    if not cis or not any(cis.values()):
        raise ConfigError(
            f"No checkpoints left in {str(source)!r} under criterion {crit.name} (0-token "
            f"checkpoints are dropped); pass {flag('keep_zero_tokens')}, or check the token "
            "column."
        )
    em = {m: {t: ci.point for t, ci in per.items()} for m, per in cis.items()}
    dropped = sorted(set(curves["task"]) - {t for per in cis.values() for t in per})
    pairs, common = [], sorted(set.intersection(*(set(v) for v in em.values())))
    if len(em) >= 2:
        cons = rank_consistency(em, tasks=tasks, n_resamples=n_boot, seed=seed)
        pairs = [p.to_json() for p in cons.pairs]
    snapshot = str(Path(source)) if store else None
    composites = {
        m: composite_check(
            pts, registry_components(list(pts), snapshot) | elemental_components(list(pts))
        )
        for m, pts in em.items()
    }
    ll_crit = ll = None
    if leadlag is not None:
        ll_crit = Criterion.of(leadlag)
        ll = _lead_lag(source, store, list(em), ll_crit, n_boot, seed, margin, read_options)
    return EmergenceSummary(
        criterion=crit,
        intervals=cis,
        dropped=dropped,
        common=common,
        pairs=pairs,
        tasks=tasks,
        composites=composites,
        leadlag_criterion=ll_crit,
        leadlag=ll,
        margin_log10=margin,
    )


def _lead_lag(
    source, store: bool, models, crit, n_boot, seed, margin, read_options: Mapping
) -> dict:
    from curriculens.analysis.leadlag import lead_lag

    name = flag("leadlag")
    if not store and Path(source).suffix.lower() != ".csv":
        raise ConfigError(
            f"{name} needs probe and control curves: a curriculens run, or a tidy CSV with "
            f"kind, layer (and n) columns; {str(source)!r} is an lm-eval directory."
        )
    if not store:  # the CSV's rows, read with the same options as its behavior curves
        keep = ("columns", "tokens_per_step", *FILE_OPTIONS)
        source = load_rows(source, **{k: v for k, v in read_options.items() if k in keep})
        if not any(r["kind"] == "control" for r in source):
            raise ConfigError(
                f"{name} needs probe and control curves; the CSV has no rows with "
                "kind=probe and kind=control (columns kind, layer, n)."
            )
    return {
        m: lead_lag(source, run=m, criterion=crit, n_boot=n_boot, seed=seed, margin_log10=margin)
        for m in models
    }


def _drop_flat(cis: dict) -> dict:
    tasks = {t for per in cis.values() for t in per}
    flat = {t for t in tasks if all(per[t].flat for per in cis.values() if t in per)}
    return {m: {t: c for t, c in per.items() if t not in flat} for m, per in cis.items()}


def _num(v: float | None):
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)
