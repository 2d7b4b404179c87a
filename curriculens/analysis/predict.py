"""Predict a composite skill's trajectory from its components' curves (behavioral baselines).

The Implicit Curriculum paper (Liu et al., 2026) predicts a composite task's accuracy curve over
training and compares the prediction with baselines that only combine the components' curves:
their ``product``, ``min`` and ``mean`` at each checkpoint. This module computes those
baselines and scores each on the composite's own curve, unsmoothed, over the checkpoints with
tokens > 0 where the composite and every component were evaluated (a finite score).

Two scores are reported, because they are different numbers:

* ``r2``: the coefficient of determination, 1 - SS_res / SS_tot, with SS_tot around the
  composite's mean. It is negative when the prediction is worse than the composite's mean and
  is undefined (None) for a constant composite curve.
* ``r2_pearson``: the squared Pearson correlation of prediction and curve (what the paper's
  code calls R²). It ignores scale and offset, so a baseline far below the curve but of the
  same shape still scores 1; it is undefined (None) when either curve is constant.

Composites and their components come from a run's skill snapshot (declared ``components``) and
from the paper's task names (``compositional_A_B``, parsed with
:data:`~curriculens.analysis.consistency.PAPER_OPERATIONS`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from curriculens.analysis.consistency import (
    PAPER_OPERATIONS,
    elemental_components,
    registry_components,
)
from curriculens.errors import ConfigError

#: behavioral baselines: how the component curves combine into a predicted composite curve
BASELINES = ("product", "min", "mean")
#: fewest checkpoints a composite is scored on (two points always correlate perfectly)
MIN_POINTS = 3

_COMBINE = {
    "product": lambda parts: np.prod(parts, axis=0),
    "min": lambda parts: np.min(parts, axis=0),
    "mean": lambda parts: np.mean(parts, axis=0),
}


@dataclass(frozen=True, kw_only=True)
class CompositePrediction:
    """The baselines' predictions of one composite's curve in one model, and their scores.

    Attributes:
        model: The model (a run's name, or the CSV's model column).
        name: The composite task.
        components: Its component tasks, in declared (or name) order.
        tokens: The checkpoints scored (tokens > 0, composite and components all evaluated).
        actual: The composite's score at those checkpoints, unsmoothed.
        predicted: ``{method: predicted curve}`` at the same checkpoints.
        r2: ``{method: 1 - SS_res / SS_tot}`` (None where SS_tot is 0).
        r2_pearson: ``{method: squared Pearson r}`` (None where either curve is constant).
        hooks: ``{method: hook}`` of the methods fitted on task vectors
            (:mod:`curriculens.analysis.fv`): the hook chosen on the other composites.
        weights: ``{method: {skill: weight}}`` of those methods at the last checkpoint scored.
    """

    model: str
    name: str
    components: tuple[str, ...]
    tokens: tuple[float, ...] = field(repr=False)
    actual: tuple[float, ...] = field(repr=False)
    predicted: dict[str, tuple[float, ...]] = field(repr=False)
    r2: dict[str, float | None]
    r2_pearson: dict[str, float | None]
    hooks: dict[str, str] = field(default_factory=dict)
    weights: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {
            "model": self.model,
            "name": self.name,
            "components": list(self.components),
            "n": len(self.tokens),
            "r2": dict(self.r2),
            "r2_pearson": dict(self.r2_pearson),
        }
        if self.hooks:
            out["hooks"], out["weights"] = dict(self.hooks), dict(self.weights)
        return out


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """Every scored composite, the means per method, and what was left out and why.

    Attributes:
        composites: One :class:`CompositePrediction` per (model, composite), sorted.
        skipped: ``(model, composite, reason)`` for composites that could not be scored.
        methods: The methods scored (the behavioral baselines here).
    """

    composites: tuple[CompositePrediction, ...]
    skipped: tuple[tuple[str, str, str], ...]
    methods: tuple[str, ...] = BASELINES

    def mean(
        self, score: str = "r2", model: str | None = None, *, how: str = "mean"
    ) -> dict[str, float | None]:
        """``{method: mean score}`` over composites where it is defined (one model or all).

        A composite whose curve barely moves has a tiny SS_tot, so its ``r2`` can be -1000 and
        carry the mean; ``how="median"`` gives the robust summary beside it.

        Args:
            score: ``r2`` or ``r2_pearson``.
            model: Average this model's composites only; None: every model's.
            how: ``mean`` or ``median``.
        """
        if score not in ("r2", "r2_pearson"):
            raise ConfigError(f"score={score!r}; expected 'r2' or 'r2_pearson'.")
        if how not in ("mean", "median"):
            raise ConfigError(f"how={how!r}; expected 'mean' or 'median'.")
        agg = np.mean if how == "mean" else np.median
        out = {}
        for m in self.methods:
            vals = [
                getattr(c, score)[m]
                for c in self.composites
                if (model is None or c.model == model) and getattr(c, score).get(m) is not None
            ]
            out[m] = float(agg(vals)) if vals else None
        return out

    def count(self, score: str = "r2", model: str | None = None) -> dict[str, int]:
        """``{method: number of composites behind :meth:`mean`}``."""
        return {
            m: sum(
                getattr(c, score).get(m) is not None
                for c in self.composites
                if model is None or c.model == model
            )
            for m in self.methods
        }

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(c.model for c in self.composites))

    def to_json(self) -> dict:
        """``{"composites": [...], "mean_r2", "mean_r2_pearson", "median_r2",
        "median_r2_pearson", "n", "n_pearson", "by_model": {model: the same}, "skipped"}``;
        ``n`` counts the composites behind each mean (those with a defined score)."""
        return {
            "composites": [c.to_json() for c in self.composites],
            "mean_r2": self.mean("r2"),
            "mean_r2_pearson": self.mean("r2_pearson"),
            "median_r2": self.mean("r2", how="median"),
            "median_r2_pearson": self.mean("r2_pearson", how="median"),
            "n": self.count("r2"),
            "n_pearson": self.count("r2_pearson"),
            "by_model": {
                m: {
                    "mean_r2": self.mean("r2", m),
                    "mean_r2_pearson": self.mean("r2_pearson", m),
                    "median_r2": self.mean("r2", m, how="median"),
                    "median_r2_pearson": self.mean("r2_pearson", m, how="median"),
                    "n": self.count("r2", m),
                    "n_pearson": self.count("r2_pearson", m),
                }
                for m in self.models
            },
            "skipped": [{"model": m, "name": c, "reason": r} for m, c, r in self.skipped],
        }


def r2_score(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Coefficient of determination 1 - SS_res / SS_tot (None when ``actual`` is constant).

    >>> r2_score([0.0, 0.5, 1.0], [0.0, 0.5, 1.0])
    1.0
    >>> r2_score([0.0, 0.5, 1.0], [0.5, 0.5, 0.5])
    0.0
    """
    y, p = np.asarray(actual, float), np.asarray(predicted, float)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot <= 0:
        return None
    return 1.0 - float(((y - p) ** 2).sum()) / ss_tot


def r2_pearson(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Squared Pearson correlation (None when either sequence is constant).

    >>> r2_pearson([0.0, 0.5, 1.0], [0.0, 0.05, 0.1])
    1.0
    """
    y, p = np.asarray(actual, float), np.asarray(predicted, float)
    if len(y) < 2 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return None
    r = float(np.corrcoef(y, p)[0, 1])
    return r * r if math.isfinite(r) else None


def composite_components(
    tasks: Sequence[str], skills: Mapping | str | None = None
) -> dict[str, tuple[str, ...]]:
    """Composites among ``tasks`` and their components: declared ones (a run's snapshot, else
    the registry) and the paper's ``compositional_*`` names (:data:`PAPER_OPERATIONS`).

    >>> composite_components(["compositional_plural_upper", "simple_icl_uppercase"])
    {'compositional_plural_upper': ('simple_icl_singular_to_plural', 'simple_icl_uppercase')}
    """
    tasks = list(tasks)
    return registry_components(tasks, skills) | elemental_components(
        tasks, operations=PAPER_OPERATIONS
    )


def predict_baselines(
    curves: pd.DataFrame, components: Mapping[str, Sequence[str]] | None = None
) -> Prediction:
    """Score the product, min and mean of the component curves on each composite's curve.

    Per model and composite whose components all have curves in that model: the checkpoints
    with tokens > 0 where the composite and every component have a finite score are kept; the
    baselines are computed there and scored with :func:`r2_score` and :func:`r2_pearson`.
    Composites with fewer than :data:`MIN_POINTS` such checkpoints are skipped with a reason.

    Args:
        curves: Long-format table with columns ``model, tokens, task, score`` (see
            :func:`curriculens.analysis.importers.load_curves`).
        components: ``{composite: [component, ...]}``; None: parsed from the paper's task
            names (:func:`composite_components` without a snapshot).

    >>> df = pd.DataFrame({"model": "m", "tokens": [1, 2, 3] * 3,
    ...     "task": ["a"] * 3 + ["b"] * 3 + ["ab"] * 3,
    ...     "score": [0.2, 0.6, 1.0, 0.5, 1.0, 1.0, 0.1, 0.6, 1.0]})
    >>> p = predict_baselines(df, {"ab": ["a", "b"]})
    >>> p.composites[0].r2["product"], round(p.composites[0].r2_pearson["min"], 3)
    (1.0, 0.996)
    """
    need = {"model", "tokens", "task", "score"}
    missing = sorted(need - set(curves.columns))
    if missing:
        raise ConfigError(
            f"Curves lack column(s) {missing}; expected model, tokens, task, score (the long "
            "format of analysis.importers.load_curves)."
        )
    if components is None:
        components = composite_components(sorted(curves["task"].astype(str).unique()))
    scored, skipped = [], []
    for model, g in curves.groupby("model", sort=False):
        model = str(model)
        present = set(g["task"].astype(str))
        table = g[g["tokens"] > 0].pivot_table(
            index="tokens", columns="task", values="score", aggfunc="first", dropna=False
        )
        for name in sorted(components):
            parts = tuple(components[name])
            if name not in present:
                continue
            absent = [p for p in parts if p not in present]
            if absent:
                skipped.append((model, name, f"no curve for component(s) {', '.join(absent)}"))
                continue
            sub = table[[name, *dict.fromkeys(parts)]].dropna()
            sub = sub[np.isfinite(sub.to_numpy(float)).all(axis=1)].sort_index()
            if len(sub) < MIN_POINTS:
                skipped.append(
                    (
                        model,
                        name,
                        f"{len(sub)} checkpoint(s) with tokens > 0 where it and all its "
                        f"components were evaluated; {MIN_POINTS} needed",
                    )
                )
                continue
            scored.append(_score(model, name, parts, sub))
    scored.sort(key=lambda c: (c.model, c.name))
    return Prediction(composites=tuple(scored), skipped=tuple(skipped))


def _score(model: str, name: str, parts: tuple[str, ...], sub: pd.DataFrame):
    actual = sub[name].to_numpy(float)
    comp = np.stack([sub[p].to_numpy(float) for p in parts])
    predicted = {m: _COMBINE[m](comp) for m in BASELINES}
    return CompositePrediction(
        model=model,
        name=name,
        components=parts,
        tokens=tuple(float(t) for t in sub.index),
        actual=tuple(actual.tolist()),
        predicted={m: tuple(v.tolist()) for m, v in predicted.items()},
        r2={m: r2_score(actual, v) for m, v in predicted.items()},
        r2_pearson={m: r2_pearson(actual, v) for m, v in predicted.items()},
    )
