"""Emergence points of score curves: when a skill's score first meets a criterion.

A curve is a score per checkpoint (tokens seen). A curve that never meets its criterion is
censored (``None``), never dropped. Bootstrap intervals resample items jointly across checkpoints.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.optimize import OptimizeWarning, curve_fit

from curriculens.analysis.table import pick_metric, read_rows, skill_info
from curriculens.errors import ConfigError

METHODS = ("fixed", "relative", "stable", "sigmoid")
RELATIVE_TO = ("final", "max")


def smooth_curve(values: Sequence[float], sigma: float | None) -> np.ndarray:
    """Gaussian-smooth a curve over checkpoints (``sigma`` in checkpoints, reflected edges).

    >>> smooth_curve([0.0, 1.0, 0.0], None).tolist()
    [0.0, 1.0, 0.0]
    """
    v = np.asarray(values, dtype=float)
    if not sigma:
        return v
    return gaussian_filter1d(v, sigma=float(sigma), mode="reflect")


def normalize_chance(values: Sequence[float], chance: float) -> np.ndarray:
    """Rescale scores so that ``chance`` maps to 0 and a perfect score to 1.

    >>> normalize_chance([0.25, 0.625, 1.0], 0.25).tolist()
    [0.0, 0.5, 1.0]
    """
    if not 0.0 <= chance < 1.0:
        raise ConfigError(
            f"chance={chance!r} must be in [0, 1) to normalize scores; pass chance=None to skip "
            "normalization."
        )
    return (np.asarray(values, dtype=float) - chance) / (1.0 - chance)


@dataclass(frozen=True, kw_only=True)
class Criterion:
    """How to read an emergence point off a curve.

    Attributes:
        method: ``fixed``: first checkpoint with score >= ``threshold``.
            ``relative``: first checkpoint with score >= ``fraction`` of the curve's ``final``
            (or ``max``) score and >= ``threshold`` (``threshold=None`` drops that gate).
            ``stable``: first checkpoint that starts ``window`` consecutive checkpoints all
            >= ``threshold``. ``sigmoid``: midpoint between floor and ceiling of a logistic fit
            in log10(tokens); censored when the fitted rise is below ``min_rise`` or the midpoint
            lies past the last checkpoint (``threshold`` is not used).
        threshold: Absolute level (after chance normalization, when ``chance`` is set).
        fraction: Share of the reference score for ``relative``.
        relative_to: ``final`` or ``max``: the reference score of ``relative``.
        chance: When set, scores are first mapped to ``(score - chance) / (1 - chance)``, so
            ``relative`` measures the gain above chance.
        smooth: Gaussian sigma in checkpoints (reflected edges), or None.
        window: Consecutive checkpoints ``stable`` asks for.
        min_rise: Smallest ceiling - floor that ``sigmoid`` accepts as an emergence.
    """

    method: str = "fixed"
    threshold: float | None = 0.8
    fraction: float = 0.9
    relative_to: str = "final"
    chance: float | None = None
    smooth: float | None = None
    window: int = 3
    min_rise: float = 0.1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"method={self.method!r} is not an emergence method; expected one of {METHODS}."
            )
        if self.relative_to not in RELATIVE_TO:
            raise ConfigError(
                f"relative_to={self.relative_to!r} is not allowed; expected one of {RELATIVE_TO}."
            )
        if self.threshold is None and self.method in ("fixed", "stable"):
            raise ConfigError(
                f"method={self.method!r} needs a threshold, got threshold=None; pass a number "
                "such as threshold=0.8."
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"threshold={self.threshold!r} must be a finite number, e.g. 0.8.")
        if not 0.0 < self.fraction <= 1.0:
            raise ConfigError(f"fraction={self.fraction!r} must be in (0, 1], e.g. 0.9.")
        if self.smooth is not None and (not math.isfinite(self.smooth) or self.smooth < 0):
            raise ConfigError(
                f"smooth={self.smooth!r} must be a sigma >= 0 in checkpoints, or None."
            )
        if not isinstance(self.window, int) or self.window < 1:
            raise ConfigError(f"window={self.window!r} must be an int >= 1 (checkpoints).")
        if self.chance is not None:
            normalize_chance([], self.chance)  # validates the value

    def point(self, tokens: Sequence[float], values: Sequence[float]) -> float | None:
        """Tokens at which the curve first meets the criterion, or None (censored)."""
        t = np.asarray(tokens, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.ndim != 1 or t.shape != v.shape:
            raise ConfigError(
                f"tokens {t.shape} and values {v.shape} must be 1-D and of the same length "
                "(one score per checkpoint)."
            )
        keep = np.isfinite(t) & np.isfinite(v)  # a missing score is a missing checkpoint
        order = np.argsort(t[keep], kind="stable")
        t, v = t[keep][order], v[keep][order]
        if self.chance is not None:
            v = normalize_chance(v, self.chance)
        v = smooth_curve(v, self.smooth)
        return _point_sorted(self, t, v)


def _point_sorted(c: Criterion, t: np.ndarray, v: np.ndarray) -> float | None:
    """Emergence on an already sorted, normalized and smoothed curve."""
    if not len(v):
        return None
    if c.method == "sigmoid":
        return _sigmoid_midpoint(t, v, c.min_rise)
    if c.method == "stable":
        ok = v >= c.threshold
        run = np.convolve(ok.astype(int), np.ones(c.window, dtype=int), mode="valid")
        hits = np.flatnonzero(run == c.window)
        return float(t[hits[0]]) if hits.size else None
    ok = v >= c.threshold if c.threshold is not None else np.ones(len(v), bool)
    if c.method == "relative":
        ref = v[-1] if c.relative_to == "final" else np.nanmax(v)
        if c.threshold is None and not ref > 0:  # no gate and nothing to take a share of
            return None
        ok &= v >= c.fraction * ref
    hits = np.flatnonzero(ok)
    return float(t[hits[0]]) if hits.size else None


def _logistic(x, floor, ceil, k, x0):
    return floor + (ceil - floor) / (1.0 + np.exp(-k * (x - x0)))


def _sigmoid_midpoint(t: np.ndarray, v: np.ndarray, min_rise: float) -> float | None:
    keep = (t > 0) & np.isfinite(v)
    x, y = np.log10(t[keep]), v[keep]
    if len(x) < 4 or np.ptp(x) == 0:
        return None
    lo, hi, span = float(y.min()), float(y.max()), float(np.ptp(y)) or 1e-6
    xr = float(np.ptp(x))
    p0 = [lo, hi, 4.0 / xr, float(np.median(x))]
    bounds = (
        [lo - span, lo, 0.0, x.min() - xr],
        [hi, hi + span, 200.0 / xr, x.max() + xr],
    )
    p0 = np.clip(p0, np.asarray(bounds[0]) + 1e-9, np.asarray(bounds[1]) - 1e-9)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (floor, ceil, _, x0), _ = curve_fit(_logistic, x, y, p0=p0, bounds=bounds, maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    if ceil - floor < min_rise or x0 > x.max():
        return None
    return float(10 ** max(x0, x.min()))


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
) -> float | None:
    """Tokens at which a curve first meets the emergence criterion, or None (censored).

    Args:
        tokens: Tokens seen at each checkpoint (sorted here if they are not).
        values: Score at each checkpoint (NaN: checkpoint left out before smoothing).
        method: ``fixed``, ``relative``, ``stable`` or ``sigmoid`` (see :class:`Criterion`).
        threshold: Absolute level (``relative`` with ``threshold=None`` has no absolute gate).
        fraction: Share of the final (or max, ``relative_to="max"``) score for ``relative``.
        smooth: Gaussian sigma in checkpoints (reflected edges), or None.
        chance: Normalize scores as ``(v - chance) / (1 - chance)`` first, or None.
        relative_to: ``final`` or ``max``.
        window: Consecutive checkpoints for ``stable``.
        min_rise: Smallest fitted rise that ``sigmoid`` accepts.

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
    )
    return crit.point(tokens, values)


@dataclass(frozen=True, kw_only=True)
class EmergenceCI:
    """An emergence point with a bootstrap interval.

    Attributes:
        point: Emergence on all items (None: censored).
        lo: Lower bound in tokens (None: censored in more than 1 - alpha/2 of resamples).
        hi: Upper bound in tokens (None: unbounded, the curve stays censored in the upper tail).
        censored: Share of bootstrap resamples that never emerged.
        n_boot: Number of resamples.
    """

    point: float | None
    lo: float | None
    hi: float | None
    censored: float
    n_boot: int


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
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ConfigError(f"n_boot={n_boot!r} must be an int >= 1 (bootstrap resamples).")
    rng = np.random.default_rng(seed)
    n = x.shape[1]
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # [boot, item]
    return counts @ x.T / n


def bootstrap_emergence(
    tokens: Sequence[float],
    items: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **criterion,
) -> EmergenceCI:
    """Emergence point of the mean curve with a percentile bootstrap interval.

    Items are resampled jointly across checkpoints (one draw of item indices per resample),
    so checkpoint-to-checkpoint correlation is kept. Censored resamples count as +inf tokens.

    Args:
        tokens: Tokens seen at each checkpoint, ``[checkpoint]``.
        items: Per-item outcomes, ``[checkpoint, item]``.
        n_boot: Number of resamples.
        seed: Seed of the resampling.
        alpha: 1 - coverage of the interval.
        **criterion: Keyword arguments of :func:`emergence_point` (``method``, ``threshold``...).

    >>> items = np.array([[0, 0, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]])
    >>> bootstrap_emergence([1, 2, 3], items, threshold=0.9, n_boot=50).point
    3.0
    """
    crit = Criterion(**criterion)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha={alpha!r} must be in (0, 1), e.g. 0.05 for a 95% interval.")
    x = _check_items(items)
    t = np.asarray(tokens, dtype=float)
    if t.shape != (x.shape[0],):
        raise ConfigError(
            f"tokens has shape {t.shape} but items has {x.shape[0]} checkpoints; give one token "
            "count per row of items."
        )
    point = crit.point(t, x.mean(axis=1))
    curves = bootstrap_curves(x, n_boot=n_boot, seed=seed)
    pts = np.array([_inf(crit.point(t, c)) for c in curves])
    lo, hi = np.quantile(pts, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return EmergenceCI(
        point=point,
        lo=_none(lo),
        hi=_none(hi),
        censored=float(np.mean(np.isinf(pts))),
        n_boot=int(n_boot),
    )


def emergence_table(
    curves, *, drop_zero_tokens: bool = False, **criterion
) -> dict[str, dict[str, float | None]]:
    """Emergence point of every (model, task) curve of a long-format table.

    Args:
        curves: A DataFrame (or records) with columns ``model, tokens, task, score``.
        drop_zero_tokens: Drop checkpoints with tokens <= 0 first (the paper's convention).
        **criterion: Keyword arguments of :func:`emergence_point`.

    Returns:
        ``{model: {task: tokens or None}}``, tasks in sorted order.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": "m", "task": "t", "tokens": [1, 2], "score": [0.1, 0.9]})
    >>> emergence_table(df)
    {'m': {'t': 2.0}}
    """
    import pandas as pd

    crit = Criterion(**criterion)
    df = curves if isinstance(curves, pd.DataFrame) else pd.DataFrame(list(curves))
    missing = {"model", "tokens", "task", "score"} - set(df.columns)
    if missing:
        raise ConfigError(
            f"curves lack column(s) {sorted(missing)}; got {list(df.columns)}. Expected the "
            "long format of curriculens.analysis.importers (model, checkpoint, tokens, task, "
            "score)."
        )
    if drop_zero_tokens:
        df = df[df["tokens"] > 0]
    out: dict[str, dict[str, float | None]] = {}
    for (model, task), g in df.groupby(["model", "task"], sort=True):
        out.setdefault(str(model), {})[str(task)] = crit.point(
            g["tokens"].to_numpy(float), g["score"].to_numpy(float)
        )
    return out


def behavior_emergence(
    store,
    *,
    run: str | None = None,
    metric: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    **criterion,
) -> dict[str, dict[str, EmergenceCI]]:
    """Behavior emergence of every skill in a store, with item-bootstrap intervals.

    Reads ``kind="behavior"`` rows of each skill's primary metric (from the run's skill snapshot).
    Skills whose rows lack per-item outcomes get the point estimate only (``n_boot=0``).

    Args:
        store: A :class:`~curriculens.store.Store`, a run directory or a ``.sqlite`` file.
        run: Only this run (default: every run in the store).
        metric: Read this behavior metric for every skill instead of the primary one.
        n_boot: Bootstrap resamples.
        seed: Seed of the resampling.
        alpha: 1 - coverage of the intervals.
        **criterion: Keyword arguments of :func:`emergence_point`; ``chance="skill"`` normalizes
            each skill by its chance level as swept.

    Returns:
        ``{run: {skill: EmergenceCI}}``.

    >>> cis = behavior_emergence("runs/pythia160m", threshold=0.8, n_boot=500)  # doctest: +SKIP
    >>> cis["pythia160m"]["agreement"].hi  # doctest: +SKIP
    """
    where = {"kind": "behavior"} | ({"run": run} if run is not None else {})
    rows = read_rows(store, items=True, **where)
    if not rows:
        raise ConfigError(
            f"No behavior rows{'' if run is None else f' for run {run!r}'} in the store; run "
            "a sweep with behavior scoring first."
        )
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["run"], r["skill"]), []).append(r)
    info = skill_info(store, sorted({skill for _, skill in groups}))
    out: dict[str, dict[str, EmergenceCI]] = {}
    for (rn, skill), rs in sorted(groups.items()):
        m = metric or pick_metric(info.get(skill), sorted({r["metric"] for r in rs}))
        rs = sorted((r for r in rs if r["metric"] == m), key=lambda r: r["tokens"])
        if not rs:
            continue
        kw = dict(criterion)
        if kw.get("chance") == "skill":
            kw["chance"] = info.get(skill, {}).get("chance", 0.0)
        tokens = [r["tokens"] for r in rs]
        items = [r["items"] for r in rs]
        if (
            n_boot > 0
            and all(i is not None and len(i) for i in items)
            and (len({len(i) for i in items}) == 1)
        ):
            ci = bootstrap_emergence(
                tokens, np.stack(items), n_boot=n_boot, seed=seed, alpha=alpha, **kw
            )
        else:
            values = [np.nan if r["value"] is None else r["value"] for r in rs]
            point = emergence_point(tokens, values, **kw)
            ci = EmergenceCI(point=point, lo=None, hi=None, censored=float(point is None), n_boot=0)
        out.setdefault(rn, {})[skill] = ci
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


def _inf(p: float | None) -> float:
    return math.inf if p is None else float(p)


def _none(p: float) -> float | None:
    return None if not math.isfinite(p) else float(p)
