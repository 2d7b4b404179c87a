"""Tests of curriculens.analysis.consistency: censored ranks, rank agreement, composites."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from curriculens.analysis.consistency import (
    censored_ranks,
    composite_check,
    elemental_components,
    paper_emergence,
    rank_consistency,
    registry_components,
)
from curriculens.errors import ConfigError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ELEMENTAL = DATA / "elemental" / "trajectories_pythia-6.9b_amber.csv"


def test_censored_tasks_tie_at_the_bottom():
    assert censored_ranks([5.0, None, 1.0, None, 5.0]).tolist() == [2.5, 4.5, 1.0, 4.5, 2.5]


def test_common_vs_pairwise_task_sets():
    em = {
        "a": {"x": 1.0, "y": 2.0, "z": 3.0, "only_ab": 9.0},
        "b": {"x": 1.0, "y": 2.0, "z": 3.0, "only_ab": 0.5},
        "c": {"x": 3.0, "y": 2.0, "z": 1.0},
    }
    common = rank_consistency(em)
    assert common.task_set == "common" and common.common_tasks == ("x", "y", "z")
    ab = common.pairs[0]
    assert (ab.a, ab.b, ab.n) == ("a", "b", 3)
    assert ab.spearman == pytest.approx(1.0) and ab.kendall == pytest.approx(1.0)
    assert common.pairs[1].spearman == pytest.approx(-1.0)
    pw = rank_consistency(em, tasks="pairwise")
    assert pw.task_set == "pairwise"
    assert pw.pairs[0].n == 4 and pw.pairs[0].spearman < 1.0
    assert pw.pairs[1].n == 3


def test_undefined_correlation_is_none_and_bad_inputs_raise():
    em = {"a": {"x": None, "y": None}, "b": {"x": 1.0, "y": 2.0}}
    pair = rank_consistency(em).pairs[0]
    assert pair.spearman is None and pair.kendall is None
    got = pair.to_json()
    assert {k: got[k] for k in ("a", "b", "n", "spearman", "kendall")} == {
        "a": "a",
        "b": "b",
        "n": 2,
        "spearman": None,
        "kendall": None,
    }
    assert got["n_both"] == 0 and got["spearman_both"] is None
    with pytest.raises(ConfigError, match="at least 2 models"):
        rank_consistency({"a": {"x": 1.0}})
    with pytest.raises(ConfigError, match="tasks='all'"):
        rank_consistency(em, tasks="all")


def test_composite_no_earlier_than_components():
    em = {"a": 1.0, "b": 2.0, "ab": 3.0, "c": None, "ac": 2.0, "bc": None, "zz": 1.0}
    got = composite_check(em, {"ab": ["a", "b"], "ac": ["a", "c"], "bc": ["b", "c"], "zq": ["z"]})
    assert got.n == 3 and got.share == pytest.approx(2 / 3)
    assert got.exceptions == (("ac", "c", 2.0, None),)
    assert got.skipped == ("zq",)
    # per pair: ab-a, ab-b, ac-a hold; ac-c fails (c never emerged, ac did); bc-b holds (bc never
    # emerged); bc-c holds with neither emerged, and is counted apart
    assert (got.pairs, got.pairs_held, got.pairs_censored) == (6, 5, 1)
    assert composite_check({}, {}).share is None
    assert composite_check({}, {}).pairs == 0


def test_registry_components_reads_toy_composites():
    comps = registry_components(["copy_plural", "plural", "not_a_skill"])
    assert comps == {"copy_plural": ("copy", "plural")}


def test_paper_emergence_drops_step_zero_and_smooths():
    df = pd.DataFrame(
        {"model": "m", "task": "t", "tokens": [0, 1, 2, 3, 4, 5], "score": [1, 0, 0, 1, 1, 1]}
    )
    assert paper_emergence(df) == {"m": {"t": 4.0}}


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_paper_numbers_on_elemental_trajectories():
    raw = pd.read_csv(ELEMENTAL)
    df = raw.rename(columns={"tokens_b": "tokens", "accuracy": "score"})
    em = paper_emergence(df)
    res = rank_consistency(em)
    (pair,) = res.pairs
    assert pair.n == 71 and len(res.common_tasks) == 71
    assert round(pair.spearman, 3) == 0.840
    assert round(pair.kendall, 3) == 0.802
    # what the censored number is made of
    assert pair.n_both == 28
    assert round(pair.spearman_both, 3) == 0.698
    assert round(pair.kendall_both, 3) == 0.666
    assert pair.null["mean"] == pytest.approx(0.774, abs=0.01)
    assert pair.null["lo"] == pytest.approx(0.719, abs=0.015)
    assert pair.null["hi"] == pytest.approx(0.835, abs=0.015)
    assert pair.ci[0] == pytest.approx(0.696, abs=0.02) and pair.ci[1] == pytest.approx(
        0.943, abs=0.02
    )


def test_elemental_components_parse_only_unambiguous_operations():
    got = elemental_components(
        ["compositional_translate_eng_fr_upper", "compositional_gerund_first", "copying"]
    )
    assert got == {
        "compositional_translate_eng_fr_upper": (
            "simple_icl_translate_eng_fr",
            "simple_icl_uppercase",
        )
    }


@pytest.mark.skipif(not ELEMENTAL.exists(), reason="shared reference data not present")
def test_composites_after_components_on_elemental_trajectories():
    df = pd.read_csv(ELEMENTAL).rename(columns={"tokens_b": "tokens", "accuracy": "score"})
    em = paper_emergence(df)
    pythia = em["EleutherAI/pythia-6.9b"]
    check = composite_check(pythia, elemental_components(list(pythia)))
    assert check.n == 10 and check.share == pytest.approx(0.8)
    assert {c for c, *_ in check.exceptions} == {
        "compositional_translate_eng_fr_lower",
        "compositional_translate_sp_eng_lower",
    }


def _censored_pair(learned_b: list[float]) -> dict:
    """40 tasks neither model learns, 10 both learn: a in order 1..10, b as given."""
    a = {f"t{i}": float(i + 1) for i in range(10)} | {f"never{i}": None for i in range(40)}
    b = {f"t{i}": learned_b[i] for i in range(10)} | {f"never{i}": None for i in range(40)}
    return {"a": a, "b": b}


def test_censoring_alone_makes_a_high_rho_and_the_null_shows_it():
    shuffled = [7.0, 2.0, 9.0, 1.0, 5.0, 10.0, 3.0, 8.0, 4.0, 6.0]  # no shared order
    (pair,) = rank_consistency(_censored_pair(shuffled)).pairs
    assert pair.spearman > 0.8  # the censored number looks like strong agreement...
    assert pair.n_both == 10 and abs(pair.spearman_both) < 0.3  # ...the learned tasks disagree
    assert pair.null["lo"] <= pair.spearman <= pair.null["hi"]  # and the null explains it
    assert pair.null["mean"] > 0.8


def test_a_shared_order_beats_the_censoring_null():
    (pair,) = rank_consistency(_censored_pair([float(i + 1) for i in range(10)])).pairs
    assert pair.spearman_both == pytest.approx(1.0) and pair.kendall_both == pytest.approx(1.0)
    assert pair.spearman > pair.null["hi"]
    assert pair.ci[0] <= pair.spearman <= pair.ci[1]
    assert rank_consistency(_censored_pair([1.0] * 10), n_resamples=0).pairs[0].null is None
