"""Predict composite trajectories from function vectors as the paper's code does (``paper``).

The Implicit Curriculum paper (Liu et al., 2026; ``scripts/trajectory_analysis/
predict_with_fv_decomposition.py`` of github.com/KaiserWhoLearns/ElementalTask) takes one
function vector per task at one mature checkpoint (:mod:`curriculens.paper_vectors` computes
them), and for each composite:

* weights ``w_i = cos(v_composite, v_i)`` to every elemental ``i`` (unit vectors: a dot
  product); a component without a vector weighs 0, as in the paper's ``.get(c, 0.0)``;
* ``fv_product``: the weighted geometric mean of the declared components' curves,
  ``prod_i a_i(t) ** (|w_i| / sum |w|)`` (accuracies clamped at 1e-6);
  ``fv_mean``: ``sum |w_i| a_i / sum |w|``; ``fv_min``: ``min_i (1 - s_i + s_i a_i)`` with
  ``s_i = |w_i| / max |w|``; ``fv_logit``: ``sigmoid(sum_i (|w_i| / sum |w|) logit(a_i))`` with
  ``a_i`` clipped to [0.01, 0.99]. When every weight is below 1e-10 each form falls back to the
  unweighted mean (``fv_min``: the unweighted min), as the paper's code does;
* ``discovered_product`` and ``discovered_min``: the same forms over the (at most)
  :data:`TOP_K` elementals with the largest ``|w_i| >= THRESHOLD`` that have curves, with no
  declared decomposition.

No fit, no calibration: the weights are fixed over training and the curves carry the time. The
paper's script scores these with its own scoring (``scoring="paper"``, which also leaves out
composites named ``reverse``/``last`` for these methods); raw scoring works too.

Beside each score, the decoy null (:class:`~curriculens.analysis.scoring.DecoyNull`): the
``fv_*`` forms applied to every other set of elementals of the composite's size, with their own
cosine weights. The ``discovered_*`` forms choose their own elementals, so they have none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from curriculens.analysis.predict import (
    ModelCurves,
    Prediction,
    decoy_nulls,
    elemental_curves,
    predict_baselines,
    score_pair,
)
from curriculens.analysis.scoring import PAPER_EXCLUDE, decoy_sets, paper_excluded
from curriculens.errors import ConfigError

#: the forms on the declared components
FV_FORMS = ("fv_product", "fv_min", "fv_mean", "fv_logit")
#: the forms on the elementals the vectors point to
DISCOVERED_FORMS = ("discovered_product", "discovered_min")
#: every paper-mode method, in report order
PAPER_METHODS = FV_FORMS + DISCOVERED_FORMS
#: the paper's discovery: at most this many elementals ...
TOP_K = 5
#: ... with |cos| at least this
THRESHOLD = 0.1
#: the vector variants of :mod:`curriculens.paper_vectors`, by head selection
HEAD_VARIANTS = {"all": "paper", "topk": "paper_topk"}


def weighted(form: str, acc: np.ndarray, w: np.ndarray) -> np.ndarray:
    """One form on curves ``acc [..., k, t]`` with weights ``w [..., k]`` -> ``[..., t]``.

    >>> weighted("product", np.array([[0.25, 1.0], [1.0, 1.0]]), np.array([0.5, -0.5]))
    array([0.5, 1. ])
    """
    acc, aw = np.asarray(acc, float), np.abs(np.asarray(w, float))
    tot = aw.sum(-1)
    flat = tot < 1e-10
    safe_tot = np.where(flat, 1.0, tot)[..., None]
    if form == "product":
        out = np.prod(np.maximum(acc, 1e-6) ** (aw / safe_tot)[..., None], axis=-2)
    elif form == "mean":
        out = (aw[..., None] * acc).sum(-2) / safe_tot
    elif form == "logit":
        a = np.clip(acc, 0.01, 0.99)
        z = ((aw / safe_tot)[..., None] * np.log(a / (1 - a))).sum(-2)
        out = 1.0 / (1.0 + np.exp(-z))
    elif form == "min":
        mx = aw.max(-1)
        flat = mx < 1e-10
        s = aw / np.where(flat, 1.0, mx)[..., None]
        out = ((1.0 - s)[..., None] + acc * s[..., None]).min(-2)
        return np.where(flat[..., None], acc.min(-2), out)
    else:
        raise ConfigError(f"form={form!r}; expected product, min, mean or logit.")
    return np.where(flat[..., None], acc.mean(-2), out)


def discover(weights: Mapping[str, float], have: Sequence[str], top_k=TOP_K, threshold=THRESHOLD):
    """The elementals of ``have`` with the ``top_k`` largest ``|w| >= threshold``, largest first.

    >>> discover({"a": 0.05, "b": -0.5, "c": 0.3}, ["a", "b", "c"], top_k=5)
    ['b', 'c']
    """
    cand = [(n, w) for n, w in weights.items() if n in have and abs(w) >= threshold]
    cand.sort(key=lambda x: abs(x[1]), reverse=True)  # stable: ties keep weight order
    return [n for n, _ in cand[:top_k]]


def paper_vectors(
    rows: Sequence[Mapping], *, heads: str = "all", tokens: float | None = None
) -> dict[str, tuple[float, str, dict[str, np.ndarray]]]:
    """``{model: (tokens, hook, {skill: unit vector})}``: the paper-mode vector rows of each
    model at one checkpoint (``tokens``; None: the last one with paper vectors).

    Args:
        rows: Vector rows (:func:`curriculens.analysis.table.read_vectors`).
        heads: ``all`` (the paper's code: every head of the last layer) or ``topk``.
        tokens: The checkpoint's tokens.
    """
    if heads not in HEAD_VARIANTS:
        raise ConfigError(f"heads={heads!r}; expected one of {', '.join(HEAD_VARIANTS)}.")
    variant = HEAD_VARIANTS[heads]
    by: dict[str, dict[float, dict]] = {}
    for r in rows:
        if r.get("variant") != variant:
            continue
        data = np.asarray(r["data"], np.float64)
        if r.get("norm") is None or not r["norm"] > 0 or not np.isfinite(data).all():
            continue
        at = by.setdefault(str(r["run"]), {}).setdefault(float(r["tokens"]), {})
        at.setdefault("hook", str(r["hook"]))
        at.setdefault("vecs", {})[str(r["skill"])] = data / np.linalg.norm(data)
    out = {}
    for model, at in by.items():
        t = max(at) if tokens is None else float(tokens)
        if t in at:
            out[model] = (t, at[t]["hook"], at[t]["vecs"])
    return out


def predict_paper(
    curves: pd.DataFrame,
    components: Mapping[str, Sequence[str]] | None = None,
    vectors: Sequence[Mapping] = (),
    *,
    scoring: str = "paper",
    heads: str = "all",
    tokens: float | None = None,
    decoys: bool = True,
    exclude: Sequence[str] = PAPER_EXCLUDE,
) -> Prediction:
    """The baselines and the paper-mode methods (:data:`PAPER_METHODS`) for every composite.

    Args:
        curves: Long-format ``model, tokens, task, score``.
        components: ``{composite: components}`` (None: from the paper's task names).
        vectors: Vector rows with paper-mode vectors (``variant`` ``paper`` or ``paper_topk``).
        scoring: ``paper`` (default, as the paper's scripts) or ``raw``.
        heads: ``all`` or ``topk`` (which vectors, see :func:`paper_vectors`).
        tokens: The vectors' checkpoint (None: the last one that has them).
        decoys: Add the decoy null of the baselines and of the ``fv_*`` forms.
        exclude: Under ``paper`` scoring, composites whose name contains one of these get no
            paper-mode score (the FV script's default); the baselines still score them.
    """
    base = predict_baselines(curves, components, scoring=scoring, decoys=decoys)
    at = paper_vectors(vectors, heads=heads, tokens=tokens)
    if not at:
        raise ConfigError(
            f"No paper-mode vectors (variant {HEAD_VARIANTS[heads]!r}"
            + (f" at tokens {tokens}" if tokens is not None else "")
            + ") for these curves; compute them with curriculens.paper_vectors "
            "(paper_vectors_for_run) first."
        )
    declared = set(components or {}) | {c.name for c in base.composites}
    models = {str(m): ModelCurves(str(m), g, scoring) for m, g in curves.groupby("model")}
    scored, notes = [], []
    for c in base.composites:
        why = _why_not(c, at, scoring, exclude)
        if why:
            notes.append((c.model, c.name, f"paper-mode FV: {why}"))
            scored.append(c)
            continue
        t, hook, vecs = at[c.model]
        elementals = sorted(
            s for s in vecs if s not in declared and not s.startswith("compositional")
        )
        w = {e: float(vecs[c.name] @ vecs[e]) for e in elementals}
        scored.append(_predict_one(c, models[c.model], w, hook, scoring, decoys, notes))
    return Prediction(
        composites=tuple(scored),
        skipped=base.skipped + tuple(notes),
        methods=base.methods + PAPER_METHODS,
        scoring=scoring,
    )


def _why_not(c, at, scoring, exclude) -> str | None:
    if c.model not in at:
        return "no paper-mode vectors for this model"
    if c.name not in at[c.model][2]:
        return "no vector for the composite at the vectors' checkpoint"
    pat = paper_excluded(c.name, exclude) if scoring == "paper" else None
    if pat:
        return f"left out, its name contains {pat!r} (the paper's FV script's exclusion)"
    return None


def _predict_one(c, mc: ModelCurves, w: dict, hook: str, scoring: str, decoys: bool, notes):
    tokens, actual = np.asarray(c.tokens), np.asarray(c.actual)
    pred, r2, rp = dict(c.predicted), dict(c.r2), dict(c.r2_pearson)
    hooks, weights, nulls = dict(c.hooks), dict(c.weights), dict(c.decoys)
    have = elemental_curves(mc, list(w), tokens)
    parts = list(c.components)
    acc = np.stack([mc.curve_at(p, tokens) for p in parts])
    wp = np.array([w.get(p, 0.0) for p in parts])
    found = discover(w, list(have))
    for method in PAPER_METHODS:
        form = method.split("_", 1)[1]
        if method.startswith("fv_"):
            p, used = weighted(form, acc, wp), dict(zip(parts, wp.tolist(), strict=True))
        elif found:
            p = weighted(form, np.stack([have[n] for n in found]), np.array([w[n] for n in found]))
            used = {n: w[n] for n in found}
        else:
            notes.append(
                (c.model, c.name, f"{method}: no elemental with |cos| >= {THRESHOLD} and a curve")
            )
            continue
        pred[method] = tuple(p.tolist())
        r2[method], rp[method] = score_pair(actual, p, scoring)
        hooks[method] = hook
        weights[method] = {k: round(float(v), 6) for k, v in used.items()}
    if decoys:
        nulls.update(_fv_decoys(c, have, w, pred, scoring))
    return replace(
        c, predicted=pred, r2=r2, r2_pearson=rp, hooks=hooks, weights=weights, decoys=nulls
    )


def _fv_decoys(c, have: dict, w: dict, pred: dict, scoring: str) -> dict:
    """``{fv form: {score: DecoyNull}}``: each form on every other elemental set, cos-weighted."""
    sets, sampled = decoy_sets(list(have), c.components)
    if not sets:
        return {}
    names = sorted(have)
    index = {e: i for i, e in enumerate(names)}
    E = np.stack([have[e] for e in names])
    W = np.array([w[e] for e in names])
    S = np.array([[index[e] for e in s] for s in sets])
    out = {}
    for method in FV_FORMS:
        decoy = weighted(method.split("_", 1)[1], E[S], W[S])
        out[method] = decoy_nulls(
            np.asarray(c.actual), np.asarray(pred[method]), decoy, scoring, sampled=sampled
        )
    return out
