"""Is a probe's rise lexical? Its lexical baseline (a probe on the mean of the prompt's input
embeddings, stored by the sweep: :mod:`curriculens.probes.lexical`) read as a curve, and whether
it reaches the probe's crossing level within one checkpoint of the probe. Lead/lag and ``audit``
flag such a probe ``lexical``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from curriculens.analysis.criterion import Criterion, Crossing
from curriculens.analysis.curves import Curve, curve_of, select
from curriculens.store_schema import LEXICAL_HOOK, LEXICAL_METRIC


def lexical_curve(rows: Sequence[Mapping], skill: str) -> Curve | None:
    """The skill's lexical baseline as accuracy above the test set's chance (``lexical_acc -
    chance``, both stored by the sweep), or None when the run stored no lexical rows."""
    mine = select([r for r in rows if r["skill"] == skill], kind="baseline", metric=LEXICAL_METRIC)
    mine = [r for r in mine if r.get("hook") == LEXICAL_HOOK]
    if not mine:
        return None
    chance = [
        r["value"]
        for r in rows
        if r["skill"] == skill and r["kind"] == "baseline" and r["metric"] == "chance"
    ]
    chance = [float(v) for v in chance if v is not None and np.isfinite(v)]
    if not chance:
        return None
    c = curve_of(mine, metric="lexical accuracy above chance")
    base = float(np.median(chance))  # one test set: the same at every checkpoint and hook
    items = None if c.items is None else c.items - base
    return Curve(
        tokens=c.tokens, values=c.values - base, items=items, groups=c.groups, metric=c.metric
    )


def lexical_crossing(
    crit: Criterion, probe: Curve, crossing: Crossing, lexical: Curve
) -> tuple[bool, float | None]:
    """``(flag, tokens)``: whether the lexical baseline reaches the probe's crossing level no
    later than one checkpoint after the probe's crossing, and where it reaches it.

    The level is the one the criterion sets on the probe's curve (for a rise-based ``relative``
    criterion, its init level plus ``fraction`` of its rise; for ``fixed``, the threshold; else
    the probe's value where it crossed), read on the same kept checkpoints and smoothing. A probe
    that never emerges is never flagged.
    """
    order, t = crit.prepare(probe.tokens, probe.values)
    if crossing.state not in ("emerged", "present_at_init") or not len(t):
        return False, None
    vp = crit.transform(np.asarray(probe.values, float)[order][None, :])[0]
    k = crossing.index if crossing.index >= 0 else int(np.searchsorted(t, crossing.point))
    level = crossing_level(crit, vp, k)
    at = {float(x): float(v) for x, v in zip(lexical.tokens, lexical.values, strict=True)}
    raw = np.array([at.get(float(x), np.nan) for x in t])
    if not np.isfinite(raw).any():
        return False, None
    filled = pd.Series(raw).interpolate(limit_direction="both").to_numpy()
    vl = crit.transform(filled[None, :])[0]
    hit = np.flatnonzero(np.isfinite(vl) & (vl >= level - 1e-12))
    if not hit.size:
        return False, None
    j = int(hit[0])
    return bool(j <= k + 1), float(t[j])


def crossing_level(crit: Criterion, v: np.ndarray, k: int) -> float:
    """The value a smoothed curve ``v`` must reach to meet the criterion (its crossing at ``k``)."""
    if crit.method == "relative":
        ref = float(crit.reference(v[None, :])[0])
        if crit.rise_from == "init":
            v0 = max(float(v[0]), 0.0)
            level = v0 + crit.fraction * (ref - v0)
        else:
            level = crit.fraction * ref
        return max(level, crit.threshold) if crit.threshold is not None else level
    if crit.method in ("fixed", "stable") and crit.threshold is not None:
        return float(crit.threshold)
    return float(v[min(max(k, 0), len(v) - 1)])
