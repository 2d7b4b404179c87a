"""Predict a composite's trajectory from task vectors: the ``fv`` and ``fv_discovered`` methods.

The Implicit Curriculum paper (Liu et al., 2026) predicts held-out composite tasks' accuracy
curves from their function vectors' place among the other tasks' vectors. Here, per model and
checkpoint t (the checkpoints :func:`~curriculens.analysis.predict.predict_baselines` scores),
and per hook:

* ``fv``: the composite's task vector is projected on its declared components' vectors by least
  squares, ``w(t) = argmin |V_parts w - v_composite|``, and the raw prediction is
  ``p(t) = sum_k w_k(t) acc_k(t)``, the components' curves weighted by the projection.
* ``fv_discovered``: the same with no declared decomposition: non-negative least squares on
  every elemental vector (the few-shot skills with vectors that are not composites), and the
  raw prediction the elementals' curves weighted by it.

A raw prediction is a weighted sum of accuracies, not yet on the composite's scale, so it goes
through a linear calibration ``a + b p`` fitted leave-one-composite-out: on the pooled points
of every other composite (of every model in the input) that neither is the held-out composite
nor declares it as a component. The hook is chosen the same way: the one whose calibrated raw
predictions fit those training composites best (pooled R²). Nothing from the held-out
composite's own curve enters its prediction (``tests/analysis/test_fv.py`` permutes it and
checks). The behavioral baselines are not calibrated (as in the paper), so ``r2`` favours the
calibrated methods by an offset and a scale; ``r2_pearson`` ignores both and compares shapes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from curriculens.analysis.fv_paper import predict_paper
from curriculens.analysis.predict import (
    BASELINES,
    Prediction,
    decoy_nulls,
    predict_baselines,
    r2_pearson,
    r2_score,
)
from curriculens.analysis.scoring import decoy_sets
from curriculens.errors import ConfigError
from curriculens.params import flag
from curriculens.store_schema import hook_layer

#: the methods fitted on task vectors, in report order
FV_METHODS = ("fv", "fv_discovered")
#: how :func:`predict_trajectories` uses task vectors: today's least-squares ``projection``
#: (this module) or the paper's procedure (:mod:`curriculens.analysis.fv_paper`)
FV_VARIANTS = ("projection", "paper")


@dataclass
class _Case:
    """One scored (model, composite): its checkpoints, its curve and its raw predictions."""

    model: str
    name: str
    parts: tuple[str, ...]
    tokens: np.ndarray
    actual: np.ndarray
    raw: dict  # {method: {hook: raw prediction [t]}}
    weights: dict  # {method: {hook: {skill: weight at the last checkpoint}}}


def index_vectors(rows: Sequence[Mapping]) -> dict[tuple[str, float, str], dict[str, np.ndarray]]:
    """``{(model, tokens, hook): {skill: unit vector}}`` of stored vector rows
    (:func:`curriculens.analysis.table.read_vectors`); vectors without a direction (norm 0,
    e.g. at the embedding, where k-shot and control prompts end on the same token) are left
    out."""
    out: dict[tuple[str, float, str], dict[str, np.ndarray]] = {}
    for r in rows:
        data = np.asarray(r["data"], np.float64)
        if r.get("norm") is None or not r["norm"] > 0 or not np.isfinite(data).all():
            continue
        out.setdefault((str(r["run"]), float(r["tokens"]), str(r["hook"])), {})[str(r["skill"])] = (
            data
        )
    return out


def predict_trajectories(
    curves: pd.DataFrame,
    components: Mapping[str, Sequence[str]] | None = None,
    vectors: Sequence[Mapping] = (),
    *,
    method: str = "projection",
    scoring: str = "raw",
    heads: str = "all",
    decoys: bool = True,
) -> Prediction:
    """The behavioral baselines (:func:`~curriculens.analysis.predict.predict_baselines`) and,
    where task vectors are given, the task-vector methods for every composite.

    Args:
        curves: Long-format ``model, tokens, task, score`` (unsmoothed).
        components: ``{composite: components}`` (None: from the paper's task names).
        vectors: Vector rows (``run`` = the curves' model, ``tokens``, ``hook``, ``skill``,
            ``norm``, ``data``), e.g. :func:`curriculens.analysis.table.read_vectors`.
        method: ``projection`` (today's ``fv`` and ``fv_discovered``, this module) or
            ``paper`` (:func:`curriculens.analysis.fv_paper.predict_paper`: one checkpoint's
            vectors, cosine weights, the weighted geometric mean and its siblings).
        scoring: ``raw`` or ``paper`` (:mod:`curriculens.analysis.scoring`). The projection
            methods are fitted and scored on raw curves only; under ``paper`` scoring they are
            left out, with the reason in ``skipped``.
        heads: Paper method only: ``all`` heads of the last layer (the paper's code) or
            ``topk`` (its README).
        decoys: Add the decoy null (the same method on every other set of elementals).

    Returns:
        A :class:`Prediction` whose methods add ``fv`` and ``fv_discovered`` when vectors were
        given; a composite a method cannot score leaves that method out (and says why in
        ``skipped``).
    """
    if method not in FV_VARIANTS:
        raise ConfigError(f"method={method!r}; expected one of {', '.join(FV_VARIANTS)}.")
    if method == "paper":
        return predict_paper(
            curves, components, vectors, scoring=scoring, heads=heads, decoys=decoys
        )
    base = predict_baselines(curves, components, scoring=scoring, decoys=decoys)
    vecs = index_vectors([r for r in vectors if r.get("variant", "resid") in ("resid", "heads")])
    if not vecs:
        return base
    if scoring != "raw":
        note = (
            "projection FV methods are fitted and scored on raw curves only "
            f"({flag('scoring')} raw)"
        )
        return replace(base, skipped=base.skipped + (("*", "*", note),))
    composites = {c.name for c in base.composites} | set(components or {})
    with_vectors = {s for v in vecs.values() for s in v}
    elementals = sorted(with_vectors - composites)
    tables = {
        str(m): g[g["tokens"] > 0].pivot_table(
            index="tokens", columns="task", values="score", aggfunc="first", dropna=False
        )
        for m, g in curves.groupby("model", sort=False)
    }
    hooks = sorted({h for (_, _, h) in vecs}, key=lambda h: (hook_layer(h), h))
    cases, notes = [], []
    for c in base.composites:
        case = _Case(
            model=c.model,
            name=c.name,
            parts=c.components,
            tokens=np.asarray(c.tokens, float),
            actual=np.asarray(c.actual, float),
            raw={},
            weights={},
        )
        _raw(case, tables[c.model], vecs, hooks, elementals)
        cases.append(case)
    fitted = {m: _leave_one_composite_out(cases, m) for m in FV_METHODS}
    scored = []
    for c, case in zip(base.composites, cases, strict=True):
        pred, hook_of, weights = dict(c.predicted), dict(c.hooks), dict(c.weights)
        r2, rp, nulls = dict(c.r2), dict(c.r2_pearson), dict(c.decoys)
        for m in FV_METHODS:
            got = fitted[m].get((case.model, case.name))
            if isinstance(got, str):
                notes.append((case.model, case.name, f"{m}: {got}"))
                continue
            hook, p, a, b = got
            pred[m], hook_of[m] = tuple(p.tolist()), hook
            weights[m] = case.weights[m][hook]
            r2[m], rp[m] = r2_score(case.actual, p), r2_pearson(case.actual, p)
            if decoys and m == "fv":
                null = _projection_decoys(case, tables[c.model], vecs, hook, elementals, a, b, p)
                if null:
                    nulls[m] = null
        scored.append(
            replace(
                c,
                predicted=pred,
                r2=r2,
                r2_pearson=rp,
                hooks=hook_of,
                weights=weights,
                decoys=nulls,
            )
        )
    return Prediction(
        composites=tuple(scored),
        skipped=base.skipped + tuple(notes),
        methods=BASELINES + FV_METHODS,
        scoring=scoring,
    )


def _raw(case: _Case, table: pd.DataFrame, vecs, hooks, elementals) -> None:
    """Fill ``case.raw`` and ``case.weights``: per method, the raw prediction at every hook
    where the vectors it needs exist at every scored checkpoint."""
    from scipy.optimize import nnls

    ts = case.tokens
    basis = [
        e
        for e in elementals
        if e in table.columns and np.isfinite(table.reindex(ts)[e].to_numpy(float)).all()
    ]
    for h in hooks:
        at = [vecs.get((case.model, float(t), h), {}) for t in ts]
        if not all(case.name in v for v in at):
            continue
        for method, skills in (("fv", list(case.parts)), ("fv_discovered", basis)):
            skills = [s for s in skills if all(s in v for v in at)]
            if method == "fv" and len(skills) < len(set(case.parts)):
                continue  # a component without a vector: no projection on the declared ones
            if not skills:
                continue
            acc = table.reindex(ts)[skills].to_numpy(float)  # [t, k]
            p, w = np.empty(len(ts)), None
            for i, v in enumerate(at):
                A = np.stack([v[s] for s in skills], axis=1)
                if method == "fv":
                    w = np.linalg.lstsq(A, v[case.name], rcond=None)[0]
                else:
                    w = nnls(A, v[case.name])[0]
                p[i] = float(w @ acc[i])
            case.raw.setdefault(method, {})[h] = p
            case.weights.setdefault(method, {})[h] = {
                s: round(float(x), 6) for s, x in zip(skills, w, strict=True)
            }


def _leave_one_composite_out(cases: list[_Case], method: str) -> dict:
    """``{(model, composite): (hook, calibrated prediction) or the reason there is none}``.

    The calibration and the hook of a held-out composite come from the other composites only
    (every model's), excluding any composite that declares the held-out one as a component.
    """
    out: dict = {}
    for c in cases:
        if method not in c.raw:
            out[(c.model, c.name)] = "no task vectors for it and its components at every checkpoint"
            continue
        train = [o for o in cases if o.name != c.name and c.name not in o.parts and method in o.raw]
        if not train:
            out[(c.model, c.name)] = (
                "no other composite with vectors to fit the calibration on (leave-one-"
                "composite-out needs two or more composites)"
            )
            continue
        best = None
        for h in c.raw[method]:
            if not all(h in o.raw[method] for o in train):
                continue
            x = np.concatenate([o.raw[method][h] for o in train])
            y = np.concatenate([o.actual for o in train])
            fit = _calibrate(x, y)
            if fit is not None and (best is None or fit[2] > best[2]):
                best = (h, fit[0], fit[1], fit[2])
        if best is None:
            out[(c.model, c.name)] = "no hook where the training composites' raw predictions vary"
            continue
        h, a, b, _ = best
        out[(c.model, c.name)] = (h, a + b * c.raw[method][h], a, b)
    return out


def _projection_decoys(case: _Case, table, vecs, hook, elementals, a, b, p) -> dict:
    """The ``fv`` decoy null: the held-out composite's vectors projected on every other set of
    elementals of its size at the chosen hook, their curves weighted by the projection and put
    through the same calibration ``a + b p`` (fitted on the other composites, which the decoy
    does not change)."""
    ts = case.tokens
    at = [vecs.get((case.model, float(t), hook), {}) for t in ts]
    acc_of = {}
    for e in elementals:
        if e in table.columns and all(e in v for v in at):
            y = table[e].reindex(ts).to_numpy(float)
            if np.isfinite(y).all():
                acc_of[e] = y
    sets, sampled = decoy_sets(list(acc_of), case.parts)
    if not sets:
        return {}
    rows = np.empty((len(sets), len(ts)))
    for j, s in enumerate(sets):
        for i, v in enumerate(at):
            A = np.stack([v[e] for e in s], axis=1)
            w = np.linalg.lstsq(A, v[case.name], rcond=None)[0]
            rows[j, i] = float(w @ np.array([acc_of[e][i] for e in s]))
    return decoy_nulls(case.actual, p, a + b * rows, "raw", sampled=sampled)


def _calibrate(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float] | None:
    """Least-squares ``y ≈ a + b x`` and its pooled R² (None when x or y is constant).

    >>> _calibrate(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    (1.0, 2.0, 1.0)
    """
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    r2 = 1.0 - float((resid**2).sum()) / float(((y - y.mean()) ** 2).sum())
    return round(float(a), 12), round(float(b), 12), round(r2, 12)
