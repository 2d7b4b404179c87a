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
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from curriculens.analysis.consistency import (
    PAPER_OPERATIONS,
    elemental_components,
    registry_components,
)
from curriculens.analysis.scoring import (
    DecoyNull,
    check_scoring,
    decoy_sets,
    on_grid,
    paper_r2,
    pearson_rows,
    r2_rows,
    union_grid,
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
        decoys: ``{method: {score: DecoyNull}}``: the same method on every other set of
            elementals of the composite's size (:mod:`curriculens.analysis.scoring`).
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
    decoys: dict[str, dict[str, DecoyNull]] = field(default_factory=dict, repr=False)

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
        if self.decoys:
            out["decoys"] = {
                m: {s: d.to_json() for s, d in by.items()} for m, by in self.decoys.items()
            }
        return out


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """Every scored composite, the means per method, and what was left out and why.

    Attributes:
        composites: One :class:`CompositePrediction` per (model, composite), sorted.
        skipped: ``(model, composite, reason)`` for composites that could not be scored.
        methods: The methods scored (the behavioral baselines here).
        scoring: How the scores were computed: ``raw`` or ``paper``
            (:data:`~curriculens.analysis.scoring.SCORINGS`).
    """

    composites: tuple[CompositePrediction, ...]
    skipped: tuple[tuple[str, str, str], ...]
    methods: tuple[str, ...] = BASELINES
    scoring: str = "raw"

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

    def decoy_summary(self, score: str = "r2_pearson", model: str | None = None) -> dict:
        """``{method: {"n", "first", "declared_mean", "decoy_mean", "decoy_p95", "rank_median",
        "beaten_median"}}`` over the
        composites with a ranked decoy null (a declared score and at least one decoy): how
        many, how many whose declared components score strictly above every decoy, the mean
        declared score, the mean of the decoy means and of the decoys' 95th percentiles, the
        median rank and the median fraction of decoys scoring above the declared set."""
        out = {}
        for m in self.methods:
            rows = [
                (c, c.decoys[m][score])
                for c in self.composites
                if (model is None or c.model == model)
                and score in c.decoys.get(m, {})
                and c.decoys[m][score].rank is not None
                and c.decoys[m][score].n > 0
            ]
            if not rows:
                continue
            declared = [getattr(c, score).get(m) for c, _ in rows]
            declared = [v for v in declared if v is not None]
            out[m] = {
                "n": len(rows),
                "first": sum(d.first for _, d in rows),
                "declared_mean": float(np.mean(declared)) if declared else None,
                "decoy_mean": float(np.mean([d.mean for _, d in rows])),
                "decoy_p95": float(np.mean([d.p95 for _, d in rows])),
                "rank_median": float(np.median([d.rank for _, d in rows])),
                "beaten_median": float(np.median([(d.rank - 1) / d.n for _, d in rows])),
            }
        return out

    def to_json(self) -> dict:
        """``{"scoring", "composites": [...], "mean_r2", "mean_r2_pearson", "median_r2",
        "median_r2_pearson", "n", "n_pearson", "decoys", "by_model": {model: the same},
        "skipped"}``; ``n`` counts the composites behind each mean (those with a defined
        score); ``decoys`` is :meth:`decoy_summary` per score."""
        return {
            "scoring": self.scoring,
            "methods": list(self.methods),
            "composites": [c.to_json() for c in self.composites],
            "mean_r2": self.mean("r2"),
            "mean_r2_pearson": self.mean("r2_pearson"),
            "median_r2": self.mean("r2", how="median"),
            "median_r2_pearson": self.mean("r2_pearson", how="median"),
            "n": self.count("r2"),
            "n_pearson": self.count("r2_pearson"),
            "decoys": {k: self.decoy_summary(k) for k in ("r2", "r2_pearson")},
            "by_model": {
                m: {
                    "mean_r2": self.mean("r2", m),
                    "mean_r2_pearson": self.mean("r2_pearson", m),
                    "median_r2": self.mean("r2", m, how="median"),
                    "median_r2_pearson": self.mean("r2_pearson", m, how="median"),
                    "n": self.count("r2", m),
                    "n_pearson": self.count("r2_pearson", m),
                    "decoys": {k: self.decoy_summary(k, m) for k in ("r2", "r2_pearson")},
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


class ModelCurves:
    """One model's curves, read the way a scoring reads them (:mod:`~.scoring`).

    ``raw``: a pivot table at tokens > 0; a composite is scored at the checkpoints where it and
    every component have a finite score. ``paper``: each task's own finite points at tokens > 0;
    a composite is scored on the union of its and its components' grids, every curve
    interpolated there and smoothed (sigma = 1).
    """

    def __init__(self, model: str, g: pd.DataFrame, scoring: str = "raw"):
        self.model, self.scoring = model, check_scoring(scoring)
        g = g[g["tokens"] > 0]
        self.table = g.pivot_table(
            index="tokens", columns="task", values="score", aggfunc="first", dropna=False
        ).sort_index()
        self.own = {}
        for task, col in self.table.items():
            col = col[np.isfinite(col.to_numpy(float))]
            self.own[str(task)] = (col.index.to_numpy(float), col.to_numpy(float))

    @property
    def tasks(self) -> set[str]:
        return set(self.own)

    def align(self, name: str, parts: Sequence[str]):
        """``(tokens, actual, {part: curve})`` of a composite, or the reason it has none."""
        parts = list(dict.fromkeys(parts))
        if self.scoring == "raw":
            sub = self.table[[name, *parts]].dropna()
            sub = sub[np.isfinite(sub.to_numpy(float)).all(axis=1)]
            tokens = sub.index.to_numpy(float)
            actual = sub[name].to_numpy(float)
            curves = {p: sub[p].to_numpy(float) for p in parts}
            what = "with tokens > 0 where it and all its components were evaluated"
        else:
            empty = [t for t in [name, *parts] if not len(self.own[t][0])]
            tokens = union_grid([self.own[t] for t in [name, *parts]]) if not empty else []
            if empty:
                return f"no finite point with tokens > 0 for {', '.join(empty)}"
            actual = on_grid(self.own[name], tokens)
            curves = {p: on_grid(self.own[p], tokens) for p in parts}
            what = "in the union of its and its components' grids (tokens > 0)"
        if len(tokens) < MIN_POINTS:
            return f"{len(tokens)} checkpoint(s) {what}; {MIN_POINTS} needed"
        return np.asarray(tokens, float), actual, curves

    def curve_at(self, task: str, tokens: np.ndarray) -> np.ndarray | None:
        """``task``'s curve at a composite's scored ``tokens`` the way this scoring reads it
        (None: not evaluated at every one of them, raw scoring; no point, paper scoring)."""
        if task not in self.own or not len(self.own[task][0]):
            return None
        if self.scoring == "paper":
            return on_grid(self.own[task], tokens)
        y = self.table[task].reindex(tokens).to_numpy(float)
        return y if np.isfinite(y).all() else None


def score_pair(actual: np.ndarray, predicted: np.ndarray, scoring: str):
    """``(r2, r2_pearson)`` of one prediction under ``scoring`` (``paper``: the second is the
    paper's R², :func:`~.scoring.paper_r2`)."""
    pearson = paper_r2 if scoring == "paper" else r2_pearson
    return r2_score(actual, predicted), pearson(actual, predicted)


def decoy_nulls(
    actual: np.ndarray,
    predicted: np.ndarray,
    decoys: np.ndarray,
    scoring: str,
    *,
    sampled: bool = False,
) -> dict[str, DecoyNull]:
    """``{score: DecoyNull}`` of a declared prediction and its decoys' ``[m, t]``."""
    r2, rp = score_pair(actual, predicted, scoring)
    if not len(decoys):
        return {}
    return {
        "r2": DecoyNull.of("r2", r2, r2_rows(actual, decoys), sampled),
        "r2_pearson": DecoyNull.of(
            "r2_pearson", rp, pearson_rows(actual, decoys, paper=scoring == "paper"), sampled
        ),
    }


def elemental_curves(
    mc: ModelCurves, elementals: Sequence[str], tokens: np.ndarray
) -> dict[str, np.ndarray]:
    """``{elemental: curve at tokens}`` of the elementals this scoring can read there."""
    out = {}
    for e in elementals:
        y = mc.curve_at(e, tokens)
        if y is not None:
            out[e] = y
    return out


def default_elementals(tasks: Sequence[str], components: Mapping[str, Sequence[str]]) -> list:
    """The tasks that are not composites: not declared with components, not ``compositional*``."""
    return sorted(t for t in tasks if t not in components and not t.startswith("compositional"))


def predict_baselines(
    curves: pd.DataFrame,
    components: Mapping[str, Sequence[str]] | None = None,
    *,
    scoring: str = "raw",
    decoys: bool = True,
    elementals: Sequence[str] | None = None,
) -> Prediction:
    """Score the product, min and mean of the component curves on each composite's curve.

    Per model and composite whose components all have curves in that model: under ``raw``
    scoring, the checkpoints with tokens > 0 where the composite and every component have a
    finite score are kept; under ``paper`` scoring, the union of their grids, every curve
    interpolated and smoothed (:mod:`curriculens.analysis.scoring`). The baselines are computed
    there and scored with :func:`r2_score` and :func:`r2_pearson` (``paper``: the paper's R²).
    Composites with fewer than :data:`MIN_POINTS` such checkpoints are skipped with a reason.

    Args:
        curves: Long-format table with columns ``model, tokens, task, score`` (see
            :func:`curriculens.analysis.importers.load_curves`).
        components: ``{composite: [component, ...]}``; None: parsed from the paper's task
            names (:func:`composite_components` without a snapshot).
        scoring: ``raw`` or ``paper``.
        decoys: Also score each baseline on every other set of elementals of the composite's
            size (:class:`~curriculens.analysis.scoring.DecoyNull`).
        elementals: The tasks decoys are drawn from (None: :func:`default_elementals`).

    >>> df = pd.DataFrame({"model": "m", "tokens": [1, 2, 3] * 3,
    ...     "task": ["a"] * 3 + ["b"] * 3 + ["ab"] * 3,
    ...     "score": [0.2, 0.6, 1.0, 0.5, 1.0, 1.0, 0.1, 0.6, 1.0]})
    >>> p = predict_baselines(df, {"ab": ["a", "b"]})
    >>> p.composites[0].r2["product"], round(p.composites[0].r2_pearson["min"], 3)
    (1.0, 0.996)
    """
    check_scoring(scoring)
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
        mc = ModelCurves(model, g, scoring)
        present = mc.tasks
        pool = default_elementals(sorted(present), components) if elementals is None else elementals
        for name in sorted(components):
            parts = tuple(components[name])
            if name not in present:
                continue
            absent = [p for p in parts if p not in present]
            if absent:
                skipped.append((model, name, f"no curve for component(s) {', '.join(absent)}"))
                continue
            got = mc.align(name, parts)
            if isinstance(got, str):
                skipped.append((model, name, got))
                continue
            c = _score(model, name, parts, *got, scoring)
            if decoys:
                c = replace(c, decoys=_baseline_decoys(mc, c, pool))
            scored.append(c)
    scored.sort(key=lambda c: (c.model, c.name))
    return Prediction(composites=tuple(scored), skipped=tuple(skipped), scoring=scoring)


def _score(model, name, parts, tokens, actual, curves, scoring):
    comp = np.stack([curves[p] for p in parts])
    predicted = {m: _COMBINE[m](comp) for m in BASELINES}
    scores = {m: score_pair(actual, v, scoring) for m, v in predicted.items()}
    return CompositePrediction(
        model=model,
        name=name,
        components=parts,
        tokens=tuple(float(t) for t in tokens),
        actual=tuple(np.asarray(actual, float).tolist()),
        predicted={m: tuple(v.tolist()) for m, v in predicted.items()},
        r2={m: s[0] for m, s in scores.items()},
        r2_pearson={m: s[1] for m, s in scores.items()},
    )


def _baseline_decoys(mc: ModelCurves, c: CompositePrediction, pool) -> dict:
    """``{baseline: {score: DecoyNull}}`` of one scored composite."""
    tokens, actual = np.asarray(c.tokens), np.asarray(c.actual)
    have = elemental_curves(mc, pool, tokens)
    sets, sampled = decoy_sets(list(have), c.components)
    if not sets:
        return {}
    E = np.stack([have[e] for e in sorted(have)])
    index = {e: i for i, e in enumerate(sorted(have))}
    S = np.array([[index[e] for e in s] for s in sets])
    stacked = np.moveaxis(E[S], 1, 0)  # [k, m, t]: the combiners reduce axis 0
    out = {}
    for m in BASELINES:
        out[m] = decoy_nulls(
            actual, np.asarray(c.predicted[m]), _COMBINE[m](stacked), mc.scoring, sampled=sampled
        )
    return out
