"""Tests of curriculens.analysis.scoring: the paper's scoring, named, and the decoy null."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.importers import load_curves
from curriculens.analysis.predict import predict_baselines
from curriculens.analysis.scoring import DecoyNull, decoy_sets, paper_r2, pearson_rows
from curriculens.errors import ConfigError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"
needs_elemental = pytest.mark.skipif(
    not ELEMENTAL.exists(), reason="shared reference data not present"
)


def _long(curves: dict[str, tuple[list[float], list[float]]], model="m") -> pd.DataFrame:
    rows = [
        (model, t, task, y)
        for task, (ts, ys) in curves.items()
        for t, y in zip(ts, ys, strict=True)
    ]
    return pd.DataFrame(rows, columns=["model", "tokens", "task", "score"])


def _paper_by_hand(tokens_of: dict, score_of: dict, composite: str, parts: list[str]):
    """The paper's baseline script, written out: union grid, np.interp, sigma-1 reflect
    smoothing (a hand-made kernel), squared Pearson r, 0 for a constant composite."""

    def smooth(y):
        radius = 4  # scipy's gaussian_filter1d truncates at 4 sigma
        x = np.arange(-radius, radius + 1)
        w = np.exp(-0.5 * x**2)
        w /= w.sum()
        pad = np.concatenate([y[radius - 1 :: -1], y, y[: -radius - 1 : -1]])
        return np.array([(pad[i : i + 2 * radius + 1] * w).sum() for i in range(len(y))])

    grid = np.unique(np.concatenate([tokens_of[t] for t in [composite, *parts]]))
    y = smooth(np.interp(grid, tokens_of[composite], score_of[composite]))
    p = np.prod([smooth(np.interp(grid, tokens_of[c], score_of[c])) for c in parts], axis=0)
    if not y.std() > 0:
        return 0.0
    return float(np.corrcoef(y, p)[0, 1] ** 2)


def test_paper_scoring_interpolates_on_the_union_grid_and_smooths():
    rng = np.random.default_rng(3)
    ta, tb, tab = np.arange(1, 13.0), np.arange(1, 13.0, 1.5), np.array([2, 3, 5, 7, 11, 12.0])
    a = np.clip(np.linspace(0, 1, len(ta)) + rng.normal(0, 0.1, len(ta)), 0, 1)
    b = np.clip(np.linspace(-0.5, 1, len(tb)) ** 2, 0, 1)
    ab = np.clip(np.linspace(0, 0.8, len(tab)) + rng.normal(0, 0.1, len(tab)), 0, 1)
    df = _long({"a": (ta, a), "b": (tb, b), "ab": (tab, ab)})
    (c,) = predict_baselines(df, {"ab": ["a", "b"]}, scoring="paper").composites
    want = _paper_by_hand(
        {"a": ta, "b": tb, "ab": tab}, {"a": a, "b": b, "ab": ab}, "ab", ["a", "b"]
    )
    assert c.tokens == tuple(np.unique(np.concatenate([ta, tb, tab])))
    assert c.r2_pearson["product"] == pytest.approx(want, abs=1e-9)
    raw = predict_baselines(df, {"ab": ["a", "b"]})  # raw: only checkpoints all three share
    assert raw.composites == () and "3 needed" in raw.skipped[0][2]


def test_paper_scoring_scores_constant_composites_zero_and_names_itself():
    df = _long(
        {
            "a": ([1, 2, 3, 4], [0.1, 0.5, 0.9, 1.0]),
            "b": ([1, 2, 3, 4], [0.2, 0.4, 0.8, 1]),
            "flat": ([1, 2, 3, 4], [1.0] * 4),
        }
    )
    p = predict_baselines(df, {"flat": ["a", "b"]}, scoring="paper")
    assert p.scoring == "paper" and p.to_json()["scoring"] == "paper"
    assert p.composites[0].r2_pearson == {"product": 0.0, "min": 0.0, "mean": 0.0}
    assert predict_baselines(df, {"flat": ["a", "b"]}).composites[0].r2_pearson["product"] is None
    assert paper_r2([0.1, 0.5, 0.9], [0.3, 0.3, 0.3]) is None  # the paper's NaN, skipped
    with pytest.raises(ConfigError, match="scoring='smooth'"):
        predict_baselines(df, {"flat": ["a", "b"]}, scoring="smooth")


def test_decoy_null_ranks_the_planted_pair_first_and_an_unplanted_one_low():
    t = np.arange(1, 11.0)
    rng = np.random.default_rng(0)
    sig = lambda mid: 1 / (1 + np.exp(-(t - mid)))  # noqa: E731
    curves = {f"e{i}": (t, sig(mid)) for i, mid in enumerate([2, 3.5, 5, 6.5, 8, 9.5])}
    planted = sig(3.5) * sig(8) + rng.normal(0, 0.002, len(t))
    curves["c_true"] = (t, planted)
    curves["c_false"] = (t, planted)  # declared as (e0, e5): not what built it
    p = predict_baselines(_long(curves), {"c_true": ["e1", "e4"], "c_false": ["e0", "e5"]})
    by = {c.name: c for c in p.composites}
    true, false = by["c_true"].decoys["product"]["r2"], by["c_false"].decoys["product"]["r2"]
    assert true.rank == 1 and true.n == 14 and true.mean < by["c_true"].r2["product"] - 0.2
    assert false.rank > 3
    js = by["c_true"].to_json()["decoys"]["product"]["r2"]
    assert js["of"] == 15 and js["rank"] == 1 and js["p95"] <= 1
    assert p.decoy_summary("r2")["product"]["first"] == 1


def test_decoy_sets_and_null_edge_cases():
    sets, sampled = decoy_sets([f"e{i}" for i in range(200)], ["e0", "e1", "e2"], limit=50)
    assert sampled and len(sets) == 50 and ("e0", "e1", "e2") not in sets
    d = DecoyNull.of("r2", None, np.array([0.1, np.nan, 0.3]))
    assert (d.rank, d.n, d.first) == (None, 2, False)  # no declared score: no rank
    d = DecoyNull.of("r2_pearson", 0.0, np.zeros(4))  # a constant composite, paper scoring
    assert (d.rank, d.ties, d.first) == (1, 4, False)  # tied with every decoy: not first
    assert DecoyNull.of("r2", 0.5, np.array([0.1, 0.7])).to_json()["rank"] == 2
    rows = pearson_rows(np.array([0.5, 0.5, 0.5]), np.ones((2, 3)), paper=True)
    assert rows.tolist() == [0.0, 0.0]


@needs_elemental
def test_paper_scoring_gives_the_papers_product_baseline_on_the_shared_file():
    p = predict_baselines(load_curves(ELEMENTAL), scoring="paper")
    pythia, amber = "EleutherAI/pythia-6.9b", "LLM360/Amber"
    assert p.count("r2_pearson", pythia)["product"] == 32
    assert p.count("r2_pearson", amber)["product"] == 22
    assert p.mean("r2_pearson", pythia)["product"] == pytest.approx(0.372, abs=0.005)
    assert p.mean("r2_pearson", amber)["product"] == pytest.approx(0.670, abs=0.005)
    # one composite against the hand-written script
    df = pd.read_csv(ELEMENTAL)
    df = df[(df.model == pythia) & (df.tokens_b > 0)].sort_values("tokens_b")
    tok = {t: g.tokens_b.to_numpy() for t, g in df.groupby("task")}
    acc = {t: g.accuracy.to_numpy(float) for t, g in df.groupby("task")}
    (c,) = [c for c in p.composites if c.model == pythia and c.name == "compositional_plural_upper"]
    want = _paper_by_hand(tok, acc, c.name, list(c.components))
    assert c.r2_pearson["product"] == pytest.approx(want, abs=1e-9)
