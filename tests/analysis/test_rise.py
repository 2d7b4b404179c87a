"""A relative criterion reads a rise: above the init level, above chance, and beating noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curriculens.analysis import Criterion, bootstrap_emergence, emergence_intervals
from curriculens.analysis.chance import task_chance, with_chance
from curriculens.errors import ConfigError

T = [1, 2, 3, 4, 5, 6, 7, 8]
REL = Criterion.preset("paper-relative")
RAW_REL = Criterion(method="relative", threshold=None, fraction=0.5, relative_to="max")
EVALS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "pythia-evals"


def test_a_flat_curve_at_the_floor_is_not_present_at_init():
    assert REL.locate(T, [0.05] * 8).state == "not_emerged"
    assert RAW_REL.locate(T, [0.05] * 8).state == "not_emerged"
    # the paper's literal rule called it present at init
    literal = RAW_REL.with_fields(rise_from="zero")
    assert literal.locate(T, [0.05] * 8).state == "present_at_init"


def test_the_level_is_measured_from_the_first_checkpoint():
    # 0.15 at init, rises to 0.3 at checkpoint 5: half of the rise is 0.225, met at checkpoint 5
    curve = [0.15, 0.15, 0.15, 0.15, 0.3, 0.3, 0.3, 0.3]
    c = RAW_REL.locate(T, curve)
    assert c.state == "emerged" and c.point == 5
    # from 0, half of the maximum (0.15) was already met at init
    assert RAW_REL.with_fields(rise_from="zero").locate(T, curve).state == "present_at_init"


def test_a_rise_below_min_rise_has_not_emerged():
    small = [0.0, 0.0, 0.0, 0.05, 0.08, 0.08, 0.08, 0.08]
    assert RAW_REL.locate(T, small).state == "not_emerged"
    assert RAW_REL.with_fields(min_rise=0.05).locate(T, small).state == "emerged"
    with pytest.raises(ConfigError, match="min_rise"):
        Criterion(method="relative", min_rise=-1)
    with pytest.raises(ConfigError, match="rise_from"):
        Criterion(method="relative", rise_from="start")
    with pytest.raises(ConfigError, match="does not apply"):
        Criterion.preset("paper", rise_from="zero")


def test_present_at_init_needs_the_level_clearly_above_the_floor():
    assert RAW_REL.locate(T, [0.9, 0.92, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]).state == (
        "present_at_init"
    )
    assert RAW_REL.locate(T, [0.15, 0.15, 0.16, 0.16, 0.16, 0.16, 0.16, 0.16]).state == (
        "not_emerged"
    )  # above 0, but a noise excursion's size: neither there from the start nor a rise


def test_below_the_floor_at_init_counts_as_the_floor():
    # anti-selective at init (-0.2): the rise is measured from 0, not from -0.2
    c = RAW_REL.locate(T, [-0.2, -0.2, -0.2, -0.1, 0.1, 0.4, 0.4, 0.4])
    assert c.state == "emerged" and c.point == 6


def test_a_relative_criterion_starts_from_chance():
    acc = [0.25, 0.26, 0.25, 0.27, 0.26, 0.28, 0.27, 0.27]  # a 4-choice task at chance
    assert with_chance(RAW_REL, 0.25).locate(T, acc).state == "not_emerged"
    assert with_chance(RAW_REL, 0.25).name == RAW_REL.name
    assert with_chance(Criterion.preset("paper"), 0.25) == Criterion.preset("paper")  # fixed
    assert task_chance("arc_challenge") == 0.25 and task_chance("piqa") == 0.5
    assert task_chance("hendrycksTest-virology") == 0.25 and task_chance("lambada_openai") is None
    df = pd.DataFrame({"model": "m", "task": "arc_easy", "tokens": T, "score": acc})
    assert emergence_intervals(df, RAW_REL)["m"]["arc_easy"].state == "not_emerged"
    rising = df.assign(task="other", score=[0.6, 0.6, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9], chance=0.5)
    assert emergence_intervals(rising, RAW_REL)["m"]["other"].state == "emerged"


def test_the_state_does_not_depend_on_the_resamples():
    rng = np.random.default_rng(0)
    items = (rng.random((8, 40)) < 0.3).astype(float)  # flat at chance 0.3, 40 items: noise
    noisy = RAW_REL.with_fields(min_rise=0.0, chance=0.3)
    point = noisy.locate(T, items.mean(axis=1))
    ci = bootstrap_emergence(T, items, criterion=noisy, n_boot=300)
    assert (ci.state, ci.point) == (point.state, point.point)  # one point per criterion
    # the default min_rise holds noise of this size back, with or without resamples
    assert with_chance(RAW_REL, 0.3).locate(T, items.mean(axis=1)).state == "not_emerged"
    rise = (rng.random((8, 200)) < np.array([0.1] * 3 + [0.9] * 5)[:, None]).astype(float)
    ci = bootstrap_emergence(T, rise, criterion=RAW_REL, n_boot=300)
    assert ci.state == "emerged" and ci.point == 4 and ci.raw_lo == 3 and ci.raw_hi == 4


@pytest.mark.skipif(not EVALS.is_dir(), reason="shared pythia-evals data absent")
def test_chance_level_multiple_choice_tasks_are_not_present_at_init():
    from curriculens.analysis import read_lm_eval

    for model in ("pythia-160m", "pythia-410m"):
        df = read_lm_eval(EVALS / model)
        per = next(iter(emergence_intervals(df, "paper-relative").values()))
        mc = {t: ci.state for t, ci in per.items() if task_chance(t)}
        assert len(mc) > 50
        assert not [t for t, s in mc.items() if s == "present_at_init"]
        assert per["arc_easy"].state == "emerged" and per["sciq"].state == "emerged"
        # the paper's literal rule calls several of them present at init
        literal = emergence_intervals(df, Criterion.preset("paper-relative", rise_from="zero"))
        assert sum(ci.state == "present_at_init" for ci in next(iter(literal.values())).values())


def test_a_sharp_rise_reports_its_raw_crossing_beside_the_smoothed_one():
    from curriculens.analysis import Curve, emergence_interval

    # 0.38 at 301k, 0.99 at 446k: the raw curve crosses 0.8 in (301k, 446k]; smoothing moves the
    # paper criterion's point one checkpoint later
    tokens = np.array([0, 61e3, 92e3, 135e3, 200e3, 301e3, 446e3, 657e3, 971e3])
    values = np.array([0, 0, 0, 0.0, 0.02, 0.38, 0.99, 0.99, 0.99])
    ci = emergence_interval(Curve(tokens=tokens, values=values), "paper", n_boot=0)
    assert ci.point == 657e3 and (ci.lo, ci.hi) == (446e3, 657e3)
    assert (ci.raw_lo, ci.raw_hi) == (301e3, 446e3)
    assert ci.to_json(raw=True)["raw_hi"] == 446000 and "raw_lo" not in ci.to_json()
