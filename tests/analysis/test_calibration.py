"""The planted cases of benchmarks/bench_calibration.py, a few replicates each (fast).

The benchmark runs them at scale and prints the rates (docs/emergence.md); here each case is
checked both ways where it has two: the effect is found when planted and not when it is not.
"""

from __future__ import annotations

import pytest


def test_a_clustered_null_gives_no_lead_or_lag_with_groups(bench, tmp_path):
    got = [bench.clustered_null(tmp_path / f"n{i}", i, n_boot=150) for i in range(6)]
    assert not [r.verdict for r in got if r.verdict in ("leads", "lags")]
    assert {r.resampling for r in got} == {"groups"}
    assert {(r.behavior_groups, r.probe_groups) for r in got} == {(28, 7)}


def test_the_same_rows_without_groups_are_resampled_by_item(bench, tmp_path):
    r = bench.clustered_null(tmp_path / "items", 0, with_items=False, n_boot=100)
    assert r.resampling == "items" and r.probe_groups is None


def test_a_clustered_lead_is_still_found(bench, tmp_path):
    got = [bench.clustered_null(tmp_path / f"l{i}", i, n_boot=150, lead=4.0) for i in range(3)]
    assert [r.verdict for r in got] == ["leads"] * 3


def test_identical_curves_with_many_items_are_equivalent(bench, tmp_path):
    got = [bench.identical(tmp_path / f"e{i}", i, n_items=1000, n_boot=150) for i in range(4)]
    assert sum(r.verdict == "equivalent" for r in got) >= 3
    assert not [r for r in got if r.verdict in ("leads", "lags")]
    assert all(r.margin_log10 == pytest.approx(0.25) for r in got)  # one checkpoint gap


def test_a_wider_margin_is_the_users_to_set(bench, tmp_path):
    from curriculens.analysis import lead_lag

    r = bench.identical(tmp_path / "m", 0, n_items=100, n_boot=150)
    wide = lead_lag(tmp_path / "m", n_boot=150, seed=0, margin_log10=1.0)[0]
    assert wide.margin_log10 == 1.0 and wide.p_equivalent <= r.p_equivalent
    assert wide.verdict == "equivalent"


def test_partial_decodability_at_init_with_the_same_rise_never_leads(bench, tmp_path):
    got = [bench.partial_init(tmp_path / f"p{i}", i, n_boot=150) for i in range(4)]
    assert not [r for r in got if r.verdict == "leads"]
    emerged = [r for r in got if r.lead_log10 is not None]
    assert emerged and all(abs(r.lead_log10) <= 0.25 for r in emerged)


def test_flat_and_never_rising_behavior_has_not_emerged(bench, tmp_path):
    for level in (bench.CHANCE, 0.001):  # at chance, and below it
        r = bench.flat_behavior(tmp_path / f"f{level}", 0, level=level, n_boot=150)
        assert r.behavior_state == "not_emerged" and r.verdict == "not_emerged"
        assert r.probe_state == "emerged"
        assert r.behavior_criterion == r.probe_criterion == "paper-relative"


def test_raw_intervals_hold_the_true_crossing_at_every_slope(bench):
    for slope in (2.0, 5.0, 20.0):
        raw = [bench.coverage_case(i, slope, n_boot=150)[0] for i in range(12)]
        assert sum(raw) >= 11, slope
    # the smoothed criterion's own interval sits late for sharp rises: why raw is reported
    smoothed = [bench.coverage_case(i, 20.0, n_boot=150)[1] for i in range(12)]
    assert sum(smoothed) <= 9


def test_lead_lag_averages_repeated_group_splits(bench, tmp_path):
    from curriculens.analysis import lead_lag
    from curriculens.analysis.bootstrap import attach_groups, items_table
    from curriculens.analysis.table import read_rows

    path = tmp_path / "split"
    # 200 resamples (the suite's default): at 100 this planted lead sits on the verdict's edge
    one = bench.clustered_null(path, 0, n_boot=200, lead=4.0)
    rows = attach_groups(read_rows(path, items=True), items_table(path))
    # a second split: the same probe and control rows again, under split index 1
    again = [dict(r, split=1) for r in rows if r["kind"] in ("probe", "control")]
    mixed = [dict(r, split=0) if r["kind"] != "behavior" else r for r in rows] + again
    (two,) = lead_lag(mixed, n_boot=200, seed=0)
    assert two.verdict == one.verdict == "leads"
    assert two.probe_tokens == one.probe_tokens and two.resampling == "groups"
