"""Tests of curriculens.analysis.emergence: criteria, smoothing, censoring, bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis.emergence import (
    Criterion,
    bootstrap_curves,
    bootstrap_emergence,
    emergence_intervals,
    emergence_point,
    emergence_table,
    normalize_chance,
    order,
    smooth_curve,
)
from curriculens.errors import ConfigError, CurriculensError

TOKENS = [1e6, 2e6, 4e6, 8e6, 16e6, 32e6, 64e6, 128e6]


def test_fixed_first_crossing_and_censoring():
    assert emergence_point(TOKENS, [0, 0, 0.5, 0.81, 0.7, 0.9, 0.9, 0.9]) == 8e6
    assert emergence_point(TOKENS, [0.1] * 8) is None


def test_backward_compatible_relative_call():
    # the lead's report code calls it exactly like this
    v = [0.0, 0.1, 0.3, 0.5, 0.6, 0.62, 0.63, 0.64]
    p = emergence_point(TOKENS, v, method="relative", threshold=0.2, fraction=0.9, smooth=None)
    assert p == 16e6  # 0.6 >= 0.9 * 0.64 and >= 0.2
    assert emergence_point(TOKENS, v, method="relative", threshold=0.7, fraction=0.9) is None


def test_relative_without_gate_censors_flat_curves():
    assert emergence_point(TOKENS, [0.0] * 8, method="relative", threshold=None) is None


def test_relative_to_max_and_no_gate():
    v = [0.0, 0.2, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5]
    assert emergence_point(TOKENS, v, method="relative", threshold=None, fraction=0.9) == 4e6
    got = emergence_point(
        TOKENS, v, method="relative", threshold=None, fraction=0.9, relative_to="max"
    )
    assert got == 8e6


def test_chance_normalization_changes_threshold_meaning():
    v = [0.25, 0.3, 0.5, 0.7, 0.8, 0.86, 0.9, 0.95]
    assert emergence_point(TOKENS, v, threshold=0.8) == 16e6
    # above chance 0.25, 0.8 normalized = 0.85 raw
    assert emergence_point(TOKENS, v, threshold=0.8, chance=0.25) == 32e6
    np.testing.assert_allclose(normalize_chance([0.5, 1.0], 0.5), [0.0, 1.0])
    with pytest.raises(ConfigError, match="chance"):
        normalize_chance([0.5], 1.0)


def test_stable_needs_consecutive_checkpoints():
    v = [0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9]
    assert emergence_point(TOKENS, v, method="fixed") == 1e6
    assert emergence_point(TOKENS, v, method="stable", window=2) == 4e6
    assert emergence_point(TOKENS, v, method="stable", window=3) == 32e6
    assert emergence_point(TOKENS, v, method="stable", window=4) is None


def test_sigmoid_midpoint_in_log_tokens():
    t = np.logspace(6, 10, 17)
    x = np.log10(t)
    v = 0.1 + 0.8 / (1 + np.exp(-3 * (x - 8.0)))
    p = emergence_point(t, v, method="sigmoid")
    assert p == pytest.approx(1e8, rel=0.02)
    assert emergence_point(t, np.full_like(t, 0.3), method="sigmoid") is None  # no rise
    late = 0.1 + 0.8 / (1 + np.exp(-3 * (x - 12.0)))  # midpoint past the last checkpoint
    assert emergence_point(t, late, method="sigmoid") is None


def test_smoothing_reflects_edges_and_is_used():
    v = [0, 0, 0, 1, 0, 0, 0, 0]
    assert emergence_point(TOKENS, v, threshold=0.9) == 8e6
    assert emergence_point(TOKENS, v, threshold=0.9, smooth=1.0) is None
    s = smooth_curve([1.0, 1.0, 1.0], 1.0)
    np.testing.assert_allclose(s, 1.0)  # reflect keeps constant curves constant


def test_unsorted_tokens_are_sorted():
    assert emergence_point([3, 1, 2], [0.9, 0.0, 0.85]) == 2.0


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError, match="method='magic'"):
        emergence_point(TOKENS, [0] * 8, method="magic")
    with pytest.raises(ConfigError, match="same length"):
        emergence_point([1, 2], [0.1])
    with pytest.raises(ConfigError, match="needs a threshold"):
        Criterion(method="fixed", threshold=None)
    with pytest.raises(CurriculensError, match="window"):
        Criterion(method="stable", window=0)
    with pytest.raises(ConfigError, match="relative_to"):
        Criterion(relative_to="first")


def test_bootstrap_curves_resample_items_jointly():
    items = np.array([[0, 1, 0, 1], [0, 1, 0, 1]], float)  # identical rows
    curves = bootstrap_curves(items, n_boot=100, seed=1)
    assert curves.shape == (100, 2)
    np.testing.assert_allclose(curves[:, 0], curves[:, 1])  # same items at every checkpoint
    assert 0 < curves.mean() < 1


def test_bootstrap_interval_covers_point_and_reports_censoring():
    rng = np.random.default_rng(0)
    p = np.array([0.05, 0.1, 0.3, 0.6, 0.85, 0.95, 0.97, 0.98])
    items = (rng.random((8, 300)) < p[:, None]).astype(float)
    ci = bootstrap_emergence(TOKENS, items, threshold=0.8, n_boot=300, seed=0)
    assert ci.point == 16e6
    assert ci.lo <= ci.point <= ci.hi
    assert ci.censored == 0.0
    flat = (rng.random((8, 50)) < 0.5).astype(float)
    ci2 = bootstrap_emergence(TOKENS, flat, threshold=0.8, n_boot=100)
    assert ci2.point is None and ci2.hi is None and ci2.censored == 1.0
    # an edge case: half the resamples cross
    edge = np.zeros((2, 10))
    edge[1, :8] = 1  # mean 0.8 at the last checkpoint
    ci3 = bootstrap_emergence([1, 2], edge, threshold=0.8, n_boot=400)
    assert 0.2 < ci3.censored < 0.8 and ci3.hi is None
    assert ci3.state == "emerged" and ci3.lo == 1.0  # the bracket (1, 2], open above


def test_bootstrap_validates_shapes():
    with pytest.raises(ConfigError, match="checkpoint, item"):
        bootstrap_emergence([1, 2], np.ones(4))
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_emergence([1, 2], np.ones((2, 4)), n_boot=0)
    with pytest.raises(ConfigError, match="one token count per row"):
        bootstrap_emergence([1, 2, 3], np.ones((2, 4)))


def test_emergence_table_and_order():
    df = pd.DataFrame(
        {
            "model": ["m"] * 6,
            "task": ["a"] * 3 + ["b"] * 3,
            "tokens": [0, 1, 2] * 2,
            "score": [0.9, 0.1, 0.9, 0.0, 0.0, 0.1],
        }
    )
    raw = Criterion(threshold=0.8)  # no smoothing, every checkpoint kept
    assert emergence_table(df, raw) == {"m": {"a": 0.0, "b": None}}
    assert emergence_table(df, raw, drop_zero_tokens=True) == {"m": {"a": 2.0, "b": None}}
    # the default is the paper's criterion: smoothed (sigma 1), 0-token checkpoints dropped
    assert emergence_table(df) == {"m": {"a": None, "b": None}}
    assert emergence_table(df, threshold=0.5) == {"m": {"a": 2.0, "b": None}}
    assert order({"x": None, "y": 3.0, "z": 1.0}) == ["z", "y", "x"]
    with pytest.raises(ConfigError, match="lack column"):
        emergence_table(pd.DataFrame({"model": ["m"]}))


def test_missing_scores_are_left_out_not_smeared():
    v = [0.0, np.nan, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert emergence_point(TOKENS, v, threshold=0.5, smooth=1.0) is not None
    assert emergence_point(TOKENS, v, threshold=0.9) == 8e6


def test_behavior_emergence_from_a_store(tmp_path):
    from curriculens.analysis.emergence import behavior_emergence
    from curriculens.store import Row, Store

    rng = np.random.default_rng(0)
    p = np.array([0.0, 0.1, 0.5, 0.9, 0.95])
    with Store(tmp_path / "run") as s:
        for j, tok in enumerate([0, 10, 20, 30, 40]):
            meta = dict(
                run="r",
                checkpoint=f"c{j}",
                step=j,
                tokens=tok,
                fingerprint=f"f{j}",
                skill_version=1,
                skill_hash="h",
                kind="behavior",
                hook="",
                layer=-1,
            )
            em = (rng.random(200) < p[j]).astype(np.float32)
            rows = [
                Row(**meta, skill="copy_plural", metric="token_acc", value=float(em.mean()),
                    n=200, items=em),
                Row(**meta, skill="copy_plural", metric="exact_match", value=0.0, n=200,
                    items=np.zeros(200)),
                Row(**meta, skill="ext", metric="score", value=float(p[j]), n=0),
            ]  # fmt: skip
            s.write_unit("r", f"f{j}", "u", f"c{j}", rows)
    raw = Criterion(threshold=0.8)
    got = behavior_emergence(tmp_path / "run", criterion=raw, n_boot=200)["r"]
    assert got["copy_plural"].point == 30.0 and got["copy_plural"].n_boot == 200
    # every resample crosses at 30: the interval is the bracket (20, 30], never zero width
    assert got["copy_plural"].lo == 20.0 and got["copy_plural"].hi == 30.0
    assert got["copy_plural"].resampling == "items"
    assert got["ext"].point == 30.0 and got["ext"].n_boot == 0
    assert (got["ext"].lo, got["ext"].hi) == (20.0, 30.0)
    chance = behavior_emergence(
        tmp_path / "run", criterion=raw, threshold=0.9, chance="skill", n_boot=0
    )
    assert chance["r"]["ext"].point == 30.0
    # the default criterion (paper) smooths and drops the 0-token checkpoint
    assert behavior_emergence(tmp_path / "run", n_boot=0)["r"]["copy_plural"].point == 40.0
    with pytest.raises(ConfigError, match="No behavior rows"):
        behavior_emergence(tmp_path / "run", run="nope")


def test_three_states_and_their_brackets():
    crit = Criterion(threshold=0.5)
    at_init = crit.locate(TOKENS, [0.9] * 8)
    assert (at_init.state, at_init.point, at_init.lower, at_init.upper) == (
        "present_at_init",
        1e6,
        None,
        1e6,
    )
    never = crit.locate(TOKENS, [0.1] * 8)
    assert (never.state, never.point, never.lower, never.upper) == (
        "not_emerged",
        None,
        128e6,
        None,
    )
    late = crit.locate(TOKENS, [0, 0, 0, 0, 0.6, 0.7, 0.8, 0.9])
    assert (late.state, late.point, late.lower, late.upper) == ("emerged", 16e6, 8e6, 16e6)


def test_a_bracketed_crossing_never_has_a_zero_width_interval():
    rng = np.random.default_rng(3)
    for _ in range(20):
        k = int(rng.integers(1, 8))
        p = np.where(np.arange(8) >= k, 0.95, 0.05)
        items = (rng.random((8, 400)) < p[:, None]).astype(float)
        ci = bootstrap_emergence(TOKENS, items, threshold=0.5, n_boot=100, seed=1)
        assert ci.state == "emerged" and ci.point == TOKENS[k]
        assert ci.lo is not None and ci.hi is not None and ci.lo < ci.point <= ci.hi
        assert ci.lo == TOKENS[k - 1]


def test_presets_and_their_descriptions():
    paper = Criterion.preset("paper")
    assert (paper.method, paper.threshold, paper.smooth, paper.drop_zero_tokens) == (
        "fixed",
        0.8,
        1.0,
        True,
    )
    rel = Criterion.preset("paper-relative")
    assert (rel.method, rel.fraction, rel.relative_to, rel.threshold, rel.drop_flat) == (
        "relative",
        0.5,
        "max",
        None,
        True,
    )
    assert rel.rise_from == "init" and "risen 0.5 of the way from its first checkpoint" in (
        rel.describe()
    )
    literal = Criterion.preset("paper-relative", rise_from="zero")  # the paper's code
    assert "0.5 x its max (no floor)" in literal.describe()
    assert Criterion.preset("paper", threshold=0.5).name == "paper (threshold=0.5)"
    assert Criterion.of(None) == paper and Criterion.of("paper") == paper
    with pytest.raises(ConfigError, match="Did you mean 'paper'"):
        Criterion.preset("papr")
    with pytest.raises(ConfigError, match="unknown"):
        Criterion.preset("paper", thresh=0.5)


def test_paper_relative_drops_tasks_flat_in_every_model():
    tokens = [0, 1, 2, 3, 4, 5]
    rows = []
    for model, zero_task_scores in (("a", [0.0] * 6), ("b", [0.0] * 6)):
        for i, t in enumerate(tokens):
            rows.append((model, t, "always_zero", zero_task_scores[i]))
            rows.append((model, t, "rises", [0, 0, 0.1, 0.4, 0.5, 0.5][i]))
            rows.append(
                (model, t, "zero_in_a", 0.0 if model == "a" else [0, 0, 0, 0.3, 0.3, 0.3][i])
            )
    df = pd.DataFrame(rows, columns=["model", "tokens", "task", "score"])
    got = emergence_intervals(df, "paper-relative")
    assert set(got["a"]) == set(got["b"]) == {"rises", "zero_in_a"}  # always_zero dropped
    assert got["a"]["zero_in_a"].state == "not_emerged" and got["a"]["zero_in_a"].flat
    assert got["b"]["zero_in_a"].state == "emerged"
    # without the drop, an all-zero curve must not 'emerge' at the first checkpoint
    assert emergence_table(df, "paper-relative", drop_flat=False)["a"]["always_zero"] is None


def test_binomial_resampling_from_counts():
    df = pd.DataFrame(
        {
            "model": "m",
            "task": "t",
            "tokens": TOKENS,
            "score": [0.0, 0.0, 0.1, 0.5, 0.9, 0.95, 0.95, 0.95],
            "n": 20,
        }
    )
    raw = Criterion(threshold=0.8)
    (ci,) = emergence_intervals(df, raw, n_boot=300)["m"].values()
    assert ci.resampling == "binomial" and ci.n_boot == 300
    assert ci.point == 16e6 and ci.lo <= 8e6 and ci.hi >= 16e6
    wide = emergence_intervals(df.assign(n=5), raw, n_boot=300)["m"]["t"]
    assert (wide.hi or np.inf) - (wide.lo or 0) >= ci.hi - ci.lo  # fewer items, no narrower


def test_a_field_the_method_does_not_read_is_an_error():
    with pytest.raises(ConfigError, match="fraction=0.5 does not apply to method 'fixed'"):
        Criterion.preset("paper", fraction=0.5)
    assert Criterion.preset("paper", method="relative", fraction=0.5).fraction == 0.5
    with pytest.raises(ConfigError, match="window"):
        Criterion.preset("paper-relative", window=5)
