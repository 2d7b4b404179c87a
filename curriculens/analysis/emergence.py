"""Emergence of score curves: a state, a point and an interval per curve, under one criterion.

Each curve is ``emerged`` (with an interval that combines the checkpoint bracket
``(previous checkpoint, crossing checkpoint]`` with the cluster bootstrap where per-item outcomes
exist: :mod:`curriculens.analysis.bootstrap`), ``present_at_init`` or ``not_emerged`` (see
:mod:`curriculens.analysis.criterion`). A curve that never meets its criterion is censored, never
dropped.

**Which interval holds what.** Smoothing moves a sharp rise late (a Gaussian of sigma 1 checkpoint
spreads a step over its neighbours), so the smoothed criterion's own bootstrap interval misses the
true crossing of sharp curves. Each result therefore carries two intervals, side by side:
``lo, hi``, the interval of the smoothed criterion's crossing (the reported point lies in it); and
``raw_lo, raw_hi``, the same criterion read on the raw (unsmoothed) curve and the same resamples,
the interval that holds the true crossing at the documented coverage on planted curves
(``benchmarks/bench_calibration.py``). Without smoothing the two are one.

A relative criterion starts from chance: a skill's chance level (choice skills), or an
lm-evaluation-harness task's (1 / number of choices, :mod:`curriculens.analysis.chance`), is set
on the criterion before a curve is read, unless the criterion sets its own ``chance``.

Table-level functions (:func:`emergence_table`, :func:`emergence_intervals`,
:func:`behavior_emergence`) take ``criterion`` (a :class:`Criterion`, a preset name; default
``paper``) and field overrides; the curve-level primitives :func:`emergence_point` and
:func:`bootstrap_emergence` take the criterion's fields directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from curriculens.analysis.bootstrap import attach_groups, items_table
from curriculens.analysis.chance import task_chance, with_chance
from curriculens.analysis.criterion import (
    METHODS,
    PRESETS,
    RELATIVE_TO,
    STATES,
    Criterion,
    Crossing,
    normalize_chance,
    smooth_curve,
)
from curriculens.analysis.curves import Curve, behavior_curve
from curriculens.analysis.table import read_rows, skill_info
from curriculens.errors import ConfigError

__all__ = [
    "METHODS",
    "PRESETS",
    "RELATIVE_TO",
    "STATES",
    "Criterion",
    "EmergenceCI",
    "behavior_emergence",
    "bootstrap_curves",
    "bootstrap_emergence",
    "emergence_interval",
    "emergence_intervals",
    "emergence_point",
    "emergence_table",
    "normalize_chance",
    "order",
    "smooth_curve",
]


def emergence_point(
    tokens: Sequence[float],
    values: Sequence[float],
    *,
    method: str = "fixed",
    threshold: float | None = 0.8,
    fraction: float = 0.9,
    smooth: float | None = None,
    chance: float | None = None,
    relative_to: str = "final",
    window: int = 3,
    min_rise: float = 0.1,
    rise_from: str = "init",
) -> float | None:
    """Tokens at which a curve first meets the criterion, or None (not emerged).

    A curve already past the criterion at its first checkpoint returns that checkpoint's tokens
    (its state is ``present_at_init``; see :meth:`Criterion.locate`).

    Args:
        tokens: Tokens seen at each checkpoint (sorted here if they are not).
        values: Score at each checkpoint (NaN: checkpoint left out before smoothing).
        method: ``fixed``, ``relative``, ``stable`` or ``sigmoid`` (see :class:`Criterion`).
        threshold: Absolute level (``relative`` with ``threshold=None`` has no floor).
        fraction: Share of the final (or max, ``relative_to="max"``) score for ``relative``.
        smooth: Gaussian sigma in checkpoints (reflected edges), or None.
        chance: Normalize scores as ``(v - chance) / (1 - chance)`` first, or None.
        relative_to: ``final`` or ``max``.
        window: Consecutive checkpoints for ``stable``.
        min_rise: Smallest rise that ``sigmoid`` and ``relative`` accept.
        rise_from: ``init`` (a relative level is read from the first checkpoint) or ``zero``.

    >>> emergence_point([1, 2, 3, 4], [0.1, 0.5, 0.85, 0.9])
    3.0
    >>> emergence_point([1, 2, 3], [0.1, 0.2, 0.3]) is None
    True
    >>> emergence_point([1, 2, 3, 4, 5], [0.9, 0.1, 0.9, 0.9, 0.9], method="stable", window=3)
    3.0
    """
    crit = Criterion(
        method=method,
        threshold=threshold,
        fraction=fraction,
        relative_to=relative_to,
        chance=chance,
        smooth=smooth,
        window=window,
        min_rise=min_rise,
        rise_from=rise_from,
    )
    return crit.point(tokens, values)


@dataclass(frozen=True, kw_only=True)
class EmergenceCI:
    """The emergence of one curve: its state, point and interval.

    Attributes:
        state: ``emerged``, ``present_at_init`` or ``not_emerged``.
        point: Emergence tokens (the first checkpoint when present at init; None: not emerged).
        lo: The crossing lies above this many tokens (open end); None: no lower bound (the
            curve may have crossed before the first checkpoint).
        hi: ... and at or below this many tokens; None: no upper bound (it may never cross).
            For an emerged curve ``lo < point <= hi``: the bracket ``(previous checkpoint,
            crossing checkpoint]`` widened by the bootstrap, never of zero width.
        censored: Share of bootstrap resamples that never emerged (without resamples: 1.0 when
            not emerged, else 0.0).
        n_boot: Resamples behind the interval (0: the checkpoint bracket alone).
        resampling: ``items``, ``binomial`` or ``none`` (see :class:`~curriculens.analysis
            .curves.Curve`).
        flat: The curve never rose above 0 and the criterion drops such curves.
        raw_lo, raw_hi: The crossing interval of the raw (unsmoothed) curve under the same
            criterion: the interval with the documented coverage of the true crossing (equal to
            ``lo, hi`` without smoothing; None: open end).
    """

    point: float | None
    lo: float | None
    hi: float | None
    censored: float
    n_boot: int
    state: str = "emerged"
    resampling: str = "none"
    flat: bool = False
    raw_lo: float | None = None
    raw_hi: float | None = None

    def to_json(self, *, raw: bool = False) -> dict:
        """``{state, lo, hi}`` with integral token counts as ints (``raw``: also ``raw_lo``,
        ``raw_hi``, the raw curve's crossing interval)."""
        out = {"state": self.state, "lo": _num(self.lo), "hi": _num(self.hi)}
        if raw:
            out |= {"raw_lo": _num(self.raw_lo), "raw_hi": _num(self.raw_hi)}
        return out


def bootstrap_curves(items: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Resample items jointly across checkpoints and return the mean curve of each resample.

    Args:
        items: Per-item outcomes, ``[checkpoint, item]`` (0/1 or scores); the same items in the
            same order at every checkpoint.
        n_boot: Number of resamples.
        seed: Seed of the resampling.

    Returns:
        ``[n_boot, checkpoint]`` mean scores.

    >>> bootstrap_curves(np.ones((3, 5)), n_boot=2).shape
    (2, 3)
    """
    x = _check_items(items)
    _check_n_boot(n_boot, low=1)
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # [boot, item]
    return counts @ x.T / n


def emergence_interval(
    curve: Curve,
    criterion: Criterion | str | None = None,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> EmergenceCI:
    """State, point and interval of one curve.

    The interval starts from the point's checkpoint bracket and widens it to the
    ``alpha / 2`` quantile of the resamples' lower bracket ends and the ``1 - alpha / 2``
    quantile of their upper ends (a resample that never emerges has no upper end; one present
    at init has no lower end). The same on the raw curve gives ``raw_lo, raw_hi`` (see the
    module docstring: the raw interval is the one that holds the true crossing). The state and
    point do not depend on the resamples (one point per criterion, with or without them): a
    relative criterion's rise is held to its ``min_rise``; ``censored`` says how often a
    resample never emerged.

    >>> c = Curve(tokens=np.array([1.0, 2, 3]), values=np.array([0.0, 0.9, 0.9]))
    >>> ci = emergence_interval(c, Criterion(threshold=0.8))
    >>> ci.state, ci.point, ci.lo, ci.hi
    ('emerged', 2.0, 1.0, 2.0)
    """
    crit = Criterion.of(criterion)
    _check_alpha(alpha)
    _check_n_boot(n_boot, low=0)
    order, t = crit.prepare(curve.tokens, curve.values)
    values = np.asarray(curve.values, float)[order]
    point = crit.locate_sorted(t, values[None, :])[0]
    boot = None
    if n_boot > 0 and len(t):
        draws = curve.resample(np.random.default_rng(seed), n_boot)
        boot = None if draws is None else draws[:, order]
    how = curve.resampling if boot is not None else "none"
    ci = _combine(crit, t, point, boot, alpha, how)
    if not crit.smooth:
        return replace(ci, raw_lo=ci.lo, raw_hi=ci.hi)
    raw_crit = replace(crit, smooth=None)
    raw_point = raw_crit.locate_sorted(t, values[None, :])[0]
    raw = _combine(raw_crit, t, raw_point, boot, alpha, how)
    return replace(ci, raw_lo=raw.lo, raw_hi=raw.hi)


def _combine(crit: Criterion, t, point: Crossing, boot, alpha: float, how: str) -> EmergenceCI:
    lo = -math.inf if point.lower is None else point.lower
    hi = math.inf if point.upper is None else point.upper
    if point.state == "not_emerged":  # right-censored: it may cross after the last checkpoint
        lo, hi = (float(t[-1]) if len(t) else -math.inf), math.inf
    censored, used = float(point.state == "not_emerged"), 0
    if boot is not None:
        lows, highs, never = crit.brackets(t, boot)
        lo = min(lo, float(np.quantile(lows, alpha / 2, method="inverted_cdf")))
        hi = max(hi, float(np.quantile(highs, 1 - alpha / 2, method="inverted_cdf")))
        censored = float(np.mean(never))
        used = len(boot)
    return EmergenceCI(
        point=point.point,
        lo=_none(lo),
        hi=_none(hi),
        censored=censored,
        n_boot=used,
        state=point.state,
        resampling=how,
        flat=point.flat,
    )


def bootstrap_emergence(
    tokens: Sequence[float],
    items: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    criterion: Criterion | str | None = None,
    **fields,
) -> EmergenceCI:
    """Emergence of the mean curve of per-item outcomes, with its interval.

    Items are resampled jointly across checkpoints (one draw of item indices per resample), so
    checkpoint-to-checkpoint correlation is kept.

    Args:
        tokens: Tokens seen at each checkpoint, ``[checkpoint]``.
        items: Per-item outcomes, ``[checkpoint, item]``.
        n_boot: Number of resamples.
        seed: Seed of the resampling.
        alpha: 1 - coverage of the interval.
        criterion: A :class:`Criterion` or preset name; without it, ``**fields`` build one.
        **fields: Fields of :class:`Criterion` (``method``, ``threshold``...).

    >>> items = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]])
    >>> bootstrap_emergence([1, 2, 3], items, threshold=0.9, n_boot=50).point
    3.0
    """
    crit = Criterion.of(criterion, **fields) if criterion is not None else Criterion(**fields)
    _check_alpha(alpha)
    _check_n_boot(n_boot, low=1)
    x = _check_items(items)
    t = np.asarray(tokens, dtype=float)
    if t.shape != (x.shape[0],):
        raise ConfigError(
            f"tokens has shape {t.shape} but items has {x.shape[0]} checkpoints; give one token "
            "count per row of items."
        )
    order = np.argsort(t, kind="stable")
    curve = Curve(tokens=t[order], values=x.mean(axis=1)[order], items=x[order])
    return emergence_interval(curve, crit, n_boot=n_boot, seed=seed, alpha=alpha)


def emergence_intervals(
    curves,
    criterion: Criterion | str | None = None,
    *,
    n_boot: int = 0,
    seed: int = 0,
    alpha: float = 0.05,
    **overrides,
) -> dict[str, dict[str, EmergenceCI]]:
    """Emergence of every (model, task) curve of a long-format table.

    Args:
        curves: A DataFrame (or records) with columns ``model, tokens, task, score`` and
            optionally ``n`` (items behind each score: a binomial resample per checkpoint) and
            ``chance`` (the task's chance level; else a known lm-eval task's, see
            :func:`~curriculens.analysis.chance.task_chance`), from which a relative
            criterion reads.
        criterion: A :class:`Criterion` or preset name (default ``paper``).
        n_boot: Resamples per curve where ``n`` is known (0: checkpoint brackets only).
        seed: Seed of the resampling.
        alpha: 1 - coverage of the intervals.
        **overrides: Criterion fields that replace the preset's.

    Returns:
        ``{model: {task: EmergenceCI}}``, tasks sorted. With ``drop_flat``, a task whose curve
        never rises above 0 in any model is left out.
    """
    import pandas as pd

    crit = Criterion.of(criterion, **overrides)
    df = curves if isinstance(curves, pd.DataFrame) else pd.DataFrame(list(curves))
    missing = {"model", "tokens", "task", "score"} - set(df.columns)
    if missing:
        raise ConfigError(
            f"curves lack column(s) {sorted(missing)}; got {list(df.columns)}. Expected the "
            "long format of curriculens.analysis.importers (model, checkpoint, tokens, task, "
            "score)."
        )
    out: dict[str, dict[str, EmergenceCI]] = {}
    for i, ((model, task), g) in enumerate(df.groupby(["model", "task"], sort=True)):
        g = g.sort_values("tokens", kind="stable")
        n = None
        if "n" in g.columns:
            ns = pd.to_numeric(g["n"], errors="coerce").to_numpy(float)
            n = ns if (np.isfinite(ns) & (ns > 0)).all() else None
        curve = Curve(tokens=g["tokens"].to_numpy(float), values=g["score"].to_numpy(float), n=n)
        out.setdefault(str(model), {})[str(task)] = emergence_interval(
            curve, with_chance(crit, _chance_of(g, task)), n_boot=n_boot, seed=seed + i, alpha=alpha
        )
    if crit.drop_flat:
        tasks = {t for per in out.values() for t in per}
        dropped = {t for t in tasks if all(per[t].flat for per in out.values() if t in per)}
        out = {m: {t: ci for t, ci in per.items() if t not in dropped} for m, per in out.items()}
    return out


def _chance_of(g, task) -> float | None:
    """A task's chance level: its ``chance`` column, else the known lm-eval task's."""
    if "chance" in g.columns:
        import pandas as pd

        c = pd.to_numeric(g["chance"], errors="coerce").dropna()
        if len(c):
            return float(c.iloc[0])
    return task_chance(task)


def emergence_table(
    curves, criterion: Criterion | str | None = None, **overrides
) -> dict[str, dict[str, float | None]]:
    """Emergence point of every (model, task) curve of a long-format table.

    Args:
        curves: A DataFrame (or records) with columns ``model, tokens, task, score``.
        criterion: A :class:`Criterion` or preset name (default ``paper``).
        **overrides: Criterion fields that replace the preset's (``threshold=0.5``...).

    Returns:
        ``{model: {task: tokens or None}}``, tasks in sorted order.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": "m", "task": "t", "tokens": [1, 2], "score": [0.1, 0.9]})
    >>> emergence_table(df, smooth=None)
    {'m': {'t': 2.0}}
    """
    cis = emergence_intervals(curves, criterion, n_boot=0, **overrides)
    return {m: {t: ci.point for t, ci in per.items()} for m, per in cis.items()}


def behavior_emergence(
    store,
    *,
    run: str | None = None,
    metric: str | None = None,
    criterion: Criterion | str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **overrides,
) -> dict[str, dict[str, EmergenceCI]]:
    """Behavior emergence of every skill in a store, with intervals.

    Reads ``kind="behavior"`` rows of each skill's primary metric (from the run's skill snapshot)
    and locates emergence on the stored mean score per checkpoint; the interval adds the item
    bootstrap where every checkpoint has per-item outcomes.

    Args:
        store: A :class:`~curriculens.store.Store`, a run directory or a ``.sqlite`` file.
        run: Only this run (default: every run in the store).
        metric: Read this behavior metric for every skill instead of the primary one.
        criterion: A :class:`Criterion` or preset name (default ``paper``).
        n_boot: Bootstrap resamples (0: checkpoint brackets only).
        seed: Seed of the resampling.
        alpha: 1 - coverage of the intervals.
        **overrides: Criterion fields; ``chance="skill"`` normalizes each skill by its chance
            level as swept (a relative criterion starts from it anyway).

    Returns:
        ``{run: {skill: EmergenceCI}}``.

    >>> cis = behavior_emergence("runs/pythia160m", n_boot=500)  # doctest: +SKIP
    >>> cis["pythia160m"]["agreement"].hi  # doctest: +SKIP
    """
    where = {"kind": "behavior"} | ({"run": run} if run is not None else {})
    rows = read_rows(store, items=n_boot > 0, **where)
    if n_boot > 0:
        rows = attach_groups(rows, items_table(store))
    if not rows:
        raise ConfigError(
            f"No behavior rows{'' if run is None else f' for run {run!r}'} in the store; run "
            "a sweep with behavior scoring first."
        )
    by_run: dict[str, list[dict]] = {}
    for r in rows:
        by_run.setdefault(r["run"], []).append(r)
    info = skill_info(store, sorted({r["skill"] for r in rows}))
    per_skill_chance = overrides.get("chance") == "skill"
    out: dict[str, dict[str, EmergenceCI]] = {}
    for rn, rs in sorted(by_run.items()):
        for skill in sorted({r["skill"] for r in rs}):
            curve = behavior_curve(rs, skill, info.get(skill), metric)
            if curve is None:
                continue
            kw = dict(overrides)
            chance = info.get(skill, {}).get("chance")
            if per_skill_chance:
                kw["chance"] = chance or 0.0
            crit = with_chance(Criterion.of(criterion, **kw), chance)
            out.setdefault(rn, {})[skill] = emergence_interval(
                curve, crit, n_boot=n_boot, seed=seed, alpha=alpha
            )
    return out


def order(points: Mapping[str, float | None]) -> list[str]:
    """Names sorted by emergence point, censored last (ties keep name order).

    >>> order({"b": 2.0, "a": None, "c": 1.0})
    ['c', 'b', 'a']
    """
    return sorted(points, key=lambda k: (_inf(points[k]), k))


def _check_items(items) -> np.ndarray:
    x = np.asarray(items, dtype=float)
    if x.ndim != 2 or 0 in x.shape:
        raise ConfigError(
            f"items has shape {x.shape}; expected a non-empty [checkpoint, item] array of "
            "per-item outcomes (the same items at every checkpoint)."
        )
    if not np.isfinite(x).all():
        raise ConfigError("items contain NaN or inf; per-item outcomes must be finite.")
    return x


def _check_n_boot(n_boot, *, low: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < low:
        raise ConfigError(f"n_boot={n_boot!r} must be an int >= {low} (bootstrap resamples).")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha={alpha!r} must be in (0, 1), e.g. 0.05 for a 95% interval.")


def _inf(p: float | None) -> float:
    return math.inf if p is None else float(p)


def _none(p: float) -> float | None:
    return None if not math.isfinite(p) else float(p)


def _num(v: float | None):
    if v is None:
        return None
    return int(v) if float(v).is_integer() else float(v)
