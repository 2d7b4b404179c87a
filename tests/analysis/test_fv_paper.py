"""The paper-mode prediction (analysis.fv_paper): cosine weights and the weighted forms on
planted series, both ways; the FV script's exclusion; the decoy null of every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.fv import predict_trajectories
from curriculens.analysis.fv_paper import PAPER_METHODS, weighted
from curriculens.errors import ConfigError

D = 16
T = np.array([100, 200, 400, 800, 1600, 3200, 6400, 12800.0])
ELEMENTALS = [f"e{i}" for i in range(6)]


def _ramp(mid):
    return 1 / (1 + np.exp(-(np.log10(T) - mid) * 4))


def _world(carries: bool, seed=0, names=("c01", "c23")):
    """Elementals with orthonormal vectors; composite cAB's vector is 0.8 vA + 0.6 vB and its
    curve the weighted geometric mean of A's and B's with those weights (``carries``), or its
    vector a random direction and its curve a decoy pair's product (not ``carries``)."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(D, D)))[0][:, :6].T
    acc = {e: _ramp(2.2 + 0.35 * i) for i, e in enumerate(ELEMENTALS)}
    vec = {e: basis[i] for i, e in enumerate(ELEMENTALS)}
    comps = {}
    for name in names:
        a, b = f"e{name[-2]}", f"e{name[-1]}"
        comps[name] = (a, b)
        if carries:
            vec[name] = 0.8 * vec[a] + 0.6 * vec[b]
            acc[name] = acc[a] ** (0.8 / 1.4) * acc[b] ** (0.6 / 1.4)
        else:
            r = rng.normal(size=D)
            vec[name] = r / np.linalg.norm(r)
            acc[name] = acc["e4"] * acc["e5"]
    curves = pd.DataFrame(
        [("m", t, s, y) for s, ys in acc.items() for t, y in zip(T, ys, strict=True)],
        columns=["model", "tokens", "task", "score"],
    )
    rows = [
        dict(
            run="m",
            tokens=T[-1],
            hook="blocks.1.attn.hook_z",
            skill=s,
            norm=1.0,
            variant="paper",
            data=v.astype(np.float32),
        )
        for s, v in vec.items()
    ]
    return curves, comps, rows


def test_planted_cosine_weights_predict_the_composite_and_rank_first():
    curves, comps, rows = _world(carries=True)
    p = predict_trajectories(curves, comps, rows, method="paper", scoring="raw")
    assert set(PAPER_METHODS) <= set(p.methods) and p.scoring == "raw"
    c = {c.name: c for c in p.composites}["c01"]
    assert c.weights["fv_product"] == pytest.approx({"e0": 0.8, "e1": 0.6}, abs=1e-5)
    assert c.r2["fv_product"] == pytest.approx(1.0, abs=1e-6)
    assert list(c.weights["discovered_product"]) == ["e0", "e1"]  # |cos| >= 0.1, largest first
    d = c.decoys["fv_product"]["r2"]
    assert d.rank == 1 and d.n == 14 and d.mean < 0.9
    assert "discovered_product" not in c.decoys  # it picks its own elementals


def test_unplanted_vectors_do_not_predict_and_the_declared_pair_is_no_better_than_decoys():
    curves, comps, rows = _world(carries=False, seed=1)
    p = predict_trajectories(curves, comps, rows, method="paper", scoring="raw")
    c = {c.name: c for c in p.composites}["c01"]
    # its curve is (e4 x e5): the declared (e0, e1) is beaten by decoys that hold e4 or e5
    assert c.decoys["product"]["r2"].rank > 1 and c.decoys["fv_product"]["r2"].rank > 1
    assert c.r2["fv_product"] < c.decoys["fv_product"]["r2"].p95


def test_forms_follow_the_papers_formulas():
    rng = np.random.default_rng(2)
    acc, w = rng.uniform(0, 1, (3, 7)), np.array([0.5, -0.2, 0.1])
    aw = np.abs(w)
    geo = np.ones(7)
    for a, x in zip(acc, aw / aw.sum(), strict=True):
        geo *= np.maximum(a, 1e-6) ** x
    np.testing.assert_allclose(weighted("product", acc, w), geo)
    np.testing.assert_allclose(weighted("mean", acc, w), (aw[:, None] * acc).sum(0) / aw.sum())
    s = aw / aw.max()
    np.testing.assert_allclose(
        weighted("min", acc, w),
        np.minimum.reduce([1 - si + a * si for a, si in zip(acc, s, strict=True)]),
    )
    z = sum(
        x * np.log(np.clip(a, 0.01, 0.99) / (1 - np.clip(a, 0.01, 0.99)))
        for a, x in zip(acc, aw / aw.sum(), strict=True)
    )
    np.testing.assert_allclose(weighted("logit", acc, w), 1 / (1 + np.exp(-z)))
    # every weight zero: the unweighted mean (min: the unweighted min)
    np.testing.assert_allclose(weighted("product", acc, np.zeros(3)), acc.mean(0))
    np.testing.assert_allclose(weighted("min", acc, np.zeros(3)), acc.min(0))


def test_paper_scoring_leaves_out_reverse_and_last_for_the_fv_methods_only():
    curves, comps, rows = _world(carries=True, names=("c01", "last23"))
    p = predict_trajectories(curves, comps, rows, method="paper", scoring="paper")
    by = {c.name: c for c in p.composites}
    assert "fv_product" in by["c01"].r2_pearson and "fv_product" not in by["last23"].r2_pearson
    assert by["last23"].r2_pearson["product"] is not None  # the baselines still score it
    assert any(n == "last23" and "'last'" in r for _, n, r in p.skipped)
    raw = predict_trajectories(curves, comps, rows, method="paper", scoring="raw")
    assert "fv_product" in {c.name: c for c in raw.composites}["last23"].r2


def test_paper_method_needs_paper_vectors_and_known_names():
    curves, comps, rows = _world(carries=True)
    with pytest.raises(ConfigError, match="No paper-mode vectors"):
        predict_trajectories(curves, comps, rows, method="paper", heads="topk")
    with pytest.raises(ConfigError, match="method='fancy'"):
        predict_trajectories(curves, comps, rows, method="fancy")


def test_the_projection_method_has_a_decoy_null_too():
    curves, comps, rows = _world(carries=True, names=("c01", "c23", "c45"))
    # the projection method reads vectors at every checkpoint: the same direction at each
    resid = [
        dict(r, tokens=t, variant="resid", hook="blocks.0.hook_resid_post") for r in rows for t in T
    ]
    p = predict_trajectories(curves, comps, resid)
    c = {c.name: c for c in p.composites}["c01"]
    assert "fv" in c.r2 and c.decoys["fv"]["r2_pearson"].n == 14
    assert c.to_json()["decoys"]["fv"]["r2"]["of"] == 15
