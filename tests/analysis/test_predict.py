"""Tests of curriculens.analysis.predict: behavioral baselines of composite trajectories."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.consistency import PAPER_OPERATIONS, elemental_components
from curriculens.analysis.importers import load_curves
from curriculens.analysis.predict import (
    MIN_POINTS,
    composite_components,
    predict_baselines,
    r2_pearson,
    r2_score,
)
from curriculens.errors import ConfigError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"
needs_elemental = pytest.mark.skipif(
    not ELEMENTAL.exists(), reason="shared reference data not present"
)


def _curves(curves: dict[str, list[float]], tokens=None, model="m") -> pd.DataFrame:
    n = len(next(iter(curves.values())))
    tokens = list(range(1, n + 1)) if tokens is None else tokens
    rows = [
        (model, t, task, s) for task, ys in curves.items() for t, s in zip(tokens, ys, strict=True)
    ]
    return pd.DataFrame(rows, columns=["model", "tokens", "task", "score"])


def test_planted_product_is_found_and_scale_separates_the_two_scores():
    rng = np.random.default_rng(0)
    a = np.linspace(0.1, 1.0, 8)
    b = np.clip(np.linspace(-0.2, 1.0, 8) + rng.normal(0, 0.05, 8), 0, 1)
    df = _curves({"a": a, "b": b, "ab": a * b, "half": 0.5 * a * b})
    p = predict_baselines(df, {"ab": ["a", "b"], "half": ["a", "b"]})
    ab, half = (c for c in p.composites)
    assert (ab.name, half.name) == ("ab", "half")
    assert ab.r2["product"] == pytest.approx(1.0) and ab.r2_pearson["product"] == pytest.approx(1)
    assert ab.r2["min"] < 1 and ab.r2["mean"] < ab.r2["product"]
    # half the product: the same shape (pearson 1) but far from the values (r2 well below 1)
    assert half.r2_pearson["product"] == pytest.approx(1.0)
    assert half.r2["product"] < 0.5


def test_planted_unrelated_composite_is_not_predicted():
    rng = np.random.default_rng(1)
    a, b = np.linspace(0, 1, 10), np.linspace(0, 1, 10) ** 2
    noise = rng.permutation(np.linspace(0.2, 0.8, 10))
    p = predict_baselines(_curves({"a": a, "b": b, "ab": noise}), {"ab": ["a", "b"]})
    (c,) = p.composites
    assert all(c.r2[m] < 0 for m in ("product", "min", "mean"))
    assert all(c.r2_pearson[m] < 0.5 for m in ("product", "min", "mean"))


def test_scores_only_shared_checkpoints_with_tokens_above_zero():
    tokens = [0, 10, 20, 30, 40, 50, 60]
    a = [0.9, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0]
    b = [0.9, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    ab = [0.7, 0.1, 0.3, 0.5, 0.7, 0.8, 0.95]
    df = _curves({"a": a, "b": b, "ab": ab}, tokens=tokens)
    df.loc[(df.task == "b") & (df.tokens == 30), "score"] = np.nan  # a component unevaluated
    df = df[~((df.task == "ab") & (df.tokens == 40))]  # the composite unevaluated at 40
    (c,) = predict_baselines(df, {"ab": ["a", "b"]}).composites
    assert c.tokens == (10.0, 20.0, 50.0, 60.0)
    assert c.actual == (0.1, 0.3, 0.8, 0.95)
    assert c.predicted["product"] == pytest.approx([0.1, 0.4, 0.9, 1.0])
    assert c.predicted["min"] == pytest.approx([0.2, 0.4, 0.9, 1.0])
    assert c.predicted["mean"] == pytest.approx([0.35, 0.7, 0.95, 1.0])
    y, q = np.array(c.actual), np.array([0.1, 0.4, 0.9, 1.0])
    assert c.r2["product"] == pytest.approx(1 - ((y - q) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def test_too_few_checkpoints_and_missing_components_are_skipped_with_reasons():
    df = _curves({"a": [0.1, 0.5], "b": [0.2, 0.9], "ab": [0.0, 0.4], "ac": [0.0, 0.1]})
    p = predict_baselines(df, {"ab": ["a", "b"], "ac": ["a", "c"], "zz": ["a"]})
    assert p.composites == ()
    reasons = {c: r for _, c, r in p.skipped}
    assert set(reasons) == {"ab", "ac"}  # zz has no curve of its own: not a composite here
    assert "no curve for component(s) c" in reasons["ac"]
    assert f"{MIN_POINTS} needed" in reasons["ab"]


def test_constant_curves_have_undefined_scores_and_are_left_out_of_means():
    df = _curves(
        {
            "a": [0.1, 0.5, 0.9],
            "b": [1.0, 1.0, 1.0],
            "flat": [1.0, 1.0, 1.0],
            "ab": [0.1, 0.4, 0.9],
        }
    )
    p = predict_baselines(df, {"flat": ["a", "b"], "ab": ["a", "b"]})
    by = {c.name: c for c in p.composites}
    assert by["flat"].r2 == {"product": None, "min": None, "mean": None}
    assert by["flat"].r2_pearson["product"] is None
    assert p.count("r2") == {"product": 1, "min": 1, "mean": 1}
    assert p.mean("r2")["product"] == pytest.approx(by["ab"].r2["product"])
    assert r2_pearson([0.1, 0.2, 0.3], [0.5, 0.5, 0.5]) is None
    assert r2_score([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]) is None


def test_r2_is_negative_when_worse_than_the_mean():
    assert r2_score([0.0, 1.0], [1.0, 0.0]) == pytest.approx(-3.0)
    assert r2_pearson([0.0, 0.5, 1.0], [1.0, 0.5, 0.0]) == pytest.approx(1.0)


def test_paper_names_parse_as_the_issue_lists():
    tasks = [
        "compositional_translate_eng_fr_upper_reverse",
        "compositional_upper_last",
        "compositional:gerund_first",
        "compositional_translate_eng_sp_lower",
        "compositional_upper_unknownop",
        "simple_icl:uppercase",
    ]
    got = elemental_components(tasks, operations=PAPER_OPERATIONS)
    assert got["compositional_translate_eng_fr_upper_reverse"] == (
        "simple_icl_translate_eng_fr",
        "simple_icl:uppercase",  # named as the tasks spell it
        "token_reversal",
    )
    assert got["compositional_upper_last"] == ("simple_icl:uppercase", "simple_icl_last_letter")
    assert got["compositional:gerund_first"] == (
        "simple_icl_present_to_gerund",
        "simple_icl_first_letter",
    )
    assert got["compositional_translate_eng_sp_lower"][0] == "simple_icl_translate_eng_sp"
    assert "compositional_upper_unknownop" not in got
    assert composite_components(["compositional_upper_lower", "simple_icl:uppercase"])[
        "compositional_upper_lower"
    ] == ("simple_icl:uppercase", "simple_icl_lowercase")
    # the registry's declared composites come along
    assert composite_components(["en_plural_upper"])["en_plural_upper"] == (
        "en_plural",
        "en_uppercase",
    )


def test_curves_without_the_long_columns_are_an_error():
    with pytest.raises(ConfigError, match="lack column"):
        predict_baselines(pd.DataFrame({"model": ["m"], "score": [1.0]}), {})


def _hand(path: Path, model: str, composite: str, parts: list[str]) -> tuple[float, float]:
    """product r2 and squared Pearson, from the raw CSV, in plain Python."""
    by: dict[str, dict[float, float]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["model"] == model and float(r["tokens_b"]) > 0:
                by.setdefault(r["task"], {})[float(r["tokens_b"])] = float(r["accuracy"])
    tokens = sorted(set.intersection(*(set(by[t]) for t in [composite, *parts])))
    y = [by[composite][t] for t in tokens]
    p = [math.prod(by[c][t] for c in parts) for t in tokens]
    ybar, pbar = sum(y) / len(y), sum(p) / len(p)
    ss_tot = sum((v - ybar) ** 2 for v in y)
    ss_res = sum((v - q) ** 2 for v, q in zip(y, p, strict=True))
    cov = sum((v - ybar) * (q - pbar) for v, q in zip(y, p, strict=True))
    var_p = sum((q - pbar) ** 2 for q in p)
    return 1 - ss_res / ss_tot, cov * cov / (ss_tot * var_p)


@needs_elemental
def test_paper_file_product_matches_a_hand_computation():
    curves = load_curves(ELEMENTAL)
    p = predict_baselines(curves)
    name, parts = (
        "compositional_plural_upper",
        ["simple_icl_singular_to_plural", "simple_icl_uppercase"],
    )
    (c,) = [c for c in p.composites if c.model == "EleutherAI/pythia-6.9b" and c.name == name]
    assert list(c.components) == parts and len(c.tokens) == 13  # 14 checkpoints, step0 dropped
    r2, r2p = _hand(ELEMENTAL, "EleutherAI/pythia-6.9b", name, parts)
    assert c.r2["product"] == pytest.approx(r2, rel=1e-9)
    assert c.r2_pearson["product"] == pytest.approx(r2p, rel=1e-9)
    # Amber has no compositional_plural_upper; its composites are scored on its own curves
    assert not any(c.model == "LLM360/Amber" and c.name == name for c in p.composites)
    models = {c.model for c in p.composites}
    assert models == {"EleutherAI/pythia-6.9b", "LLM360/Amber"}
    # 'last' composites need simple_icl_last_letter, which the file lacks
    assert all("last" not in c.name for c in p.composites)
    assert any("simple_icl_last_letter" in r for _, _, r in p.skipped)
