"""The one emergence criterion (analysis/criterion.py): how a curve becomes a state and a point.

Each case is a curve small enough to read the answer off by hand: where it crosses, that a
threshold method reports the crossing checkpoint and its bracket (no interpolation) while the
sigmoid method interpolates between checkpoints, and the two censored states.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from curriculens.analysis.criterion import Criterion, Crossing, normalize_chance, smooth_curve
from curriculens.errors import ConfigError

T = [1e9, 2e9, 3e9, 4e9, 5e9]


# ---------------------------------------------------------------- the three states
def test_a_crossing_is_the_first_checkpoint_at_the_threshold_with_its_bracket():
    c = Criterion(threshold=0.8).locate(T, [0.1, 0.5, 0.79, 0.8, 0.95])
    assert c == Crossing("emerged", 4e9, 3e9, 4e9, 3)  # >= is a crossing; 0.79 is not
    assert c.lower < c.point <= c.upper


def test_threshold_methods_do_not_interpolate_between_checkpoints():
    """0.5 -> 1.0 crosses 0.8 at 60% of the way from 2e9 to 3e9, but the point is the
    checkpoint that first meets it; the bracket (2e9, 3e9] says where the crossing lies."""
    c = Criterion(threshold=0.8).locate(T, [0.0, 0.5, 1.0, 1.0, 1.0])
    assert (c.state, c.point, c.lower, c.upper) == ("emerged", 3e9, 2e9, 3e9)


def test_a_curve_that_never_meets_it_has_not_emerged_and_is_right_censored():
    c = Criterion(threshold=0.8).locate(T, [0.1, 0.3, 0.5, 0.7, 0.79])
    assert c == Crossing("not_emerged", None, 5e9, None, -1)
    assert Criterion(threshold=0.8).point(T, [0.1] * 5) is None


def test_a_curve_met_at_the_first_checkpoint_is_present_at_init_and_left_censored():
    c = Criterion(threshold=0.8).locate(T, [0.9, 0.9, 0.95, 1.0, 1.0])
    assert c == Crossing("present_at_init", 1e9, None, 1e9, 0)


def test_paper_preset_drops_zero_token_checkpoints_before_reading_the_curve():
    """High at 0 tokens and at the first trained checkpoint: with 0 tokens dropped, the curve
    starts at 1e9 and is present at init there (the paper's convention: point = first kept)."""
    tokens, values = [0, 1e9, 2e9, 3e9, 4e9], [1.0, 1.0, 1.0, 1.0, 1.0]
    c = Criterion.preset("paper").locate(tokens, values)
    assert (c.state, c.point, c.lower, c.upper) == ("present_at_init", 1e9, None, 1e9)
    kept = Criterion(threshold=0.8).locate(tokens, values)  # no dropping: 0 tokens is first
    assert (kept.state, kept.point) == ("present_at_init", 0.0)


def test_missing_scores_are_left_out_and_checkpoints_are_sorted_by_tokens():
    tokens = [3e9, 1e9, 4e9, 2e9]
    values = [0.9, 0.1, 0.95, math.nan]  # 2e9 missing: the bracket reaches back to 1e9
    c = Criterion(threshold=0.8).locate(tokens, values)
    assert (c.state, c.point, c.lower, c.upper, c.index) == ("emerged", 3e9, 1e9, 3e9, 1)
    order, kept = Criterion().prepare(tokens, values)
    assert order.tolist() == [1, 0, 2] and kept.tolist() == [1e9, 3e9, 4e9]


def test_a_curve_with_no_kept_checkpoint_has_not_emerged():
    c = Criterion(threshold=0.8).locate([1e9, 2e9], [math.nan, math.nan])
    assert c == Crossing("not_emerged", None, None, None)


# ---------------------------------------------------------------- what the curve is read as
def test_smoothing_removes_a_one_checkpoint_spike():
    spike = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    tokens = [1e9 * (i + 1) for i in range(7)]
    assert Criterion(threshold=0.8).locate(tokens, spike).point == 4e9
    smoothed = Criterion(threshold=0.8, smooth=1.0)
    assert smoothed.locate(tokens, spike).state == "not_emerged"
    assert smooth_curve(spike, 1.0).max() < 0.5  # the spike spreads over its neighbours


def test_chance_normalization_moves_the_threshold_onto_the_raw_scale():
    """With chance 0.5, a normalized 0.8 is a raw 0.9: raw 0.85 is not enough."""
    c = Criterion(threshold=0.8, chance=0.5).locate(T, [0.5, 0.85, 0.9, 0.95, 1.0])
    assert c.point == 3e9
    assert normalize_chance([0.5, 0.9, 1.0], 0.5) == pytest.approx([0.0, 0.8, 1.0])


def test_relative_reads_a_share_of_the_final_or_the_maximum_score():
    values = [0.0, 0.2, 0.45, 0.6, 0.5]
    final = Criterion(method="relative", threshold=None, fraction=0.9, relative_to="final")
    assert final.locate(T, values).point == 3e9  # 0.45 >= 0.9 x 0.5
    peak = Criterion(method="relative", threshold=None, fraction=0.9, relative_to="max")
    assert peak.locate(T, values).point == 4e9  # 0.54 needed: only 0.6 reaches it
    floored = Criterion(method="relative", threshold=0.55, fraction=0.9, relative_to="final")
    assert floored.locate(T, values).point == 4e9  # the floor rules 0.45 out


def test_relative_without_a_floor_never_reads_emergence_off_a_curve_at_or_below_zero():
    crit = Criterion(method="relative", threshold=None, fraction=0.5, relative_to="max")
    assert crit.locate(T, [0.0, 0.0, 0.0, 0.0, 0.0]).state == "not_emerged"
    flagged = Criterion.preset("paper-relative").locate(T, [-0.2, -0.1, 0.0, -0.1, 0.0])
    assert flagged.state == "not_emerged" and flagged.flat


def test_stable_needs_a_window_of_consecutive_checkpoints():
    values = [0.9, 0.1, 0.85, 0.9, 0.95]  # the first 0.9 is alone
    assert Criterion(method="stable", threshold=0.8, window=3).locate(T, values).point == 3e9
    assert Criterion(method="stable", threshold=0.8, window=6).point(T, values) is None


def test_a_batch_of_curves_reads_as_each_curve_alone():
    crit = Criterion.preset("paper")
    rng = np.random.default_rng(0)
    curves = np.clip(np.cumsum(rng.uniform(0, 0.2, (8, 5)), axis=1), 0, 1)
    t = np.asarray(T)
    assert crit.locate_sorted(t, curves) == [crit.locate(T, row) for row in curves]


# ---------------------------------------------------------------- sigmoid: interpolated
def _logistic_curve(tokens, midpoint, floor=0.1, ceil=0.9, k=6.0):
    x = np.log10(tokens)
    return floor + (ceil - floor) / (1 + np.exp(-k * (x - math.log10(midpoint))))


def test_sigmoid_interpolates_the_midpoint_between_checkpoints():
    tokens = np.logspace(7, 10, 13)  # a quarter decade apart
    mid = 10**8.6  # between 10**8.5 and 10**8.75
    c = Criterion(method="sigmoid", threshold=None).locate(tokens, _logistic_curve(tokens, mid))
    assert c.state == "emerged"
    assert c.point == pytest.approx(mid, rel=0.02)
    assert c.point not in tokens.tolist()
    assert (c.lower, c.upper) == (pytest.approx(10**8.5), pytest.approx(10**8.75))


def test_sigmoid_censors_flat_curves_and_midpoints_outside_the_checkpoints():
    tokens = np.logspace(7, 10, 13)
    sigmoid = Criterion(method="sigmoid", threshold=None)
    assert sigmoid.locate(tokens, np.full(13, 0.5)).state == "not_emerged"
    late = sigmoid.locate(tokens, _logistic_curve(tokens, 10**11))
    assert late.state == "not_emerged" and late.lower == pytest.approx(1e10)
    small = Criterion(method="sigmoid", threshold=None, min_rise=0.9)
    assert small.locate(tokens, _logistic_curve(tokens, 10**8.6)).state == "not_emerged"
    early = sigmoid.locate(tokens, _logistic_curve(tokens, 10**6.5, k=3.0))
    assert (early.state, early.point) == ("present_at_init", pytest.approx(1e7))


# ---------------------------------------------------------------- construction and errors
def test_presets_overrides_and_names():
    paper = Criterion.of()
    assert (paper.name, paper.method, paper.threshold, paper.smooth) == ("paper", "fixed", 0.8, 1.0)
    assert paper.drop_zero_tokens
    assert Criterion.of("paper", threshold=0.5).name == "paper (threshold=0.5)"
    assert Criterion.of({"method": "stable", "threshold": 0.7}).window == 3
    assert Criterion.of(paper) is paper
    assert Criterion.of("paper").to_dict()["name"] == "paper"
    assert "0.8" in paper.describe() and paper.label().startswith("paper: ")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Criterion(method="median"), "method='median'"),
        (lambda: Criterion(method="fixed", threshold=None), "needs a threshold"),
        (lambda: Criterion(fraction=0.0), "fraction=0.0"),
        (lambda: Criterion(window=0), "window=0"),
        (lambda: Criterion(chance=1.0), "chance=1.0"),
        (lambda: Criterion(threshold=math.inf), "finite"),
        (lambda: Criterion.preset("papr"), "Did you mean 'paper'"),
        (lambda: Criterion.preset("paper", window=5), "does not apply to method 'fixed'"),
        (lambda: Criterion.of({"treshold": 0.5}), "unknown"),
        (lambda: Criterion.of(0.8), "expected a Criterion"),
        (lambda: Criterion().locate([1, 2], [0.5]), "same length"),
    ],
)
def test_bad_criteria_and_curves_are_config_errors_that_say_what_is_wrong(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
